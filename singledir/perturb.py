"""Ablation and noise perturbation of units, on any network whose layers have names.

Definitions (paper section 2.2; ``shared/paper/METHODS.md``):

* **Ablating** a unit clamps its activation to a constant for every input, in activation space:
  to 0, or to its per-unit training mean (for a conv feature map, the per-element mean map).
* A **cumulative ablation curve** draws a random permutation of the units of the chosen layers,
  fixed for that repetition, ablates the first ``k`` of it for ``k`` on a grid from 0 to all, and
  records accuracy, top-5 accuracy and loss. Its **AUC** is the trapezoid area of the mean
  accuracy over the fraction of units ablated, on [0, 1].
* **Noise**: every unit of the chosen layers gets independent Gaussian noise of standard deviation
  ``scale * sd_train(unit)``; one noise sample per repetition, shared by all scales.
* **Importance** of a unit: the change in loss when it alone is ablated.

Interventions are the small pure setters :func:`ablate` and :func:`add_noise`; the engine and the
naive reference apply the same setters. The naive reference (``method="naive"``) registers a
forward hook and runs the whole network over the data for every point. The engine
(``method="engine"``, the default where it applies) computes the activations of the first perturbed
layer once per data chunk and runs only what lies downstream; when the layer after the ablated one
is linear (``Linear`` or ``Conv2d``, possibly after average pooling and flattening) it updates that
layer's pre-activation incrementally along each permutation instead of recomputing it. Data are
streamed in chunks, so memory stays bounded. Networks that are not a chain of named stages (see
:func:`singledir.models.model_stages`) are measured with the naive path.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .models import get_layer, model_stages, unit_layer_names
from .record import latest

METRICS = ("accuracy", "top5", "loss")
CHUNK = 4096  # examples per chunk: bounds memory (chunk x units x 4 bytes per cached layer)
Data = tuple[torch.Tensor, torch.Tensor] | Iterable[tuple[torch.Tensor, torch.Tensor]]


# ---------------------------------------------------------------------------------------------
# Setters: (activation, units) -> activation
# ---------------------------------------------------------------------------------------------
def ablate(act: torch.Tensor, units: torch.Tensor, baseline: torch.Tensor | None = None) -> torch.Tensor:
    """``act [N, U, ...]`` with ``units`` clamped to 0, or to ``baseline[units]`` (``baseline [U, ...]``)."""
    out = act.clone()
    out[:, units] = 0.0 if baseline is None else baseline[units].to(act.dtype)
    return out


def add_noise(act: torch.Tensor, sd: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``act [N, U, ...]`` plus Gaussian noise with per-unit standard deviation ``sd [U]``."""
    eps = torch.randn(act.shape, generator=generator, dtype=act.dtype)
    return act + eps * sd.to(act.dtype).view(1, -1, *([1] * (act.dim() - 2)))


def noise_generator(seed: int, repetition: int, chunk: int, layer: int) -> torch.Generator:
    """The generator of one (repetition, data chunk, layer) noise sample: independent of scale."""
    state = np.random.SeedSequence([int(seed), int(repetition), int(chunk), int(layer)]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


# ---------------------------------------------------------------------------------------------
# Measurement context: eval mode, no grad, no hook left behind
# ---------------------------------------------------------------------------------------------
@contextmanager
def measuring(model: nn.Module):
    """Eval mode and no gradients for the block; every module's mode is restored after, also on error."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, t in modes:
            m.training = t


@contextmanager
def intervening(model: nn.Module, setters: dict[str, Callable[[torch.Tensor], torch.Tensor]]):
    """Forward hooks replacing each named layer's output by ``setter(output)``; removed on exit."""
    handles = []
    try:
        for name, setter in setters.items():
            handles.append(get_layer(model, name).register_forward_hook(lambda m, i, o, _s=setter: _s(o)))
        yield
    finally:
        for h in handles:
            h.remove()


def check_layers(model: nn.Module, layers: Sequence[str]) -> list[str]:
    if isinstance(layers, str):
        layers = [layers]
    layers = list(layers)
    if not layers:
        raise ValueError(f"no layer given; layers with units: {', '.join(unit_layer_names(model))}")
    for name in layers:
        get_layer(model, name)  # KeyError listing the layers with units
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers {layers} name a layer twice")
    return layers


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def chunks(data: Data, chunk_size: int = CHUNK) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(x, y)`` tensors in chunks, or the batches of a data loader as they come."""
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"inputs ({len(x)}) and labels ({len(y)}) differ in length")
        for s in range(0, len(y), chunk_size):
            yield x[s:s + chunk_size], y[s:s + chunk_size]
    else:
        for batch in data:
            yield batch[0], batch[1]


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
    dev = _device(model)
    with measuring(model), latest(model, layers) as rec:
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


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------
class _Sums:
    """Running sums of the metrics for a grid of perturbation points."""

    def __init__(self, shape: tuple[int, ...], metrics: Sequence[str]):
        self.metrics = list(metrics)
        self.sums = {m: np.zeros(shape) for m in self.metrics}
        self.n = 0

    def add(self, at: tuple[int, ...], out: torch.Tensor, y: torch.Tensor) -> None:
        if "loss" in self.sums:
            self.sums["loss"][at] += F.cross_entropy(out.float(), y, reduction="sum").item()
        if "accuracy" in self.sums:
            self.sums["accuracy"][at] += (out.argmax(1) == y).sum().item()
        if "top5" in self.sums:
            top = out.topk(5, dim=1).indices
            self.sums["top5"][at] += (top == y[:, None]).any(1).sum().item()

    def means(self) -> dict[str, np.ndarray]:
        return {m: s / max(self.n, 1) for m, s in self.sums.items()}


def _check_metrics(metrics: Sequence[str], n_outputs: int | None) -> list[str]:
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise ValueError(f"unknown metric(s) {bad or metrics}; allowed: {', '.join(METRICS)}")
    if "top5" in metrics and n_outputs is not None and n_outputs < 5:
        raise ValueError(f"top-5 accuracy needs at least 5 classes; the network has {n_outputs} outputs")
    return metrics


# ---------------------------------------------------------------------------------------------
# The engine's plan: cached upstream, downstream runs, incremental linear updates
# ---------------------------------------------------------------------------------------------
_IDENTITY_IN_EVAL = (nn.Dropout, nn.Dropout2d, nn.Identity)
_CHANNELWISE = (nn.AdaptiveAvgPool2d, nn.Flatten)


class _Plan:
    """How to evaluate the network from the first perturbed layer onwards."""

    def __init__(self, model: nn.Module, layers: list[str]):
        stages = model_stages(model)
        names = [n for n, _ in stages] if stages else []
        self.ok = stages is not None and all(l in names for l in layers)
        if not self.ok:
            return
        self.stages = stages
        self.index = {l: names.index(l) for l in layers}
        self.first = min(self.index.values())

    def upstream(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the first perturbed layer, unperturbed."""
        for _, s in self.stages[: self.first + 1]:
            x = s(x)
        return x

    def downstream(self, a: torch.Tensor, setters: dict[str, Callable]) -> torch.Tensor:
        """Logits from the first perturbed layer's (unperturbed) output ``a``, applying ``setters``."""
        name0 = self.stages[self.first][0]
        if name0 in setters:
            a = setters[name0](a)
        for name, s in self.stages[self.first + 1:]:
            a = s(a)
            if name in setters:
                a = setters[name](a)
        return a

    def linear_after(self, layer: str) -> "_Incremental | None":
        """An incremental updater when the stages after ``layer`` are channel-wise linear maps ``pre``
        then a Linear or Conv2d ``lin``; ``rest`` the modules after it. None otherwise."""
        j = self.index[layer] + 1
        pre: list[nn.Module] = []
        while j < len(self.stages) and isinstance(self.stages[j][1], _IDENTITY_IN_EVAL + _CHANNELWISE):
            m = self.stages[j][1]
            if isinstance(m, _CHANNELWISE):
                if isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size not in (1, (1, 1)):
                    return None
                pre.append(m)
            j += 1
        if j >= len(self.stages):
            return None
        m = self.stages[j][1]
        if isinstance(m, nn.Sequential) and len(m) and isinstance(m[0], (nn.Linear, nn.Conv2d)):
            lin, tail = m[0], list(m)[1:]
        elif isinstance(m, (nn.Linear, nn.Conv2d)):
            lin, tail = m, []
        else:
            return None
        if isinstance(lin, nn.Conv2d) and (pre or lin.groups != 1 or lin.padding_mode != "zeros"):
            return None
        return _Incremental(pre, lin, tail + [s for _, s in self.stages[j + 1:]])


class _Incremental:
    """Pre-activation ``z`` of the linear layer after an ablated layer, updated unit by unit.

    Ablating units ``idx`` changes ``z`` by ``lin_without_bias(c[idx] - a[:, idx])`` (``c`` the
    baseline), so walking an order costs one pass of the linear layer per order instead of one
    per point. For a ``Linear`` layer the activations are kept transposed (``[U, N]``) so that a
    unit's column is contiguous and each update is one ``addmm``.
    """

    def __init__(self, pre: list[nn.Module], lin: nn.Module, rest: list[nn.Module]):
        self.pre, self.lin, self.rest = pre, lin, rest
        self.dense = isinstance(lin, nn.Linear)

    def start(self, a: torch.Tensor, baseline: torch.Tensor | None) -> torch.Tensor:
        """Prepare the layer's activations ``a`` and ``baseline``; returns the intact ``z``."""
        for m in self.pre:
            a = m(a)
        b = baseline
        if b is not None:
            b = b.to(a.device)[None]
            for m in self.pre:
                b = m(b)
            b = b[0]
        self.b = b  # [U] or [U, H, W], or None for zero
        if self.dense:
            self.aT = a.t().contiguous()  # [U, N]
            self.wT = self.lin.weight.t().contiguous()  # [U, out]
        else:
            self.a = a
        return self.lin(a)

    def add(self, z: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """``z`` (updated in place) after additionally ablating ``idx``."""
        if self.dense:
            delta = -self.aT[idx] if self.b is None else self.b[idx, None] - self.aT[idx]  # [k, N]
            return z.addmm_(delta.t(), self.wT[idx])
        a_idx = self.a[:, idx]
        delta = -a_idx if self.b is None else self.b[idx] - a_idx
        c = self.lin
        return z.add_(F.conv2d(delta, c.weight[:, idx], None, c.stride, c.padding, c.dilation))

    def finish(self, z: torch.Tensor) -> torch.Tensor:
        for m in self.rest:
            z = m(z)
        return z


def _setters_ablate(units_by_layer: dict[str, torch.Tensor], baselines: dict[str, torch.Tensor | None]):
    return {l: (lambda a, _u=u, _b=baselines.get(l): ablate(a, _u, None if _b is None else _b.to(a.device)))
            for l, u in units_by_layer.items() if len(u)}


# ---------------------------------------------------------------------------------------------
# Public results
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


def auc(table: pd.DataFrame, metric: str = "accuracy") -> float:
    """Trapezoid area of the repetition-mean ``metric`` over ``fraction`` on [0, 1]."""
    m = table.groupby("fraction")[metric].mean().sort_index()
    return float(np.trapezoid(m.to_numpy(), m.index.to_numpy()))


def noise_auc(table: pd.DataFrame, metric: str = "accuracy") -> float:
    """Mean ``metric`` over the noise scales on a log axis: the trapezoid area of the repetition-mean
    curve over log10(scale), divided by the log range (so 1 = unharmed at every scale)."""
    m = table.groupby("scale")[metric].mean().sort_index()
    s = np.log10(m.index.to_numpy())
    if len(s) < 2 or not np.isfinite(s).all():
        raise ValueError("noise_auc needs at least two positive scales")
    return float(np.trapezoid(m.to_numpy(), s) / (s[-1] - s[0]))


def count_grid(n_units: int, grid: int | Sequence[int]) -> np.ndarray:
    """Ablated counts: ``grid`` evenly spaced points from 0 to ``n_units``, or the counts given."""
    if isinstance(grid, (int, np.integer)):
        if grid < 2:
            raise ValueError(f"grid of {grid} point(s) is too small: at least 2 (none and all ablated)")
        return np.unique(np.round(np.linspace(0, n_units, int(grid))).astype(int))
    counts = np.asarray(list(grid), dtype=int)
    if counts.size == 0:
        raise ValueError("empty grid: give a number of points (e.g. 21) or a list of ablated counts")
    if counts.min() < 0 or counts.max() > n_units:
        raise ValueError(f"grid counts must lie in [0, {n_units}] (the number of units); got "
                         f"{counts.min()}..{counts.max()}")
    return np.unique(counts)


def _units_of(model: nn.Module, data: Data, layers: list[str], chunk_size: int) -> dict[str, int]:
    """Number of units (dimension 1 of the output) of each layer, from one forward pass."""
    dev = _device(model)
    x, _ = next(iter(chunks(data, min(chunk_size, 2))))
    with measuring(model), latest(model, layers) as rec:
        model(x[:2].to(dev))
        return {l: int(rec[l].shape[1]) for l in layers}


def _n_outputs(model: nn.Module, data: Data) -> int:
    dev = _device(model)
    x, _ = next(iter(chunks(data, 2)))
    with measuring(model):
        return int(model(x[:2].to(dev)).shape[1])


def _orders(layers: list[str], n_units: dict[str, int], repetitions: int, seed: int) -> list[list[tuple[int, int]]]:
    """One fixed random permutation of all (layer position, unit) pairs per repetition."""
    pairs = [(li, u) for li, l in enumerate(layers) for u in range(n_units[l])]
    g = torch.Generator().manual_seed(int(seed))
    return [[pairs[i] for i in torch.randperm(len(pairs), generator=g).tolist()] for _ in range(repetitions)]


def _split(order: list[tuple[int, int]], n_layers: int) -> list[torch.Tensor]:
    by = [[] for _ in range(n_layers)]
    for li, u in order:
        by[li].append(u)
    return [torch.tensor(b, dtype=torch.long) for b in by]


def ablation_curve(model: nn.Module, data: Data, layers: str | Sequence[str], *, grid: int | Sequence[int] = 21,
                   repetitions: int = 10, seed: int = 0, baseline: str | dict[str, torch.Tensor] = "zero",
                   baseline_data: Data | None = None, metrics: Sequence[str] = ("accuracy", "loss"),
                   method: str = "auto", chunk_size: int = CHUNK) -> AblationCurve:
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

    Returns:
        an :class:`AblationCurve` (``.table``, ``.auc``, ``.mean``).

    Example:
        >>> curve = ablation_curve(net, (x_train, y_train), ["hidden.0", "hidden.1"], repetitions=5)
        >>> curve.auc
    """
    layers = check_layers(model, layers)
    metrics = _check_metrics(metrics, _n_outputs(model, data))
    baselines = _baselines(model, layers, baseline, baseline_data, chunk_size)
    n_units = _units_of(model, data, layers, chunk_size)
    total = sum(n_units.values())
    counts = count_grid(total, grid)
    if int(repetitions) < 1:
        raise ValueError(f"repetitions {repetitions} must be at least 1")
    orders = _orders(layers, n_units, int(repetitions), seed)
    sums = _Sums((len(orders), len(counts)), metrics)
    plan = _Plan(model, layers)
    method = _method(method, plan)
    dev = _device(model)
    with measuring(model):
        if method == "naive":
            for r, order in enumerate(orders):
                for k_i, k in enumerate(counts):
                    setters = _setters_ablate(dict(zip(layers, _split(order[:k], len(layers)))), baselines)
                    with intervening(model, setters):
                        for x, y in chunks(data, chunk_size):
                            sums.add((r, k_i), model(x.to(dev)), y.to(dev))
            sums.n = sum(len(y) for _, y in chunks(data, chunk_size))
        else:
            inc = plan.linear_after(layers[0]) if len(layers) == 1 else None
            for x, y in chunks(data, chunk_size):
                x, y = x.to(dev), y.to(dev)
                a = plan.upstream(x)
                if inc is not None:
                    _incremental_curve(inc, a, y, orders, counts, baselines.get(layers[0]), sums)
                else:
                    for r, order in enumerate(orders):
                        for k_i, k in enumerate(counts):
                            setters = _setters_ablate(dict(zip(layers, _split(order[:k], len(layers)))), baselines)
                            sums.add((r, k_i), plan.downstream(a, setters), y)
                sums.n += len(y)
    rows = []
    means = sums.means()
    for r in range(len(orders)):
        for k_i, k in enumerate(counts):
            rows.append({"layers": "+".join(layers), "repetition": r, "n_ablated": int(k),
                         "fraction": k / total, **{m: float(means[m][r, k_i]) for m in metrics}})
    return AblationCurve(pd.DataFrame(rows), tuple(layers), total)


def _incremental_curve(inc: _Incremental, a: torch.Tensor, y: torch.Tensor, orders, counts,
                       baseline: torch.Tensor | None, sums: _Sums) -> None:
    """Walk each order, updating the next linear layer's pre-activation by the newly ablated units."""
    z0 = inc.start(a, baseline)
    for r, order in enumerate(orders):
        units = torch.tensor([u for _, u in order], dtype=torch.long, device=a.device)
        z = z0.clone()
        prev = 0
        for k_i, k in enumerate(counts):
            if k > prev:
                inc.add(z, units[prev:k])
                prev = k
            sums.add((r, k_i), inc.finish(z), y)


def _method(method: str, plan: _Plan) -> str:
    if method not in ("auto", "engine", "naive"):
        raise ValueError(f"unknown method {method!r}; allowed: auto, engine, naive")
    if method == "engine" and not plan.ok:
        raise ValueError("the engine needs a network that is a chain of named stages containing every "
                         "perturbed layer (see singledir.models.model_stages); use method='naive'")
    return "engine" if method == "auto" and plan.ok else ("naive" if method == "auto" else method)


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
# Noise
# ---------------------------------------------------------------------------------------------
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
    metrics = _check_metrics(metrics, _n_outputs(model, data))
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
    plan = _Plan(model, layers)
    method = _method(method, plan)
    sums = _Sums((int(repetitions), len(scales)), metrics)
    dev = _device(model)

    def setters(r: int, c: int, s: float):
        return {l: (lambda a, _l=l, _li=li: add_noise(a, sd[_l].to(a.device) * s, noise_generator(seed, r, c, _li)))
                for li, l in enumerate(layers)}

    with measuring(model):
        for c, (x, y) in enumerate(chunks(data, chunk_size)):
            x, y = x.to(dev), y.to(dev)
            a = plan.upstream(x) if method == "engine" else None
            for r in range(int(repetitions)):
                for s_i, s in enumerate(scales):
                    if method == "engine":
                        out = plan.downstream(a, setters(r, c, float(s)))
                    else:
                        with intervening(model, setters(r, c, float(s))):
                            out = model(x)
                    sums.add((r, s_i), out, y)
            sums.n += len(y)
    means = sums.means()
    return pd.DataFrame([{"layers": "+".join(layers), "repetition": r, "scale": float(s),
                          **{m: float(means[m][r, s_i]) for m in metrics}}
                         for r in range(int(repetitions)) for s_i, s in enumerate(scales)])


# ---------------------------------------------------------------------------------------------
# Single-unit importance
# ---------------------------------------------------------------------------------------------
def _stacked_importance(plan: _Plan, a: torch.Tensor, y: torch.Tensor, n: int, baseline: torch.Tensor | None,
                        chunk_size: int, sums: _Sums) -> None:
    """Each of ``n`` units ablated alone, several units per downstream pass: ``K`` copies of the
    chunk are stacked along the batch (``K * N <= chunk_size``), copy ``k`` with unit ``u_k``
    ablated. In eval mode every example is computed independently, so this equals one pass per
    unit; it saves the per-call overhead that dominates when the chunk is small."""
    m = len(y)
    k_max = max(1, chunk_size // max(m, 1))
    for start in range(0, n, k_max):
        us = list(range(start, min(start + k_max, n)))
        big = a.repeat(len(us), *([1] * (a.dim() - 1)))
        for k, u in enumerate(us):
            big[k * m:(k + 1) * m, u] = 0.0 if baseline is None else baseline[u].to(big.dtype)
        out = plan.downstream(big, {})
        for k, u in enumerate(us):
            sums.add((u,), out[k * m:(k + 1) * m], y)


def unit_importance(model: nn.Module, data: Data, layers: str | Sequence[str], *,
                    baseline: str | dict[str, torch.Tensor] = "zero", baseline_data: Data | None = None,
                    method: str = "auto", chunk_size: int = CHUNK) -> pd.DataFrame:
    """Loss and accuracy with each unit of each layer ablated alone.

    Returns:
        one row per unit: ``layer, unit, loss, accuracy, delta_loss, delta_accuracy``, where the
        deltas are ablated minus intact (importance = ``delta_loss``).
    """
    layers = check_layers(model, layers)
    baselines = _baselines(model, layers, baseline, baseline_data, chunk_size)
    n_units = _units_of(model, data, layers, chunk_size)
    metrics = ["accuracy", "loss"]
    dev = _device(model)
    rows = []
    with measuring(model):
        for l in layers:
            n = n_units[l]
            sums = _Sums((n + 1,), metrics)  # index n: intact
            plan = _Plan(model, [l])
            method_l = _method(method, plan)
            units = torch.arange(n)
            if method_l == "naive":
                for u in range(n + 1):
                    setters = {} if u == n else _setters_ablate({l: units[u:u + 1]}, baselines)
                    with intervening(model, setters):
                        for x, y in chunks(data, chunk_size):
                            sums.add((u,), model(x.to(dev)), y.to(dev))
                sums.n = sum(len(y) for _, y in chunks(data, chunk_size))
            else:
                inc = plan.linear_after(l)
                for x, y in chunks(data, chunk_size):
                    x, y = x.to(dev), y.to(dev)
                    a = plan.upstream(x)
                    if inc is not None:
                        z0 = inc.start(a, baselines[l])
                        sums.add((n,), inc.finish(z0), y)
                        for u in range(n):
                            sums.add((u,), inc.finish(inc.add(z0.clone(), units[u:u + 1].to(dev))), y)
                    else:
                        sums.add((n,), plan.downstream(a, {}), y)
                        _stacked_importance(plan, a, y, n, baselines[l], chunk_size, sums)
                    sums.n += len(y)
            means = sums.means()
            for u in range(n):
                rows.append({"layer": l, "unit": u, "loss": means["loss"][u], "accuracy": means["accuracy"][u],
                             "delta_loss": means["loss"][u] - means["loss"][n],
                             "delta_accuracy": means["accuracy"][u] - means["accuracy"][n]})
    return pd.DataFrame(rows)
