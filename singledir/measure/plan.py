"""The plan by which the engine (:mod:`singledir.measure.engine`) evaluates a perturbation fast: the
network as a chain of named stages (:func:`singledir.nets.models.model_stages`).

* :class:`Plan`: the output of the first perturbed layer is computed once per data chunk
  (``upstream``) and only the stages after it run for each perturbation (``downstream``).
* :class:`Incremental`: a single ablated layer followed by a linear one (``Linear`` or ``Conv2d``,
  possibly after average pooling and flattening): along a cumulative ablation path the linear
  layer's pre-activation is updated by the newly ablated units only (``z += W[:, idx] (c - a)``)
  instead of recomputed.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..nets.models import model_stages

Setters = dict[str, Callable[[torch.Tensor], torch.Tensor]]  # {layer: activation -> activation}

_IDENTITY_IN_EVAL = (nn.Dropout, nn.Dropout2d, nn.Identity)
_CHANNELWISE = (nn.AdaptiveAvgPool2d, nn.Flatten)


class Plan:
    """How to evaluate the network from the first perturbed layer onwards (``ok``: it is a chain
    of named stages that contains every perturbed layer)."""

    def __init__(self, model: nn.Module, layers: list[str]):
        stages = model_stages(model)
        names = [n for n, _ in stages] if stages else []
        self.ok = stages is not None and all(l in names for l in layers)
        if self.ok:
            self.stages = stages
            self.index = {l: names.index(l) for l in layers}
            self.first = min(self.index.values())

    def upstream(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the first perturbed layer, unperturbed."""
        for _, s in self.stages[: self.first + 1]:
            x = s(x)
        return x

    def downstream(self, a: torch.Tensor, setters: Setters) -> torch.Tensor:
        """Logits from the first perturbed layer's (unperturbed) output ``a``, applying ``setters``."""
        name0 = self.stages[self.first][0]
        if name0 in setters:
            a = setters[name0](a)
        for name, s in self.stages[self.first + 1:]:
            a = s(a)
            if name in setters:
                a = setters[name](a)
        return a

    def linear_after(self, layer: str) -> "Incremental | None":
        """An incremental updater when the stages after ``layer`` are channel-wise linear maps then a
        Linear or Conv2d; None otherwise."""
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
        return Incremental(pre, lin, tail + [s for _, s in self.stages[j + 1:]])


class Incremental:
    """Pre-activation ``z`` of the linear layer after an ablated layer, updated unit by unit.

    Ablating units ``idx`` changes ``z`` by ``lin_without_bias(c[idx] - a[:, idx])`` (``c`` the
    baseline), so walking a path costs one pass of the linear layer per path instead of one per
    point. For a ``Linear`` layer the activations are kept transposed (``[U, N]``) so that a unit's
    column is contiguous and each update is one ``addmm``.
    """

    def __init__(self, pre: list[nn.Module], lin: nn.Module, rest: list[nn.Module]):
        self.pre, self.lin, self.rest = pre, lin, rest
        self.dense = isinstance(lin, nn.Linear)

    def start(self, a: torch.Tensor, baseline: torch.Tensor | None) -> torch.Tensor:
        """Prepare the layer's activations ``a`` and ``baseline``; returns the intact ``z``."""
        b = None if baseline is None else baseline.to(a.device).reshape(1, *baseline.shape, *[1] * (a.dim() - 1 - baseline.dim()))
        for m in self.pre:
            a = m(a)
        if b is not None:
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
