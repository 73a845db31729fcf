"""How a perturbation is evaluated fast: the measures of :mod:`singledir.measure.perturb` describe *what*
to perturb, this module evaluates it, with one driver that picks the method.

Three methods give the same numbers (tests check them against each other):

* ``naive``: a forward hook replaces the perturbed layers' outputs and the whole network runs over
  the data for every point. Works on any module.
* ``engine``: the network is a chain of named stages (:func:`singledir.nets.models.model_stages`); the
  first perturbed layer's activations are computed once per data chunk and only the stages after
  it run for each point (:class:`singledir.measure.plan.Plan`).
* ``incremental``: a single ablated layer followed by a linear one: along a cumulative ablation
  path the linear layer's pre-activation is updated by the newly ablated units only
  (:class:`singledir.measure.plan.Incremental`).

Data are streamed in chunks, so memory stays bounded; metric sums run over chunks.
"""
from __future__ import annotations

from collections.abc import Iterator as CollectionsIterator
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..nets.models import evaluating, unit_layer_names, get_layer
from .plan import Plan, Setters
from .record import hooked

METRICS = ("accuracy", "top5", "loss")
CHUNK = 4096  # examples per chunk: bounds memory (chunk x units x 4 bytes per cached layer)
Data = tuple[torch.Tensor, torch.Tensor] | Iterable[tuple[torch.Tensor, torch.Tensor]]
# a cumulative ablation path: steps of (layer position, unit indices) added to the ablated set, and
# where each step's metrics go in the result array
Path = list[tuple[tuple[int, ...], list[torch.Tensor]]]


# ---------------------------------------------------------------------------------------------
# Setters: (activation, units) -> activation
# ---------------------------------------------------------------------------------------------
def ablate(act: torch.Tensor, units: torch.Tensor, baseline: torch.Tensor | None = None) -> torch.Tensor:
    """``act [N, U, ...]`` with ``units`` clamped to 0, or to ``baseline[units]`` (``baseline [U, ...]``).

    Computed as ``act * keep`` (plus ``baseline * (1 - keep)``) with a 0/1 mask per unit: one pass
    over the activations in their own memory layout, exactly the clamped values."""
    keep = torch.ones(act.shape[1], dtype=act.dtype, device=act.device)
    keep[units] = 0.0
    keep = keep.view(1, -1, *([1] * (act.dim() - 2)))
    out = act * keep
    if baseline is not None:
        b = baseline.to(act.dtype).to(act.device)  # [U] (a constant per unit, also per conv channel) or [U, ...]
        out = out + b.reshape(1, *b.shape, *[1] * (act.dim() - 1 - b.dim())) * (1 - keep)
    return out


def add_noise(act: torch.Tensor, sd: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``act [N, U, ...]`` plus Gaussian noise with per-unit standard deviation ``sd [U]``."""
    eps = torch.randn(act.shape, generator=generator, dtype=act.dtype)
    return act + eps.to(act.device) * sd.to(act.dtype).view(1, -1, *([1] * (act.dim() - 2)))


def ablation_setters(units_by_layer: dict[str, torch.Tensor], baselines: dict[str, torch.Tensor | None]) -> Setters:
    return {l: (lambda a, _u=u, _b=baselines.get(l): ablate(a, _u, None if _b is None else _b.to(a.device)))
            for l, u in units_by_layer.items() if len(u)}


# ---------------------------------------------------------------------------------------------
# Data and checks
# ---------------------------------------------------------------------------------------------
def chunks(data: Data, chunk_size: int = CHUNK) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(x, y)`` tensors (or numpy arrays) in chunks, or the batches of a data loader as they come.

    Refused, with a message saying what was found: empty data; inputs with NaN or infinite values;
    a one-shot iterator (a generator, ``iter(loader)``, ``zip(...)``), which the measures would
    exhaust on their first pass (they pass over the data several times) and then silently measure
    on fewer batches; batches that are not ``(x, y)`` pairs of equal length; a tensor of inputs alone.
    """
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(d, np.ndarray) for d in data):
        data = (torch.from_numpy(data[0]), torch.from_numpy(data[1]))
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"inputs ({len(x)}) and labels ({len(y)}) differ in length")
        if len(y) == 0:
            raise ValueError(f"the data are empty (0 examples; inputs of shape {tuple(x.shape)}): give at least "
                             "one (x, y) example")
        for s in range(0, len(y), chunk_size):
            yield _finite(x[s:s + chunk_size], s), y[s:s + chunk_size]
        return
    if isinstance(data, (torch.Tensor, np.ndarray)):
        raise TypeError(f"the data are a tensor of inputs alone (shape {tuple(data.shape)}): give (x, y), the "
                        "inputs and their labels, or an iterable of (x, y) batches")
    if isinstance(data, CollectionsIterator):
        raise ValueError(f"the data are a one-shot iterator ({type(data).__name__}): the measures pass over the "
                         "data several times, and a second pass would silently see fewer batches or none; give "
                         "the DataLoader itself, a list of (x, y) batches, or (x, y) tensors")
    if not isinstance(data, Iterable):
        raise TypeError(f"the data must be (x, y) tensors or an iterable of (x, y) batches, got {type(data).__name__}")
    n = 0
    for i, batch in enumerate(data):
        if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
            raise ValueError(f"batch {i} is a {type(batch).__name__}, not an (x, y) pair: give batches of inputs and "
                             "labels (e.g. a DataLoader over a TensorDataset(x, y))")
        x, y = batch[0], batch[1]
        if len(x) != len(y):
            raise ValueError(f"batch {i} holds {len(x)} inputs and {len(y)} labels")
        yield _finite(x, n), y
        n += len(y)
    if n == 0:
        raise ValueError(f"the data ({type(data).__name__}) gave no batch: give at least one (x, y) example")


def _finite(x: torch.Tensor, offset: int) -> torch.Tensor:
    if x.is_floating_point() and not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).flatten(1).any(1).nonzero().flatten()
        raise ValueError(f"the inputs hold NaN or infinite values ({len(bad)} example(s) in this chunk, the first "
                         f"at index {offset + int(bad[0])}); clean or drop them before measuring")
    return x


def check_layers(model: nn.Module, layers: str | Sequence[str]) -> list[str]:
    layers = [layers] if isinstance(layers, str) else list(layers)
    if not layers:
        raise ValueError(f"no layer given; layers with units: {', '.join(unit_layer_names(model))}")
    for name in layers:
        get_layer(model, name)  # KeyError listing the layers with units
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers {layers} name a layer twice")
    return layers


def checked_layers(model: nn.Module, layers: str | Sequence[str]) -> list[str]:
    """:func:`check_layers`, an unknown layer refused with a ValueError (as every other bad argument)."""
    try:
        return check_layers(model, layers)
    except KeyError as e:  # the package's unknown-layer message, as a ValueError
        raise ValueError(e.args[0]) from None


def check_metrics(metrics: Sequence[str], n_outputs: int | None) -> list[str]:
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise ValueError(f"unknown metric(s) {bad or metrics}; allowed: {', '.join(METRICS)}")
    if "top5" in metrics and n_outputs is not None and n_outputs < 5:
        raise ValueError(f"top-5 accuracy needs at least 5 classes; the network has {n_outputs} outputs")
    return metrics


def device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def probe(model: nn.Module, data: Data, layers: Sequence[str]) -> tuple[dict[str, int], int]:
    """``({layer: number of units}, number of outputs)`` from one forward pass on two examples."""
    x, _ = next(iter(chunks(data, 2)))
    with evaluating(model), hooked(model, layers) as rec:
        out = model(x[:2].to(device_of(model)))
        return {l: int(rec[l].shape[1]) for l in layers}, int(out.shape[1])


# ---------------------------------------------------------------------------------------------
# Metric sums
# ---------------------------------------------------------------------------------------------
class Sums:
    """Running sums of the metrics for an array of perturbation points (``shape``)."""

    def __init__(self, shape: tuple[int, ...], metrics: Sequence[str]):
        self.metrics = list(metrics)
        self.sums = {m: np.zeros(shape) for m in self.metrics}
        self.n = 0

    def add(self, at: tuple[int, ...], out: torch.Tensor, y: torch.Tensor) -> None:
        if not torch.isfinite(out).all():
            raise ValueError(f"the network's outputs hold NaN or infinite values for {int((~torch.isfinite(out)).any(1).sum())} "
                             f"of {len(out)} examples although its inputs are finite: its weights are probably "
                             "damaged (a diverged training run?); measure a network that was trained to the end")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= out.shape[1]):
            bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
            raise ValueError(f"the data hold label {bad}, outside the network's {out.shape[1]} classes "
                             f"(0 to {out.shape[1] - 1}): give data labelled for this network, or a network with "
                             "an output per class of the data")
        if "loss" in self.sums:
            self.sums["loss"][at] += F.cross_entropy(out.float(), y, reduction="sum").item()
        if "accuracy" in self.sums:
            self.sums["accuracy"][at] += (out.argmax(1) == y).sum().item()
        if "top5" in self.sums:
            self.sums["top5"][at] += (out.topk(5, dim=1).indices == y[:, None]).any(1).sum().item()

    def means(self) -> dict[str, np.ndarray]:
        return {m: s / max(self.n, 1) for m, s in self.sums.items()}


# ---------------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------------
class Engine:
    """Evaluates perturbations of ``layers`` of ``model`` with the fastest method that applies.

    ``method``: ``"auto"`` (incremental or engine where the network allows, else naive),
    ``"engine"`` (refused on a network that is not a chain of stages) or ``"naive"``.
    """

    def __init__(self, model: nn.Module, layers: list[str], method: str = "auto", chunk_size: int = CHUNK):
        if method not in ("auto", "engine", "naive"):
            raise ValueError(f"unknown method {method!r}; allowed: auto, engine, naive")
        self.model, self.layers, self.chunk_size = model, layers, chunk_size
        self.plan = Plan(model, layers)
        if method == "engine" and not self.plan.ok:
            raise ValueError("the engine needs a network that is a chain of named stages containing every "
                             "perturbed layer (see singledir.nets.models.model_stages); use method='naive'")
        self.method = "naive" if method == "naive" or not self.plan.ok else "engine"
        self.device = device_of(model)

    def ablation_paths(self, data: Data, paths: list[Path], baselines: dict[str, torch.Tensor | None],
                       sums: Sums) -> None:
        """Evaluate cumulative ablation paths: along each path the ablated set grows by each step's
        units, and the metrics after each step go to that step's place in ``sums``."""
        layers = self.layers
        inc = self.plan.linear_after(layers[0]) if self.method == "engine" and len(layers) == 1 else None

        def sets_of(path: Path):
            acc = [[] for _ in layers]
            for at, adds in path:
                for li, u in enumerate(adds):
                    if len(u):
                        acc[li].append(u)
                yield at, {l: torch.cat(acc[li]) if acc[li] else torch.zeros(0, dtype=torch.long)
                           for li, l in enumerate(layers)}

        with evaluating(self.model):
            if self.method == "naive":
                for path in paths:
                    for at, units in sets_of(path):
                        with hooked(self.model, layers, ablation_setters(units, baselines)):
                            for x, y in chunks(data, self.chunk_size):
                                sums.add(at, self.model(x.to(self.device)), y.to(self.device))
                sums.n = sum(len(y) for _, y in chunks(data, self.chunk_size))
                return
            for x, y in chunks(data, self.chunk_size):
                x, y = x.to(self.device), y.to(self.device)
                a = self.plan.upstream(x)
                if inc is not None:
                    z0 = inc.start(a, baselines.get(layers[0]))
                    for path in paths:
                        z = z0.clone()
                        for at, adds in path:
                            if len(adds[0]):
                                inc.add(z, adds[0].to(self.device))
                            sums.add(at, inc.finish(z), y)
                elif all(len(p) == 1 for p in paths) and len(layers) == 1:
                    self._stacked_single(a, y, paths, baselines.get(layers[0]), sums)
                else:
                    for path in paths:
                        for at, units in sets_of(path):
                            sums.add(at, self.plan.downstream(a, ablation_setters(units, baselines)), y)
                sums.n += len(y)

    def _stacked_single(self, a, y, paths, baseline, sums) -> None:
        """Single-step paths several per downstream pass: ``K`` copies of the chunk stacked along the
        batch (``K * N <= chunk_size``), copy ``k`` with path ``k``'s units ablated. In eval mode every
        example is computed independently, so this equals one pass per path; it saves the per-call
        overhead that dominates when the chunk is small."""
        m = len(y)
        k_max = max(1, self.chunk_size // max(m, 1))
        for start in range(0, len(paths), k_max):
            group = paths[start:start + k_max]
            big = a.repeat(len(group), *([1] * (a.dim() - 1)))
            for k, path in enumerate(group):
                u = path[0][1][0]
                big[k * m:(k + 1) * m, u] = 0.0 if baseline is None else baseline[u].to(big.dtype).to(big.device).reshape(
                    len(u), *baseline.shape[1:], *[1] * (a.dim() - 1 - baseline.dim()))  # [U]: a constant per channel
            out = self.plan.downstream(big, {})
            for k, path in enumerate(group):
                sums.add(path[0][0], out[k * m:(k + 1) * m], y)

    def perturbed(self, data: Data, points: list[tuple[int, ...]],
                  setters: Callable[[tuple[int, ...], int], Setters], sums: Sums) -> None:
        """Evaluate arbitrary perturbations: ``setters(point, chunk index)`` gives each point's setters
        for one chunk (noise draws depend on the chunk)."""
        with evaluating(self.model):
            for c, (x, y) in enumerate(chunks(data, self.chunk_size)):
                x, y = x.to(self.device), y.to(self.device)
                a = self.plan.upstream(x) if self.method == "engine" else None
                for at in points:
                    if self.method == "engine":
                        out = self.plan.downstream(a, setters(at, c))
                    else:
                        with hooked(self.model, self.layers, setters(at, c)):
                            out = self.model(x)
                    sums.add(at, out, y)
                sums.n += len(y)
