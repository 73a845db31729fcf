"""A differentiable class-selectivity regularizer (Leavitt & Morcos, ICLR 2021, "Selectivity
considered harmful").

Training with ``TrainConfig(selectivity_alpha=alpha)`` minimizes ``cross-entropy - alpha * SI``,
where ``SI`` is the mean class selectivity index of the network's units computed from the current
batch: for each unit layer (the layers the book ablates, post-ReLU; a conv feature map first
averaged over its positions), the mean activation of each class present in the batch, and per unit

    SI = (mu_max - mu_rest) / (mu_max + mu_rest + eps)

with ``mu_max`` the largest class mean and ``mu_rest`` the mean of the other present classes'
means, as :mod:`singledir.measure.selectivity` defines the index (``eps`` keeps it differentiable where a
unit is silent on the whole batch: such a unit counts as 0). The units' indices are averaged within
each layer, then the layers' means are averaged. Positive ``alpha`` makes units more selective,
negative ``alpha`` less. A batch with fewer than two classes has no index: it contributes 0.

The regularizer is computed in float32 outside autocast, so it works under ``precision="bf16"``.
"""
from __future__ import annotations

import contextlib
from typing import Sequence

import torch
from torch import nn

from . import models as _models

EPS = 1e-7  # added to the index's denominator (Leavitt & Morcos's epsilon)


def member_selectivity(acts: Sequence[torch.Tensor], labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Each member's mean class selectivity over its unit layers, differentiable.

    Args:
        acts: one tensor per unit layer, ``[G, B, U]`` (G members, B examples, U units; conv
            feature maps already averaged over positions).
        labels: ``[G, B]`` each member's labels of its batch.
        n_classes: the number of classes of the dataset.

    Returns:
        ``[G]`` float32: per member, the units' mean SI in each layer, averaged over the layers.
    """
    if not acts:
        raise ValueError("the selectivity regularizer needs at least one unit layer; the network has none")
    onehot = torch.nn.functional.one_hot(labels.long(), int(n_classes)).float()  # [G, B, K]
    counts = onehot.sum(1)  # [G, K]
    present = counts > 0
    n_present = present.sum(1)  # [G]
    a = torch.cat([x.float() for x in acts], 2)  # every layer's units at once: few, larger operations
    weight = torch.cat([torch.full((x.shape[2],), 1.0 / (x.shape[2] * len(acts))) for x in acts]).to(a.device)
    mu = torch.bmm(onehot.transpose(1, 2), a) / counts.clamp_min(1).unsqueeze(2)  # [G, K, U]
    mu_max = mu.masked_fill(~present.unsqueeze(2), float("-inf")).max(1).values  # [G, U]
    mu_rest = ((mu * present.unsqueeze(2)).sum(1) - mu_max) / (n_present - 1).clamp_min(1).unsqueeze(1)
    si = (mu_max - mu_rest) / (mu_max + mu_rest + EPS)
    mean = si @ weight  # per layer the units' mean, then the layers' mean
    return torch.where(n_present >= 2, mean, torch.zeros_like(mean))


class _SpatialMean(torch.autograd.Function):
    """``[B, C, H, W] -> [B, C]`` means over positions (at least float32), whose gradient keeps the input's
    memory format: autograd's own (an expanded tensor) would turn the gradient that reaches a
    channels-last conv layer into a contiguous one, and the ReLU's backward then runs several
    times slower (measured: +35% per epoch for the book's conv net)."""

    @staticmethod
    def forward(ctx, a):
        ctx.shape, ctx.dtype = a.shape, a.dtype
        last = a.is_contiguous(memory_format=torch.channels_last) and not a.is_contiguous()
        ctx.fmt = torch.channels_last if last else torch.contiguous_format
        return a.mean((2, 3), dtype=torch.promote_types(a.dtype, torch.float32))

    @staticmethod
    def backward(ctx, g):
        h, w = ctx.shape[2:]
        return (g / (h * w)).to(ctx.dtype)[:, :, None, None].expand(ctx.shape).contiguous(memory_format=ctx.fmt)


def _units(a: torch.Tensor) -> torch.Tensor:
    """``[B, U]`` or ``[B, C, H, W]`` (averaged over positions) -> ``[B, U]``."""
    return _SpatialMean.apply(a) if a.dim() == 4 else a.flatten(2).mean(2) if a.dim() > 2 else a


def selectivity_regularizer(acts: Sequence[torch.Tensor], labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """The mean class selectivity of one network's units on a batch (differentiable).

    Args:
        acts: the activations of each unit layer on the batch: ``[B, U]`` (MLP) or ``[B, C, H, W]``
            (conv; averaged over positions).
        labels: ``[B]`` the batch's labels.
        n_classes: the number of classes of the dataset.

    Returns:
        A scalar float32 tensor: the mean over layers of the mean over units of
        ``(mu_max - mu_rest) / (mu_max + mu_rest + eps)`` (0 when fewer than two classes are present).

    Example:
        >>> acts = [torch.tensor([[1.0, 1.0], [0.0, 1.0]])]  # unit 0 fires for class 0 only
        >>> round(selectivity_regularizer(acts, torch.tensor([0, 1]), 2).item(), 4)
        0.5
    """
    return member_selectivity([_units(a).unsqueeze(0) for a in acts], labels.unsqueeze(0), n_classes)[0]


def forward_with_units(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``model(x)`` and the outputs of its unit layers (:func:`singledir.nets.models.unit_layer_names`),
    collected by forward hooks, so the output is the very ``model(x)``.

    Args:
        model: a network.
        x: its inputs.

    Returns:
        (the output, one activation tensor per unit layer in the order of the names).
    """
    names = _models.unit_layer_names(model)
    found: dict[str, torch.Tensor] = {}
    with contextlib.ExitStack() as stack:
        for name in names:
            def hook(_m, _i, out, name=name):
                found[name] = out
            stack.callback(_models.get_layer(model, name).register_forward_hook(hook).remove)
        out = model(x)
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError(f"unit layers {missing} were not run by {type(model).__name__}'s forward pass; "
                         "the selectivity regularizer needs every unit layer's output")
    return out, [found[n] for n in names]


def stacked_units(net: nn.Module, acts: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """A stacked network's unit activations as ``[G, B, U]`` per layer: an MLP's are already so;
    a conv net's ``[B, G*C, H, W]`` are averaged over positions and split by member."""
    G = net.G
    out = []
    for a in acts:
        if a.dim() == 4:
            pooled = _SpatialMean.apply(a)  # [B, G*C]
            a = pooled.view(len(pooled), G, -1).transpose(0, 1)
        out.append(a)
    return out


def regularized(losses: torch.Tensor, alpha: float, net: nn.Module, acts: Sequence[torch.Tensor] | None,
                labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """A group's per-member losses with each member's selectivity term: ``losses - alpha * SI``.

    Args:
        losses: ``[G]`` each member's cross-entropy on its batch.
        alpha: ``TrainConfig.selectivity_alpha``; 0 returns ``losses`` itself.
        net: the stacked network (:mod:`singledir.nets.stacked`).
        acts: the unit activations its forward pass appended (None when ``alpha`` is 0).
        labels: ``[G, B]`` each member's labels of its batch.
        n_classes: the number of classes.

    Returns:
        ``[G]`` the regularized losses.
    """
    if not alpha:
        return losses
    return losses - alpha * member_selectivity(stacked_units(net, acts), labels, n_classes)
