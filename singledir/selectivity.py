"""Class selectivity of units and the L1 norms of the filters that compute them.

Class selectivity index (paper section 2.3, after neuroscience's selectivity indices): with
``mu_c`` the mean activation of a unit over test examples of class ``c`` (a conv feature map is
first averaged over space), ``mu_max = max_c mu_c`` and ``mu_rest`` the mean of the other classes'
means::

    SI = (mu_max - mu_rest) / (mu_max + mu_rest)

Units are post-ReLU, so SI lies in [0, 1]: 0 when every class drives the unit equally, 1 when one
class alone does. A unit whose class means are all 0 never fires: its SI is undefined and is
returned as NaN (dead), never as 0 or 1.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .models import get_layer


def spatial_mean(acts: torch.Tensor) -> torch.Tensor:
    """``[N, U, ...] -> [N, U]``: conv feature maps averaged over their positions."""
    return acts.flatten(2).mean(2) if acts.dim() > 2 else acts


def class_means(acts: torch.Tensor, labels: torch.Tensor, n_classes: int | None = None) -> torch.Tensor:
    """``acts [N, U, ...], labels [N] -> [C, U]``: each class's mean activation per unit."""
    a = spatial_mean(acts).double()
    labels = labels.long()
    n_classes = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    sums = torch.zeros(n_classes, a.shape[1], dtype=torch.float64).index_add_(0, labels, a)
    counts = torch.bincount(labels, minlength=n_classes).double()
    if (counts == 0).any():
        raise ValueError(f"class(es) {torch.nonzero(counts == 0).flatten().tolist()} have no example: "
                         "class means need every class present")
    return sums / counts[:, None]


def selectivity_index(acts: torch.Tensor, labels: torch.Tensor, n_classes: int | None = None) -> torch.Tensor:
    """``acts [N, U, ...], labels [N] -> [U]`` class selectivity index; NaN for dead units.

    Example:
        >>> acts = torch.tensor([[1.0, 1.0], [0.0, 1.0]])  # unit 0 fires for class 0 only
        >>> selectivity_index(acts, torch.tensor([0, 1]))
        tensor([1., 0.], dtype=torch.float64)
    """
    mu = class_means(acts, labels, n_classes)
    if (mu < 0).any():
        raise ValueError("selectivity needs non-negative (post-ReLU) activations; got negative class means")
    if mu.shape[0] < 2:
        raise ValueError(f"selectivity needs at least 2 classes, got {mu.shape[0]}")
    mu_max = mu.max(0).values
    mu_rest = (mu.sum(0) - mu_max) / (mu.shape[0] - 1)
    denom = mu_max + mu_rest
    si = (mu_max - mu_rest) / torch.where(denom > 0, denom, torch.ones_like(denom))
    return torch.where(denom > 0, si, torch.full_like(si, float("nan")))


def preferred_class(acts: torch.Tensor, labels: torch.Tensor, n_classes: int | None = None) -> torch.Tensor:
    """``[U]`` the class with the largest mean activation (-1 for dead units)."""
    mu = class_means(acts, labels, n_classes)
    arg = mu.argmax(0)
    return torch.where(mu.max(0).values > 0, arg, torch.full_like(arg, -1))


def filter_l1_norms(model: nn.Module, layer: str) -> torch.Tensor:
    """``[U]``: sum of absolute weights of the conv filter producing each feature map of ``layer``.

    ``layer`` is a conv layer or a block; in a block, the last convolution outside a ``downsample``
    shortcut produces the units (in a residual block, the residual branch's last convolution).
    """
    m = get_layer(model, layer)
    convs = [m] if isinstance(m, nn.Conv2d) else [
        c for n, c in m.named_modules() if isinstance(c, nn.Conv2d) and not n.startswith("downsample")]
    if not convs:
        raise ValueError(f"layer {layer!r} has no convolution; filter L1 norms are defined for conv layers")
    conv = convs[-1]
    return conv.weight.detach().abs().flatten(1).sum(1).cpu()
