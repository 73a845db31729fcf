"""Unit measures at the saved checkpoints of a training run: class selectivity, and the accuracy
lost when a layer's most selective units are ablated against as many random ones.

Ranadive, Thakurdesai, Morcos, Leavitt & Deny (2023, *On the special role of class-selective
neurons in early training*, TMLR) follow class selectivity (the index of Morcos et al. 2018,
section 3.4: :mod:`singledir.measure.selectivity`) through training: it rises in the first epochs
and then recedes, and ablating the most selective units hurts more early in training than at the
end. For one network (one checkpoint) and one layer with ``n`` live units (a defined index):

* the *targeted* drop is the accuracy lost when the ``k = max(1, round(fraction * n))`` units of
  highest score (selectivity, measured on other data) are ablated together, to zero;
* the *random* drop is the mean accuracy lost over ``repetitions`` draws of ``k`` live units;
* the *excess* is targeted minus random: how much more the selective units matter than any.

:func:`over_checkpoints` applies any measure of one network to every kept checkpoint of a run.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .engine import CHUNK, Data, Engine, Sums, check_layers
from .selectivity import selectivity_index
from .units import layer_activations


def over_checkpoints(run, measure: Callable[[nn.Module], pd.DataFrame], epochs: Sequence | None = None) -> pd.DataFrame:
    """``measure(network)`` at each kept checkpoint of ``run`` (anything with ``checkpoints`` keyed by
    epoch and ``at_epoch(epoch)``, e.g. :class:`singledir.nets.runs.TrainedRun`), stacked with an
    ``epoch`` column; ``epochs``: those checkpoints only (default: all, in order)."""
    epochs = sorted(run.checkpoints) if epochs is None else list(epochs)
    return pd.concat([measure(run.at_epoch(e)).assign(epoch=e) for e in epochs], ignore_index=True)


def selectivity_table(model: nn.Module, data: Data, layers: Sequence[str], n_classes: int | None = None,
                      chunk_size: int = CHUNK) -> pd.DataFrame:
    """One row per unit of ``layers``: ``layer, depth, unit, selectivity`` (NaN for a dead unit),
    measured on ``data``."""
    acts, y = layer_activations(model, data, check_layers(model, layers), chunk_size)
    return pd.concat([pd.DataFrame({"layer": l, "depth": d, "unit": np.arange(a.shape[1]),
                                    "selectivity": selectivity_index(a, y, n_classes).numpy()})
                      for d, (l, a) in enumerate(acts.items())], ignore_index=True)


def _choices(scores: np.ndarray, fraction: float, repetitions: int, generator: torch.Generator):
    """The top-``k`` live units by score and ``repetitions`` random draws of ``k`` live units."""
    live = np.flatnonzero(np.isfinite(scores))
    k = max(1, round(fraction * len(live)))
    top = live[np.argsort(-scores[live], kind="stable")[:k]]
    draws = [live[torch.randperm(len(live), generator=generator)[:k].numpy()] for _ in range(repetitions)]
    return k, top, draws


def targeted_ablation(model: nn.Module, data: Data, scores: pd.DataFrame, *, fraction: float,
                      repetitions: int = 5, seed: int = 0, chunk_size: int = CHUNK) -> pd.DataFrame:
    """Each layer of ``scores`` on its own: the accuracy lost when its ``fraction`` of live units of
    highest score is ablated, against as many random live units.

    Args:
        scores: one row per unit, ``layer, unit, score`` (NaN: not live, never ablated), e.g.
            :func:`selectivity_table` measured on other data, renamed.
        fraction: share of a layer's live units ablated (at least one).
        repetitions: random draws per layer, seeded by ``seed`` and the layer's position.

    Returns:
        one row per layer with a live unit: ``layer, depth, k, intact, targeted, random`` (accuracies)
        and ``drop_targeted, drop_random, excess`` (= drop_targeted - drop_random).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction {fraction} must lie in (0, 1]")
    rows = []
    for depth, (layer, t) in enumerate(scores.groupby("layer", sort=False)):
        s = np.full(int(t.unit.max()) + 1, np.nan)
        s[t.unit.to_numpy()] = t.score.to_numpy(dtype=float)
        if not np.isfinite(s).any():
            continue
        k, top, draws = _choices(s, fraction, repetitions, torch.Generator().manual_seed(seed * 1000 + depth))
        sets = [np.zeros(0, dtype=int), top, *draws]
        paths = [[((i,), [torch.as_tensor(u, dtype=torch.long)])] for i, u in enumerate(sets)]
        sums = Sums((len(sets),), ["accuracy"])
        Engine(model, [layer], chunk_size=chunk_size).ablation_paths(data, paths, {layer: None}, sums)
        acc = sums.means()["accuracy"]
        rows.append({"layer": layer, "depth": depth, "k": k, "intact": acc[0], "targeted": acc[1],
                     "random": float(acc[2:].mean()), "drop_targeted": acc[0] - acc[1],
                     "drop_random": float(acc[0] - acc[2:].mean())})
    out = pd.DataFrame(rows)
    return out.assign(excess=out.drop_targeted - out.drop_random) if len(out) else out
