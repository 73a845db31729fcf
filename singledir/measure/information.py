"""Mutual information between a unit's activation and the class (paper appendix A.5).

The paper does not name its estimator. This book uses a plug-in estimate on equal-frequency bins:
a unit's activations over the test set are cut at the ``k/n_bins`` quantiles (``k = 1 ..
n_bins - 1``) into right-closed intervals; equal values always share a bin, so a unit with many exact zeros (a ReLU that is
often silent) gets one bin for all of them and fewer than ``n_bins`` bins in all. Then::

    I(A; C) = sum_{b,c} p(b, c) log2( p(b, c) / (p(b) p(c)) )    [bits]

A unit that never varies has one bin and I = 0. The plug-in estimate is biased upwards by about
``(bins - 1)(classes - 1) / (2 N ln 2)`` bits; compare units measured on the same N and bins.
"""
from __future__ import annotations

import numpy as np
import torch

from .selectivity import spatial_mean

N_BINS = 10  # equal-frequency bins per unit


def equal_frequency_bins(values: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """``[N] -> [N]`` bin codes 0..B-1 (B <= n_bins) at the quantiles of ``values``; ties share a bin."""
    if n_bins < 2:
        raise ValueError(f"n_bins {n_bins} must be at least 2")
    v = np.asarray(values, dtype=float)
    edges = np.unique(np.quantile(v, np.arange(1, n_bins) / n_bins, method="lower"))
    codes = np.searchsorted(edges, v, side="left")  # bins (-inf, e0], (e0, e1], ..., (e_last, inf)
    return np.unique(codes, return_inverse=True)[1].reshape(v.shape)  # consecutive codes


def mutual_information_bits(codes: np.ndarray, labels: np.ndarray) -> float:
    """Plug-in mutual information, in bits, of two discrete ``[N]`` arrays."""
    codes = np.asarray(codes)
    labels = np.asarray(labels)
    _, ci = np.unique(codes, return_inverse=True)
    _, li = np.unique(labels, return_inverse=True)
    joint = np.zeros((ci.max() + 1, li.max() + 1))
    np.add.at(joint, (ci, li), 1.0)
    p = joint / joint.sum()
    pb = p.sum(1, keepdims=True)
    pc = p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log2(p[nz] / (pb @ pc)[nz])).sum())


def mutual_information(acts: torch.Tensor, labels: torch.Tensor, n_bins: int = N_BINS) -> torch.Tensor:
    """``acts [N, U, ...], labels [N] -> [U]``: I(unit activation; class) in bits.

    Conv feature maps are averaged over space first, as for selectivity.
    """
    a = spatial_mean(acts).double().cpu().numpy()
    y = labels.cpu().numpy()
    return torch.tensor([mutual_information_bits(equal_frequency_bins(a[:, u], n_bins), y)
                         for u in range(a.shape[1])], dtype=torch.float64)
