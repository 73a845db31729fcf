"""One call for a network of your own: ablation curve, AUC, noise curve and a per-unit table.

>>> from singledir.measure.units import analyze
>>> report = analyze(my_net, train_data=(x_tr, y_tr), test_data=test_loader,
...                  layers=["layer1.0", "layer2.0"])
>>> report.auc, report.units.head()

``train_data`` and ``test_data`` are ``(x, y)`` tensors or iterables of ``(x, y)`` batches (a
DataLoader). Curves are measured on ``curve_data`` (default: the training data, as the paper does
for networks that cannot generalize); selectivity, information and importance on the test data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd
import torch
from torch import nn

from . import information
from . import perturb
from . import selectivity
from ..base.cache import source_hash
from .engine import CHUNK, METRICS, Data, check_layers, chunks, device_of
from ..nets.models import evaluating
from ..base.progress import timed
from .record import hooked


KEY_COLUMNS = ("layer", "depth", "unit")  # a unit table's key
IMPORTANCE_COLUMNS = ("delta_loss", "delta_accuracy")  # merged from perturb.unit_importance


@dataclass(frozen=True)
class LayerData:
    """What a per-unit measure sees of one layer: its activations ``[N, U]`` (conv maps averaged over
    space), the labels and the labels shuffled with the table's seed, the number of classes, whether
    the layer's activations take negative values (``signed``), the bins of the information
    estimate, and the model and layer name."""

    acts: torch.Tensor
    labels: torch.Tensor
    labels_shuffled: torch.Tensor
    n_classes: int
    signed: bool
    n_bins: int
    model: nn.Module
    layer: str


@dataclass(frozen=True)
class UnitMeasure:
    """A per-unit measure: ``compute(layer)`` gives ``{column: [U] values}`` for some of ``columns``
    (a column it cannot measure on a layer is left out). ``fn`` is a user's ``fn(acts, labels)``;
    None for a built-in measure, whose source is part of the code version."""

    columns: tuple[str, ...]
    compute: Callable[[LayerData], dict]
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None


def _selectivity(d: LayerData) -> dict:
    si = selectivity.selectivity_index(d.acts, d.labels, d.n_classes, signed=d.signed)
    status = selectivity.selectivity_status(d.acts, d.labels, d.n_classes, signed=d.signed)
    return {"selectivity": si.numpy(), "si_status": status, "dead": [st == "dead" for st in status]}


def _mutual_info(d: LayerData) -> dict:
    mi = information.mutual_information(d.acts, d.labels, d.n_bins).numpy()
    mi0 = information.mutual_information(d.acts, d.labels_shuffled, d.n_bins).numpy()
    return {"mutual_info": mi, "mutual_info_shuffled": mi0, "mutual_info_corrected": mi - mi0}


def _l1_norm(d: LayerData) -> dict:
    try:
        norms = selectivity.filter_l1_norms(d.model, d.layer).numpy()
    except ValueError:  # not a conv layer: no filter norms
        return {}
    return {"l1_norm": norms} if len(norms) == d.acts.shape[1] else {}


# Every per-unit measure, built-in and registered, in column order: name -> measure. unit_table
# adds its columns; sweeps key their cached results on the registered measures' sources
# (measures_fingerprint), so a new or edited measure is recomputed.
UNIT_MEASURES: dict[str, UnitMeasure] = {
    "selectivity": UnitMeasure(("selectivity", "si_status", "dead"), _selectivity),
    "mutual_info": UnitMeasure(("mutual_info", "mutual_info_shuffled", "mutual_info_corrected"), _mutual_info),
    "l1_norm": UnitMeasure(("l1_norm",), _l1_norm),
}


def reserved_names() -> frozenset[str]:
    """Column names a registered measure may not take: the table's key, the built-in measures'
    columns, the importance columns and the metrics."""
    builtin = {c for m in UNIT_MEASURES.values() if m.fn is None for c in m.columns}
    return frozenset({*KEY_COLUMNS, *builtin, *IMPORTANCE_COLUMNS, *METRICS})


def _user_measure(name: str, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> UnitMeasure:
    def compute(d: LayerData) -> dict:
        values = torch.as_tensor(fn(d.acts, d.labels)).flatten()
        if len(values) != d.acts.shape[1]:
            raise ValueError(f"unit measure {name!r} gave {len(values)} values for the {d.acts.shape[1]} units "
                             f"of layer {d.layer!r}; it must return one per unit")
        return {name: values.double().numpy()}
    return UnitMeasure((name,), compute, fn)


def register_unit_measure(name: str, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Add a per-unit measure: ``fn(acts [N, U], labels [N]) -> [U]`` becomes column ``name`` of
    :func:`unit_table` (and of every sweep's ``units`` table).

    Example:
        >>> register_unit_measure("sparsity", lambda a, y: (a > 0).float().mean(0))
    """
    reserved = reserved_names()
    if name in reserved or not name.isidentifier():
        raise ValueError(f"unit measure name {name!r} must be an identifier and not one of {sorted(reserved)}")
    if not callable(fn):
        raise TypeError(f"unit measure {name!r} must be callable")
    UNIT_MEASURES[name] = _user_measure(name, fn)


def measures_fingerprint() -> str:
    """A hash of the registered measures' names and sources ("" when none is registered)."""
    return source_hash({name: m.fn for name, m in UNIT_MEASURES.items() if m.fn is not None})


def layer_activations(model: nn.Module, data: Data, layers: Sequence[str], chunk_size: int = CHUNK):
    """``({layer: [N, U]}, labels [N])``: activations (conv maps averaged over space) and labels."""
    acts, y, _ = _activations(model, data, layers, chunk_size)
    return acts, y


def _activations(model: nn.Module, data: Data, layers: Sequence[str], chunk_size: int = CHUNK):
    """:func:`layer_activations` and ``{layer: signed}``: whether any activation of the layer
    (before spatial averaging) is negative on these data.

    Refused with the layer named: a layer that gives NaN or infinite activations for finite inputs
    (a diverged network), a layer that does not run, and a layer that runs more than once per
    forward pass (one module reused at several places: its recorded activations would be the last
    use's only, while a perturbation would hit every use).
    """
    layers = check_layers(model, layers)
    dev = device_of(model)
    out = {l: [] for l in layers}
    signed = dict.fromkeys(layers, False)
    ys = []
    calls = dict.fromkeys(layers, 0)
    n = 0

    def count(name, _):
        calls[name] += 1

    with evaluating(model), hooked(model, layers, keep=count) as rec:
        for x, y in chunks(data, chunk_size):
            calls.update(dict.fromkeys(layers, 0))
            model(x.to(dev))
            for l in layers:
                if calls[l] != 1:
                    raise ValueError(
                        f"layer {l!r} ran {calls[l]} times in one forward pass of {type(model).__name__}: "
                        + ("it is not on the path from the inputs to the outputs" if not calls[l] else
                           "one module used at several places (e.g. a single nn.ReLU applied after several "
                           "layers) has no activations of its own to measure or perturb")
                        + "; give layers that run once per forward pass (a separate activation module for each use)")
                a = rec.pop(l)
                if a.is_floating_point() and not torch.isfinite(a).all():
                    bad = (~torch.isfinite(a)).flatten(1).any(1).nonzero().flatten()
                    raise ValueError(
                        f"layer {l!r} gave NaN or infinite activations for {len(bad)} of {len(a)} examples in this "
                        f"chunk (the first at index {n + int(bad[0])}) although the inputs are finite: the network's "
                        "weights or buffers hold NaN or infinite values (diverged training?), or the layer overflows")
                signed[l] = signed[l] or bool((a < 0).any())
                out[l].append(selectivity.spatial_mean(a).cpu())
            ys.append(y.cpu())
            n += len(y)
    return {l: torch.cat(v) for l, v in out.items()}, torch.cat(ys), signed


@timed("units")
def unit_table(model: nn.Module, data: Data, layers: Sequence[str], *, n_classes: int | None = None,
               importance: bool = True, n_bins: int = information.N_BINS, chunk_size: int = CHUNK,
               seed: int = 0) -> pd.DataFrame:
    """One row per unit: ``layer, depth, unit, selectivity, si_status, dead, mutual_info,
    mutual_info_shuffled, mutual_info_corrected, [delta_loss, delta_accuracy], [l1_norm]``.

    Measured on ``data`` (the test set in the paper). ``si_status`` says why a selectivity is NaN
    (``"dead"``: never fires; ``"negative"``: a unit of a layer whose activations take negative
    values on ``data``, such as tanh, GELU or Hardswish, for which the index is not defined: every
    unit of such a layer, see :mod:`singledir.measure.selectivity`); every unit is kept. ``mutual_info_shuffled`` is the same
    estimate against labels shuffled with ``seed``: the plug-in estimator's upward bias for this
    unit's bins and these data, subtracted in ``mutual_info_corrected``.
    """
    acts, y, signed = _activations(model, data, layers, chunk_size)
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    y_shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))]
    frames = []
    for depth, l in enumerate(acts):
        d = LayerData(acts[l], y, y_shuffled, n_classes, signed[l], n_bins, model, l)
        df = pd.DataFrame({"layer": l, "depth": depth, "unit": range(acts[l].shape[1])})
        for measure in UNIT_MEASURES.values():
            for column, values in measure.compute(d).items():
                df[column] = values
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    if importance:
        imp = perturb.unit_importance(model, data, list(acts), chunk_size=chunk_size)
        table = table.merge(imp[["layer", "unit", *IMPORTANCE_COLUMNS]], on=["layer", "unit"])
    return table


@dataclass
class Report:
    """What :func:`analyze` measured."""

    curve: perturb.AblationCurve
    noise: pd.DataFrame
    units: pd.DataFrame

    @property
    def auc(self) -> float:
        return self.curve.auc


def analyze(model: nn.Module, *, train_data: Data, test_data: Data, layers: Sequence[str],
            curve_data: Data | None = None, repetitions: int = 10, grid: int = 21, seed: int = 0,
            metrics: Sequence[str] = ("accuracy", "loss"), importance: bool = True) -> Report:
    """Ablation curve (zero ablation, pooled layers), noise curve, and the per-unit table.

    Args:
        model: a trained network; its layers are addressed by ``named_modules`` names.
        train_data: training data: unit statistics (noise scale), default curve data.
        test_data: data for selectivity, mutual information and importance.
        layers: layers whose units are probed.
        curve_data: data the curves are measured on (default ``train_data``).
        metrics: add ``"top5"`` for ImageNet-style top-5 accuracy.
    """
    curve_data = train_data if curve_data is None else curve_data
    # the unit table first: it refuses layers that cannot be measured (reused modules, NaN
    # activations) before the curves spend their time; every measure is seeded on its own
    units = unit_table(model, test_data, layers, importance=importance)
    curve = perturb.ablation_curve(model, curve_data, layers, grid=grid, repetitions=repetitions,
                                   seed=seed, metrics=metrics)
    noise = perturb.noise_curve(model, curve_data, layers, repetitions=max(1, repetitions // 2), seed=seed,
                                sd_data=train_data, metrics=metrics)
    return Report(curve, noise, units)
