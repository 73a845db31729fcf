"""Relations: one quantity against another, per network, unit or hyperparameter setting (scatter
plots with a fit, per-layer rank correlations, distributions by layer); each function only draws
what it is given (drawn for the book's column, see :mod:`singledir.pages.figures`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .curve_plots import ablation_curves
from .figures import COLUMN_INCHES, keeps_data, panels


def scatter_with_fit(df: pd.DataFrame, x: str, y: str, ax=None, hue: str | None = None, xlabel: str = "",
                     ylabel: str = "", title: str = ""):
    """Points of ``y`` against ``x`` (one per network or unit) with a least-squares line."""
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_INCHES, 3.5))
    sns.regplot(df, x=x, y=y, ax=ax, scatter=False, color="0.4", line_kws={"lw": 1})
    if hue and not df[hue].notna().any():  # nothing to colour (no unit of a tanh network has a selectivity)
        hue = None
    sns.scatterplot(df, x=x, y=y, hue=hue, ax=ax, s=25, palette="viridis" if hue else None)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    return ax


def per_layer_rho(table: pd.DataFrame, x: str = "depth", hue: str | None = None, ax=None, ylabel: str = "Spearman's rho",
                  band: float | None = None):
    """Spearman's rho per layer with its 95% interval (columns ``rho``, ``ci_low``, ``ci_high``);
    ``band`` shades the "no relation" band (-band, band)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_INCHES, 3.5))
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
        ax.legend()
    return ax


@keeps_data
def generalizers_panels(curves: pd.DataFrame, runs: pd.DataFrame):
    """Chapter 3's E3: (a) the ablation curves of the best and worst generalizers (``curves`` with a
    ``networks`` column), (b) each network's AUC against its generalization error."""
    fig, axes = panels(2)
    ablation_curves(curves, hue="networks", ax=axes[0], palette="Set1", hue_label="")
    scatter_with_fit(runs, x="gen_error", y="auc_zero", ax=axes[1], xlabel="generalization error (held-out images)",
                     ylabel="AUC (training data)")
    fig.tight_layout()
    return fig


@keeps_data
def hyperparameter_grid(settings: pd.DataFrame, fit: float):
    """Left: AUC against test accuracy per setting (filled: mean training accuracy >= ``fit``;
    colour: learning rate, log scale; size: batch size). Right: AUC over the grid."""
    import matplotlib.colors as mcolors

    fig, axes = plt.subplots(2, 1, figsize=(COLUMN_INCHES, 2 * 3.4))
    norm = mcolors.LogNorm(settings["train.lr"].min(), settings["train.lr"].max())
    fits = settings.train_acc >= fit
    for mask, face in ((fits, True), (~fits, False)):
        d = settings[mask]
        size = 10 + 40 * np.log2(d["train.batch_size"] / settings["train.batch_size"].min() + 1)
        label = f"fits (train acc >= {fit:g})" if face else "does not fit"
        if face:
            axes[0].scatter(d.auc_zero, d.test_acc, c=d["train.lr"], norm=norm, cmap="viridis", s=size, label=label)
        else:  # hollow markers: the colour goes to the edge (passing c as well would be ignored, with a warning)
            edge = plt.get_cmap("viridis")(norm(d["train.lr"].to_numpy()))
            axes[0].scatter(d.auc_zero, d.test_acc, facecolors="none", edgecolors=edge, s=size, label=label)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes[0], label="learning rate")
    axes[0].set_xlabel("AUC (training data)"); axes[0].set_ylabel("test accuracy")
    axes[0].legend(loc="lower right")
    heat = settings.pivot(index="train.batch_size", columns="train.lr", values="auc_zero")
    sns.heatmap(heat, annot=True, fmt=".2f", cmap="viridis", ax=axes[1], cbar_kws={"label": "AUC"})
    axes[1].set_xlabel("learning rate"); axes[1].set_ylabel("batch size")
    fig.tight_layout()
    return fig


@keeps_data
def selectivity_and_information(live: pd.DataFrame, per_layer: pd.DataFrame, threshold: float):
    """E8: the selectivity distributions with and without BN (``bn`` column), the per-layer fraction
    of maps at or above ``threshold`` (``high``) and the per-layer bias-corrected MI (``mi``)."""
    fig, axes = panels(3)
    sns.histplot(live, x="selectivity", hue="bn", stat="density", common_norm=False, element="step", bins=30,
                 ax=axes[0])
    axes[0].axvline(threshold, color="0.4", ls=":", lw=1)
    axes[0].set_xlabel("class selectivity index")
    for ax, col, label in ((axes[1], "high", f"fraction of maps with SI >= {threshold:g}"),
                           (axes[2], "mi", "MI - shuffled-label MI (bits)")):
        sns.pointplot(per_layer, x="depth", y=col, hue="bn", errorbar=("ci", 95), dodge=0.3, ax=ax, markersize=4)
        ax.set_xlabel("conv layer (depth)")
        ax.set_ylabel(label)
        ax.legend(title="")
    fig.tight_layout()
    return fig


@keeps_data
def importance_panels(mlp: pd.DataFrame, conv: pd.DataFrame, layers_rho: pd.DataFrame, x: str, xlabel: str,
                      band: float | None = None):
    """E9 / E13: importance (``delta_loss``) against ``x`` per unit for the MLPs and the conv nets,
    and the per-layer Spearman's rho of both (``layers_rho`` with columns net, depth, rho, ci_*)."""
    fig, axes = panels(3)
    sns.scatterplot(mlp, x=x, y="delta_loss", hue="layer", s=8, ax=axes[0])
    axes[0].set_title("MLP")
    sns.scatterplot(conv, x=x, y="delta_loss", hue="depth", palette="viridis", s=8, ax=axes[1])
    axes[1].set_title("conv net (BN)")
    for ax in axes[:2]:
        ax.set_xlabel(xlabel)
        ax.set_ylabel("importance (test-loss rise)")
    per_layer_rho(layers_rho, hue="net", ax=axes[2], ylabel="Spearman within layer", band=band)
    fig.tight_layout()
    return fig


@keeps_data
def depth_and_norms(units: pd.DataFrame, bn_live: pd.DataFrame, l1_rho: pd.DataFrame, band: float | None = None):
    """E11 / E12: mean selectivity per layer with and without BN, selectivity against filter L1 norm
    (colour = depth), and their within-layer Spearman's rho."""
    fig, axes = panels(3)
    sns.pointplot(units, x="depth", y="selectivity", hue="bn", ax=axes[0], errorbar=("ci", 95), markersize=4)
    axes[0].set_xlabel("conv layer (depth)")
    axes[0].set_ylabel("mean class selectivity")
    sns.scatterplot(bn_live, x="l1_norm", y="selectivity", hue="depth", palette="viridis", s=8, ax=axes[1])
    axes[1].set_xlabel("filter L1 norm")
    axes[1].set_ylabel("class selectivity index")
    per_layer_rho(l1_rho, ax=axes[2], ylabel="Spearman(L1 norm, SI) within layer", band=band)
    fig.tight_layout()
    return fig


@keeps_data
def resnet_panels(curves: pd.DataFrame, units: pd.DataFrame, acc_col: str):
    """The ResNet: its ablation curve, mean selectivity per layer, importance against selectivity."""
    fig, axes = panels(3)
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


@keeps_data
def importance_scatter(live: pd.DataFrame, units: pd.DataFrame):
    """Chapter 7: a unit's importance against (a) its selectivity (``live`` units), (b) its information."""
    fig, axes = panels(2)
    scatter_with_fit(live, "selectivity", "delta_loss", ax=axes[0], hue="depth",
                     xlabel="class selectivity index", ylabel="importance (rise in test loss)")
    scatter_with_fit(units, "mutual_info", "delta_loss", ax=axes[1], hue="depth",
                     xlabel="mutual information with the class (bits)", ylabel="importance (rise in test loss)")
    fig.tight_layout()
    return fig
