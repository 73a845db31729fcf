"""The sentences of the book that change with a result: each chosen by one small function from the
values it speaks of, so that a chapter's code cells build no prose (the Markdown holds the rest,
with the numbers glued in). ``tests/test_sentences.py`` (chapters 1-7) and
``tests/test_sentences_followups.py`` (chapter 8) give every branch its exact sentence.
"""
from __future__ import annotations

import math

import pandas as pd


# chapters 1-7 -----------------------------------------------------------------------------------

def unfit_networks(runs: pd.DataFrame, threshold: float) -> str:
    """Chapter 2: which networks did not fit the labels they were trained on (``runs``: one row per
    network with ``train_acc`` and ``corruption``)."""
    unfit = runs[runs.train_acc < threshold]
    if not len(unfit):
        return f"every one reached {threshold:.2f}"
    levels = ", ".join(f"{c:g}" for c in sorted(unfit.corruption.unique()))
    return f"{len(unfit)} of {len(runs)} did not reach a training accuracy of {threshold:.2f} (corruption {levels})"


def detectable_rho(mde: float) -> str:
    """Chapter 3, E3: the smallest correlation the run detects (follows "With N networks, the")."""
    if math.isfinite(mde):
        return f"smallest |ρ| this run detects with 80% power is {mde:.2f}"
    return "run has too few to detect a correlation of any size once training accuracy is partialled out"


def networks_fit(n_unfit: int, n: int, threshold: float) -> str:
    """Chapter 3, E3: whether every network fit its training set."""
    if n_unfit:
        return f"{n_unfit} of {n} networks stayed below a training accuracy of {threshold:.2f}."
    return f"Every network reached a training accuracy of {threshold:.2f}."


def conv_checkpoints_note(per_conv: pd.DataFrame) -> str:
    """Chapter 3, E4 (b): on how many checkpoints the scored part rests, and the correlation from
    the test-loss minimum on (``per_conv``: :func:`singledir.decide.findings.conv_checkpoints`)."""
    ckpts = per_conv.ckpts.max()
    if per_conv.fit_epoch.notna().all():
        first = (f"Every network fit its training set by epoch {per_conv.fit_epoch.max():g}, so the scored part "
                 f"rests on at least {per_conv.from_fit.min():.0f} of its {ckpts:.0f} checkpoints")
    else:
        first = (f"{per_conv.fit_epoch.isna().sum()} of {len(per_conv)} networks never fit their training set: "
                 f"they give no value")
    if per_conv.rho_late.notna().any():
        return (f"{first}; from the test-loss minimum on ({per_conv.from_min.min():.0f} to "
                f"{per_conv.from_min.max():.0f} of each network's {ckpts:.0f} checkpoints), the same correlation "
                f"averages {per_conv.rho_late.mean():.2f}.")
    return (f"{first}; at or after the test-loss minimum lie only {per_conv.from_min.min():.0f} checkpoints of some "
            f"network: too few for a correlation there (the test loss of these networks keeps falling slowly "
            f"through training).")


def grid_correlation(result: dict, n_fit: int, n_settings: int) -> str:
    """Chapter 3, E5: the correlation over the settings that fit, with its interval where it has one."""
    if not math.isfinite(result["rho"]):
        return (f"{n_fit} of {n_settings} settings are too few for a rank correlation, so this run does not decide "
                f"the claim")
    if math.isfinite(result["ci_low"]) and math.isfinite(result["ci_high"]):
        interval = f"(95% interval over settings, Fisher's z, {result['ci_low']:.2f} to {result['ci_high']:.2f})"
    else:
        interval = f"({n_fit} settings: no interval)"
    return f"Spearman's ρ between a setting's AUC and its test accuracy is {result['rho']:.2f} {interval}"


def every_setting(rho: float, n_settings: int) -> str:
    """Chapter 3, E5: the correlation over every setting."""
    if math.isfinite(rho):
        return f"Over all settings the correlation is {rho:.2f}."
    return f"Over all {n_settings} settings there are too few for a correlation."


def selection_pool(fit_pool: bool, n_settings: int) -> str:
    """Chapter 3, E5: the settings the AUC picks among (follows "random subsets of N")."""
    return "settings that fit" if fit_pool else f"settings (all {n_settings}: too few fit)"


def pick_gap(selection: dict, pool_size: int) -> str:
    """Chapter 3, E5: how far the AUC's pick falls short of the subset's best
    (``selection``: :func:`singledir.decide.stats.selection_analysis`)."""
    if selection["gap_sd"] > 0:
        text = (f"the pick's test accuracy falls short of the subset's best by {100 * selection['gap_mean']:.1f} ± "
                f"{100 * selection['gap_sd']:.1f} percentage points (mean ± s.d.)")
    elif selection["gap_mean"] > 0:
        text = (f"the pick's test accuracy falls short of the subset's best by {100 * selection['gap_mean']:.1f} "
                f"percentage points")
    else:
        text = "the pick was the subset's best by test accuracy every time"
    if selection["subset_size"] >= pool_size:
        text += f" (each subset holds all {pool_size} settings, so every subset is the same and there is one pick)"
    return text


def both_kinds_fit(lowest: dict[str, float], threshold: float) -> str:
    """Chapter 4, E7: whether the networks with and without batch norm fit their training set
    (``lowest``: the lowest training accuracy of each kind)."""
    if min(lowest.values()) >= threshold:
        return (f"Every network of both kinds fit its training set (lowest training accuracy "
                f"{min(lowest.values()):.3f}, at least the {threshold:.2f} at which this book counts a network as fit).")
    each = " and ".join(f"{v:.3f} {k}" for k, v in lowest.items())
    return (f"Not every network fit its training set on this schedule: the lowest training accuracy is {each}, "
            f"against the {threshold:.2f} at which this book counts a network as fit, so part of the difference "
            f"below can come from how much each kind learnt.")


def weights_file(path: str | None) -> str:
    """Chapter 7: the weights file's name, or that the network has random weights."""
    from pathlib import Path

    return Path(path).name if path else "none (random initialization)"


def layer_extremes(layer_auc: dict[str, float]) -> str:
    """Chapter 7: the most fragile and the most robust layer, each ablated on its own."""
    if not layer_auc:
        return "Per-layer curves were not computed (parameter `per_layer`)."
    most, least = min(layer_auc, key=layer_auc.get), max(layer_auc, key=layer_auc.get)
    return (f"Ablated on its own, layer {most} is the most fragile (AUC {layer_auc[most]:.3f}) "
            f"and layer {least} the most robust (AUC {layer_auc[least]:.3f}).")


def unit_address(unit: int, layer: str) -> str:
    """Chapter 7: a unit named by its index and layer."""
    return f"unit {int(unit)} of layer {layer}"

# end of chapters 1-7 ----------------------------------------------------------------------------


# chapter 8 -------------------------------------------------------------------------------------
def signed_difference(estimate: float, more: str, less: str, same: str) -> str:
    """The words for a difference whose sign the prose cannot know in advance, its size to 3
    decimals: ``more`` for a positive estimate, ``less`` for a negative one (each followed by
    ``"by SIZE"``), ``same`` where it rounds to zero; ``"MORE by n/a"`` where there is no number.

    Example: ``signed_difference(-0.05, "above chance", "below chance", "at chance")`` is
    ``"below chance by 0.050"``."""
    if not math.isfinite(estimate):
        return f"{more} by n/a"
    size = round(abs(estimate), 3)
    if size == 0:
        return same
    return f"{more if estimate > 0 else less} by {size:.3f}"


def never_fit(n: int) -> str:
    """F5: what the networks that never fit their training set mean for the early-stopping epochs.

    Example: ``never_fit(2)`` is ``"2 networks never fit their training set and give no value"``."""
    if n == 0:
        return "every network fits its training set"
    if n == 1:
        return "1 network never fits its training set and gives no value"
    return f"{n} networks never fit their training set and give no value"


def hit_vs_chance(estimate: float) -> str:
    """F1: how often the class hurt most is the preferred class, against chance.

    Example: ``hit_vs_chance(0.2333)`` is ``"above chance by 0.233"``."""
    return signed_difference(estimate, "above chance", "below chance", "at chance")


def peak_vs_end(estimate: float) -> str:
    """F6: the mean selectivity at its peak against at the end of training.

    Example: ``peak_vs_end(-0.01)`` is ``"lower than at the end by 0.010"``."""
    return signed_difference(estimate, "higher than at the end", "lower than at the end", "the same as at the end")


def early_vs_late(estimate: float) -> str:
    """F6: the selective maps' excess drop at the early checkpoint against at the last.

    Example: ``early_vs_late(0.027)`` is ``"larger early than late by 0.027"``."""
    return signed_difference(estimate, "larger early than late", "smaller early than late", "the same early and late")


def beyond_random(estimate: float) -> str:
    """F7: the chosen units' difference (memorized minus clean) against random units'.

    Example: ``beyond_random(0.344)`` is ``"exceeds the random units' by 0.344"``."""
    return signed_difference(estimate, "exceeds the random units'", "falls short of the random units'",
                             "equals the random units'")
