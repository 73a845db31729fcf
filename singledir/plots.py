"""Figures: each function only draws what it is given and returns the matplotlib figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
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
    if hue and not df[hue].notna().any():  # nothing to colour (no unit of a tanh network has a selectivity)
        hue = None
    sns.scatterplot(df, x=x, y=y, hue=hue, ax=ax, s=25, palette="viridis" if hue else None)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def curve_panels(tables: dict[str, pd.DataFrame], hue: str, hue_label: str | None = None, x: str = "fraction",
                 metric: str = "accuracy", palette: str = "viridis", width: float = 5.0):
    """One panel per entry of ``tables`` (title = key): ablation curves (``x="fraction"``) or noise
    curves (``x="scale"``) per ``hue`` level, mean and one s.d. over networks and repetitions."""
    fig, axes = plt.subplots(1, len(tables), figsize=(width * len(tables), 3.8), squeeze=False)
    draw = ablation_curves if x == "fraction" else noise_curves
    for ax, (title, t) in zip(axes[0], tables.items()):
        draw(t, hue=hue, ax=ax, metric=metric, palette=palette, title=title, hue_label=hue_label)
    fig.tight_layout()
    return fig


def training_with_auc(history: pd.DataFrame, auc: pd.DataFrame, marks: dict[str, float], ax=None,
                      auc_col: str = "auc_norm", auc_label: str = "normalized AUC (training data)"):
    """Train and test loss over epochs (log x-axis from the first checkpoint) with the AUC of each
    checkpoint on a second axis; ``marks`` draws labelled vertical lines (e.g. the test-loss minimum)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    h = history[history.epoch > 0]
    for (col, label), c in zip([("train_loss", "train loss"), ("test_loss", "test loss")], ("C0", "C1")):
        sns.lineplot(h, x="epoch", y=col, ax=ax, color=c, label=label, errorbar="sd")
    ax.set_xscale("log")
    ax.set_xlabel("epoch (log scale)")
    ax.set_ylabel("loss")
    ax2 = ax.twinx()
    a = auc[auc.epoch > 0]
    sns.lineplot(a, x="epoch", y=auc_col, ax=ax2, color="C2", marker="o", ms=3, errorbar="sd", label=auc_label)
    ax2.set_ylabel(auc_label, color="C2")
    ax2.grid(False)
    for (label, e), c in zip(marks.items(), ("k", "C3", "C4")):
        ax.axvline(e, color=c, ls=":", lw=1, label=label)
    ax.legend(loc="upper left", fontsize=7)
    ax2.legend(loc="lower right", fontsize=7)
    return ax


def per_layer_rho(table: pd.DataFrame, x: str = "depth", hue: str | None = None, ax=None, ylabel: str = "Spearman's rho",
                  band: float | None = None):
    """Spearman's rho per layer with its 95% interval (columns ``rho``, ``ci_low``, ``ci_high``);
    ``band`` shades the "no relation" band (-band, band)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    groups = table.groupby(hue) if hue else [("", table)]
    for i, (name, g) in enumerate(groups):
        off = 0.15 * (i - (len(table[hue].unique()) - 1) / 2) if hue else 0.0
        ax.errorbar(g[x] + off, g.rho, yerr=[g.rho - g.ci_low, g.ci_high - g.rho], fmt="o", ms=4, capsize=2,
                    label=str(name) if hue else None)
    ax.axhline(0, color="0.5", lw=0.8)
    if band:
        ax.axhspan(-band, band, color="0.9", zorder=0)
    ax.set_xlabel("layer (depth)")
    ax.set_ylabel(ylabel)
    if hue:
        ax.legend(fontsize=8)
    return ax


def hyperparameter_grid(settings: pd.DataFrame, fit: float):
    """Left: AUC against test accuracy per setting (filled: mean training accuracy >= ``fit``;
    colour: learning rate, log scale; size: batch size). Right: AUC over the grid."""
    import matplotlib.colors as mcolors

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8))
    norm = mcolors.LogNorm(settings["train.lr"].min(), settings["train.lr"].max())
    fits = settings.train_acc >= fit
    for mask, face in ((fits, True), (~fits, False)):
        d = settings[mask]
        sc = axes[0].scatter(d.auc_zero, d.test_acc, c=d["train.lr"], norm=norm, cmap="viridis",
                             s=10 + 40 * np.log2(d["train.batch_size"] / settings["train.batch_size"].min() + 1),
                             facecolors=None if face else "none", edgecolors="face" if face else None,
                             label=f"fits (train acc >= {fit:g})" if face else "does not fit")
        if not face:
            sc.set_facecolor("none")
            sc.set_edgecolor(plt.get_cmap("viridis")(norm(d["train.lr"].to_numpy())))
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes[0], label="learning rate")
    axes[0].set_xlabel("AUC (training data)"); axes[0].set_ylabel("test accuracy")
    axes[0].legend(fontsize=7, loc="lower right")
    heat = settings.pivot(index="train.batch_size", columns="train.lr", values="auc_zero")
    sns.heatmap(heat, annot=True, fmt=".2f", cmap="viridis", ax=axes[1], cbar_kws={"label": "AUC"})
    axes[1].set_xlabel("learning rate"); axes[1].set_ylabel("batch size")
    fig.tight_layout()
    return fig


def dropout_curves(curves: pd.DataFrame, dropouts) -> plt.Figure:
    """Normalized ablation curves (column ``normalized``), one panel per dropout rate, coloured by
    the label set, with the dropout fraction dotted."""
    fig, axes = plt.subplots(1, len(dropouts), figsize=(4 * len(dropouts), 3.6), sharey=True, squeeze=False)
    for ax, p in zip(axes[0], dropouts):
        d = curves[curves["model.dropout"] == p]
        sns.lineplot(d, x="fraction", y="normalized", hue="labels", errorbar="sd", palette="Set1", ax=ax)
        ax.axvline(p, color="0.5", lw=0.8, ls=":")
        ax.set_title(f"dropout {p:g}", fontsize=10)
        ax.set_xlabel("fraction of units ablated")
        ax.set_ylabel("accuracy / intact accuracy")
        ax.legend(fontsize=8, title="")
    fig.tight_layout()
    return fig


def selectivity_and_information(live: pd.DataFrame, per_layer: pd.DataFrame, threshold: float):
    """E8: the selectivity distributions with and without BN (``bn`` column), the per-layer fraction
    of maps at or above ``threshold`` (``high``) and the per-layer bias-corrected MI (``mi``)."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    sns.histplot(live, x="selectivity", hue="bn", stat="density", common_norm=False, element="step", bins=30,
                 ax=axes[0])
    axes[0].axvline(threshold, color="0.4", ls=":", lw=1)
    axes[0].set_xlabel("class selectivity index")
    for ax, col, label in ((axes[1], "high", f"fraction of maps with SI >= {threshold:g}"),
                           (axes[2], "mi", "MI - shuffled-label MI (bits)")):
        sns.pointplot(per_layer, x="depth", y=col, hue="bn", errorbar=("ci", 95), dodge=0.3, ax=ax, markersize=4)
        ax.set_xlabel("conv layer (depth)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8, title="")
    fig.tight_layout()
    return fig


def importance_panels(mlp: pd.DataFrame, conv: pd.DataFrame, layers_rho: pd.DataFrame, x: str, xlabel: str,
                      band: float | None = None):
    """E9 / E13: importance (``delta_loss``) against ``x`` per unit for the MLPs and the conv nets,
    and the per-layer Spearman's rho of both (``layers_rho`` with columns net, depth, rho, ci_*)."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    sns.scatterplot(mlp, x=x, y="delta_loss", hue="layer", s=8, ax=axes[0])
    axes[0].set_title("MLP", fontsize=10)
    sns.scatterplot(conv, x=x, y="delta_loss", hue="depth", palette="viridis", s=8, ax=axes[1])
    axes[1].set_title("conv net (BN)", fontsize=10)
    for ax in axes[:2]:
        ax.set_xlabel(xlabel)
        ax.set_ylabel("importance: test-loss increase when ablated")
    per_layer_rho(layers_rho, hue="net", ax=axes[2], ylabel="Spearman within layer", band=band)
    fig.tight_layout()
    return fig


def depth_and_norms(units: pd.DataFrame, bn_live: pd.DataFrame, l1_rho: pd.DataFrame, band: float | None = None):
    """E11 / E12: mean selectivity per layer with and without BN, selectivity against filter L1 norm
    (colour = depth), and their within-layer Spearman's rho."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    sns.pointplot(units, x="depth", y="selectivity", hue="bn", ax=axes[0], errorbar=("ci", 95), markersize=4)
    axes[0].set_xlabel("conv layer (depth)")
    axes[0].set_ylabel("mean class selectivity")
    sns.scatterplot(bn_live, x="l1_norm", y="selectivity", hue="depth", palette="viridis", s=8, ax=axes[1])
    axes[1].set_xlabel("filter L1 norm")
    axes[1].set_ylabel("class selectivity index")
    per_layer_rho(l1_rho, ax=axes[2], ylabel="Spearman(L1 norm, SI) within layer", band=band)
    fig.tight_layout()
    return fig


def resnet_panels(curves: pd.DataFrame, units: pd.DataFrame, acc_col: str):
    """The ResNet: its ablation curve, mean selectivity per layer, importance against selectivity."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ablation_curves(curves, hue="net", ax=axes[0], metric=acc_col, palette="Set1", hue_label="")
    axes[0].set_ylabel(f"{acc_col} (test data)")
    live = units[units.si_status == "ok"]
    sns.pointplot(live, x="depth", y="selectivity", ax=axes[1], errorbar=("ci", 95), color="C0", markersize=4)
    axes[1].set_xlabel("layer (0 = stem, then residual blocks)")
    axes[1].set_ylabel("mean class selectivity")
    sns.scatterplot(live, x="selectivity", y="delta_loss", hue="depth", palette="viridis", s=8, ax=axes[2])
    axes[2].set_xlabel("class selectivity index")
    axes[2].set_ylabel("importance (test-loss increase)")
    fig.tight_layout()
    return fig
