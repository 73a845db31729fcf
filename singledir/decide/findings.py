"""What chapters 2 and 3 compute from a sweep's tables before they report: the statistics of E1-E5
(sections 3.1-3.2 of the paper) beside the scored ones, as functions of tidy tables.

Each takes the runs table of :func:`singledir.experiments.sweep.run_sweep` (one row per network:
``corruption``, ``train_acc``, ``test_acc``, ``auc_zero``, ...) or a table of checkpoints (one row
per network x epoch: ``auc``, ``auc_norm``, ``train_loss``, ``test_loss``, ``train_acc``,
``test_acc``) and returns numbers or tables; none draws or writes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import stats
from .claims import FITS_TRAINING_SET


# --- E1-E2: networks trained on partly corrupted labels ------------------------------------------

def by_corruption(runs: pd.DataFrame, column: str) -> dict:
    """Spearman's rho of the corrupted fraction with ``column`` over networks (E1, E2's parts)."""
    return stats.spearman(runs.corruption, runs[column])


def given_fit(runs: pd.DataFrame, column: str) -> dict:
    """The same correlation with training accuracy partialled out (shown, not scored)."""
    return stats.partial_spearman(runs.corruption, runs[column], runs.train_acc)


def e1_shown(runs: pd.DataFrame) -> dict[str, float]:
    """E1's values beside the scored one: the partial and raw rho, the mean AUC at the lowest and at
    the highest corrupted fraction."""
    return {"partial": given_fit(runs, "auc_norm_zero")["rho"], "raw": by_corruption(runs, "auc_zero")["rho"],
            "auc_true": runs[runs.corruption == runs.corruption.min()].auc_zero.mean(),
            "auc_rand": runs[runs.corruption == runs.corruption.max()].auc_zero.mean()}


def memorization_table(results: dict) -> pd.DataFrame:
    """Per network type and corrupted fraction: networks, mean and lowest training accuracy, test
    accuracy, AUC and noise AUC (``results``: ``{network type: SweepResult}``)."""
    summary = pd.concat([r.runs.assign(model=m) for m, r in results.items()])
    return (summary.groupby(["model", "corruption"])
            .agg(networks=("seed", "size"), train_acc=("train_acc", "mean"), train_acc_min=("train_acc", "min"),
                 test_acc=("test_acc", "mean"), auc=("auc_zero", "mean"), noise_auc=("noise_auc", "mean"))
            .round(3))


# --- E3: networks identical but for the seed ------------------------------------------------------

def generalizers(runs: pd.DataFrame, curves: pd.DataFrame, n_heldout: int) -> tuple[pd.DataFrame, int, dict]:
    """The curves of the ``k`` best and ``k`` worst generalizers (k = a third of the networks, 1 to
    5; column ``networks`` names the group), ``k``, and the values E3 shows: their mean AUCs, the
    range of generalization errors (and its spread in held-out images), the lowest training
    accuracy and the plain Spearman's rho of generalization error with AUC (and its interval).
    ``runs`` has a column ``gen_error``."""
    k = max(1, min(5, len(runs) // 3))
    best, worst = runs.nsmallest(k, "gen_error").run, runs.nlargest(k, "gen_error").run
    sel = curves[curves.run.isin(best) | curves.run.isin(worst)].copy()
    sel["networks"] = np.where(sel.run.isin(best), f"{k} best generalizers", f"{k} worst generalizers")
    raw = stats.spearman(runs.gen_error, runs.auc_zero)
    return sel, k, {"auc_best": runs[runs.run.isin(best)].auc_zero.mean(),
                    "auc_worst": runs[runs.run.isin(worst)].auc_zero.mean(),
                    "err_min": runs.gen_error.min(), "err_max": runs.gen_error.max(), "train_min": runs.train_acc.min(),
                    "err_spread_images": (runs.gen_error.max() - runs.gen_error.min()) * n_heldout,
                    "raw": raw["rho"], "raw_lo": raw["ci_low"], "raw_hi": raw["ci_high"]}


# --- E4: networks followed through training -------------------------------------------------------

def after_divergence(t: pd.DataFrame) -> pd.DataFrame:
    """Per network (checkpoints after the untrained one): the test-loss minimum's epoch, the epoch
    of the normalized AUC's peak, their log2 ratio, and the normalized AUC at the end minus there."""
    rows = []
    for run, g in t[t.epoch > 0].groupby("run"):
        g = g.sort_values("epoch")
        at = g.loc[g.test_loss.idxmin()]
        peak = g.loc[g.auc_norm.idxmax()].epoch
        rows.append({"run": run, "diverge": at.epoch, "auc_peak": peak, "timing": np.log2(peak / at.epoch),
                     "drop": g.auc_norm.iloc[-1] - at.auc_norm})
    return pd.DataFrame(rows)


def _rho(x, y) -> float:
    return stats.spearman(x, y)["rho"]


def per_checkpoints(run, g: pd.DataFrame) -> dict:
    """One conv net's checkpoints (after the untrained one): the paper's rho over all of them; the
    scored rho of the normalized AUC over those from the first at which the network fits its
    training set (3 or more); the same from the test-loss minimum on (shown)."""
    at = g.loc[g.test_loss.idxmin()].epoch
    fit = g[g.train_acc >= FITS_TRAINING_SET].epoch
    late, fitted = g[g.epoch >= at], g[g.epoch >= fit.min()] if len(fit) else g.iloc[:0]
    some = lambda t: _rho(t.auc_norm, t.test_loss) if len(t) >= 3 else float("nan")  # noqa: E731
    return {"run": run, "rho_loss": _rho(g.auc, g.test_loss), "rho_acc": _rho(g.auc, g.test_acc),
            "rho_gap": _rho(g.auc, g.test_loss - g.train_loss), "rho_fit": some(fitted), "rho_late": some(late),
            "ckpts": len(g), "before_min": int((g.epoch < at).sum()), "from_min": len(late),
            "fit_epoch": fit.min() if len(fit) else float("nan"), "from_fit": len(fitted)}


def conv_checkpoints(t: pd.DataFrame) -> pd.DataFrame:
    """:func:`per_checkpoints` of every network of ``t``, one row each."""
    return pd.DataFrame([per_checkpoints(run, g) for run, g in t[t.epoch > 0].groupby("run")])


# --- E5: a hyperparameter grid --------------------------------------------------------------------

def grid_settings(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every setting of learning rate and batch size (means over its seeds, diverged runs left out)
    and those whose mean training accuracy reached ``FITS_TRAINING_SET``."""
    settings = (runs[~runs.diverged].groupby(["train.lr", "train.batch_size"])[["auc_zero", "test_acc", "train_acc"]]
                .mean().reset_index())
    return settings, settings[settings.train_acc >= FITS_TRAINING_SET]


def selection_pool(settings: pd.DataFrame, fits: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """The settings the AUC picks among: those that fit, or every setting when fewer than 4 fit
    (picking the best of fewer than 4 says nothing); and whether they are those that fit."""
    fit_pool = len(fits) >= 4
    return (fits if fit_pool else settings), fit_pool


# --- E6: dropout ------------------------------------------------------------------------------------

def _at_fraction(m: pd.Series, p: float) -> float:
    """A normalized mean curve's value at the fraction ``p`` of units ablated (interpolated)."""
    return float(np.interp(p, m.index, m.to_numpy()))


def _area_from(m: pd.Series, p: float) -> float:
    """The normalized curve's area on [p, 1]: what is left past the plateau."""
    xs = np.r_[p, m.index[m.index > p]]
    return float(np.trapezoid(np.interp(xs, m.index, m.to_numpy()), xs))


def dropout_plateaus(runs: pd.DataFrame, curves: pd.DataFrame, bad: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per network: its normalized curve's value at its dropout fraction (``plateau``) and its area
    past it (``past``); and the corrupted-label networks with dropout (labels ``bad``), each with the
    same value of the dropout-0 network of its seed (``control``). ``curves``: normalized curves
    (column ``normalized``); ``runs`` has a column ``labels``."""
    mean_curves = {run: g.groupby("fraction").normalized.mean() for run, g in curves.groupby("run")}
    per_net = runs[["run", "labels", "model.dropout", "seed", "auc_norm_zero", "train_acc"]].copy()
    per_net["plateau"] = [_at_fraction(mean_curves[r], d) for r, d in zip(per_net.run, per_net["model.dropout"])]
    per_net["past"] = [_area_from(mean_curves[r], d) for r, d in zip(per_net.run, per_net["model.dropout"])]
    net = per_net.set_index(["labels", "model.dropout", "seed"])
    # plateau: each corrupted dropout-p network against the dropout-0 network of its seed, at the fraction p
    corrupted = per_net[(per_net.labels == bad) & (per_net["model.dropout"] > 0)]
    corrupted = corrupted.assign(control=[_at_fraction(mean_curves[net.loc[(bad, 0.0, sd), "run"]], d)
                                          for sd, d in zip(corrupted.seed, corrupted["model.dropout"])])
    return per_net, corrupted


def dropout_parts(per_net: pd.DataFrame, corrupted: pd.DataFrame, true: str, bad: str) -> dict[str, dict]:
    """E6's parts: the plateau against its control (mean over seeds), the area past it with true
    against corrupted labels, and the true-label networks' AUC at the highest dropout against the
    lowest (paired by seed)."""
    plateau_by_seed = (corrupted.plateau - corrupted.control).groupby(corrupted.seed).mean()
    past = per_net[per_net["model.dropout"] > 0].pivot_table(index=["model.dropout", "seed"], columns="labels",
                                                             values="past")
    true_auc = per_net[per_net.labels == true].pivot_table(index="seed", columns="model.dropout", values="auc_norm_zero")
    return {"plateau": stats.mean_ci(plateau_by_seed),
            "past the plateau": stats.difference(past[true], past[bad], paired=True),
            "true labels alike": stats.difference(true_auc[true_auc.columns.max()], true_auc[true_auc.columns.min()],
                                                  paired=True)}


# --- E8-E13: per-unit measures ------------------------------------------------------------------

def within_layers(units: pd.DataFrame, x: str, y: str) -> dict:
    """Per network the mean of its within-layer Spearman's rho of ``x`` and ``y`` (``units``: one row
    per unit with ``run`` and ``depth``); t-interval over networks."""
    return stats.network_spearman(units, x, y, network="run", layer="depth")


def pooled(units: pd.DataFrame, x: str, y: str) -> float:
    """Spearman's rho over every unit at once (shown beside the scored values)."""
    return stats.spearman(units[x], units[y])["rho"]


def selectivity_per_network(live: pd.DataFrame, high: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """E8: per network and layer, the fraction of live units with a selectivity of at least
    ``high`` and their mean bias-corrected mutual information; and the same averaged over layers,
    one row per network (``live``: one row per live unit with ``run``, ``seed``, ``bn``, ``depth``)."""
    per_layer = (live.assign(high=live.selectivity >= high)
                 .groupby(["run", "seed", "bn", "depth"]).agg(high=("high", "mean"), mi=("mutual_info_corrected", "mean"))
                 .reset_index())
    return per_layer, per_layer.groupby(["run", "seed", "bn"])[["high", "mi"]].mean().reset_index()


def with_minus_without_bn(per_net: pd.DataFrame, columns: dict[str, str]) -> dict[str, dict]:
    """``{part: with BN - without BN, paired by seed}`` of each ``{part: column}`` of ``per_net``."""
    pv = per_net.pivot_table(index="seed", columns="bn", values=list(columns.values()))
    return {part: stats.difference(pv[c]["with BN"], pv[c]["without BN"], paired=True) for part, c in columns.items()}
