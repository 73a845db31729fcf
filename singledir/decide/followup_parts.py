"""The scored parts of chapter 8's claims, computed from the tables its measures give
(:mod:`singledir.measure.followup_runs`): each function returns ``{part name: result}`` for
:func:`singledir.pages.chapter.report`, every result a :mod:`singledir.decide.stats` result with its
95% interval. The rules that decide the parts are :data:`singledir.decide.claims.CLAIMS`'."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import stats


def live_units(units: pd.DataFrame) -> pd.DataFrame:
    """The units with a selectivity index (``si_status == "ok"``; a dead unit has none)."""
    return units[units.si_status == "ok"]


def n_classes(units: pd.DataFrame) -> int:
    """The number of classes of a unit table: one more than the highest preferred class."""
    return int(units.preferred.max()) + 1


def preferred_hits(units: pd.DataFrame) -> pd.DataFrame:
    """The live conv-net units whose ablation costs some class accuracy, with ``hit`` = 1.0 where
    the class hurt most is the unit's preferred class (0.0 otherwise)."""
    live = live_units(units)
    conv = live[(live.net == "conv net") & (live.max_drop > 0)]
    return conv.assign(hit=(conv.max_drop_class == conv.preferred).astype(float))


def class_damage(units: pd.DataFrame) -> dict[str, dict]:
    """F1: per kind of network, the within-layer Spearman of selectivity with the largest per-class
    drop, averaged over layers (t-interval over networks); and how much more often than chance (one
    in the number of classes) a conv-net unit hurts its preferred class most.

    Example: ``class_damage(units)["MLP"]["estimate"]`` (``units``: ``followup_runs.unit_tables``')."""
    live = live_units(units)
    out = {net: stats.network_spearman(live[live.net == net], "selectivity", "max_drop", network="run", layer="depth")
           for net in ("conv net", "MLP")}
    per_net_hit = preferred_hits(units).groupby("run").hit.mean() - 1 / n_classes(units)
    return {**out, "preferred class": stats.mean_ci(per_net_hit)}


def alpha_sweep(table: pd.DataFrame, alphas: Sequence[float]) -> dict[str, dict]:
    """F2, per kind of network (``net``, in the table's order): test accuracy at the lowering (negative)
    ``alphas`` minus at 0, paired by seed (``"NET, lowering"``); the mean over seeds of the slope of
    test accuracy on alpha over alpha >= 0 (``"NET, raising"``); the mean over seeds of Spearman's rho
    of alpha with the mean selectivity (``"NET, selectivity moved"``).

    Example: ``alpha_sweep(table, [-1.0, 0.0, 1.0])["MLP, lowering"]`` (``table``: ``net, alpha,
    seed, test_acc, si``)."""
    low = [a for a in alphas if a < 0]
    out = {}
    for net, t in table.groupby("net", sort=False):
        by = t.pivot_table(index="seed", columns="alpha", values="test_acc")
        up = t[t.alpha >= 0]
        slopes = up.groupby("seed").apply(lambda g: np.polyfit(g.alpha, g.test_acc, 1)[0] if g.alpha.nunique() > 1
                                          else np.nan, include_groups=False)
        moved = t.groupby("seed").apply(lambda g: stats.spearman(g.alpha, g.si)["rho"], include_groups=False)
        out.update({f"{net}, lowering": stats.difference(by[low].mean(axis=1), by[0.0], paired=True),
                    f"{net}, raising": stats.mean_ci(slopes),
                    f"{net}, selectivity moved": stats.mean_ci(moved, bounds=(-1, 1))})
    return out


def ablation_values(gaps: pd.DataFrame) -> dict[str, dict]:
    """F3: per kind of network, the mean over networks of the optimal constant's loss gap minus the
    mean's and minus zero's, over the intact loss (t-interval over networks).

    Example: ``ablation_values(followups.ablation_value_gaps(units))["MLP, against zero"]``."""
    names = {"conv net": "conv net with BN", "MLP": "MLP"}
    return {f"{names[net]}, against {label}": stats.mean_ci(gaps.loc[net, col])
            for net in names for label, col in (("the mean", "vs_mean"), ("zero", "vs_zero"))}


def order_differences(orders: pd.DataFrame) -> pd.DataFrame:
    """Per network, layer and score, the AUC of the descending and of the ascending order minus the
    random orders' mean (``desc_minus_random``, ``asc_minus_random``).

    Example: ``order_differences(orders)`` (``orders``: ``net, run, layer, score, order, auc``)."""
    wide = orders.pivot_table(index=["net", "run", "layer", "score"], columns="order", values="auc").reset_index()
    wide["desc_minus_random"] = wide.descending - wide.random
    wide["asc_minus_random"] = wide.ascending - wide.random
    return wide


def per_network_orders(wide: pd.DataFrame, net: str, score: str, col: str = "desc_minus_random") -> pd.Series:
    """One value per network of kind ``net``: ``col`` of :func:`order_differences` for ``score``,
    averaged over the network's layers."""
    per_net = wide.groupby(["net", "run", "score"])[["desc_minus_random", "asc_minus_random"]].mean().reset_index()
    return per_net[(per_net.net == net) & (per_net.score == score)][col]


def ordered_ablation(wide: pd.DataFrame) -> dict[str, dict]:
    """F4: the descending order's AUC minus the random orders', averaged over layers, with its
    t-interval over networks: MLPs by selectivity and by information, conv nets by selectivity.

    Example: ``ordered_ablation(order_differences(orders))["MLP, selectivity"]``."""
    return {f"{net}, {score}": stats.mean_ci(per_network_orders(wide, net, score))
            for net, score in (("MLP", "selectivity"), ("MLP", "information"), ("conv net", "selectivity"))}


def choices(table: pd.DataFrame) -> dict[str, dict]:
    """F5: per decision (in the table's order), the test accuracy of the AUC's choice minus the
    validation's, paired by network or seed.

    Example: ``choices(table)["setting"]`` (``table``: ``decision, test_acc_auc, test_acc_val``)."""
    return {d: stats.difference(g.test_acc_auc, g.test_acc_val, paired=True)
            for d, g in table.groupby("decision", sort=False)}


def training_selectivity(table: pd.DataFrame) -> dict[str, dict]:
    """F6, over networks: the mean selectivity at the early checkpoint minus at the last
    (``rise_fall``) and the selective maps' excess drop early minus late (``early_minus_late``).

    Example: ``training_selectivity(summary)["rise and fall"]`` (``summary``: ``followup_runs.training_selectivity``'s)."""
    return {"rise and fall": stats.mean_ci(table.rise_fall), "ablation, early vs late": stats.mean_ci(table.early_minus_late)}


def memorization(table: pd.DataFrame) -> dict[str, dict]:
    """F7: the memorized examples' drop minus the clean ones', per kind of network, and the MLPs'
    beyond as many random units (t-intervals over networks).

    Example: ``memorization(table)["MLP"]`` (``table``: ``net, difference, beyond_random``)."""
    by = {net: table[table.net == net] for net in ("MLP", "conv net")}
    return {"MLP": stats.mean_ci(by["MLP"]["difference"]), "conv net": stats.mean_ci(by["conv net"]["difference"]),
            "MLP, beyond random units": stats.mean_ci(by["MLP"]["beyond_random"])}


def disagreement(pairs: pd.DataFrame) -> dict[str, dict]:
    """F8, over E5's settings and over E3's seed pairs: Spearman's rho of disagreement with test
    error minus that of the AUC with test accuracy (jackknife over pairs), then disagreement's rho alone.

    Example: ``disagreement(pairs)["settings, vs the AUC"]`` (``pairs``: ``networks, disagreement,
    test_error, auc``; ``networks`` ``"E5: settings"`` or ``"E3: seed pairs"``)."""
    by = {w: pairs[pairs.networks == k] for w, k in (("settings", "E5: settings"), ("seeds", "E3: seed pairs"))}
    return {**{f"{w}, vs the AUC": stats.correlation_difference(t.disagreement, -t.auc, t.test_error)
               for w, t in by.items()},
            **{w: stats.spearman(t.disagreement, t.test_error) for w, t in by.items()}}
