"""Chapter 8's described numbers (singledir.decide.followup_numbers) on hand-built tables."""
import numpy as np
import pandas as pd
import pytest

from singledir.decide import followup_numbers, followup_parts
from test_followup_parts import _alpha_table, _orders, _units


def test_class_damage_numbers():
    n = followup_numbers.class_damage(_units())
    assert n["classes"] == 4 and n["per_class"] == 10 and n["image_pts"] == 10  # 40 images, 4 classes
    assert n["max_conv"] == pytest.approx(100 * 1.1 / 6) and n["overall_conv"] == pytest.approx(100 * 1.1 / 24)
    assert n["max_mlp"] == pytest.approx(100 * 1.0 / 3) and n["overall_mlp"] == pytest.approx(100 * 1.0 / 12)
    assert n["worst"] == pytest.approx(50.0)
    assert n["hit"] == pytest.approx(60.0) and n["n_hit"] == 5  # 3 of the 5 conv units that cost a class
    assert n["rho_overall"] == pytest.approx(0.0)  # overall drop ranks as the largest one: +1 and -1


def test_alpha_sweep_numbers():
    n = followup_numbers.alpha_sweep(_alpha_table().assign(train_acc=1.0), [-1.0, 0.0, 1.0])
    assert n["si_mlp_0"] == pytest.approx(0.31) and n["si_conv_lo"] == pytest.approx(0.21)
    assert n["si_mlp_hi"] == pytest.approx(0.41)
    assert (n["alpha_lo"], n["alpha_hi"]) == (-1.0, 1.0)
    assert set(n) == {f"si_{t}_{k}" for t in ("mlp", "conv") for k in ("0", "lo", "hi")} | {"alpha_lo", "alpha_hi",
                                                                                            "fit_min"}


def test_alpha_sweep_numbers_take_the_lowest_training_accuracy():
    t = _alpha_table().assign(train_acc=lambda d: 1 - 0.01 * d.seed)
    assert followup_numbers.alpha_sweep(t, [-1.0, 0.0, 1.0])["fit_min"] == pytest.approx(0.98)


def test_ablation_values_numbers():
    valued = pd.DataFrame({"net": ["conv net"] * 3 + ["MLP"] * 3, "run": ["c"] * 3 + ["m"] * 3, "depth": 0,
                           "imp_zero": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "imp_mean": [0.1, 0.3, 0.2, 0.4, 0.4, 0.4],
                           "imp_opt": [0.05, 0.25, 0.35, 0.3, 0.6, 0.2], "test_loss": [1.0] * 3 + [2.0] * 3})
    n = followup_numbers.ablation_values(valued)
    assert n["conv_zero"] == pytest.approx(0.2) and n["mlp_opt"] == pytest.approx(1.1 / 3)
    assert n["rho_opt"] == pytest.approx(1.0) and n["rho_mean"] == pytest.approx(0.5)
    assert n["below_both"] == pytest.approx(100 * 3 / 6)  # the conv net's unit 0, the MLP's units 0 and 2
    assert (n["loss_conv"], n["loss_mlp"]) == (1.0, 2.0)


def test_ordered_ablation_numbers():
    n = followup_numbers.ordered_ablation(followup_parts.order_differences(_orders()))
    assert n == pytest.approx({"asc_mlp": 0.1, "asc_conv": 0.1, "conv_info": -0.2})


def test_choices_numbers():
    t = pd.DataFrame({"decision": ["epoch, MLP", "epoch, MLP", "epoch, conv net", "setting", "setting"],
                      "test_acc_auc": [0.8, 0.9, 0.7, 0.5, 0.6], "test_acc_val": [0.85, 0.9, 0.8, 0.5, 0.5],
                      "test_acc_chance": 0.5, "test_acc_best": 0.95, "test_acc_last": [0.8, 0.8, 0.7, np.nan, np.nan],
                      "fit_epoch": [1, 2, np.nan, np.nan, np.nan], "auc_epoch": [4, 8, np.nan, np.nan, np.nan],
                      "val_epoch": [2, 4, np.nan, np.nan, np.nan], "pool": [np.nan] * 3 + [4, 6]})
    n = followup_numbers.choices(t)
    assert n["mlp_auc"] == pytest.approx(0.85) and n["grid_val"] == pytest.approx(0.5)
    assert np.isnan(n["grid_last"]) and n["conv_last"] == pytest.approx(0.7)
    assert n["unfit"] == 1 and n["pool"] == 4  # the conv net never fit
    assert (n["auc_epoch_mlp"], n["val_epoch_mlp"]) == (6, 3) and np.isnan(n["auc_epoch_conv"])


def test_training_selectivity_memorization_and_disagreement_numbers():
    f6 = pd.DataFrame({"peak_epoch": [4, 60, 8], "last_epoch": [60, 60, 60], "drop_targeted_early": [0.1, 0.2, 0.3],
                       "drop_random_early": 0.0, "drop_targeted_late": 0.1, "drop_random_late": 0.05,
                       "intact_early": [0.8, 0.9, 1.0], "intact_late": 0.95})
    n6 = followup_numbers.training_selectivity(f6)
    assert (n6["peak_median"], n6["last"], n6["n_peak_last"], n6["n"]) == (8, 60, 1, 3)
    assert n6["drop_targeted_early"] == pytest.approx(20.0) and n6["acc_early"] == pytest.approx(0.9)
    f7 = pd.DataFrame({"net": ["MLP", "MLP", "conv net"], "memorized_share": [0.5, 0.7, 0.2], "drop_memorized": 0.4,
                       "drop_clean": 0.1, "random_memorized": 0.05, "random_clean": 0.04, "units": [3, 5, 2]})
    n7 = followup_numbers.memorization(f7)
    assert n7["memorized_share_mlp"] == pytest.approx(60.0) and n7["units_mlp"] == 4 and n7["units_conv"] == 2
    assert n7["drop_clean_conv"] == pytest.approx(10.0) and len(n7) == 12
    pairs = pd.DataFrame({"networks": ["E5: settings"] * 3 + ["E3: seed pairs"] * 2, "disagreement": [0.1, 0.2, 0.3, 0.1, 0.3],
                          "test_error": [0.1, 0.3, 0.2, 0.2, 0.2], "auc": [0.9, 0.7, 0.8, 0.5, 0.6]})
    n8 = followup_numbers.disagreement(pairs)
    assert (n8["grid_n"], n8["seeds_n"]) == (3, 2)
    assert n8["grid_dis"] == pytest.approx(0.2) and n8["seeds_err"] == pytest.approx(0.2)
    assert n8["grid_rho_auc"] == pytest.approx(1.0)  # the AUC ranks as test accuracy does
