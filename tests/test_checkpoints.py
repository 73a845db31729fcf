"""singledir.measure.checkpoints: selectivity at a checkpoint equals that of the loaded checkpoint's
network computed by hand; targeted ablation of a hand-built layer."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import mlp_and_data
from singledir.measure.checkpoints import over_checkpoints, selectivity_table, targeted_ablation
from singledir.nets.runs import TrainedRun
from test_subsets import memorizing_net


def by_hand(net, x, y, n_classes=3):
    """Selectivity of hidden.0's units computed directly: (mu_max - mean of the rest) / (sum)."""
    with torch.no_grad():
        a = net.hidden[0](net.flatten(x))
    mu = torch.stack([a[y == c].mean(0) for c in range(n_classes)])  # [classes, units]
    top = mu.max(0).values
    rest = (mu.sum(0) - top) / (n_classes - 1)
    return ((top - rest) / (top + rest)).numpy()


def test_selectivity_at_a_checkpoint_is_that_of_the_loaded_network():
    net, x, y = mlp_and_data(90)
    later = copy.deepcopy(net)
    with torch.no_grad():
        for p in later.parameters():
            p.add_(0.5)
    run = TrainedRun(config=None, model=later, history=[],
                     checkpoints={0: copy.deepcopy(net.state_dict()), 3: copy.deepcopy(later.state_dict())})
    t = over_checkpoints(run, lambda m: selectivity_table(m, (x, y), ["hidden.0", "hidden.1"], 3))
    assert sorted(t.epoch.unique()) == [0, 3] and len(t) == 2 * 16
    for epoch, m in ((0, net), (3, later)):
        got = t[(t.epoch == epoch) & (t.layer == "hidden.0")].sort_values("unit").selectivity.to_numpy()
        want = by_hand(m, x, y)
        live = np.isfinite(want)
        assert np.allclose(got[live], want[live], atol=1e-6) and np.isnan(got[~live]).all()
    assert over_checkpoints(run, lambda m: pd.DataFrame({"v": [1]}), epochs=[3]).epoch.tolist() == [3]


def test_targeted_ablation_of_the_most_selective_unit_of_a_hand_built_layer():
    net, x, y, _ = memorizing_net()
    scores = pd.DataFrame({"layer": "hidden.0", "unit": [0, 1, 2], "score": [0.1, 0.2, 0.9]})
    r = targeted_ablation(net, (x, y), scores, fraction=1 / 3, repetitions=20, seed=0).iloc[0]
    assert r.k == 1 and r.intact == 1.0 and r.targeted == pytest.approx(4 / 6)  # unit 2: the two memorized lost
    assert 0 <= r.drop_random <= r.drop_targeted and r.excess == pytest.approx(r.drop_targeted - r.drop_random)
    only = scores.assign(score=[np.nan, np.nan, 0.9])  # one live unit: random is the targeted unit
    r = targeted_ablation(net, (x, y), only, fraction=0.5, repetitions=3).iloc[0]
    assert r.k == 1 and r.excess == 0.0 and r.drop_targeted == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="fraction"):
        targeted_ablation(net, (x, y), scores, fraction=0)
