"""Chapter 8's measurements: later publications' analyses, run on one trained network at a time.

* :func:`unit_measures`: per unit, the paper's measures (selectivity, information, importance when
  ablated to zero) beside three later ones: the accuracy each class loses when the unit alone is
  ablated (Zhou et al. 2018), its importance when ablated to its training mean and to the constant
  that minimizes the training loss (Li & Janson 2024), and its preferred class;
* :func:`ordered_layer_aucs`: each layer ablated in descending, ascending and random orders of a
  per-unit score (Amjad, Liu & Geiger 2022);
* :func:`mean_selectivity`: the mean class selectivity of a network's hidden units (Leavitt & Morcos
  2021 regularize it);
* :func:`heldout_checkpoints` and :func:`epoch_picks`: the checkpoints of a run evaluated on a
  validation split carved from its training images and on the test split, and the epochs that
  early stopping on the AUC and on the validation loss pick among the same candidates;
* :func:`unit_means` and :func:`ablation_value_gaps`: Li & Janson's comparison of ablation values,
  one constant per unit for each;
* :func:`selectivity_through_training` (Ranadive et al. 2023): mean selectivity at every checkpoint,
  the checkpoint where it peaks, and the most selective maps ablated there and at the end;
* :func:`memorization_drops` (Maini et al. 2023): the accuracy that held-apart memorized examples
  and fitted clean ones lose when the units costliest to other memorized examples, beyond their
  cost to other clean ones, are ablated;
* :func:`seed_pairs` and :func:`pair_row` (Jiang et al. 2022): networks paired by a fixed rule and
  each pair's disagreement on held-out images, test error and AUC.

:mod:`singledir.measure.followup_runs` runs them over groups of networks; the statistics that decide
claims F1-F8 are computed from its tables by :mod:`singledir.decide.followup_parts`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import ablations, perturb, selectivity, units
from .checkpoints import over_checkpoints, selectivity_table, targeted_ablation
from .disagreement import disagreement
from .engine import Data
from .subsets import correct, costliest_units, random_units, subset_drops
from ..nets.runs import evaluate
from .early_stopping import choose_epoch


def unit_measures(model: nn.Module, test: Data, train: Data, layers: Sequence[str], n_classes: int, *,
                  value_layers: Sequence[str] | None = None, n_bins: int = 10, fit_steps: int = 2,
                  seed: int = 0) -> pd.DataFrame:
    """One row per unit of ``layers``: the per-unit table of :func:`singledir.measure.units.unit_table`
    measured on ``test`` (``selectivity``, ``mutual_info_corrected``, ``delta_loss`` = importance
    when ablated to zero, ...), plus ``preferred`` (the class with the highest mean activation),
    ``max_drop``, ``max_drop_class``, ``mean_drop`` and ``overall_drop`` (per-class accuracy lost
    when the unit alone is ablated to zero, on ``test``), ``imp_mean`` and ``imp_opt`` (test-loss
    increase when ablated to its mean over ``train`` and to its optimal constant fitted on ``train``;
    on ``value_layers`` only, default ``layers``, NaN elsewhere), ``imp_zero`` (= ``delta_loss``)
    and ``test_loss`` (the intact network's, on ``test``).

    The three ablation values are one family, chosen on the same images: one constant per unit
    (a conv unit's mean is its mean over examples *and* positions of ``train``, the value the fit
    starts from and keeps when nothing beats it), so that Li & Janson's comparison of optimal with
    zero and mean ablation compares constants fitted and chosen alike, and scores them on ``test``.
    """
    layers = list(layers)
    table = units.unit_table(model, test, layers, n_classes=n_classes, n_bins=n_bins, seed=seed)
    acts, y = units.layer_activations(model, test, layers)  # conv maps averaged over positions
    pref = pd.concat([pd.DataFrame({"layer": l, "unit": range(a.shape[1]),
                                    "preferred": selectivity.preferred_class(a, y, n_classes).numpy()})
                      for l, a in acts.items()])
    damage = ablations.class_damage_summary(ablations.class_damage(model, test, layers))
    vlayers = list(value_layers or layers)
    imp_mean = perturb.unit_importance(model, test, vlayers, baseline=unit_means(model, train, vlayers))
    constants = ablations.fit_ablation_constants(model, train, vlayers, steps=fit_steps)
    imp_opt = perturb.unit_importance(model, test, vlayers, baseline=constants)
    imp_opt["test_loss"] = imp_opt.loss - imp_opt.delta_loss
    out = (table.merge(pref, on=["layer", "unit"])
           .merge(damage[["layer", "unit", "max_drop", "max_drop_class", "mean_drop", "overall_drop"]],
                  on=["layer", "unit"])
           .merge(imp_mean[["layer", "unit", "delta_loss"]].rename(columns={"delta_loss": "imp_mean"}),
                  on=["layer", "unit"], how="left")
           .merge(imp_opt[["layer", "unit", "delta_loss"]].rename(columns={"delta_loss": "imp_opt"}),
                  on=["layer", "unit"], how="left"))
    return out.assign(imp_zero=out.delta_loss, test_loss=float(imp_opt.test_loss.iloc[0]))


def unit_means(model: nn.Module, data: Data, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """Each unit's mean activation over ``data``, one constant per unit (a conv map's mean over
    examples and positions): ``{layer: [U]}``, a ``baseline`` for :mod:`singledir.measure.perturb`."""
    means = {l: s["mean"] for l, s in perturb.unit_stats(model, data, list(layers)).items()}
    return {l: m.flatten(1).mean(1) if m.dim() > 1 else m for l, m in means.items()}


def ablation_value_gaps(units: pd.DataFrame) -> pd.DataFrame:
    """Per network (``net``, ``run``): the mean over its valued units of the optimal constant's
    test-loss gap minus zero's (``vs_zero``) and minus the mean's (``vs_mean``), each divided by
    the network's intact test loss: defined for every network, negative when the optimal constant
    costs less."""
    valued = units[units.imp_opt.notna()]
    g = valued.groupby(["net", "run"])
    loss = g.test_loss.first()
    return pd.DataFrame({"vs_zero": (g.imp_opt.mean() - g.imp_zero.mean()) / loss,
                         "vs_mean": (g.imp_opt.mean() - g.imp_mean.mean()) / loss})


def ordered_layer_aucs(model: nn.Module, data: Data, table: pd.DataFrame, layers: Sequence[str],
                       scores: dict[str, str], *, grid: int = 11, random_repetitions: int = 5,
                       seed: int = 0) -> pd.DataFrame:
    """Each of ``layers`` ablated alone in descending, ascending and random orders of each score.

    Args:
        table: the network's per-unit table (``layer``, ``unit`` and the score columns).
        scores: ``{label: column}``, e.g. ``{"selectivity": "selectivity"}``.

    Returns:
        one row per layer x score x order: ``layer, depth, score, order, auc`` (accuracy AUC, mean
        over the random orders for ``"random"``).
    """
    rows = []
    for depth, layer in enumerate(layers):
        u = table[table.layer == layer].sort_values("unit")
        for label, col in scores.items():
            curves = ablations.ordered_ablation(model, data, layer, u[col].to_numpy(), grid=grid,
                                                random_repetitions=random_repetitions, seed=seed)
            rows += [{"layer": layer, "depth": depth, "score": label, "order": order, "auc": auc}
                     for order, auc in ablations.ordered_aucs(curves).items()]
    return pd.DataFrame(rows)


def mean_selectivity(model: nn.Module, data: Data, layers: Sequence[str], n_classes: int) -> float:
    """The mean class selectivity index over the live units of ``layers`` (dead units have none)."""
    acts, y = units.layer_activations(model, data, layers)
    si = torch.cat([selectivity.selectivity_index(a, y, n_classes) for a in acts.values()])
    return float(np.nanmean(si.numpy())) if torch.isfinite(si).any() else float("nan")


def heldout_checkpoints(run, validation: Data, test: Data) -> pd.DataFrame:
    """Every kept checkpoint of ``run`` (a :class:`~singledir.train.TrainedRun`) evaluated on the
    validation and the test data: ``epoch, val_loss, val_acc, test_loss, test_acc``."""
    rows = []
    for epoch in sorted(run.checkpoints):
        net = run.at_epoch(epoch)
        vl, va = evaluate(net, *validation)
        tl, ta = evaluate(net, *test)
        rows.append({"epoch": epoch, "val_loss": vl, "val_acc": va, "test_loss": tl, "test_acc": ta})
    return pd.DataFrame(rows)


def heldout_accuracy(run, data: Data) -> float:
    """The accuracy of ``run``'s final network on ``data``."""
    return evaluate(run.model, *data)[1]


def epoch_picks(table: pd.DataFrame, patience: int, fits: float) -> dict:
    """Which checkpoint each rule picks among one network's candidates: the checkpoints from the
    first at which its training accuracy reaches ``fits`` (E4(b)'s criterion) to the last.

    Both rules are early stopping with the same ``patience`` (:func:`singledir.early_stopping.choose_epoch`):
    on the normalized AUC (highest is best) and on the validation loss (lowest is best). Beside them,
    the last candidate, a candidate at random (the mean test accuracy over the candidates) and the
    best.

    Args:
        table: ``epoch, train_acc, auc_norm, val_loss, test_acc``, one row per checkpoint.

    Returns:
        ``fit_epoch``, ``auc_epoch``, ``val_epoch``, ``candidates`` and ``test_acc_`` + ``auc``,
        ``val``, ``last``, ``chance``, ``best``; NaN everywhere but ``candidates`` (0) for a
        network that never fits its training set.
    """
    t = table.sort_values("epoch").set_index("epoch")
    fitted = t.index[t.train_acc >= fits]
    if not len(fitted):
        return {"fit_epoch": np.nan, "auc_epoch": np.nan, "val_epoch": np.nan, "candidates": 0,
                **{f"test_acc_{k}": np.nan for k in ("auc", "val", "last", "chance", "best")}}
    c = t.loc[fitted.min():]
    auc_epoch, _ = choose_epoch(list(c.index), list(c.auc_norm), patience=patience)
    val_epoch, _ = choose_epoch(list(c.index), list(-c.val_loss), patience=patience)
    return {"fit_epoch": fitted.min(), "auc_epoch": auc_epoch, "val_epoch": val_epoch, "candidates": len(c),
            "test_acc_auc": float(c.test_acc[auc_epoch]), "test_acc_val": float(c.test_acc[val_epoch]),
            "test_acc_last": float(c.test_acc.iloc[-1]), "test_acc_chance": float(c.test_acc.mean()),
            "test_acc_best": float(c.test_acc.max())}


def setting_picks(runs: pd.DataFrame, score: str = "auc_zero", validation: str = "val_acc",
                  target: str = "test_acc") -> dict:
    """Among one seed's settings: the test accuracy of the setting ``score`` ranks first, of the one
    ``validation`` ranks first, the mean (a pick at random) and the best."""
    if runs.empty:
        raise ValueError("setting_picks needs at least one setting")
    return {"test_acc_auc": float(runs.loc[runs[score].idxmax(), target]),
            "test_acc_val": float(runs.loc[runs[validation].idxmax(), target]),
            "test_acc_chance": float(runs[target].mean()), "test_acc_best": float(runs[target].max())}


def halves(y: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint halves of the indices of ``y``, each class split evenly (one more in the first
    half for an odd count), in an order drawn with ``seed``."""
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    order = perm[torch.argsort(y[perm], stable=True)]
    ys = y[order]
    first = torch.searchsorted(ys, ys)  # where each example's class starts in the sorted order
    even = (torch.arange(len(ys)) - first) % 2 == 0
    return order[even].sort().values, order[~even].sort().values


def _mean_si(table: pd.DataFrame) -> float:
    v = table.selectivity.to_numpy(dtype=float)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def selectivity_through_training(run, data: tuple[torch.Tensor, torch.Tensor], layers: Sequence[str], n_classes: int,
                                 *, fraction: float, repetitions: int, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """F6 for one run followed through training, on ``data`` split into class-balanced halves A, B.

    The early checkpoint is the one after the untrained network where the mean selectivity of the
    maps of ``layers``, measured on half A, peaks; everything scored is measured on half B.

    Returns:
        ``(curve, summary)``: ``curve`` one row per checkpoint and half (``epoch, half, mean_si``);
        ``summary``: ``peak_epoch, last_epoch``, ``rise_fall`` (mean SI on B at the peak minus at
        the last checkpoint), and at the peak (``_early``) and the last checkpoint (``_late``) the
        targeted and random accuracy drops and their ``excess`` (:func:`singledir.measure.checkpoints.targeted_ablation`
        of each layer's ``fraction`` most selective maps on A, scored on B, averaged over layers),
        ``early_minus_late`` (excess early minus late).
    """
    x, y = data
    a, b = halves(y, seed)
    parts = {"A": (x[a], y[a]), "B": (x[b], y[b])}
    tables = over_checkpoints(run, lambda m: pd.concat([selectivity_table(m, d, layers, n_classes).assign(half=h)
                                                        for h, d in parts.items()]))
    curve = tables.groupby(["epoch", "half"]).apply(_mean_si, include_groups=False).rename("mean_si").reset_index()
    si = curve.pivot(index="epoch", columns="half", values="mean_si")
    last = max(run.checkpoints)
    peak = si.A[si.index > min(si.index)].idxmax()
    out = {"peak_epoch": peak, "last_epoch": last, "rise_fall": float(si.B[peak] - si.B[last])}
    for tag, epoch in (("early", peak), ("late", last)):
        scores = tables[(tables.epoch == epoch) & (tables.half == "A")].rename(columns={"selectivity": "score"})
        t = targeted_ablation(run.at_epoch(epoch), parts["B"], scores, fraction=fraction, repetitions=repetitions,
                              seed=seed)
        out.update({f"{k}_{tag}": float(t[k].mean()) for k in ("intact", "drop_targeted", "drop_random", "excess")})
    out["early_minus_late"] = out["excess_early"] - out["excess_late"]
    return curve, out


def memorization_drops(model: nn.Module, ds, layers: Sequence[str], *, fraction: float, n_select: int | None,
                       random_repetitions: int, seed: int = 0) -> dict:
    """F7 for one network trained on partly corrupted labels (``ds``: its dataset, with ``corrupted``).

    The memorized examples are the mislabeled training examples (label changed by the corruption)
    that the network fits, the clean ones the correctly labeled examples it fits; each is split
    into halves A and B with ``seed``. The ``fraction`` of the units of ``layers`` whose ablation
    alone raises the loss of memorized A most beyond that of clean A (at most ``n_select`` examples
    of each, drawn at random) are ablated together, and the accuracy lost is scored on memorized B
    and clean B; the same for ``random_repetitions`` draws of as many random units.

    Returns:
        ``n_memorized, n_clean, memorized_share`` (of the mislabeled examples), ``units``, the drops
        ``drop_memorized, drop_clean, difference`` (memorized minus clean) for the chosen units and
        ``random_memorized, random_clean, random_difference`` (means over the draws), and
        ``beyond_random`` (difference minus random difference).
    """
    x, y = ds.x_train, ds.y_train
    ok = correct(model, (x, y))
    mislabeled = ds.corrupted & (ds.y_train != ds.y_train_true)
    groups = {"memorized": torch.nonzero(mislabeled & ok).flatten(), "clean": torch.nonzero(~mislabeled & ok).flatten()}
    if min(len(g) for g in groups.values()) < 2:
        return {"n_memorized": len(groups["memorized"]), "difference": float("nan"), "beyond_random": float("nan")}
    pick, subsets = {}, {}
    for name, idx in groups.items():
        a, b = halves(y[idx], seed)
        if n_select and len(a) > n_select:  # a random subset of the half, whatever the order of the training images
            a = a[torch.randperm(len(a), generator=torch.Generator().manual_seed(seed))[:n_select]]
        pick[name] = (x[idx[a]], y[idx[a]])
        subsets[name] = torch.zeros(len(y), dtype=torch.bool).index_fill_(0, idx[b], True)
    chosen = costliest_units(model, pick["memorized"], layers, fraction, against=pick["clean"])
    count = sum(len(u) for u in chosen.values())
    d = subset_drops(model, (x, y), subsets, chosen).set_index("subset")["drop"]
    r = pd.concat([subset_drops(model, (x, y), subsets, random_units(model, (x, y), layers, count, seed * 1000 + i))
                   for i in range(random_repetitions)]).groupby("subset")["drop"].mean()
    out = {"n_memorized": len(groups["memorized"]), "n_clean": len(groups["clean"]),
           "memorized_share": len(groups["memorized"]) / max(int(mislabeled.sum()), 1), "units": count,
           "drop_memorized": d["memorized"], "drop_clean": d["clean"], "difference": d["memorized"] - d["clean"],
           "random_memorized": r["memorized"], "random_clean": r["clean"],
           "random_difference": r["memorized"] - r["clean"]}
    return {**out, "beyond_random": out["difference"] - out["random_difference"]}


def seed_pairs(items: Sequence) -> list[tuple]:
    """The pairing rule of F8, fixed before any run: consecutive items, ``(0, 1), (2, 3), ...``
    (an odd last one is left out)."""
    return [(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]


def pair_row(run_a, run_b, heldout: torch.Tensor, auc: tuple[float, float]) -> dict:
    """One pair of networks trained alike: their disagreement on the ``heldout`` inputs (no
    labels), their mean test error (from their histories) and their mean AUC."""
    return {"disagreement": disagreement(run_a.model, run_b.model, heldout),
            "test_error": 1 - (run_a.final["test_acc"] + run_b.final["test_acc"]) / 2, "auc": float(np.mean(auc))}
