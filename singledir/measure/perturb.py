"""What is measured when units are perturbed: ablation curves, noise curves, single-unit importance.

Definitions (the paper's section 2.2; the book's chapter 1 states them):

* **Ablating** a unit clamps its activation to a constant for every input, in activation space:
  to 0, or to its per-unit training mean (for a conv feature map, the per-element mean map).
* A **cumulative ablation curve** draws a random permutation of the units of the chosen layers,
  fixed for that repetition, ablates the first ``k`` of it for ``k`` on a grid from 0 to all, and
  records accuracy, top-5 accuracy and loss. Its **AUC** is the trapezoid area of the mean
  accuracy over the fraction of units ablated, on [0, 1]; the **normalized AUC** divides the curve
  by its intact accuracy first.
* **Noise**: every unit of the chosen layers gets independent Gaussian noise of standard deviation
  ``scale * sd_train(unit)``; one noise sample per repetition, shared by all scales.
* **Importance** of a unit: the change in loss when it alone is ablated.

Each measure describes its perturbations and hands them to :class:`singledir.measure.engine.Engine`, which
evaluates them naively (hooks and full passes) or fast (cached upstream layers, incremental updates
of the next linear layer), with the same results. The areas under the curves are
:mod:`singledir.measure.areas`'s (importable from here too), the unit orders
:mod:`singledir.measure.orders`'s.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .areas import auc, noise_auc, noise_scales_problem, normalize, normalized_auc  # noqa: F401 (the measures' summaries, as chapters call them)
from .engine import (CHUNK, METRICS, Data, Engine, Sums, add_noise, check_layers,
                     check_metrics, chunks, device_of, probe)
from .orders import count_grid, cumulative_paths, explicit_orders, random_orders
from ..nets.models import evaluating
from ..base.progress import timed
from .record import latest


def noise_generator(seed: int, repetition: int, chunk: int, layer: int) -> torch.Generator:
    """The generator of one (repetition, data chunk, layer) noise sample: independent of scale."""
    state = np.random.SeedSequence([int(seed), int(repetition), int(chunk), int(layer)]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


# ---------------------------------------------------------------------------------------------
# Unit statistics
# ---------------------------------------------------------------------------------------------
def unit_stats(model: nn.Module, data: Data, layers: Sequence[str], chunk_size: int = CHUNK) -> dict[str, dict[str, torch.Tensor]]:
    """Per-unit training statistics of ``layers``: ``{layer: {"mean": [U, ...], "sd": [U]}}``.

    ``mean`` is per element (a conv unit's mean is a map ``[H, W]``): the value a unit is clamped
    to by mean ablation. ``sd`` is the unit's standard deviation over examples (and positions of
    a feature map): the scale of its noise.
    """
    layers = check_layers(model, layers)
    s1: dict[str, torch.Tensor] = {}
    s2: dict[str, torch.Tensor] = {}
    n = 0
    dev = device_of(model)
    with evaluating(model), latest(model, layers) as rec:
        for x, _ in chunks(data, chunk_size):
            model(x.to(dev))
            for name in layers:
                a = rec.pop(name).double()
                s1[name] = s1.get(name, 0) + a.sum(0)
                s2[name] = s2.get(name, 0) + (a * a).sum(0)
            n += len(x)
    out = {}
    for name in layers:
        mean = s1[name] / n
        sq = s2[name] / n
        reduce_dims = tuple(range(1, mean.dim()))
        mu_u = mean.mean(reduce_dims) if reduce_dims else mean
        var_u = (sq.mean(reduce_dims) if reduce_dims else sq) - mu_u ** 2
        out[name] = {"mean": mean.float().cpu(), "sd": var_u.clamp_min(0).sqrt().float().cpu()}
    return out


def _baselines(model, layers, baseline, baseline_data, chunk_size) -> dict[str, torch.Tensor | None]:
    if isinstance(baseline, dict):
        missing = set(layers) - set(baseline)
        if missing:
            raise ValueError(f"baseline given for {sorted(baseline)} but not for {sorted(missing)}")
        return {l: baseline[l] for l in layers}
    if baseline == "zero":
        return {l: None for l in layers}
    if baseline == "mean":
        if baseline_data is None:
            raise ValueError("baseline='mean' needs baseline_data: the training data whose per-unit "
                             "means the units are clamped to")
        stats = unit_stats(model, baseline_data, layers, chunk_size)
        return {l: stats[l]["mean"] for l in layers}
    raise ValueError(f"unknown baseline {baseline!r}; allowed: 'zero', 'mean' or a dict of tensors")


# ---------------------------------------------------------------------------------------------
# Cumulative ablation curves
# ---------------------------------------------------------------------------------------------
@dataclass
class AblationCurve:
    """A cumulative ablation curve: ``table`` has one row per repetition x ablated count."""

    table: pd.DataFrame
    layers: tuple[str, ...]
    n_units: int

    @property
    def mean(self) -> pd.DataFrame:
        """Mean and standard deviation over repetitions, per ablated count."""
        cols = [c for c in METRICS if c in self.table]
        return self.table.groupby(["n_ablated", "fraction"])[cols].agg(["mean", "std"]).reset_index()

    @property
    def auc(self) -> float:
        """Area under the mean accuracy against the fraction of units ablated (trapezoid, [0, 1])."""
        return auc(self.table)

    @property
    def normalized_auc(self) -> float:
        """The AUC of the curve divided by its intact accuracy (1: no loss until every unit is gone)."""
        return normalized_auc(self.table)


@timed("curves")
def ablation_curve(model: nn.Module, data: Data, layers: str | Sequence[str], *, grid: int | Sequence[int] = 21,
                   repetitions: int = 10, seed: int = 0, baseline: str | dict[str, torch.Tensor] = "zero",
                   baseline_data: Data | None = None, metrics: Sequence[str] = ("accuracy", "loss"),
                   method: str = "auto", chunk_size: int = CHUNK,
                   units: dict[str, Sequence[int]] | None = None,
                   orders: Sequence[Sequence] | None = None) -> AblationCurve:
    """Cumulative ablation curve of ``layers`` over random unit orders.

    Args:
        model: a trained network; its mode is restored after the call.
        data: ``(x, y)`` tensors or an iterable of ``(x, y)`` batches (a DataLoader).
        layers: one layer name or several (their units are pooled into one order).
        grid: number of evenly spaced ablated counts from 0 to all units, or the counts.
        repetitions: random orders (each fixed for the whole curve).
        seed: seed of the orders.
        baseline: ``"zero"``, ``"mean"`` (per-unit mean over ``baseline_data``), or
            ``{layer: tensor [U, ...]}``.
        baseline_data: training data for ``baseline="mean"``.
        metrics: any of ``"accuracy"``, ``"top5"``, ``"loss"``.
        method: ``"engine"``, ``"naive"`` (hook + full pass per point) or ``"auto"``.
        chunk_size: examples per chunk when ``data`` are tensors.
        units: ``{layer: unit indices}``: ablate only these units of a layer (e.g. its live units;
            the fraction on the x-axis is then of the units eligible); a layer not named: all.
        orders: explicit orders instead of random ones (``repetitions`` and ``seed`` then do not
            apply; the table's ``repetition`` is the order's position): each a permutation of the
            eligible units, as unit indices (one layer) or ``(layer, unit)`` pairs.

    Returns:
        an :class:`AblationCurve` (``.table``, ``.auc``, ``.normalized_auc``, ``.mean``).

    Example:
        >>> curve = ablation_curve(net, (x_train, y_train), ["hidden.0", "hidden.1"], repetitions=5)
        >>> curve.auc
    """
    layers = check_layers(model, layers)
    n_units, n_out = probe(model, data, layers)
    metrics = check_metrics(metrics, n_out)
    if int(repetitions) < 1:
        raise ValueError(f"repetitions {repetitions} must be at least 1")
    engine = Engine(model, layers, method, chunk_size)
    baselines = _baselines(model, layers, baseline, baseline_data, chunk_size)
    _check_units(units, n_units, layers)
    orders = (random_orders(layers, n_units, int(repetitions), seed, units) if orders is None
              else explicit_orders(orders, layers, n_units, units))
    total = len(orders[0]) if orders else sum(n_units.values())
    counts = count_grid(total, grid)
    paths = cumulative_paths(orders, counts, len(layers))
    sums = Sums((len(orders), len(counts)), metrics)
    engine.ablation_paths(data, paths, baselines, sums)
    means = sums.means()
    rows = [{"layers": "+".join(layers), "repetition": r, "n_ablated": int(k), "fraction": k / total,
             **{m: float(means[m][r, k_i]) for m in metrics}}
            for r in range(len(orders)) for k_i, k in enumerate(counts)]
    return AblationCurve(pd.DataFrame(rows), tuple(layers), total)


def _check_units(units: dict[str, Sequence[int]] | None, n_units: dict[str, int], layers: list[str]) -> None:
    """Refuse ``units`` of a layer that is not ablated, or indices the layer does not have."""
    for l, idx in (units or {}).items():
        if l not in n_units:
            raise ValueError(f"units given for {l!r}, which is not among the ablated layers {layers}")
        bad = [int(u) for u in idx if not 0 <= int(u) < n_units[l]]
        if bad:
            raise ValueError(f"units {bad[:5]} of layer {l!r} do not exist: it has {n_units[l]} units")


# ---------------------------------------------------------------------------------------------
# Noise
# ---------------------------------------------------------------------------------------------
@timed("curves")
def noise_curve(model: nn.Module, data: Data, layers: str | Sequence[str], *, scales: Sequence[float] | None = None,
                repetitions: int = 5, seed: int = 0, sd: dict[str, torch.Tensor] | None = None,
                sd_data: Data | None = None, metrics: Sequence[str] = ("accuracy", "loss"),
                method: str = "auto", chunk_size: int = CHUNK) -> pd.DataFrame:
    """Accuracy under Gaussian noise of standard deviation ``scale * sd_train`` added to every unit.

    Args:
        scales: noise scales (default ``10 ** linspace(-1.5, 1, 11)``); must be >= 0.
        sd: per-unit standard deviations ``{layer: [U]}``; else computed on ``sd_data``.
        (other arguments as in :func:`ablation_curve`)

    Returns:
        one row per repetition x scale: ``layers, repetition, scale, <metrics>``.
    """
    layers = check_layers(model, layers)
    n_units, n_out = probe(model, data, layers)
    metrics = check_metrics(metrics, n_out)
    scales = np.asarray(10 ** np.linspace(-1.5, 1, 11) if scales is None else list(scales), dtype=float)
    if scales.size == 0:
        raise ValueError("empty list of noise scales")
    if (scales < 0).any() or not np.isfinite(scales).all():
        raise ValueError(f"noise scales must be finite and >= 0; got {scales[(scales < 0) | ~np.isfinite(scales)].tolist()}")
    if int(repetitions) < 1:
        raise ValueError(f"repetitions {repetitions} must be at least 1")
    if sd is None:
        if sd_data is None:
            raise ValueError("noise needs each unit's training standard deviation: pass sd_data (the "
                             "training data) or sd={layer: tensor}")
        stats = unit_stats(model, sd_data, layers, chunk_size)
        sd = {l: stats[l]["sd"] for l in layers}
    missing = [l for l in layers if l not in sd]
    if missing:
        raise ValueError(f"sd gives no standard deviations for layer(s) {missing}")
    engine = Engine(model, layers, method, chunk_size)
    points = [(r, s_i) for r in range(int(repetitions)) for s_i in range(len(scales))]

    def setters(at, c):
        r, s_i = at
        return {l: (lambda a, _l=l, _li=li: add_noise(a, sd[_l].to(a.device) * float(scales[s_i]),
                                                      noise_generator(seed, r, c, _li)))
                for li, l in enumerate(layers)}

    sums = Sums((int(repetitions), len(scales)), metrics)
    engine.perturbed(data, points, setters, sums)
    means = sums.means()
    return pd.DataFrame([{"layers": "+".join(layers), "repetition": r, "scale": float(s),
                          **{m: float(means[m][r, s_i]) for m in metrics}}
                         for r in range(int(repetitions)) for s_i, s in enumerate(scales)])


# ---------------------------------------------------------------------------------------------
# Single-unit importance
# ---------------------------------------------------------------------------------------------
@timed("units")
def unit_importance(model: nn.Module, data: Data, layers: str | Sequence[str], *,
                    baseline: str | dict[str, torch.Tensor] = "zero", baseline_data: Data | None = None,
                    method: str = "auto", chunk_size: int = CHUNK) -> pd.DataFrame:
    """Loss and accuracy with each unit of each layer ablated alone.

    Returns:
        one row per unit: ``layer, unit, loss, accuracy, delta_loss, delta_accuracy``, where the
        deltas are ablated minus intact (importance = ``delta_loss``).
    """
    layers = check_layers(model, layers)
    n_units, _ = probe(model, data, layers)
    baselines = _baselines(model, layers, baseline, baseline_data, chunk_size)
    rows = []
    for l in layers:
        n = n_units[l]
        sums = Sums((n + 1,), ["accuracy", "loss"])  # index n: intact
        paths = [[((u,), [torch.tensor([u])])] for u in range(n)] + [[((n,), [torch.zeros(0, dtype=torch.long)])]]
        Engine(model, [l], method, chunk_size).ablation_paths(data, paths, {l: baselines[l]}, sums)
        means = sums.means()
        for u in range(n):
            rows.append({"layer": l, "unit": u, "loss": means["loss"][u], "accuracy": means["accuracy"][u],
                         "delta_loss": means["loss"][u] - means["loss"][n],
                         "delta_accuracy": means["accuracy"][u] - means["accuracy"][n]})
    return pd.DataFrame(rows)
