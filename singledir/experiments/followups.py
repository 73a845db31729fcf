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
  one constant per unit for each.

The statistics that decide claims F1-F5 are computed from these tables in the chapter.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..measure import ablations, perturb, selectivity, units
from ..measure.engine import Data
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
