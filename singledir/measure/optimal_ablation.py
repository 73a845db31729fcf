"""Optimal ablation (Li & Janson 2024): per unit, the constant that minimizes the loss when that unit
alone is replaced by it (:func:`fit_ablation_constants`), fitted by a trust-region Gauss-Newton search
on the engine of :mod:`singledir.measure.engine`. Its importance is
``perturb.unit_importance(model, data, layers, baseline=constants)``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import perturb
from .engine import CHUNK, Data, Engine, checked_layers, chunks, probe
from ..base.progress import timed
from ..nets.models import evaluating
from .record import hooked

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
    layers = checked_layers(model, layers)
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
