"""Chapter 8's measures over groups of networks (singledir.measure.followup_runs): each is the
one-network measure of singledir.measure.followups, applied to every network and tagged; checked
against that measure called directly on tiny networks trained here."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from helpers import TINY, TINY_CONV
from singledir.data.dataset import stratified_subset
from singledir.experiments.sweep import curve_layer_names
from singledir.measure import followup_runs, followups
from singledir.nets.heldout import heldout_parts
from singledir.nets.models import unit_layer_names
from singledir.nets.runs import evaluate, load_run_dataset
from singledir.nets.training import train_network


def _trained(cfg):
    return train_network(cfg, device="cpu")


@pytest.mark.parametrize("cfg", [TINY, TINY_CONV], ids=["MLP", "conv net"])
def test_paper_layers_are_the_sweeps_curve_layers(cfg):
    model = _trained(cfg).model
    assert followup_runs.paper_layers(model) == curve_layer_names(model, "paper")


def test_unit_tables_measure_each_network_as_the_one_network_measures_do():
    run = _trained(TINY)
    units, orders = followup_runs.unit_tables({"MLP": [TINY]}, {"MLP": [run]}, n_unit_data=60, n_fit_data=50,
                                              n_bins=4, fit_steps=1, order_grid=3, order_repetitions=2, seed=0)
    ds = load_run_dataset(TINY)
    test = stratified_subset(ds.x_test, ds.y_test, 60, 0)
    train = stratified_subset(ds.x_train, ds.y_train, 50, 0)
    layers = unit_layer_names(run.model)
    u = followups.unit_measures(run.model, test, train, layers, ds.n_classes, value_layers=layers, n_bins=4,
                                fit_steps=1, seed=0)
    pd.testing.assert_frame_equal(units.drop(columns=["net", "seed", "run", "n_images"]), u)
    assert set(units.run) == {"MLP 0"} and set(units.n_images) == {60}
    o = followups.ordered_layer_aucs(run.model, test, u, layers, followup_runs.ORDER_SCORES, grid=3,
                                     random_repetitions=2, seed=0)
    pd.testing.assert_frame_equal(orders.drop(columns=["net", "seed", "run"]), o)


def test_alpha_table_has_one_row_per_network_with_its_alpha_and_selectivity():
    cfgs = [TINY.with_(train=replace(TINY.train, selectivity_alpha=a)) for a in (0.0, 0.5)]
    runs = [_trained(c) for c in cfgs]
    t = followup_runs.alpha_table(cfgs, runs, n_unit_data=60, seed=0)
    assert list(t.alpha) == [0.0, 0.5] and list(t.seed) == [0, 0]
    assert list(t.test_acc) == [r.final["test_acc"] for r in runs]
    ds = load_run_dataset(cfgs[1])
    si = followups.mean_selectivity(runs[1].model, stratified_subset(ds.x_test, ds.y_test, 60, 0),
                                    unit_layer_names(runs[1].model), ds.n_classes)
    assert t.si[1] == pytest.approx(si)


def test_epoch_choices_stop_on_the_curves_auc_and_on_the_validation_loss():
    cfg = TINY.with_(unused_to_test=True, train=replace(TINY.train, checkpoints=(0, 1, 2)))
    run = _trained(cfg)
    # normalized AUC 0.5 at epoch 0, 0.9 at epoch 1, 0.7 at epoch 2 (accuracy 1 intact, then flat)
    curves = pd.DataFrame([{"run": 0, "epoch": e, "fraction": f, "accuracy": 1.0 if f == 0 else a}
                           for e, a in ((0, 0.5), (1, 0.9), (2, 0.7)) for f in (0.0, 1.0)])
    t = followup_runs.epoch_choices([cfg], curves, patience=10, fits=0.0)
    val, test = heldout_parts(cfg)
    losses = followups.heldout_checkpoints(run, val, test).set_index("epoch")
    assert list(t.seed) == [0] and t.auc_epoch[0] == 1 and t.candidates[0] == 3
    assert t.val_epoch[0] == losses.val_loss.idxmin()
    assert t.test_acc_auc[0] == losses.test_acc[1]


def test_validation_accuracies_evaluate_each_network_on_the_images_it_did_not_train_on():
    acc = followup_runs.validation_accuracies([TINY])
    val, _ = heldout_parts(TINY.with_(unused_to_test=True))
    assert acc == [evaluate(_trained(TINY).model, *val)[1]]


def test_setting_choices_compare_the_fitted_settings_or_all_when_too_few_fit():
    runs = pd.DataFrame({"seed": [0] * 5 + [1] * 3, "train_acc": [1, 1, 1, 1, 0.5, 1, 0.5, 0.5],
                         "auc_zero": [0.1, 0.2, 0.3, 0.4, 0.9, 0.1, 0.2, 0.9],
                         "val_acc": [0.9, 0.8, 0.7, 0.6, 0.1, 0.9, 0.1, 0.1],
                         "test_acc": [0.91, 0.81, 0.71, 0.61, 0.11, 0.92, 0.12, 0.13]})
    t = followup_runs.setting_choices(runs, fits=0.99)
    assert list(t.pool) == [4, 3]  # seed 0: its four fitted settings; seed 1: one fits, so all three
    assert list(t.test_acc_auc) == [0.61, 0.13] and list(t.test_acc_val) == [0.91, 0.92]
    assert t.test_acc_chance[0] == pytest.approx((0.91 + 0.81 + 0.71 + 0.61) / 4)


def test_training_selectivity_follows_each_network_through_its_checkpoints():
    cfg = TINY.with_(train=replace(TINY.train, checkpoints=(0, 1, 2)))
    curves, summary = followup_runs.training_selectivity([cfg], n_unit_data=90, fraction=0.25, repetitions=2, seed=0)
    run, ds = _trained(cfg), load_run_dataset(cfg)
    curve, s = followups.selectivity_through_training(run, stratified_subset(ds.x_test, ds.y_test, 90, 0),
                                                      unit_layer_names(run.model), ds.n_classes, fraction=0.25,
                                                      repetitions=2, seed=0)
    pd.testing.assert_frame_equal(curves.drop(columns="seed"), curve)
    assert summary.iloc[0].to_dict() == pytest.approx({"seed": 0, **s}, nan_ok=True)


def test_memorization_table_has_one_row_per_network_with_its_corruption():
    cfg = TINY.with_(corruption=0.5)
    t = followup_runs.memorization_table({"MLP": [cfg]}, fraction=0.1, n_select=20, repetitions=2, seed=0)
    run = _trained(cfg)
    r = followups.memorization_drops(run.model, load_run_dataset(cfg), unit_layer_names(run.model), fraction=0.1,
                                     n_select=20, random_repetitions=2, seed=0)
    assert t.iloc[0].to_dict() == pytest.approx({"net": "MLP", "seed": 0, "corruption": 0.5, **r}, nan_ok=True)


def test_pair_tables_pair_consecutive_seeds_and_settings_that_fit():
    cfgs = [TINY.with_(seed=s, train=replace(TINY.train, lr=lr)) for lr in (3e-3, 1e-2) for s in (0, 1)]
    runs = pd.DataFrame({"run": [0, 1, 2, 3], "seed": [0, 1, 0, 1], "train.lr": [3e-3, 3e-3, 1e-2, 1e-2],
                         "train.batch_size": 64, "train_acc": [1.0, 1.0, 0.5, 1.0], "auc_zero": [0.4, 0.6, 0.1, 0.2]})
    first = followups.pair_row(_trained(cfgs[0]), _trained(cfgs[1]), load_run_dataset(cfgs[0]).x_test, (0.4, 0.6))
    seeds = followup_runs.seed_pair_table(cfgs, runs)
    assert len(seeds) == 2 and seeds.iloc[0].to_dict() == pytest.approx(first)
    settings = followup_runs.setting_pair_table(cfgs, runs, fits=0.9)  # the second setting's mean is 0.75
    assert len(settings) == 1 and settings.iloc[0].to_dict() == pytest.approx(first)
    assert followup_runs.setting_pair_table(cfgs, runs.iloc[[0, 2, 3]], fits=0.9).empty  # one seed: no pair
