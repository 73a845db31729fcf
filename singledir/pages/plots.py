"""Figures: each function only draws what it is given and returns the matplotlib figure.

One module per kind of figure, all importable from here (chapters call ``plots.NAME``):
:mod:`~singledir.pages.figures` (the column, panels, the figure's data, :func:`glue_figure`),
:mod:`~singledir.pages.curve_plots` (ablation, noise and training curves),
:mod:`~singledir.pages.relation_plots` (one quantity against another) and, here, the data set's
examples and labels.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from ..data.dataset import Dataset
from .curve_plots import (_mean_curves, ablation_curves, curve_panels, curves_and_noise, dropout_curves, noise_curves,  # noqa: F401
                          overfitting_panels, training_curves, training_with_auc)
from .figures import (COLUMN_INCHES, COLUMN_PX, DATA_ATTR, DPI, MIN_FONT_PT, MIN_TEXT_PX, PANEL_HEIGHT,  # noqa: F401
                      figure_table, glue_figure, html_table, keeps_data, panels, smallest_text_px, write_figure_data)
from .relation_plots import (depth_and_norms, generalizers_panels, hyperparameter_grid, importance_panels,  # noqa: F401
                             importance_scatter, per_layer_rho, resnet_panels, scatter_with_fit,
                             selectivity_and_information)


def example_images(ds: Dataset, n: int = 8, seed: int = 0):
    """Corrupted training examples drawn with their true and training labels (two rows)."""
    g = torch.Generator().manual_seed(seed)
    changed = torch.nonzero(ds.y_train != ds.y_train_true).flatten()
    kept = torch.nonzero(ds.y_train == ds.y_train_true).flatten()
    pool = changed if len(changed) >= n else torch.cat([changed, kept])
    idx = pool[torch.randperm(len(pool), generator=g)[:n]] if len(changed) >= n else pool[:n]
    ncols = min(len(idx), 4)
    nrows = math.ceil(len(idx) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_INCHES * ncols / 4, 2.2 * nrows), squeeze=False)
    for ax in axes.flat[len(idx):]:
        ax.set_visible(False)
    for ax, i in zip(axes.flat, idx.tolist()):
        img = ds.x_train[i]
        img = img[0] if img.shape[0] == 1 else img.permute(1, 2, 0)
        img = (img - img.min()) / (img.max() - img.min() + 1e-8)
        ax.imshow(img.numpy(), cmap="gray" if img.ndim == 2 else None)
        t, c = ds.classes[ds.y_train_true[i]], ds.classes[ds.y_train[i]]
        ax.set_title(f"true {t}\ntrain {c}", fontsize=MIN_FONT_PT + 1, color="C3" if t != c else "black")
        ax.set_xticks([]); ax.set_yticks([])
    fig.tight_layout()
    setattr(fig, DATA_ATTR, {"examples": pd.DataFrame({  # which training images are shown, and their labels
        "index": idx.tolist(), "true": [ds.classes[ds.y_train_true[i]] for i in idx.tolist()],
        "train": [ds.classes[ds.y_train[i]] for i in idx.tolist()]})})
    return fig


def label_histograms(ds: Dataset):
    """Count of each class among training labels, before and after corruption."""
    k = ds.n_classes
    df = pd.DataFrame({
        "class": list(ds.classes) * 2,
        "count": torch.bincount(ds.y_train_true, minlength=k).tolist() + torch.bincount(ds.y_train, minlength=k).tolist(),
        "labels": ["true"] * k + [f"after corruption (p = {ds.corruption:g})"] * k,
    })
    fig, ax = plt.subplots(figsize=(COLUMN_INCHES, 2.8))
    sns.barplot(df, x="class", y="count", hue="labels", ax=ax)
    ax.set_xlabel("class"); ax.set_ylabel("training examples")
    ax.legend(loc="lower right")
    fig.tight_layout()
    setattr(fig, DATA_ATTR, {"counts": df})
    return fig
