"""Ablation measures from the literature after the paper, on the engine of :mod:`singledir.measure.perturb`:
per-class damage (Zhou, Sun, Bau & Torralba 2018: :func:`class_damage`, :func:`class_damage_summary`),
ordered ablation within a layer (Amjad, Liu & Geiger 2022: :func:`ordered_ablation`,
:func:`ordered_aucs`) and optimal ablation constants (Li & Janson 2024: :func:`fit_ablation_constants`,
whose importance is ``perturb.unit_importance(model, data, layers, baseline=constants)``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import perturb
from .areas import auc
from .engine import CHUNK, Data, Engine, Sums, check_layers, chunks, probe
from .orders import random_orders
from ..base.progress import timed
from ..nets.models import evaluating
from .record import hooked


def _layers(model: nn.Module, layers: str | Sequence[str]) -> list[str]:
    try:
        return check_layers(model, layers)
    except KeyError as e:  # the package's unknown-layer message, as a ValueError
        raise ValueError(e.args[0]) from None


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
    layers = _layers(model, layers)
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
    layer = _layers(model, layer)[0]
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


# ---------------------------------------------------------------------------------------------
# Optimal ablation constants
# ---------------------------------------------------------------------------------------------
FIT_MEMORY = 2 ** 28  # bytes of logits and their derivatives kept per block of units (4 copies)
FIT_ROWS = 512  # examples per downstream call (copies of a chunk stacked): 4096 ran 1.9x slower on a CPU


def _replace(a: torch.Tensor, units: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``a [m, U, ...]`` stacked ``len(units)`` times, copy ``g`` with unit ``units[g]`` set to ``c[g]``."""
    g, m, rest = len(units), len(a), a.shape[2:]
    big = a.unsqueeze(0).expand(g, *a.shape)
    idx = (torch.arange(g, device=a.device)[:, None], torch.arange(m, device=a.device)[None, :], units.to(a.device)[:, None])
    values = c.to(a.dtype).view(g, 1, *([1] * len(rest))).expand(g, m, *rest)
    return big.index_put(idx, values).reshape(g * m, *a.shape[1:])


def _evaluate(engine: Engine, data: Data, layer: str, units: torch.Tensor, c: torch.Tensor, tangents: bool):
    """Mean loss per unit with it alone set to ``c`` ([k], float64), and where ``tangents`` its
    logits and their derivatives in ``c`` (``[k, N, classes]`` each; forward-mode, exact)."""
    import torch.autograd.forward_ad as fwAD
    loss, logits, slopes, n = torch.zeros(len(units), dtype=torch.float64), [], [], 0
    inc = engine.plan.linear_after(layer) if engine.method == "engine" else None  # a linear map next
    with evaluating(engine.model), fwAD.dual_level():
        for x, y in chunks(data, engine.chunk_size):
            x, y, m = x.to(engine.device), y.to(engine.device), len(y)
            a = engine.plan.upstream(x) if engine.method == "engine" else None
            z0 = inc.start(a, None) if inc is not None else None
            step = max(1, min(engine.chunk_size, FIT_ROWS) // m)
            lo, ds = [], []
            for s in range(0, len(units), step):
                u, cs = units[s:s + step], c[s:s + step].float().to(engine.device)
                cd = fwAD.make_dual(cs, torch.ones_like(cs)) if tangents else cs
                if inc is not None:
                    out = inc.finish(_next_linear(inc, z0, u.to(engine.device), cd))
                elif engine.method == "engine":
                    out = engine.plan.downstream(_replace(a, u, cd), {})
                else:
                    with hooked(engine.model, [layer], {layer: lambda o, _u=u, _c=cd: _replace(o[:m], _u, _c)}):
                        out = engine.model(x.repeat(len(u), *([1] * (x.dim() - 1))))
                out, d = fwAD.unpack_dual(out) if tangents else (out, None)
                if int(y.max()) >= out.shape[1] or int(y.min()) < 0:
                    raise ValueError(f"the data hold labels outside the network's {out.shape[1]} classes (0 to "
                                     f"{out.shape[1] - 1}): give data labelled for this network")
                ce = F.cross_entropy(out.float(), y.repeat(len(u)), reduction="none").view(len(u), m).sum(1)
                loss[s:s + step] += ce.double().cpu()
                if tangents:
                    lo.append(out.float().view(len(u), m, -1).cpu())
                    ds.append(d.float().view(len(u), m, -1).cpu())
            logits, slopes = (logits + [torch.cat(lo)], slopes + [torch.cat(ds)]) if tangents else (logits, slopes)
            n += m
    return (loss / n, torch.cat(logits, 1), torch.cat(slopes, 1)) if tangents else (loss / n, None, None)


def _next_linear(inc, z0: torch.Tensor, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The next linear layer's output ``z`` for copy ``g`` with unit ``u[g]`` set to ``c[g]``:
    ``z0`` plus that layer applied to ``c[g] - a_u`` only (for a conv layer, a grouped convolution)."""
    g, m = len(u), len(z0)
    if inc.dense:
        delta = c[:, None] - inc.aT[u]  # [g, m]
        return (z0.unsqueeze(0) + delta[:, :, None] * inc.wT[u][:, None, :]).reshape(g * m, -1)
    lin = inc.lin
    delta = c.view(1, g, 1, 1) - inc.a[:, u]  # [m, g, H, W]
    w = lin.weight[:, u].transpose(0, 1).reshape(g * lin.out_channels, 1, *lin.weight.shape[2:])
    dz = F.conv2d(delta, w, None, lin.stride, lin.padding, lin.dilation, groups=g)
    dz = dz.view(m, g, *z0.shape[1:]).transpose(0, 1)
    return (z0.unsqueeze(0) + dz).reshape(g * m, *z0.shape[1:])


def _line_search(logits: torch.Tensor, slopes: torch.Tensor, y: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Per unit, the step ``d`` in [-radius, radius] minimizing the mean cross-entropy of the
    linearized logits ``logits + d * slopes`` (convex in ``d``): Newton steps safeguarded by bisection."""
    z0, jac = logits.double(), slopes.double()
    jy = (jac * F.one_hot(y, z0.shape[-1]).double()).sum(-1)

    def slope(d, i):  # first and second derivative of the linearized loss at d, units i
        j = jac[i]
        p = torch.softmax(z0[i] + d[:, None, None] * j, -1)
        pj = (p * j).sum(-1)
        return (pj - jy[i]).mean(1), ((p * j * j).sum(-1) - pj ** 2).mean(1)

    lo, hi = -radius.double().clone(), radius.double().clone()
    every = torch.arange(len(lo))  # a minimum at the region's edge is taken at once
    d = torch.where(slope(hi, every)[0] < 0, hi, torch.where(slope(lo, every)[0] > 0, lo, 0.0))
    todo = (d == 0).nonzero().flatten()
    for _ in range(60):
        if not len(todo):
            break
        d_t, lo_t, hi_t = d[todo], lo[todo], hi[todo]
        g, h = slope(d_t, todo)
        hi_t, lo_t = torch.where(g > 0, d_t, hi_t), torch.where(g <= 0, d_t, lo_t)
        newton = d_t - g / h.clamp_min(1e-300)
        new = torch.where((h > 0) & (newton > lo_t) & (newton < hi_t), newton, (lo_t + hi_t) / 2)
        d[todo], lo[todo], hi[todo] = new, lo_t, hi_t
        todo = todo[((new - d_t).abs() > 1e-10 * (1 + new.abs())) & (hi_t - lo_t > 1e-12 * (1 + new.abs()))]
    return d


@timed("units")
def fit_ablation_constants(model: nn.Module, data: Data, layers: str | Sequence[str], *, steps: int = 2,
                           method: str = "auto", chunk_size: int = CHUNK) -> dict[str, torch.Tensor]:
    """Optimal ablation (Li & Janson 2024): per unit, the constant ``c`` that minimizes the mean
    cross-entropy on ``data`` when that unit alone is replaced by ``c`` (a conv channel: one
    constant at every position).

    Fitted per unit by a trust-region Gauss-Newton search: the network's logits are linearized in
    ``c`` by forward-mode differentiation (exact, all units of a block in one pass over the data),
    the linearized loss is minimized exactly within the trust region, and the proposal is evaluated
    on the network; a worse proposal shrinks the region. Each unit's result is the best point
    evaluated, always including 0 and the unit's mean over ``data`` (over examples and positions):
    on ``data`` it is at least as good as zero and mean ablation. It is a local search: on a ReLU
    network the loss is piecewise smooth in ``c`` and can have several minima. Cost: ``steps``
    passes with derivatives and two without, each a downstream pass per unit (the book's conv net
    x0.125 on 500 images: about 9 times :func:`singledir.measure.perturb.unit_importance` at 2 steps).

    Args:
        model: a trained network; its mode is restored after the call.
        data: the fitting data (the training data, for Li & Janson's optimal ablation).
        layers: one layer name or several; each unit is fitted with only itself replaced.
        steps: linearizations (at least 1); on an MLP 128-128 trained on 1000 digits, every unit's
            loss after 1 or 2 came within 5e-5 of that after 8.
        method, chunk_size: as in :func:`singledir.measure.perturb.ablation_curve` (``naive``: hooks and
            full forward passes).

    Returns:
        ``{layer: tensor [U]}``, usable as ``baseline`` of the measures of :mod:`singledir.measure.perturb`.

    Example:
        >>> c = fit_ablation_constants(net, (x_train, y_train), ["hidden.0", "hidden.1"])
        >>> perturb.unit_importance(net, (x_train, y_train), ["hidden.0", "hidden.1"], baseline=c)
    """
    layers = _layers(model, layers)
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps {steps!r} must be an integer of at least 1 (linearizations; 2 suit ReLU networks)")
    n_units, n_out = probe(model, data, layers)
    y = torch.cat([yb.long().cpu() for _, yb in chunks(data, chunk_size)])
    stats = perturb.unit_stats(model, data, layers, chunk_size)
    out = {}
    for l in layers:
        engine = Engine(model, [l], method, chunk_size)
        mean = stats[l]["mean"].double().flatten(1).mean(1) if stats[l]["mean"].dim() > 1 else stats[l]["mean"].double()
        radius0 = 4 * (mean.abs() + stats[l]["sd"].double()) + 1e-3
        block = max(1, FIT_MEMORY // (16 * len(y) * n_out))
        best = torch.zeros(n_units[l], dtype=torch.float64)
        for s in range(0, n_units[l], block):
            u = torch.arange(s, min(s + block, n_units[l]))
            best[u] = _fit_block(engine, data, l, u, y, mean[u], radius0[u], int(steps))
        out[l] = best.float()
    return out


def _fit_block(engine, data, layer, units, y, mean, radius, steps) -> torch.Tensor:
    """Constants for ``units`` (see :func:`fit_ablation_constants`)."""
    best_c = torch.zeros(len(units), dtype=torch.float64)
    best_f, _, _ = _evaluate(engine, data, layer, units, best_c, False)
    cur = mean.clone()
    f_cur, z, dz = _evaluate(engine, data, layer, units, cur, True)
    active = torch.ones(len(units), dtype=torch.bool)
    for step in range(steps):
        better = f_cur < best_f
        best_c, best_f = torch.where(better, cur, best_c), torch.where(better, f_cur, best_f)
        d = torch.zeros(len(units), dtype=torch.float64)
        d[active] = _line_search(z[active], dz[active], y, radius[active])
        active &= d.abs() > 1e-9 * (1 + cur.abs())
        if not active.any():
            break
        i = active.nonzero().flatten()
        f_new, z_new, dz_new = _evaluate(engine, data, layer, units[i], cur[i] + d[i], step < steps - 1)
        ok = f_new < f_cur[i]
        better = f_new < best_f[i]
        best_c[i[better]], best_f[i[better]] = cur[i[better]] + d[i[better]], f_new[better]
        at_edge = d[i].abs() >= 0.99 * radius[i]  # grow the region fast while the steps reach its edge
        radius[i] = torch.where(ok, torch.where(at_edge, 4 * radius[i], radius[i]), d[i].abs() / 4)
        if step < steps - 1:
            j = i[ok]
            cur[j], f_cur[j], z[j], dz[j] = cur[j] + d[j], f_new[ok], z_new[ok], dz_new[ok]
    return best_c
