"""Class selectivity of units and the L1 norms of the filters that compute them.

Class selectivity index (paper section 2.3, after neuroscience's selectivity indices): with
``mu_c`` the mean activation of a unit over test examples of class ``c`` (a conv feature map is
first averaged over space), ``mu_max = max_c mu_c`` and ``mu_rest`` the mean of the other classes'
means::

    SI = (mu_max - mu_rest) / (mu_max + mu_rest)

For post-ReLU units SI lies in [0, 1]: 0 when every class drives the unit equally, 1 when one
class alone does. Where the index is undefined it is NaN, never 0 or 1, and
:func:`selectivity_status` says why:

* ``"dead"``: every class mean is 0 (a ReLU unit that never fires);
* ``"negative"``: the unit's activations are signed, as for tanh, GELU, ELU, LeakyReLU, SiLU or
  Hardswish units and for pre-activations, for which the index is not defined (it can leave
  [0, 1] or divide by zero); mutual information, importance and the curves are still measured
  for them.

What counts as signed. The index reads 0 as "silent": a ratio of class means is meaningful only on
a scale whose zero is a floor, as a firing rate's is and a ReLU output's is. For a tanh or GELU
unit 0 is just a point in the middle of its range. Such a unit can still have class means that
are all >= 0 on the data measured (a positive bias, a saturated tanh), and the formula then gives
a number; this package does not report it:

* given a whole layer (``signed=True``, which :func:`singledir.measure.units.unit_table` passes when
  any activation of the layer, before spatial averaging, is negative on the data measured), every
  unit of the layer is ``"negative"``, including those whose class means happen to be >= 0. Keeping
  those few would mix, in one layer, units with an index and units without one, chosen by an
  offset that has nothing to do with selectivity, and their index would change with that offset
  (``tanh(x) + c``). A layer is either rectified (its units are "ok" or "dead") or signed (all
  "negative"), never a mixture.
* given activations alone (``signed=False``, the default of the functions here), a unit is
  judged by its own class means: ``"negative"`` when one of them is < 0.

Classes with no example among the data measured (a subset of a many-class dataset) are left out of
the class means.
"""
from __future__ import annotations

import torch
from torch import nn

from ..nets.models import get_layer


def spatial_mean(acts: torch.Tensor) -> torch.Tensor:
    """``[N, U, ...] -> [N, U]``: conv feature maps averaged over their positions."""
    return acts.flatten(2).mean(2) if acts.dim() > 2 else acts


def class_means(acts: torch.Tensor, labels: torch.Tensor, n_classes: int | None = None) -> torch.Tensor:
    """``acts [N, U, ...], labels [N] -> [C', U]``: the mean activation per unit of each class that
    has at least one example (C' of them, in class order)."""
    a = spatial_mean(acts).double()
    labels = labels.long().cpu()
    if len(labels) == 0:
        raise ValueError("class means need at least one example; the data are empty")
    n_classes = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    sums = torch.zeros(n_classes, a.shape[1], dtype=torch.float64).index_add_(0, labels, a.cpu())
    counts = torch.bincount(labels, minlength=n_classes).double()
    present = counts > 0
    return sums[present] / counts[present, None]


def _si(mu: torch.Tensor, signed: bool = False) -> tuple[torch.Tensor, list[str]]:
    if mu.shape[0] < 2:
        raise ValueError(f"selectivity needs examples of at least 2 classes, got {mu.shape[0]}")
    mu_max = mu.max(0).values
    mu_rest = (mu.sum(0) - mu_max) / (mu.shape[0] - 1)
    denom = mu_max + mu_rest
    negative = torch.full_like(denom, True, dtype=torch.bool) if signed else (mu < 0).any(0)
    ok = (denom > 0) & ~negative
    si = (mu_max - mu_rest) / torch.where(ok, denom, torch.ones_like(denom))
    status = ["negative" if n else ("ok" if o else "dead") for n, o in zip(negative.tolist(), ok.tolist())]
    return torch.where(ok, si, torch.full_like(si, float("nan"))), status


def selectivity_index(acts: torch.Tensor, labels: torch.Tensor, n_classes: int | None = None, *,
                      signed: bool = False) -> torch.Tensor:
    """``acts [N, U, ...], labels [N] -> [U]`` class selectivity index; NaN where it is undefined
    (dead units, or units with a negative class mean: see :func:`selectivity_status`).

    ``signed=True`` says that ``acts`` are a layer whose activations take negative values (tanh,
    GELU, ...): the index is then undefined for every unit, whatever its class means (see the
    module's docstring).

    Example:
        >>> acts = torch.tensor([[1.0, 1.0], [0.0, 1.0]])  # unit 0 fires for class 0 only
        >>> selectivity_index(acts, torch.tensor([0, 1]))
        tensor([1., 0.], dtype=torch.float64)
    """
    return _si(class_means(acts, labels, n_classes), signed)[0]


def selectivity_status(acts: torch.Tensor, labels: torch.Tensor, n_classes: int | None = None, *,
                       signed: bool = False) -> list[str]:
    """Per unit: ``"ok"``, ``"dead"`` (never fires) or ``"negative"`` (a negative class mean, or
    any unit of a ``signed`` layer: the index is not defined for such units)."""
    return _si(class_means(acts, labels, n_classes), signed)[1]


def preferred_class(acts: torch.Tensor, labels: torch.Tensor, n_classes: int | None = None) -> torch.Tensor:
    """``[U]`` the class with the largest mean activation among the classes present (-1 for dead units)."""
    labels = labels.long()
    present = torch.unique(labels.cpu())
    mu = class_means(acts, labels, n_classes)
    arg = present[mu.argmax(0)]
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
