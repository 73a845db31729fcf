"""The described (not scored) numbers of chapter 8, computed from the same tables as its parts
(:mod:`singledir.decide.followup_parts`): each function returns ``{name: value}`` for the chapter to
glue as ``fN_name`` into its prose. Accuracy drops are in points (100 x)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import stats
from .followup_parts import live_units, n_classes, per_network_orders, preferred_hits

KINDS = {"mlp": "MLP", "conv": "conv net"}  # a glued name's tag -> the kind of network


def class_damage(units: pd.DataFrame) -> dict[str, float]:
    """F1: the mean overall and largest per-class drop per kind of network, the largest drop seen,
    the classes and test images per class (``n_images`` of the last network), the share of hits on
    the preferred class, and the conv nets' Spearman of selectivity with the *overall* drop.

    Example: ``class_damage(units)["max_conv"]`` (``units``: ``followup_runs.unit_tables``')."""
    live, hit, classes = live_units(units), preferred_hits(units), n_classes(units)
    per_class = units.n_images.iloc[-1] / classes
    by = {tag: live[live.net == net] for tag, net in KINDS.items()}
    return {"classes": classes, "per_class": per_class, "image_pts": 100 / per_class,
            **{f"{k}_{tag}": 100 * by[tag][col].mean() for tag in ("conv", "mlp")
               for k, col in (("overall", "overall_drop"), ("max", "max_drop"))},
            "worst": 100 * live.max_drop.max(), "hit": 100 * hit.hit.mean(), "n_hit": len(hit),
            "rho_overall": stats.network_spearman(by["conv"], "selectivity", "overall_drop", network="run",
                                                  layer="depth")["estimate"]}


def alpha_sweep(table: pd.DataFrame, alphas: Sequence[float]) -> dict[str, float]:
    """F2: per kind of network, the mean selectivity at alpha 0, the lowest and the highest alpha;
    those alphas; the lowest training accuracy of any network.

    Example: ``alpha_sweep(table, [-1.0, 0.0, 1.0])["si_mlp_lo"]``."""
    si = table.groupby(["net", "alpha"]).si.mean()
    ends = {"0": 0.0, "lo": min(alphas), "hi": max(alphas)}
    return {**{f"si_{tag}_{k}": si[net, a] for tag, net in KINDS.items() for k, a in ends.items()},
            "alpha_lo": min(alphas), "alpha_hi": max(alphas), "fit_min": table.train_acc.min()}


def ablation_values(valued: pd.DataFrame) -> dict[str, float]:
    """F3, over the units given a value of each kind: the mean importance with zero, the mean and the
    optimal constant per kind of network; the conv nets' within-layer Spearman of zero's importance
    with the mean's and with the optimal constant's (with its interval); the share of units less
    important with their optimal constant than with either fixed value; the intact test losses.

    Example: ``ablation_values(units[units.imp_opt.notna()])["conv_opt"]``."""
    conv = valued[valued.net == "conv net"]
    agree = {k: stats.network_spearman(conv, "imp_zero", k, network="run", layer="depth") for k in ("imp_mean", "imp_opt")}
    mean_imp = valued.groupby("net")[["imp_zero", "imp_mean", "imp_opt"]].mean()
    return {**{f"{tag}_{k}": mean_imp.loc[net, f"imp_{k}"] for tag, net in KINDS.items() for k in ("zero", "mean", "opt")},
            "rho_mean": agree["imp_mean"]["estimate"], "rho_opt": agree["imp_opt"]["estimate"],
            "rho_opt_lo": agree["imp_opt"]["ci_low"], "rho_opt_hi": agree["imp_opt"]["ci_high"],
            "below_both": 100 * (valued.imp_opt < np.minimum(valued.imp_zero, valued.imp_mean)).mean(),
            **{f"loss_{tag}": valued[valued.net == net].groupby("run").test_loss.first().mean()
               for tag, net in KINDS.items()}}


def ordered_ablation(wide: pd.DataFrame) -> dict[str, float]:
    """F4: the ascending order's AUC minus the random orders' by selectivity (MLPs, conv nets) and
    the conv nets' descending order by information, each the mean over networks.

    Example: ``ordered_ablation(followup_parts.order_differences(orders))["asc_mlp"]``."""
    return {"asc_mlp": per_network_orders(wide, "MLP", "selectivity", "asc_minus_random").mean(),
            "asc_conv": per_network_orders(wide, "conv net", "selectivity", "asc_minus_random").mean(),
            "conv_info": per_network_orders(wide, "conv net", "information").mean()}


def choices(table: pd.DataFrame) -> dict[str, float]:
    """F5: per decision, the mean test accuracy of each rule's choice (``mlp_auc``, ``conv_val``,
    ``grid_best``, ...); the networks of E4 that never fit; the fewest settings a seed compared; the
    median epochs each early-stopping rule stops the MLPs and conv nets at.

    Example: ``choices(table)["mlp_auc"]`` (``table``: ``decision``, the ``test_acc_`` columns of
    ``followup_runs.epoch_choices`` and ``setting_choices``, ``fit_epoch``, ``auc_epoch``, ``val_epoch``, ``pool``)."""
    cols = ["test_acc_auc", "test_acc_val", "test_acc_chance", "test_acc_best", "test_acc_last"]
    means = table.groupby("decision")[cols].mean()
    tags = {"mlp": "epoch, MLP", "conv": "epoch, conv net", "grid": "setting"}
    epochs = table[table.decision != "setting"]
    medians = {f"{k}_epoch_{tag}": table[table.decision == tags[tag]][f"{k}_epoch"].median()
               for tag in ("mlp", "conv") for k in ("auc", "val")}
    return {**{f"{tag}_{c[9:]}": means.loc[d, c] for tag, d in tags.items() for c in cols},
            "unfit": int(len(epochs) - table.fit_epoch.notna().sum()),
            "pool": table[table.decision == "setting"].pool.min(), **medians}


def training_selectivity(table: pd.DataFrame) -> dict[str, float]:
    """F6: the median peak epoch, the last epoch, how many of the networks peak at the last
    checkpoint; the targeted and random drops early and late (points); held-out accuracy early and late.

    Example: ``training_selectivity(summary)["peak_median"]``."""
    drops = ("drop_targeted_early", "drop_random_early", "drop_targeted_late", "drop_random_late")
    return {"peak_median": table.peak_epoch.median(), "last": table.last_epoch.max(),
            "n_peak_last": (table.peak_epoch == table.last_epoch).sum(), "n": len(table),
            **{k: 100 * table[k].mean() for k in drops},
            "acc_early": table.intact_early.mean(), "acc_late": table.intact_late.mean()}


def memorization(table: pd.DataFrame) -> dict[str, float]:
    """F7, per kind of network (``_mlp``, ``_conv``): the share of mislabeled examples memorized, the
    drops of the held-apart memorized and clean examples with the chosen and with random units (all
    in points), and the units chosen; each the mean over networks.

    Example: ``memorization(table)["drop_memorized_mlp"]``."""
    cols = ("memorized_share", "drop_memorized", "drop_clean", "random_memorized", "random_clean", "units")
    return {f"{k}_{tag}": (100 if k != "units" else 1) * table[table.net == net][k].mean()
            for tag, net in KINDS.items() for k in cols}


def disagreement(pairs: pd.DataFrame) -> dict[str, float]:
    """F8, over E5's settings (``grid_``) and E3's seed pairs (``seeds_``): the number of pairs, their
    mean disagreement and test error, and Spearman's rho of the AUC with test accuracy.

    Example: ``disagreement(pairs)["grid_dis"]``."""
    by = {"grid": pairs[pairs.networks == "E5: settings"], "seeds": pairs[pairs.networks == "E3: seed pairs"]}
    return {f"{w}_{k}": v for w, t in by.items() for k, v in
            {"n": len(t), "dis": t.disagreement.mean(), "err": t.test_error.mean(),
             "rho_auc": stats.spearman(t.auc, t.test_error.rsub(1))["rho"]}.items()}
