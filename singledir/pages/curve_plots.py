"""Curves: accuracy as units are ablated or noise grows, and loss and AUC over training; each function
only draws what it is given (drawn for the book's column, see :mod:`singledir.pages.figures`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .figures import COLUMN_INCHES, keeps_data, panels


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


@keeps_data
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


@keeps_data
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


@keeps_data
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


@keeps_data
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


@keeps_data
def curves_and_noise(curves: pd.DataFrame, noise: pd.DataFrame, ylabel: str):
    """Chapter 7: (a) ablation curves by ``layers`` ablated, (b) the noise curve, both against ``ylabel``."""
    fig, axes = panels(2)
    ablation_curves(curves, hue="layers", ax=axes[0], palette="viridis", hue_label="ablated")
    noise_curves(noise, hue="layers", ax=axes[1], palette="Set1", hue_label="")
    axes[0].set_ylabel(ylabel); axes[1].set_ylabel(ylabel)
    fig.tight_layout()
    return fig
