"""singledir.decide.findings (and the checkpoint helpers beside it): what chapters 2-4 compute from a
sweep's tables, on tables whose answers are known by hand."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from singledir.decide import findings, stats
from singledir.decide.claims import FITS_TRAINING_SET
from singledir.measure.early_stopping import early_stopping_picks
from singledir.experiments.followed import with_checkpoints


def _runs():
    return pd.DataFrame({"run": range(6), "seed": [0, 1] * 3, "corruption": [0.0, 0.0, 0.5, 0.5, 1.0, 1.0],
                         "train_acc": [1.0, 1.0, 0.99, 0.98, 0.97, 0.9], "test_acc": [0.9, 0.88, 0.7, 0.72, 0.1, 0.12],
                         "auc_zero": [0.8, 0.78, 0.6, 0.62, 0.3, 0.35], "auc_norm_zero": [0.8, 0.79, 0.61, 0.63, 0.31, 0.38],
                         "noise_auc": [0.9] * 6})


def test_e1_by_corruption_and_the_values_shown_beside_it():
    runs = _runs()
    assert findings.by_corruption(runs, "auc_zero")["rho"] == pytest.approx(stats.spearman(runs.corruption, runs.auc_zero)["rho"])
    shown = findings.e1_shown(runs)
    assert shown["auc_true"] == pytest.approx(0.79) and shown["auc_rand"] == pytest.approx(0.325)
    assert shown["partial"] == pytest.approx(findings.given_fit(runs, "auc_norm_zero")["rho"])


def test_memorization_table_is_one_row_per_network_type_and_level():
    class R:
        runs = _runs()
    tab = findings.memorization_table({"MLP": R, "conv net": R})
    assert len(tab) == 6 and list(tab.columns) == ["networks", "train_acc", "train_acc_min", "test_acc", "auc", "noise_auc"]
    assert tab.loc[("MLP", 1.0), "train_acc_min"] == 0.9 and tab.loc[("MLP", 1.0), "networks"] == 2


def test_generalizers_are_the_third_with_lowest_and_highest_error():
    runs = _runs().assign(gen_error=lambda d: 1 - d.test_acc)
    curves = pd.DataFrame({"run": np.repeat(range(6), 2), "fraction": [0, 1] * 6, "accuracy": 0.5})
    sel, k, shown = findings.generalizers(runs, curves, n_heldout=100)
    assert k == 2 and set(sel.run) == {0, 1, 4, 5}
    assert set(sel[sel.run.isin([0, 1])].networks) == {"2 best generalizers"}
    assert shown["auc_best"] == pytest.approx(0.79) and shown["err_spread_images"] == pytest.approx(80)


def _trajectory(run, test_loss, auc_norm, train_acc=None):
    epochs = [0, 1, 2, 4, 8]
    return pd.DataFrame({"run": run, "epoch": epochs, "test_loss": test_loss, "auc_norm": auc_norm,
                         "auc": auc_norm, "train_loss": [2, 1, 0.5, 0.2, 0.1], "test_acc": [0.1, 0.5, 0.6, 0.6, 0.55],
                         "train_acc": train_acc or [0.1, 0.5, 0.9, 1.0, 1.0]})


def test_after_divergence_finds_the_minimum_and_the_peak():
    t = _trajectory(0, [3, 1.0, 0.5, 0.7, 0.9], [0.2, 0.6, 0.7, 0.9, 0.8])
    row = findings.after_divergence(t).iloc[0]
    assert (row.diverge, row.auc_peak, row.timing) == (2, 4, 1.0) and row["drop"] == pytest.approx(0.1)


def test_per_checkpoints_scores_from_the_first_fitted_checkpoint():
    g = _trajectory(0, [3, 1.0, 0.5, 0.7, 0.9], [0.2, 0.6, 0.7, 0.9, 0.8])
    row = findings.conv_checkpoints(g).iloc[0]
    assert row.fit_epoch == 4 and row.from_fit == 2 and math.isnan(row.rho_fit)  # fewer than 3: no value
    assert row.ckpts == 4 and row.before_min == 1 and row.from_min == 3


def test_grid_settings_and_the_pool_the_auc_picks_from():
    runs = pd.DataFrame({"train.lr": [0.1, 0.1, 0.01, 0.01, 0.001], "train.batch_size": 32,
                         "diverged": [False, True, False, False, False], "auc_zero": [0.5, np.nan, 0.6, 0.8, 0.4],
                         "test_acc": [0.9, np.nan, 0.8, 0.9, 0.5], "train_acc": [1.0, np.nan, 0.9, 1.0, 0.5]})
    settings, fits = findings.grid_settings(runs)
    assert len(settings) == 3 and list(fits["train.lr"]) == [0.1] and FITS_TRAINING_SET <= 1.0
    assert settings.set_index("train.lr").loc[0.01, "auc_zero"] == pytest.approx(0.7)
    pool, fit_pool = findings.selection_pool(settings, fits)
    assert fit_pool is False and pool is settings  # fewer than 4 fit: every setting


def test_dropout_plateau_against_the_dropout_0_network_of_its_seed():
    runs = pd.DataFrame({"run": [0, 1, 2], "labels": ["true", "bad", "bad"], "model.dropout": [0.5, 0.5, 0.0],
                         "seed": 0, "auc_norm_zero": [0.9, 0.7, 0.6], "train_acc": 1.0})
    curve = lambda run, ys: pd.DataFrame({"run": run, "fraction": [0.0, 0.5, 1.0], "normalized": ys})  # noqa: E731
    curves = pd.concat([curve(0, [1, 1, 0.2]), curve(1, [1, 0.8, 0.1]), curve(2, [1, 0.4, 0.1])])
    per_net, corrupted = findings.dropout_plateaus(runs, curves, "bad")
    assert list(per_net.plateau) == [1.0, 0.8, 1.0] and per_net.past.iloc[0] == pytest.approx(0.3)
    assert list(corrupted.run) == [1] and corrupted.control.iloc[0] == pytest.approx(0.4)


def test_early_stopping_picks_apply_the_rule_per_network():
    t = _trajectory(0, [3, 1.0, 0.5, 0.7, 0.9], [0.2, 0.6, 0.7, 0.9, 0.8])
    picks = early_stopping_picks(t, patience=1)
    assert picks.to_dict("records") == [{"run": 0, "chosen": 4, "test_acc_chosen": 0.6, "test_acc_best_loss": 0.6,
                                         "test_acc_final": 0.55}]


def test_a_followed_schedule_keeps_its_checkpoints_and_evaluates_at_the_end():
    assert with_checkpoints({"epochs": 60, "lr": 0.001}, [0, 1, 60]) == {"epochs": 60, "lr": 0.001,
                                                                         "checkpoints": [0, 1, 60], "eval_every": 60}


def test_selectivity_per_network_and_the_paired_difference_of_batch_norm():
    live = pd.DataFrame({"run": [0, 0, 0, 1, 1, 1, 2, 2, 3, 3], "seed": [0, 0, 0, 0, 0, 0, 1, 1, 1, 1],
                         "bn": ["with BN"] * 3 + ["without BN"] * 3 + ["with BN"] * 2 + ["without BN"] * 2,
                         "depth": [1, 1, 2, 1, 1, 2, 1, 2, 1, 2],
                         "selectivity": [0.9, 0.1, 0.8, 0.1, 0.1, 0.9, 0.9, 0.9, 0.1, 0.1],
                         "mutual_info_corrected": [1.0, 0.0, 1.0, 0.0, 0.0, 0.5, 1.0, 1.0, 0.0, 0.0]})
    per_layer, per_net = findings.selectivity_per_network(live, 0.5)
    assert per_layer.set_index(["run", "depth"]).high.to_dict() == {(0, 1): 0.5, (0, 2): 1.0, (1, 1): 0.0, (1, 2): 1.0,
                                                                    (2, 1): 1.0, (2, 2): 1.0, (3, 1): 0.0, (3, 2): 0.0}
    assert per_net.set_index("run").high.to_dict() == {0: 0.75, 1: 0.5, 2: 1.0, 3: 0.0}
    parts = findings.with_minus_without_bn(per_net, {"selectivity": "high", "information": "mi"})
    assert list(parts) == ["selectivity", "information"]
    assert parts["selectivity"]["estimate"] == pytest.approx(stats.difference([0.75, 1.0], [0.5, 0.0], paired=True)["estimate"])


def test_within_layers_and_pooled_are_the_stats_of_units():
    rng = np.random.default_rng(0)
    units = pd.DataFrame({"run": np.repeat(range(3), 8), "depth": [1, 1, 1, 1, 2, 2, 2, 2] * 3,
                          "x": rng.normal(size=24), "y": rng.normal(size=24)})
    assert findings.pooled(units, "x", "y") == pytest.approx(stats.spearman(units.x, units.y)["rho"])
    assert np.isfinite(findings.within_layers(units, "x", "y")["estimate"])
    assert findings.within_layers(units, "x", "y")["estimate"] == pytest.approx(
        stats.network_spearman(units, "x", "y", network="run", layer="depth")["estimate"])
