"""Figures: each function only draws what it is given and returns the matplotlib figure.

Every figure is drawn for the book's text column: :data:`COLUMN_INCHES` wide at :data:`DPI`, so that
it is shown at about its natural size, with no text smaller than :data:`MIN_FONT_PT` (set once here,
in the theme). Chapters glue a figure with :func:`glue_figure`, which checks that and closes it.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import matplotlib.text
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from ..data.dataset import Dataset

DPI = 100                # pixels per inch of the figures' PNG images
COLUMN_PX = 670          # the book's text column at 1280 px (sphinx-book-theme), in CSS pixels
COLUMN_INCHES = COLUMN_PX / DPI
MIN_FONT_PT = 9          # the smallest text in any figure, in points
MIN_TEXT_PX = 9          # the smallest text height a reader should meet on the page, in CSS pixels
PANEL_HEIGHT = 3.0       # inches per row of panels

sns.set_theme(context="notebook", style="whitegrid", font_scale=0.85,  # ticks and legends 9.35 pt
              rc={"figure.dpi": DPI, "savefig.dpi": DPI, "legend.title_fontsize": 10})


def panels(n: int, height: float = PANEL_HEIGHT, sharey: bool = False, stacked: bool = False):
    """A column-wide figure with ``n`` panels: side by side for two, two per row for an even
    number, one above the other otherwise (three do not fit the column legibly) or when
    ``stacked``. Returns ``(fig, axes)`` with ``axes`` a flat list of ``n`` axes."""
    ncols = 1 if stacked or n == 1 or n % 2 else 2
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_INCHES, height * nrows), sharey=sharey, squeeze=False)
    return fig, list(axes.flat)[:n]


def smallest_text_px(fig) -> float:
    """Height in CSS pixels of the figure's smallest visible text once the figure is shown in the
    text column (an image wider than :data:`COLUMN_PX` is scaled down to it)."""
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
    if not sizes:
        return math.inf
    width_px = fig.get_size_inches()[0] * fig.dpi
    return min(sizes) * fig.dpi / 72 * min(1.0, COLUMN_PX / width_px)


def glue_figure(name: str, fig) -> None:
    """Glue ``fig`` under ``name`` for a ``{glue:figure}`` directive and close it, so that the
    figure appears once, numbered, and not also as the output of the cell that made it."""
    from myst_nb import glue

    px = smallest_text_px(fig)
    smallest = min((t.get_fontsize() for t in fig.findobj(matplotlib.text.Text)
                    if t.get_visible() and t.get_text().strip()), default=MIN_FONT_PT)
    if px < MIN_TEXT_PX or smallest < MIN_FONT_PT:
        w = fig.get_size_inches()[0]
        plt.close(fig)
        raise ValueError(f"figure {name!r}: its smallest text ({smallest:g} pt) would be {px:.1f} px high in the text column "
                         f"(figure {w:.1f} in wide, at least {MIN_TEXT_PX} px wanted): draw it at most "
                         f"{COLUMN_INCHES:.1f} in wide (plots.panels) with text of at least {MIN_FONT_PT} pt")
    glue(name, fig, display=False)
    plt.close(fig)


def html_table(df: pd.DataFrame, css_class: str = ""):
    """``df`` as an HTML table of the book's style (class ``book-table``, plus ``css_class``): no
    index, cells that wrap within the text column (see ``book_static/singledir.css``)."""
    from IPython.display import HTML

    return HTML(df.to_html(index=False, border=0, na_rep="", classes=["book-table", css_class] if css_class else
                           ["book-table"]))


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
    return fig


def training_curves(history: list[dict] | pd.DataFrame, title: str = ""):
    """Train and test loss and accuracy against epoch (two panels)."""
    h = pd.DataFrame(history)
    long = h.melt(id_vars="epoch", value_vars=["train_loss", "test_loss", "train_acc", "test_acc"])
    long["split"] = long["variable"].str.split("_").str[0]
    long["metric"] = long["variable"].str.split("_").str[1].map({"loss": "loss", "acc": "accuracy"})
    fig, axes = panels(2)
    for ax, metric in zip(axes, ["loss", "accuracy"]):
        sns.lineplot(long[long.metric == metric], x="epoch", y="value", hue="split", ax=ax,
                     errorbar=("sd", 1))
        ax.set_ylabel(f"{metric}"); ax.set_xlabel("epoch")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _mean_curves(df: pd.DataFrame, x: str, xlabel: str, hue: str, ax, metric: str, palette: str, title: str,
                 hue_label: str | None, log_x: bool = False):
    """Mean ``metric`` against ``x`` per ``hue`` level, band = 1 s.d.; shared by the curve figures."""
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_INCHES, 3.5))
    sns.lineplot(df, x=x, y=metric, hue=hue, errorbar="sd", palette=palette, ax=ax, legend="full")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric} (training labels)" if metric == "accuracy" else metric)
    if hue_label:
        ax.legend(title=hue_label)
    if title:
        ax.set_title(title)
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


def curve_panels(tables: dict[str, pd.DataFrame], hue: str, hue_label: str | None = None, x: str = "fraction",
                 metric: str = "accuracy", palette: str = "viridis"):
    """One panel per entry of ``tables`` (title = key): ablation curves (``x="fraction"``) or noise
    curves (``x="scale"``) per ``hue`` level, mean and one s.d. over networks and repetitions."""
    fig, axes = panels(len(tables), height=3.4)
    draw = ablation_curves if x == "fraction" else noise_curves
    for ax, (title, t) in zip(axes, tables.items()):
        draw(t, hue=hue, ax=ax, metric=metric, palette=palette, title=title, hue_label=hue_label)
    fig.tight_layout()
    return fig


def training_with_auc(history: pd.DataFrame, auc: pd.DataFrame, marks: dict[str, float], ax=None,
                      auc_col: str = "auc_norm", auc_label: str = "normalized AUC (training data)"):
    """Train and test loss over epochs (log x-axis from the first checkpoint) with the AUC of each
    checkpoint on a second axis; ``marks`` draws labelled vertical lines (e.g. the test-loss minimum)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_INCHES, 3.8))
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
    ax.legend(loc="upper left")
    ax2.legend(loc="lower right")
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


def dropout_curves(curves: pd.DataFrame, dropouts) -> plt.Figure:
    """Normalized ablation curves (column ``normalized``), one panel per dropout rate, coloured by
    the label set, with the dropout fraction dotted."""
    fig, axes = panels(len(dropouts), height=3.2, sharey=True)
    for ax, p in zip(axes, dropouts):
        d = curves[curves["model.dropout"] == p]
        sns.lineplot(d, x="fraction", y="normalized", hue="labels", errorbar="sd", palette="Set1", ax=ax)
        ax.axvline(p, color="0.5", lw=0.8, ls=":")
        ax.set_title(f"dropout {p:g}")
        ax.set_xlabel("fraction of units ablated")
        ax.set_ylabel("accuracy / intact accuracy")
        ax.legend(title="")
    fig.tight_layout()
    return fig


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


def generalizers_panels(curves: pd.DataFrame, runs: pd.DataFrame):
    """Chapter 3's E3: (a) the ablation curves of the best and worst generalizers (``curves`` with a
    ``networks`` column), (b) each network's AUC against its generalization error."""
    fig, axes = panels(2)
    ablation_curves(curves, hue="networks", ax=axes[0], palette="Set1", hue_label="")
    scatter_with_fit(runs, x="gen_error", y="auc_zero", ax=axes[1], xlabel="generalization error (held-out images)",
                     ylabel="AUC (training data)")
    fig.tight_layout()
    return fig


def overfitting_panels(mlp: pd.DataFrame, conv: pd.DataFrame, test_loss_minimum: float):
    """Chapter 3's E4: training curves with the normalized AUC of (a) the MLPs, with the median
    test-loss minimum marked, and (b) the conv nets with their AUC."""
    fig, axes = panels(2, height=3.4, stacked=True)  # two y axes each: side by side they would not fit
    training_with_auc(mlp, mlp, {"test-loss minimum (median)": test_loss_minimum}, ax=axes[0])
    axes[0].set_title("(a) MLPs")
    training_with_auc(conv, conv, {}, ax=axes[1], auc_col="auc", auc_label="AUC (training data)")
    axes[1].set_title("(b) conv nets")
    fig.tight_layout()
    return fig


def curves_and_noise(curves: pd.DataFrame, noise: pd.DataFrame, ylabel: str):
    """Chapter 7: (a) ablation curves by ``layers`` ablated, (b) the noise curve, both against ``ylabel``."""
    fig, axes = panels(2)
    ablation_curves(curves, hue="layers", ax=axes[0], palette="viridis", hue_label="ablated")
    noise_curves(noise, hue="layers", ax=axes[1], palette="Set1", hue_label="")
    axes[0].set_ylabel(ylabel); axes[1].set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def importance_scatter(live: pd.DataFrame, units: pd.DataFrame):
    """Chapter 7: a unit's importance against (a) its selectivity (``live`` units), (b) its information."""
    fig, axes = panels(2)
    scatter_with_fit(live, "selectivity", "delta_loss", ax=axes[0], hue="depth",
                     xlabel="class selectivity index", ylabel="importance (rise in test loss)")
    scatter_with_fit(units, "mutual_info", "delta_loss", ax=axes[1], hue="depth",
                     xlabel="mutual information with the class (bits)", ylabel="importance (rise in test loss)")
    fig.tight_layout()
    return fig
