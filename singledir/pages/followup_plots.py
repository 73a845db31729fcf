"""Chapter 8's figures: each function only draws the table it is given and returns the figure
(drawn for the book's column, see :mod:`singledir.pages.figures`; each figure
carries the tables it was drawn from, :func:`~singledir.pages.figures.keeps_data`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from .figures import keeps_data, panels


@keeps_data
def class_damage(live: pd.DataFrame):
    """F1: per live unit, the largest per-class accuracy drop (left) and the overall drop (right)
    against class selectivity; columns ``net, selectivity, max_drop, overall_drop, depth``."""
    fig, axes = panels(2, height=3.4, sharey=True)
    t = live.assign(max_pts=100 * live.max_drop, overall_pts=100 * live.overall_drop)
    for ax, col, title in ((axes[0], "max_pts", "class hurt most"), (axes[1], "overall_pts", "all classes")):
        sns.scatterplot(t, x="selectivity", y=col, hue="net", style="net", s=10, alpha=0.6, ax=ax)
        ax.set_xlabel("class selectivity index")
        ax.set_ylabel("accuracy drop (points)")
        ax.set_title(title)
    axes[1].get_legend().remove()
    fig.tight_layout()
    return fig


@keeps_data
def alpha_sweep(table: pd.DataFrame, margin: float = 0.01):
    """F2: test accuracy and mean selectivity against the regularizer's alpha, mean and 95%
    t-interval over seeds, per kind of network; ``margin`` shades +/- around alpha 0's accuracy."""
    fig, axes = panels(2, height=3.4)
    sns.lineplot(table, x="alpha", y="test_acc", hue="net", marker="o", errorbar=("ci", 95), ax=axes[0])
    for net, g in table.groupby("net"):
        base = g[g.alpha == 0].test_acc.mean()
        if np.isfinite(base):
            axes[0].axhspan(base - margin, base + margin, color="0.85", alpha=0.5, zorder=0)
    sns.lineplot(table, x="alpha", y="si", hue="net", marker="o", errorbar=("ci", 95), ax=axes[1], legend=False)
    axes[0].set_ylabel("test accuracy")
    axes[1].set_ylabel("mean selectivity index")
    for ax in axes:
        ax.set_xlabel("alpha (regularizer)")
    fig.tight_layout()
    return fig


@keeps_data
def ablation_values(units: pd.DataFrame):
    """F3: importance with the optimal constant against importance with zero (left) and with the
    training mean (right), one point per unit; columns ``net, imp_zero, imp_mean, imp_opt``."""
    fig, axes = panels(2, height=3.4, sharey=True)
    for ax, col, label in ((axes[0], "imp_zero", "zero"), (axes[1], "imp_mean", "training mean")):
        sns.scatterplot(units, x=col, y="imp_opt", hue="net", style="net", s=10, alpha=0.6, ax=ax)
        lo = float(np.nanmin(units[[col, "imp_opt"]].to_numpy()))
        hi = float(np.nanmax(units[[col, "imp_opt"]].to_numpy()))
        ax.plot([lo, hi], [lo, hi], color="0.4", lw=1, ls="--")
        ax.set_xlabel(f"importance, ablated to {label}")
        ax.set_ylabel("importance, optimal constant")
    axes[1].get_legend().remove()
    fig.tight_layout()
    return fig


@keeps_data
def ordered_aucs(wide: pd.DataFrame):
    """F4: per network and layer, the AUC of the descending and ascending orders minus the random
    orders' mean, by score; columns ``net, score, desc_minus_random, asc_minus_random``."""
    long = wide.melt(id_vars=["net", "run", "layer", "score"], value_vars=["desc_minus_random", "asc_minus_random"],
                     var_name="order", value_name="d")
    long["order"] = long.order.map({"desc_minus_random": "descending", "asc_minus_random": "ascending"})
    scores = list(dict.fromkeys(long.score))
    fig, axes = panels(len(scores), height=3.4, sharey=True)
    for ax, score in zip(axes, scores):
        sns.stripplot(long[long.score == score], x="net", y="d", hue="order", dodge=True, ax=ax, size=5)
        ax.axhline(0, color="0.4", lw=1)
        ax.set_xlabel("")
        ax.set_ylabel("AUC minus random orders")
        ax.set_title(f"order of {score}")
    for ax in axes[1:]:
        if ax.get_legend():
            ax.get_legend().remove()
    fig.tight_layout()
    return fig


@keeps_data
def choices(table: pd.DataFrame):
    """F5: test accuracy of what the AUC, the validation split, the last candidate (where a decision
    has one), a random choice and the best candidate give, per decision; columns ``decision,
    test_acc_auc, test_acc_val, test_acc_chance, test_acc_best`` and optionally ``test_acc_last``."""
    names = {"test_acc_auc": "AUC", "test_acc_val": "validation", "test_acc_last": "last",
             "test_acc_chance": "random", "test_acc_best": "best"}
    names = {k: v for k, v in names.items() if k in table}
    long = table.melt(id_vars=["decision"], value_vars=list(names), var_name="chosen by", value_name="test accuracy")
    long["chosen by"] = long["chosen by"].map(names)
    fig, axes = panels(1, height=3.4)
    sns.pointplot(long, x="decision", y="test accuracy", hue="chosen by", dodge=0.5, linestyle="none",
                  errorbar=None, ax=axes[0], markers="D")
    sns.stripplot(long, x="decision", y="test accuracy", hue="chosen by", dodge=True, ax=axes[0], size=3, alpha=0.5,
                  legend=False)
    axes[0].set_xlabel("")
    fig.tight_layout()
    return fig


@keeps_data
def selectivity_over_training(curves: pd.DataFrame, summary: pd.DataFrame):
    """F6: mean selectivity of the maps against the epoch (left; half B of the images, mean and
    standard deviation over networks, one thin line per network) and, per network, the accuracy drop
    from the most selective maps minus as many random ones at the early and the last checkpoint
    (right); ``curves``: ``seed, epoch, half, mean_si``; ``summary``: ``seed, excess_early, excess_late``."""
    fig, axes = panels(2, height=3.4)
    b = curves[curves.half == "B"]
    sns.lineplot(b, x="epoch", y="mean_si", errorbar="sd", color="C0", marker="o", ax=axes[0])
    sns.lineplot(b, x="epoch", y="mean_si", units="seed", estimator=None, color="C0", alpha=0.3, lw=0.8, ax=axes[0])
    axes[0].set_xscale("symlog", linthresh=1)
    axes[0].set_xlabel("epoch (symmetric log scale)")
    axes[0].set_ylabel("mean selectivity of the maps")
    long = summary.melt(id_vars="seed", value_vars=["excess_early", "excess_late"], var_name="checkpoint",
                        value_name="excess").replace({"excess_early": "early (peak)", "excess_late": "last"})
    long["excess"] *= 100
    sns.pointplot(long, x="checkpoint", y="excess", errorbar="sd", color="C1", ax=axes[1])
    sns.lineplot(long, x="checkpoint", y="excess", units="seed", estimator=None, color="0.5", alpha=0.5, ax=axes[1])
    axes[1].axhline(0, color="0.4", lw=1, ls="--")
    axes[1].set_ylabel("drop, selective minus random maps (points)")
    fig.tight_layout()
    return fig


@keeps_data
def memorization(table: pd.DataFrame):
    """F7: per network, the accuracy lost by the held-apart memorized examples and by the fitted
    clean ones, with the chosen units and with as many random units; mean and standard deviation
    over networks, per kind; ``table``: ``net, drop_memorized, drop_clean, random_memorized, random_clean``."""
    cols = {"drop_memorized": ("chosen units", "memorized"), "drop_clean": ("chosen units", "clean"),
            "random_memorized": ("random units", "memorized"), "random_clean": ("random units", "clean")}
    long = table.melt(id_vars="net", value_vars=list(cols), var_name="what", value_name="drop")
    long["units"] = long.what.map(lambda w: cols[w][0])
    long["examples"] = long.what.map(lambda w: cols[w][1])
    long["drop"] *= 100
    fig, axes = panels(2, height=3.4, sharey=True)
    for ax, (net, g) in zip(axes, long.groupby("net", sort=False)):
        sns.barplot(g, x="units", y="drop", hue="examples", errorbar="sd", ax=ax)
        ax.set_title(net)
        ax.set_xlabel("units ablated")
        ax.set_ylabel("training accuracy lost (points)")
    fig.tight_layout()
    return fig


@keeps_data
def disagreement(pairs: pd.DataFrame):
    """F8: per pair of networks, test error against their disagreement (left) and against their
    mean AUC (right), for E3's seed pairs and E5's settings; the diagonal marks disagreement =
    error; ``pairs``: ``networks, disagreement, test_error, auc``."""
    fig, axes = panels(2, height=3.4, sharey=True)
    for ax, x, label in ((axes[0], "disagreement", "disagreement of the pair (no labels)"),
                         (axes[1], "auc", "mean AUC of the pair")):
        sns.scatterplot(pairs, x=x, y="test_error", hue="networks", style="networks", ax=ax)
        ax.set_xlabel(label)
        ax.set_ylabel("test error (mean of the pair)")
    hi = float(np.nanmax(pairs[["disagreement", "test_error"]].to_numpy()))
    axes[0].plot([0, hi], [0, hi], color="0.4", lw=1, ls="--")
    axes[1].get_legend().remove()
    fig.tight_layout()
    return fig
