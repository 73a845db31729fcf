"""Label-free disagreement between two networks (Jiang, Nagarajan, Baek & Kolter 2022, *Assessing
generalization of SGD via disagreement*, ICLR).

The disagreement rate of networks ``f`` and ``g`` on inputs ``x_1 ... x_N`` is the fraction of the
inputs on which their predicted classes differ,

    D(f, g) = (1 / N) * sum_i [argmax f(x_i) != argmax g(x_i)],

in [0, 1]; it needs no labels. Jiang et al. find that for two networks trained alike from
different seeds it approximates their test error. The paper's proposal (the AUC of a cumulative
ablation curve, Morcos et al. 2018, section 3.2) is the other test-free predictor the book weighs
it against (chapter 8, F8).
"""
from __future__ import annotations

import torch
from torch import nn

from ..nets.models import evaluating
from .engine import CHUNK, Data, chunks, device_of


def _with_labels(data) -> Data:
    """``data`` as the engine takes it: a tensor of inputs alone gets placeholder labels (never read)."""
    if isinstance(data, torch.Tensor):
        return data, torch.zeros(len(data), dtype=torch.long)
    return data


def predictions(model: nn.Module, data, chunk_size: int = CHUNK) -> torch.Tensor:
    """``[N]`` predicted classes of ``model`` on ``data``: inputs ``x [N, ...]`` alone, ``(x, y)``
    tensors or an iterable of batches (labels, where given, are ignored)."""
    out = []
    with evaluating(model):
        for x, _ in chunks(_with_labels(data), chunk_size):
            out.append(model(x.to(device_of(model))).argmax(1).cpu())
    return torch.cat(out)


def disagreement(model_a: nn.Module, model_b: nn.Module, data, chunk_size: int = CHUNK) -> float:
    """The fraction of ``data``'s inputs on which the two networks predict different classes.

    Args:
        model_a, model_b: two networks with the same output classes; their modes are restored.
        data: inputs ``x [N, ...]`` alone, ``(x, y)`` tensors or an iterable of batches; labels
            are never used.

    Returns:
        ``D`` in [0, 1]: 0 for two networks that always agree.

    Example:
        >>> disagreement(run_seed0.model, run_seed1.model, x_test)
    """
    a, b = predictions(model_a, data, chunk_size), predictions(model_b, data, chunk_size)
    return float((a != b).double().mean())
