"""singledir.measure.areas: the areas under ablation and noise curves, on tables written here."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from singledir.measure import areas, perturb


def test_auc_is_trapezoid_over_fraction():
    t = pd.DataFrame({"fraction": [0, 0.5, 1, 0, 0.5, 1], "accuracy": [1, 0.8, 0.1, 1, 0.6, 0.1]})
    assert areas.auc(t) == pytest.approx(0.5 * (1 + 0.7) / 2 + 0.5 * (0.7 + 0.1) / 2)
    assert perturb.auc is areas.auc  # the measures' module still offers it, as the chapters call it


def test_normalized_auc_divides_by_the_intact_accuracy_and_is_nan_without_one():
    t = pd.DataFrame({"fraction": [0, 0.5, 1], "accuracy": [0.8, 0.4, 0.0]})
    assert areas.normalized_auc(t) == pytest.approx(areas.auc(t) / 0.8)
    assert math.isnan(areas.normalized_auc(t.assign(accuracy=0.0)))  # intact accuracy 0
    assert math.isnan(areas.normalized_auc(t[t.fraction > 0]))  # no point with nothing ablated


def test_normalize_divides_each_curve_by_its_own_intact_value():
    t = pd.DataFrame({"run": ["a", "a", "b", "b"], "n_ablated": [0, 4, 0, 4], "accuracy": [0.8, 0.4, 0.5, 0.5]})
    assert areas.normalize(t).normalized.tolist() == pytest.approx([1.0, 0.5, 1.0, 1.0])
    one = t.drop(columns="run").iloc[:2]  # no key column: one curve
    assert areas.normalize(one).normalized.tolist() == pytest.approx([1.0, 0.5])


def test_noise_auc_is_the_mean_over_log_scale():
    t = pd.DataFrame({"scale": [0.1, 1.0, 10.0], "accuracy": [1.0, 0.5, 0.0]})
    assert areas.noise_auc(t) == pytest.approx(0.5)
    assert areas.noise_auc(t.assign(accuracy=0.7)) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="two positive scales"):
        areas.noise_auc(t.iloc[:1])
    with np.errstate(divide="ignore"), pytest.raises(ValueError, match="two positive scales"):
        areas.noise_auc(pd.DataFrame({"scale": [0.0, 1.0], "accuracy": [1.0, 0.5]}))  # log10(0)


@pytest.mark.parametrize("scales, allow_empty, problem", [
    ([0.1, 1.0], True, None),
    (np.array([0.0, 0.5, 2.0]), True, None),
    ([], True, None),  # no noise curve asked for
    ([], False, "0 positive scale"),
    ([0.0, 1.0], True, "1 positive scale(s)"),
    ([1.0], False, "at least two"),
    ("abc", True, "is not a list of numbers"),
    (3, True, "is not a list of numbers"),
])
def test_noise_scales_problem_names_what_is_wrong(scales, allow_empty, problem):
    said = areas.noise_scales_problem(scales, allow_empty)
    if problem is None:
        assert said is None
    else:
        assert problem in said
        if "positive" in said:
            assert ("give [] for no noise curve" in said) == allow_empty
