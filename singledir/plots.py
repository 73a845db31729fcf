"""Figures: each function only draws what it is given and returns the matplotlib figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from .data import Dataset

sns.set_theme(context="notebook", style="whitegrid")


def example_images(ds: Dataset, n: int = 8, seed: int = 0):
    """Corrupted training examples drawn with their true and training labels (two rows)."""
    g = torch.Generator().manual_seed(seed)
    changed = torch.nonzero(ds.y_train != ds.y_train_true).flatten()
    kept = torch.nonzero(ds.y_train == ds.y_train_true).flatten()
    pool = changed if len(changed) >= n else torch.cat([changed, kept])
    idx = pool[torch.randperm(len(pool), generator=g)[:n]] if len(changed) >= n else pool[:n]
    fig, axes = plt.subplots(1, len(idx), figsize=(1.4 * len(idx), 1.9), squeeze=False)
    for ax, i in zip(axes[0], idx.tolist()):
        img = ds.x_train[i]
        img = img[0] if img.shape[0] == 1 else img.permute(1, 2, 0)
        img = (img - img.min()) / (img.max() - img.min() + 1e-8)
        ax.imshow(img.numpy(), cmap="gray" if img.ndim == 2 else None)
        t, c = ds.classes[ds.y_train_true[i]], ds.classes[ds.y_train[i]]
        ax.set_title(f"true {t}\ntrain {c}", fontsize=9, color="C3" if t != c else "black")
        ax.set_xticks([]); ax.set_yticks([])
    fig.tight_layout()
    return fig


def label_histograms(ds: Dataset):
    """Count of each class among training labels, before and after corruption."""
    k = ds.n_classes
    df = pd.DataFrame({
        "class": list(ds.classes) * 2,
        "count": torch.bincount(ds.y_train_true, minlength=k).tolist() + torch.bincount(ds.y_train, minlength=k).tolist(),
        "labels": ["true"] * k + [f"after corruption (p = {ds.corruption:g})"] * k,
    })
    fig, ax = plt.subplots(figsize=(7, 2.8))
    sns.barplot(df, x="class", y="count", hue="labels", ax=ax)
    ax.set_xlabel("class"); ax.set_ylabel("training examples")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def training_curves(history: list[dict] | pd.DataFrame, title: str = ""):
    """Train and test loss and accuracy against epoch (two panels)."""
    h = pd.DataFrame(history)
    long = h.melt(id_vars="epoch", value_vars=["train_loss", "test_loss", "train_acc", "test_acc"])
    long["split"] = long["variable"].str.split("_").str[0]
    long["metric"] = long["variable"].str.split("_").str[1].map({"loss": "loss", "acc": "accuracy"})
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    for ax, metric in zip(axes, ["loss", "accuracy"]):
        sns.lineplot(long[long.metric == metric], x="epoch", y="value", hue="split", ax=ax,
                     errorbar=("sd", 1))
        ax.set_ylabel(f"{metric}"); ax.set_xlabel("epoch")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _mean_curves(df: pd.DataFrame, x: str, xlabel: str, hue: str, ax, metric: str, palette: str, title: str,
                 hue_label: str | None, log_x: bool = False):
    """Mean ``metric`` against ``x`` per ``hue`` level, band = 1 s.d.; shared by the curve figures."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    sns.lineplot(df, x=x, y=metric, hue=hue, errorbar="sd", palette=palette, ax=ax, legend="full")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric} (training labels)" if metric == "accuracy" else metric)
    if hue_label:
        ax.legend(title=hue_label, fontsize=8, title_fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def ablation_curves(curves: pd.DataFrame, hue: str, ax=None, metric: str = "accuracy", palette: str = "viridis",
                    title: str = "", hue_label: str | None = None):
    """Mean cumulative ablation curve per ``hue`` level, band = 1 s.d. over networks and orders."""
    return _mean_curves(curves, "fraction", "fraction of units ablated", hue, ax, metric, palette, title, hue_label)


def noise_curves(noise: pd.DataFrame, hue: str, ax=None, metric: str = "accuracy", palette: str = "viridis",
                 title: str = "", hue_label: str | None = None):
    """Accuracy against noise scale (log axis) per ``hue`` level, band = 1 s.d. over networks and draws."""
    return _mean_curves(noise, "scale", "noise scale (s.d. in units of each unit's training s.d.)", hue, ax, metric,
                        palette, title, hue_label, log_x=True)


def scatter_with_fit(df: pd.DataFrame, x: str, y: str, ax=None, hue: str | None = None, xlabel: str = "",
                     ylabel: str = "", title: str = ""):
    """Points of ``y`` against ``x`` (one per network or unit) with a least-squares line."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.5))
    sns.regplot(df, x=x, y=y, ax=ax, scatter=False, color="0.4", line_kws={"lw": 1})
    sns.scatterplot(df, x=x, y=y, hue=hue, ax=ax, s=25, palette="viridis" if hue else None)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title, fontsize=10)
    return ax
