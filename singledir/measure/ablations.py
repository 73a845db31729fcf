"""Ablation measures from the literature after the paper, on the engine of :mod:`singledir.measure.perturb`:
per-class damage (Zhou, Sun, Bau & Torralba 2018: :func:`class_damage`, :func:`class_damage_summary`)
and ordered ablation within a layer (Amjad, Liu & Geiger 2022: :func:`ordered_ablation`,
:func:`ordered_aucs`). The optimal ablation constants (Li & Janson 2024) are
:mod:`singledir.measure.optimal_ablation`'s :func:`fit_ablation_constants`, importable from here too.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import perturb
from .areas import auc
from .engine import CHUNK, Data, Engine, Sums, checked_layers, probe
from .optimal_ablation import fit_ablation_constants  # noqa: F401 (the measures after the paper, in one place)
from .orders import random_orders
from ..base.progress import timed


class ClassSums(Sums):
    """:class:`Sums` plus ``class_accuracy``: per point an array ``[n_classes]`` of each class's
    fraction correct (NaN for a class without examples), and ``class_n``, its examples."""

    def __init__(self, shape: tuple[int, ...], metrics: Sequence[str], n_classes: int):
        super().__init__(shape, metrics)
        self.correct = np.zeros((*shape, n_classes))
        self.class_n = np.zeros((*shape, n_classes))

    def add(self, at, out, y) -> None:
        super().add(at, out, y)
        self.correct[at] += torch.bincount(y[out.argmax(1) == y], minlength=self.correct.shape[-1]).cpu().numpy()
        self.class_n[at] += torch.bincount(y, minlength=self.correct.shape[-1]).cpu().numpy()

    def means(self) -> dict[str, np.ndarray]:
        out = super().means()
        with np.errstate(invalid="ignore", divide="ignore"):
            out["class_accuracy"] = np.where(self.class_n > 0, self.correct / self.class_n, np.nan)
        return out


# ---------------------------------------------------------------------------------------------
# Per-class damage
# ---------------------------------------------------------------------------------------------
@timed("units")
def class_damage(model: nn.Module, data: Data, layers: str | Sequence[str], *,
                 baseline: str | dict[str, torch.Tensor] = "zero", baseline_data: Data | None = None,
                 method: str = "auto", chunk_size: int = CHUNK) -> pd.DataFrame:
    """Each class's accuracy with each unit ablated alone (one pass over the data per layer).

    Args:
        model: a trained network; its mode is restored after the call.
        data: ``(x, y)`` tensors or an iterable of ``(x, y)`` batches.
        layers: one layer name or several (each unit is ablated alone, layer by layer).
        baseline: ``"zero"``, ``"mean"`` (per-unit mean over ``baseline_data``) or
            ``{layer: tensor [U] or [U, ...]}``.
        baseline_data: training data for ``baseline="mean"``.
        method, chunk_size: as in :func:`singledir.measure.perturb.ablation_curve`.

    Returns:
        one row per (layer, unit, class), for every output class of the network:
        ``layer, unit, class, n`` (the class's examples in ``data``), ``accuracy`` (the class's
        accuracy with the unit ablated), ``intact`` (without), ``drop = intact - accuracy``
        (positive: the ablation hurts that class); NaN for a class without examples.

    Example:
        >>> table = class_damage(net, (x_test, y_test), ["hidden.0", "hidden.1"])
        >>> class_damage_summary(table).max_drop
    """
    layers = checked_layers(model, layers)
    n_units, n_out = probe(model, data, layers)
    baselines = perturb._baselines(model, layers, baseline, baseline_data, chunk_size)
    parts = []
    for l in layers:
        n = n_units[l]
        sums = ClassSums((n + 1,), ["accuracy"], n_out)  # point n: intact
        paths = [[((u,), [torch.tensor([u])])] for u in range(n)] + [[((n,), [torch.zeros(0, dtype=torch.long)])]]
        Engine(model, [l], method, chunk_size).ablation_paths(data, paths, {l: baselines[l]}, sums)
        acc = sums.means()["class_accuracy"]  # [n + 1, classes]
        units, classes = np.meshgrid(np.arange(n), np.arange(n_out), indexing="ij")
        parts.append(pd.DataFrame({"layer": l, "unit": units.ravel(), "class": classes.ravel(),
                                   "n": np.tile(sums.class_n[n], n).astype(int), "accuracy": acc[:n].ravel(),
                                   "intact": np.tile(acc[n], n), "drop": (acc[n][None] - acc[:n]).ravel()}))
    return pd.concat(parts, ignore_index=True)


def class_damage_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per unit, the per-class damage of :func:`class_damage` in four numbers.

    Args:
        table: :func:`class_damage`'s table.

    Returns:
        one row per (layer, unit): ``max_drop`` (the largest drop of a class's accuracy),
        ``max_drop_class`` (that class; the lowest class among ties), ``mean_drop`` (mean over the
        classes with examples), ``overall_drop`` (intact minus ablated overall accuracy: the
        classes' drops weighted by their examples). Classes without examples are left out.

    Example:
        >>> s = class_damage_summary(class_damage(net, (x, y), "hidden.1"))
        >>> (s.max_drop_class == preferred).mean()
    """
    need = {"layer", "unit", "class", "n", "drop"}
    if not need <= set(table.columns):
        raise ValueError(f"the table lacks column(s) {sorted(need - set(table.columns))}: give class_damage's table")
    t = table[table["n"] > 0].sort_values(["layer", "unit", "class"], kind="stable")
    g = t.assign(w=t["drop"] * t["n"]).groupby(["layer", "unit"], sort=False)
    return pd.DataFrame({"max_drop": g["drop"].max(), "max_drop_class": t.loc[g["drop"].idxmax(), "class"].to_numpy(),
                         "mean_drop": g["drop"].mean(), "overall_drop": g["w"].sum() / g["n"].sum()}).reset_index()


# ---------------------------------------------------------------------------------------------
# Ordered ablation within a layer
# ---------------------------------------------------------------------------------------------
ORDERS = ("descending", "ascending", "random")


def _score_orders(scores, eligible: Sequence[int]) -> dict[str, list[int]]:
    """The ``eligible`` units in descending and in ascending order of ``scores`` (indexed by unit).

    NaN scores (e.g. dead units, whose selectivity is undefined) rank lowest: last in descending,
    first in ascending order; ties (NaN among NaN too) go by unit index, lowest first, in both."""
    s = np.asarray(scores, dtype=float)
    nan = np.isnan(s)
    idx = list(eligible)
    desc = sorted(idx, key=lambda u: (bool(nan[u]), -s[u] if not nan[u] else 0.0, u))
    asc = sorted(idx, key=lambda u: (not nan[u], s[u] if not nan[u] else 0.0, u))
    return {"descending": desc, "ascending": asc}


@timed("curves")
def ordered_ablation(model: nn.Module, data: Data, layer: str, scores, *, grid: int | Sequence[int] = 21,
                     random_repetitions: int = 10, seed: int = 0, baseline: str | dict[str, torch.Tensor] = "zero",
                     baseline_data: Data | None = None, units: Sequence[int] | None = None,
                     metrics: Sequence[str] = ("accuracy", "loss"), method: str = "auto",
                     chunk_size: int = CHUNK) -> pd.DataFrame:
    """Cumulative ablation of one layer's units in descending and ascending order of ``scores``
    (e.g. selectivity), against random orders; every curve in one pass over the data.

    Args:
        model, data: as in :func:`singledir.measure.perturb.ablation_curve`.
        layer: the one layer whose units are ablated.
        scores: one number per unit of the layer (``[U]``: a tensor, array, list or Series in unit
            order). NaN ranks lowest (last in descending, first in ascending order); ties go by unit
            index, lowest first.
        grid: ablated counts (a number of points from 0 to all eligible units, or the counts).
        random_repetitions: random orders (at least 1); they are the orders of
            ``perturb.ablation_curve(..., repetitions=random_repetitions, seed=seed, units=...)``.
        seed: seed of the random orders.
        baseline, baseline_data, metrics, method, chunk_size: as in ``ablation_curve``.
        units: the eligible unit indices (e.g. the live units); None: all.

    Returns:
        one row per order x repetition x ablated count: ``layer, order`` (descending, ascending or
        random), ``repetition`` (0 for the two score orders), ``n_ablated, fraction`` (of the
        eligible units) and the metrics.

    Example:
        >>> si = units_table.query("layer == 'hidden.1'").selectivity
        >>> curves = ordered_ablation(net, (x_test, y_test), "hidden.1", si)
        >>> ordered_aucs(curves)  # {"descending": ..., "ascending": ..., "random": ...}
    """
    if not isinstance(layer, str):
        raise ValueError(f"layer {layer!r}: ordered_ablation orders the units of one layer; give its name "
                         "(call it once per layer)")
    layer = checked_layers(model, layer)[0]
    n = probe(model, data, [layer])[0][layer]
    s = np.asarray(scores.detach().cpu() if isinstance(scores, torch.Tensor) else scores, dtype=float).ravel()
    if len(s) != n:
        raise ValueError(f"{len(s)} scores for layer {layer!r}, which has {n} units: give one score per unit, "
                         "in unit order (NaN where undefined)")
    if int(random_repetitions) < 1:
        raise ValueError(f"random_repetitions {random_repetitions} must be at least 1")
    bad = [int(u) for u in (units or []) if not 0 <= int(u) < n]
    if bad:
        raise ValueError(f"units {bad[:5]} of layer {layer!r} do not exist: it has {n} units")
    units_by = None if units is None else {layer: [int(u) for u in units]}
    eligible = [u for _, u in random_orders([layer], {layer: n}, 1, 0, units_by)[0]]
    by_score = _score_orders(s, sorted(eligible))
    rand = [[u for _, u in o] for o in random_orders([layer], {layer: n}, int(random_repetitions), seed, units_by)]
    curve = perturb.ablation_curve(model, data, layer, grid=grid, baseline=baseline, baseline_data=baseline_data,
                                   metrics=metrics, method=method, chunk_size=chunk_size, units=units_by,
                                   orders=[by_score["descending"], by_score["ascending"], *rand])
    t = curve.table.rename(columns={"layers": "layer"})
    r = t.pop("repetition")
    t.insert(1, "order", np.select([r == 0, r == 1], ["descending", "ascending"], "random"))
    t.insert(2, "repetition", np.where(r < 2, 0, r - 2))
    return t


def ordered_aucs(table: pd.DataFrame, metric: str = "accuracy") -> dict[str, float]:
    """Each order's AUC in :func:`ordered_ablation`'s table: the trapezoid area of the
    repetition-mean ``metric`` over the fraction ablated (:func:`singledir.measure.areas.auc`).

    Args:
        table: :func:`ordered_ablation`'s table (of one layer and network).
        metric: the column to integrate.

    Returns:
        ``{order: AUC}`` for each order in the table (descending, ascending, random).

    Example:
        >>> a = ordered_aucs(ordered_ablation(net, (x, y), "hidden.1", si))
        >>> a["descending"] - a["random"]
    """
    if "order" not in table or metric not in table:
        raise ValueError(f"the table lacks 'order' or {metric!r}: give ordered_ablation's table")
    if "layer" in table and table.layer.nunique() > 1:
        raise ValueError(f"the table holds layers {sorted(table.layer.unique())}: give one layer's curves")
    return {o: auc(table[table.order == o], metric) for o in ORDERS if (table.order == o).any()}
