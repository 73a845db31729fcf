"""Chapter 8's measures over groups of trained networks: each function takes the run configs (and,
where a sweep already trained or measured them, what it gave) and returns one tidy table, one row per
network (or per network and layer), measured by :mod:`singledir.measure.followups` one network at a
time.

* :func:`unit_tables` (F1, F3, F4): every unit of chapter 5's networks and their layers' ordered
  ablations;
* :func:`alpha_table` (F2): test accuracy and mean selectivity of networks trained with a
  selectivity regularizer;
* :func:`epoch_choices`, :func:`validation_accuracies` and :func:`setting_choices` (F5): what early
  stopping on the AUC and on a validation split choose, and the settings of a grid each ranks first.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from . import followups, perturb
from ..base.progress import Progress
from ..data.dataset import stratified_subset
from ..nets.heldout import heldout_parts
from ..nets.models import MLP, unit_layer_names
from ..nets.runs import RunConfig, load_run_dataset
from ..nets.training import train_network

ORDER_SCORES = {"selectivity": "selectivity", "information": "mutual_info_corrected"}  # F4: label -> column


def paper_layers(model) -> list[str]:
    """The layers the paper's curves ablate: every hidden layer of an MLP, the last three layers
    with units of any other network (``singledir.experiments.sweep.curve_layer_names(model)``)."""
    names = list(unit_layer_names(model))
    return names if isinstance(model, MLP) else names[-3:]


def unit_tables(nets: dict[str, Sequence[RunConfig]], runs: dict[str, Sequence], *, n_unit_data: int | None,
                n_fit_data: int | None, n_bins: int, fit_steps: int, order_grid: int, order_repetitions: int,
                seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure every unit of each trained network and ablate each of its paper layers in order.

    Per network: :func:`~singledir.measure.followups.unit_measures` on ``n_unit_data``
    class-stratified test images (ablation constants fitted on ``n_fit_data`` training images) and
    :func:`~singledir.measure.followups.ordered_layer_aucs` of the paper's layers by
    :data:`ORDER_SCORES`, each row tagged ``net`` (the kind: a key of ``nets``), ``seed`` and ``run``
    (``"KIND SEED"``); the unit table also holds ``n_images``, the test images measured on.

    Example: ``units, orders = unit_tables({"MLP": cfgs}, {"MLP": [train_network(c) for c in cfgs]},
    n_unit_data=300, n_fit_data=500, n_bins=10, fit_steps=2, order_grid=11, order_repetitions=5)``.
    """
    unit_rows, order_rows = [], []
    with Progress(sum(map(len, nets.values())), "chapter 8: units", unit="network") as bar:
        for kind, cfgs in nets.items():
            for cfg, run in zip(cfgs, runs[kind]):
                ds = load_run_dataset(cfg)
                test = stratified_subset(ds.x_test, ds.y_test, n_unit_data, seed)
                train = stratified_subset(ds.x_train, ds.y_train, n_fit_data, seed)
                layers = paper_layers(run.model)
                u = followups.unit_measures(run.model, test, train, unit_layer_names(run.model), ds.n_classes,
                                            value_layers=layers, n_bins=n_bins, fit_steps=fit_steps, seed=seed)
                tag = {"net": kind, "seed": cfg.seed, "run": f"{kind} {cfg.seed}"}
                unit_rows.append(u.assign(**tag, n_images=len(test[1])))
                o = followups.ordered_layer_aucs(run.model, test, u, layers, ORDER_SCORES, grid=order_grid,
                                                 random_repetitions=order_repetitions, seed=seed)
                order_rows.append(o.assign(**tag))
                bar.update(1, f"{kind}, seed {cfg.seed}")
    return pd.concat(unit_rows, ignore_index=True), pd.concat(order_rows, ignore_index=True)


def alpha_table(cfgs: Sequence[RunConfig], runs: Sequence, *, n_unit_data: int | None, seed: int = 0) -> pd.DataFrame:
    """Tabulate networks trained with a selectivity regularizer: one row per network, ``alpha, seed,
    test_acc, train_acc`` (final) and ``si``, the mean selectivity of its hidden units on
    ``n_unit_data`` class-stratified test images.

    Example: ``alpha_table(cfgs, [train_network(c) for c in cfgs], n_unit_data=300)``."""
    rows = []
    for cfg, run in zip(cfgs, runs):
        ds = load_run_dataset(cfg)
        test = stratified_subset(ds.x_test, ds.y_test, n_unit_data, seed)
        rows.append({"alpha": cfg.train.selectivity_alpha, "seed": cfg.seed, "test_acc": run.final["test_acc"],
                     "train_acc": run.final["train_acc"],
                     "si": followups.mean_selectivity(run.model, test, unit_layer_names(run.model), ds.n_classes)})
    return pd.DataFrame(rows)


def epoch_choices(cfgs: Sequence[RunConfig], curves: pd.DataFrame, *, patience: int, fits: float) -> pd.DataFrame:
    """Choose a checkpoint of each network followed through training, by early stopping on the
    normalized AUC of its ``curves`` (a sweep's, run ``i`` = ``cfgs[i]``, one curve per epoch) and
    on its validation loss: :func:`~singledir.measure.followups.epoch_picks`, one row per network
    with its ``seed``.

    Example: ``epoch_choices(cfgs, run_sweep(cfgs, Measurements(checkpoints=True)).curves,
    patience=5, fits=0.99)``."""
    auc = (curves.groupby(["run", "epoch"]).apply(perturb.normalized_auc, include_groups=False)
           .rename("auc_norm").reset_index())
    picks = []
    for i, cfg in enumerate(cfgs):
        val, test = heldout_parts(cfg)
        run = train_network(cfg)
        fit = pd.DataFrame(run.history)[["epoch", "train_acc"]]
        t = followups.heldout_checkpoints(run, val, test).merge(auc[auc.run == i], on="epoch").merge(fit, on="epoch")
        picks.append({"seed": cfg.seed, **followups.epoch_picks(t, patience, fits)})
    return pd.DataFrame(picks)


def validation_accuracies(cfgs: Sequence[RunConfig]) -> list[float]:
    """Evaluate each trained network on its validation split (the training images it did not
    train on, as if ``unused_to_test`` were set).

    Example: ``runs["val_acc"] = validation_accuracies(cfgs)``."""
    return [followups.heldout_accuracy(train_network(c), heldout_parts(c.with_(unused_to_test=True))[0])
            for c in cfgs]


def setting_choices(runs: pd.DataFrame, fits: float, min_pool: int = 4) -> pd.DataFrame:
    """Choose, within each seed, the setting the AUC ranks first and the one validation accuracy
    ranks first (:func:`~singledir.measure.followups.setting_picks`), among the settings that fit
    their training set (training accuracy at least ``fits``), or among all of the seed's settings
    where fewer than ``min_pool`` fit; ``pool`` says how many settings were compared.

    Example: ``setting_choices(runs, fits=0.99)`` with ``runs``: ``seed, train_acc, auc_zero,
    val_acc, test_acc``."""
    rows = []
    for seed, g in runs.groupby("seed"):
        fit = g[g.train_acc >= fits]
        pool = fit if len(fit) >= min_pool else g
        rows.append({"seed": seed, "pool": len(pool), **followups.setting_picks(pool)})
    return pd.DataFrame(rows)


def training_selectivity(cfgs: Sequence[RunConfig], *, n_unit_data: int | None, fraction: float, repetitions: int,
                         seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Follow selectivity through each network's training (F6):
    :func:`~singledir.measure.followups.selectivity_through_training` on ``n_unit_data``
    class-stratified held-out images, every conv layer.

    Returns:
        ``(curves, summary)``: every network's curve (``seed, epoch, half, mean_si``) and one row per
        network (``seed``, ``peak_epoch``, ``rise_fall``, ``early_minus_late``, ...).

    Example: ``curves, summary = training_selectivity(cfgs, n_unit_data=300, fraction=0.1, repetitions=5)``."""
    curves, rows = [], []
    for cfg in cfgs:
        run, ds = train_network(cfg), load_run_dataset(cfg)
        heldout = stratified_subset(ds.x_test, ds.y_test, n_unit_data, seed)
        curve, s = followups.selectivity_through_training(run, heldout, unit_layer_names(run.model), ds.n_classes,
                                                          fraction=fraction, repetitions=repetitions, seed=seed)
        curves.append(curve.assign(seed=cfg.seed))
        rows.append({"seed": cfg.seed, **s})
    return pd.concat(curves), pd.DataFrame(rows)


def memorization_table(nets: dict[str, Sequence[RunConfig]], *, fraction: float, n_select: int | None,
                       repetitions: int, seed: int = 0) -> pd.DataFrame:
    """Ablate the units memorized examples need most, in each trained network (F7):
    :func:`~singledir.measure.followups.memorization_drops` over every layer, one row per network
    (``net``: a key of ``nets``, ``seed``, ``corruption`` and the drops).

    Example: ``memorization_table({"MLP": cfgs}, fraction=0.01, n_select=250, repetitions=5)``."""
    rows = []
    for kind, cfgs in nets.items():
        for cfg in cfgs:
            run = train_network(cfg)
            r = followups.memorization_drops(run.model, load_run_dataset(cfg), unit_layer_names(run.model),
                                             fraction=fraction, n_select=n_select, random_repetitions=repetitions,
                                             seed=seed)
            rows.append({"net": kind, "seed": cfg.seed, "corruption": cfg.corruption, **r})
    return pd.DataFrame(rows)


def _pair(cfgs: Sequence[RunConfig], auc: pd.Series, a: int, b: int) -> dict:
    return followups.pair_row(train_network(cfgs[a]), train_network(cfgs[b]), load_run_dataset(cfgs[a]).x_test,
                              (auc[a], auc[b]))


def seed_pair_table(cfgs: Sequence[RunConfig], runs: pd.DataFrame) -> pd.DataFrame:
    """Pair networks that differ only in their seed by :func:`~singledir.measure.followups.seed_pairs`
    (F8): one row per pair, its :func:`~singledir.measure.followups.pair_row`; ``runs``: the sweep's
    table of ``cfgs`` (``run`` = index into ``cfgs``, ``auc_zero``).

    Example: ``seed_pair_table(cfgs, run_sweep(cfgs, Measurements()).runs)``."""
    auc = runs.set_index("run").auc_zero
    return pd.DataFrame([_pair(cfgs, auc, i, j) for i, j in followups.seed_pairs(range(len(cfgs)))])


def setting_pair_table(cfgs: Sequence[RunConfig], runs: pd.DataFrame, fits: float) -> pd.DataFrame:
    """Pair each setting's seeds (F8): one row per setting of a grid that fits its training set (at
    least two seeds, mean training accuracy at least ``fits``), the mean of its pairs'
    :func:`~singledir.measure.followups.pair_row`; ``runs``: the grid's table (``run`` = index into
    ``cfgs``, ``seed``, ``train.lr``, ``train.batch_size``, ``train_acc``, ``auc_zero``).

    Example: ``setting_pair_table(cfgs, runs[~runs.diverged], fits=0.99)``."""
    setting = ["train.lr", "train.batch_size"]
    fit = runs.groupby(setting).filter(lambda g: len(g) >= 2 and g.train_acc.mean() >= fits)
    rows = []
    for _, g in fit.sort_values("seed").groupby(setting):
        auc = g.set_index("run").auc_zero
        rows.append(pd.DataFrame([_pair(cfgs, auc, a, b) for a, b in followups.seed_pairs(list(g.run))]).mean().to_dict())
    return pd.DataFrame(rows)
