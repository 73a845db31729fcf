"""Ablation scored on named subsets of the examples: which examples a set of units holds.

For a set of units ``U`` (ablated together, to zero) and a subset ``S`` of the examples, the *drop*
on ``S`` is ``acc_S(intact) - acc_S(U ablated)``: the accuracy on ``S`` against the labels the data
carry (a network's own training labels, corrupted where they were) lost by the ablation. Maini,
Mozer, Sedghi, Lipton, Kolter & Zhang (2023, *Can neural network memorization be localized?*,
ICML) find that a few units hold the mislabeled training examples a network memorized: ablating
them costs those examples far more than the correctly labeled ones. Morcos et al. (2018,
section 3.1) predict the same sign from the other side: memorizing networks rely on single
directions.

* :func:`correct`: per example, whether the network (with units ablated) predicts its label;
* :func:`subset_drops`: the drop on each named subset;
* :func:`costliest_units`: the given fraction of units whose single ablation raises the loss on
  some data most (pooled over layers), or most beyond its rise on other examples, to be scored on
  *other* data, so that a choice never scores itself; :func:`random_units`: as many units drawn
  at random, the control.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from ..nets.models import evaluating
from .engine import CHUNK, Data, ablation_setters, check_layers, chunks, device_of, probe
from .perturb import unit_importance
from .record import hooked

Units = dict[str, torch.Tensor]  # {layer: unit indices}: a set of units, ablated together


def correct(model: nn.Module, data: Data, ablated: Units | None = None, chunk_size: int = CHUNK) -> torch.Tensor:
    """``[N]`` bool: whether ``model``, with the units of ``ablated`` clamped to zero, predicts each
    example's label."""
    ablated = {l: torch.as_tensor(u, dtype=torch.long) for l, u in (ablated or {}).items()}
    out = []
    with evaluating(model), hooked(model, list(ablated), ablation_setters(ablated, {})):
        for x, y in chunks(data, chunk_size):
            out.append((model(x.to(device_of(model))).argmax(1).cpu() == y.cpu()))
    return torch.cat(out)


def subset_drops(model: nn.Module, data: Data, subsets: Mapping[str, torch.Tensor], ablated: Units) -> pd.DataFrame:
    """The accuracy each named subset of ``data`` loses when the units of ``ablated`` are ablated.

    Args:
        data: ``(x, y)`` tensors or batches, ``N`` examples in a fixed order.
        subsets: ``{name: mask [N] bool}``, e.g. ``{"mislabeled": m, "clean": ~m}``.
        ablated: ``{layer: unit indices}``.

    Returns:
        one row per subset: ``subset, n, intact, ablated, drop`` (``intact - ablated``; NaN for an
        empty subset).
    """
    before, after = correct(model, data).double(), correct(model, data, ablated).double()
    rows = []
    for name, mask in subsets.items():
        mask = torch.as_tensor(mask, dtype=torch.bool)
        if mask.shape != before.shape:
            raise ValueError(f"subset {name!r} has {len(mask)} entries; the data have {len(before)} examples")
        n = int(mask.sum())
        a = float(before[mask].mean()) if n else float("nan")
        b = float(after[mask].mean()) if n else float("nan")
        rows.append({"subset": name, "n": n, "intact": a, "ablated": b, "drop": a - b})
    return pd.DataFrame(rows)


def unit_count(n_units: Mapping[str, int], fraction: float) -> int:
    """``fraction`` of all the units of the layers, rounded, at least one."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction {fraction} must lie in (0, 1]")
    return max(1, round(fraction * sum(n_units.values())))


def costliest_units(model: nn.Module, data: Data, layers: Sequence[str], fraction: float,
                    against: Data | None = None) -> Units:
    """The ``fraction`` of the units of ``layers`` (pooled) whose ablation alone raises the loss on
    ``data`` most, or with ``against`` most beyond the rise on ``against`` (units that matter to
    ``data`` more than to other examples, not units every example needs): ``{layer: unit
    indices}``; ties go to the earlier layer and lower index."""
    layers = check_layers(model, layers)
    imp = unit_importance(model, data, layers)
    if against is not None:
        imp["delta_loss"] = imp["delta_loss"] - unit_importance(model, against, layers)["delta_loss"].to_numpy()
    n = unit_count(imp.groupby("layer", sort=False).size().to_dict(), fraction)
    top = imp.assign(pos=range(len(imp))).sort_values(["delta_loss", "pos"], ascending=[False, True]).head(n)
    return {l: torch.tensor(sorted(top[top.layer == l].unit.tolist()), dtype=torch.long) for l in layers}


def random_units(model: nn.Module, data: Data, layers: Sequence[str], count: int, seed: int) -> Units:
    """``count`` units of ``layers`` (pooled) drawn at random with ``seed``: ``{layer: unit indices}``."""
    layers = check_layers(model, layers)
    n_units, _ = probe(model, data, layers)
    pick = torch.randperm(sum(n_units.values()), generator=torch.Generator().manual_seed(seed))[:count]
    out, start = {}, 0
    for l in layers:
        mine = pick[(pick >= start) & (pick < start + n_units[l])] - start
        out[l], start = mine.sort().values, start + n_units[l]
    return out
