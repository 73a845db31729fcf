"""singledir.measure.early_stopping: the rule that picks the epoch of the best ablation AUC, and the
training callback that applies it."""
from __future__ import annotations

import pytest
import torch

from singledir.measure import early_stopping as early_stopping_mod
from singledir.nets.models import MLPConfig, build_model


def test_choose_epoch_rule():
    epochs = [2, 4, 6, 8, 10, 12, 14]
    aucs = [0.5, 0.6, 0.7, 0.65, 0.66, 0.64, 0.9]
    assert early_stopping_mod.choose_epoch(epochs, aucs, patience=3) == (6, 12)
    assert early_stopping_mod.choose_epoch(epochs, aucs, patience=4) == (14, 14)
    assert early_stopping_mod.choose_epoch(epochs, aucs, patience=1) == (6, 8)
    with pytest.raises(ValueError, match="patience"):
        early_stopping_mod.choose_epoch(epochs, aucs, patience=0)


class ScriptedCurve:
    """Stands in for perturb.ablation_curve: returns the next AUC of a script and records how it
    was called."""

    def __init__(self, aucs):
        self.aucs, self.calls = list(aucs), []

    def __call__(self, model, data, layers, **kw):
        self.calls.append((data, list(layers), kw))
        return type("Curve", (), {"auc": self.aucs[len(self.calls) - 1]})()


def test_callback_stops_where_the_rule_says_on_a_scripted_auc(monkeypatch):
    """AUCs 0.5, 0.6, 0.7, 0.65, 0.7 (not better), 0.64 at epochs 2, 4, ..., 12 (every=2),
    patience 3: the best is epoch 6; epochs 8, 10 and 12 do not beat it, so it stops at 12. The
    best state is the weights at epoch 6; odd epochs measure nothing."""
    script = ScriptedCurve([0.5, 0.6, 0.7, 0.65, 0.7, 0.64])
    monkeypatch.setattr(early_stopping_mod.perturb, "ablation_curve", script)
    net = build_model(MLPConfig(widths=(3, 2)), (1, 2, 2), 2)
    data = (torch.zeros(4, 1, 2, 2), torch.zeros(4, dtype=torch.long))
    stopper = early_stopping_mod.AUCEarlyStopping(data, every=2, patience=3, grid=7, repetitions=4, seed=9)
    stops = []
    for epoch in range(1, 20):
        with torch.no_grad():
            net.out.bias.fill_(epoch)  # the weights say which epoch they are from
        stops.append(stopper(epoch, net))
        if stops[-1]:
            break
    assert epoch == 12 and stops == [False] * 11 + [True]
    assert stopper.history == [(2, 0.5), (4, 0.6), (6, 0.7), (8, 0.65), (10, 0.7), (12, 0.64)]
    assert stopper.best_epoch == 6 and stopper.best_auc == 0.7
    assert stopper.best_state["out.bias"].tolist() == [6.0, 6.0]
    # every measurement: the training data, every layer with units, the curve's settings, accuracy only
    assert len(script.calls) == 6
    for d, layers, kw in script.calls:
        assert d is data and layers == ["hidden.0", "hidden.1"]
        assert kw == {"grid": 7, "repetitions": 4, "seed": 9, "metrics": ("accuracy",)}


def test_callback_counts_an_improvement_only_beyond_min_delta(monkeypatch):
    """min_delta 0.05: 0.54 and 0.53 do not beat 0.5 by more, so patience 2 stops at the third
    measurement with the first epoch kept; 0.56 does beat it."""
    monkeypatch.setattr(early_stopping_mod.perturb, "ablation_curve", ScriptedCurve([0.5, 0.54, 0.53]))
    net = build_model(MLPConfig(widths=(3,)), (1, 2, 2), 2)
    stopper = early_stopping_mod.AUCEarlyStopping(None, layers=["hidden.0"], patience=2, min_delta=0.05,
                                                  keep_best=False)
    assert [stopper(e, net) for e in (1, 2, 3)] == [False, False, True]
    assert stopper.best_epoch == 1 and stopper.best_state is None
    monkeypatch.setattr(early_stopping_mod.perturb, "ablation_curve", ScriptedCurve([0.5, 0.56]))
    stopper = early_stopping_mod.AUCEarlyStopping(None, layers=["hidden.0"], patience=1, min_delta=0.05)
    assert [stopper(e, net) for e in (1, 2)] == [False, False] and stopper.best_epoch == 2


def test_callback_measures_the_auc_of_the_network_it_is_given():
    """A network whose output ignores its units (zero output weights, a bias for class 0): every
    ablation leaves its accuracy, the share of class 0 in the data, so the curve is flat and its
    AUC is that share, 3 / 10."""
    net = build_model(MLPConfig(widths=(8, 8)), (1, 2, 2), 3)
    with torch.no_grad():
        net.out.weight.zero_()
        net.out.bias.copy_(torch.tensor([1.0, 0.0, 0.0]))
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 1, 2])
    x = torch.randn(10, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    stopper = early_stopping_mod.AUCEarlyStopping((x, y), grid=5, repetitions=2)
    assert stopper(1, net) is False
    assert stopper.history == [(1, pytest.approx(0.3, abs=1e-12))]
