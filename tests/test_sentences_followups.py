"""Chapter 8's sentences chosen by a result (singledir.pages.sentences, block "chapter 8"): every
branch with its exact words."""
import pytest

from singledir.pages import sentences

NAN = float("nan")


@pytest.mark.parametrize("estimate, expected", [
    (0.2333, "above chance by 0.233"),
    (-0.05, "below chance by 0.050"),
    (0.0004, "at chance"),  # rounds to 0.000: neither above nor below
    (-0.0004, "at chance"),
    (0.0, "at chance"),
    (NAN, "above chance by n/a"),  # no number: the words the estimate's text "n/a" always had
    (float("inf"), "above chance by n/a"),
])
def test_signed_difference_names_the_side_and_the_size(estimate, expected):
    assert sentences.signed_difference(estimate, "above chance", "below chance", "at chance") == expected


@pytest.mark.parametrize("n, expected", [
    (0, "every network fits its training set"),
    (1, "1 network never fits its training set and gives no value"),
    (3, "3 networks never fit their training set and give no value"),
])
def test_never_fit_counts_them_in_words_that_agree(n, expected):
    assert sentences.never_fit(n) == expected


@pytest.mark.parametrize("function, estimate, expected", [
    ("hit_vs_chance", 0.2333, "above chance by 0.233"),
    ("hit_vs_chance", -0.1, "below chance by 0.100"),
    ("hit_vs_chance", 0.0, "at chance"),
    ("peak_vs_end", 0.0587, "higher than at the end by 0.059"),
    ("peak_vs_end", -0.01, "lower than at the end by 0.010"),
    ("peak_vs_end", 0.0, "the same as at the end"),
    ("early_vs_late", 0.0267, "larger early than late by 0.027"),
    ("early_vs_late", -0.2, "smaller early than late by 0.200"),
    ("early_vs_late", 0.0, "the same early and late"),
    ("beyond_random", 0.3442, "exceeds the random units' by 0.344"),
    ("beyond_random", -0.02, "falls short of the random units' by 0.020"),
    ("beyond_random", 0.0, "equals the random units'"),
])
def test_each_claims_comparison_reads_right_on_either_side(function, estimate, expected):
    assert getattr(sentences, function)(estimate) == expected
