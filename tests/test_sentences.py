"""singledir.pages.sentences: every branch of every sentence, word for word."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from singledir.pages import sentences as S


# chapters 1-7 -----------------------------------------------------------------------------------

def test_unfit_networks():
    runs = pd.DataFrame({"train_acc": [1.0, 0.9, 0.97, 0.5], "corruption": [0.0, 1.0, 0.5, 1.0]})
    assert S.unfit_networks(runs, 0.95) == "2 of 4 did not reach a training accuracy of 0.95 (corruption 1)"
    assert S.unfit_networks(runs, 0.96) == "2 of 4 did not reach a training accuracy of 0.96 (corruption 1)"
    assert S.unfit_networks(runs, 0.98) == "3 of 4 did not reach a training accuracy of 0.98 (corruption 0.5, 1)"
    assert S.unfit_networks(runs, 0.4) == "every one reached 0.40"


def test_detectable_rho():
    assert S.detectable_rho(0.4512) == "smallest |ρ| this run detects with 80% power is 0.45"
    assert S.detectable_rho(math.nan) == ("run has too few to detect a correlation of any size once training accuracy "
                                          "is partialled out")


def test_networks_fit():
    assert S.networks_fit(3, 28, 0.95) == "3 of 28 networks stayed below a training accuracy of 0.95."
    assert S.networks_fit(0, 28, 0.95) == "Every network reached a training accuracy of 0.95."


def _per_conv(fit_epoch, rho_late):
    return pd.DataFrame({"ckpts": [14, 14], "fit_epoch": fit_epoch, "from_fit": [10, 12], "from_min": [5, 7],
                         "rho_late": rho_late})


def test_conv_checkpoints_note():
    assert S.conv_checkpoints_note(_per_conv([4.0, 16.0], [0.5, 0.3])) == (
        "Every network fit its training set by epoch 16, so the scored part rests on at least 10 of its 14 "
        "checkpoints; from the test-loss minimum on (5 to 7 of each network's 14 checkpoints), the same correlation "
        "averages 0.40.")
    assert S.conv_checkpoints_note(_per_conv([4.0, math.nan], [math.nan, math.nan])) == (
        "1 of 2 networks never fit their training set: they give no value; at or after the test-loss minimum lie "
        "only 5 checkpoints of some network: too few for a correlation there (the test loss of these networks keeps "
        "falling slowly through training).")


def test_grid_correlation():
    assert S.grid_correlation({"rho": 0.91, "ci_low": 0.5, "ci_high": 0.98}, 12, 18) == (
        "Spearman's ρ between a setting's AUC and its test accuracy is 0.91 (95% interval over settings, Fisher's z, "
        "0.50 to 0.98)")
    assert S.grid_correlation({"rho": 0.5, "ci_low": math.nan, "ci_high": math.nan}, 3, 18) == (
        "Spearman's ρ between a setting's AUC and its test accuracy is 0.50 (3 settings: no interval)")
    assert S.grid_correlation({"rho": math.nan, "ci_low": math.nan, "ci_high": math.nan}, 1, 18) == (
        "1 of 18 settings are too few for a rank correlation, so this run does not decide the claim")


def test_every_setting():
    assert S.every_setting(0.734, 18) == "Over all settings the correlation is 0.73."
    assert S.every_setting(math.nan, 2) == "Over all 2 settings there are too few for a correlation."


def test_selection_pool():
    assert S.selection_pool(True, 18) == "settings that fit"
    assert S.selection_pool(False, 18) == "settings (all 18: too few fit)"


@pytest.mark.parametrize("gap_mean, gap_sd, subset, words", [
    (0.012, 0.011, 9, "the pick's test accuracy falls short of the subset's best by 1.2 ± 1.1 percentage points "
                      "(mean ± s.d.)"),
    (0.012, 0.0, 9, "the pick's test accuracy falls short of the subset's best by 1.2 percentage points"),
    (0.0, 0.0, 9, "the pick was the subset's best by test accuracy every time"),
    (0.0, 0.0, 18, "the pick was the subset's best by test accuracy every time (each subset holds all 18 settings, "
                   "so every subset is the same and there is one pick)"),
])
def test_pick_gap(gap_mean, gap_sd, subset, words):
    assert S.pick_gap({"gap_mean": gap_mean, "gap_sd": gap_sd, "subset_size": subset}, 18) == words


def test_both_kinds_fit():
    assert S.both_kinds_fit({"with BN": 1.0, "without BN": 0.991}, 0.95) == (
        "Every network of both kinds fit its training set (lowest training accuracy 0.991, at least the 0.95 at "
        "which this book counts a network as fit).")
    assert S.both_kinds_fit({"with BN": 0.99, "without BN": 0.8}, 0.95) == (
        "Not every network fit its training set on this schedule: the lowest training accuracy is 0.990 with BN and "
        "0.800 without BN, against the 0.95 at which this book counts a network as fit, so part of the difference "
        "below can come from how much each kind learnt.")


def test_weights_file():
    assert S.weights_file("/cache/examples/lenet-mnist5k.pt") == "lenet-mnist5k.pt"
    assert S.weights_file(None) == "none (random initialization)"


def test_layer_extremes():
    assert S.layer_extremes({"conv1": 0.41, "fc1": 0.8, "fc2": 0.75}) == (
        "Ablated on its own, layer conv1 is the most fragile (AUC 0.410) and layer fc1 the most robust (AUC 0.800).")
    assert S.layer_extremes({}) == "Per-layer curves were not computed (parameter `per_layer`)."


def test_unit_address():
    assert S.unit_address(37.0, "hidden.1") == "unit 37 of layer hidden.1"
