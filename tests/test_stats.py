"""singledir.stats: Spearman with bootstrap intervals, differences of means, correlations within
layers, partial correlation, minimum detectable effects, selection by a score."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from singledir import stats as sd


def test_spearman_matches_scipy_and_interval_covers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    r = sd.spearman(x, y, n_boot=500)
    assert r["rho"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert r["ci_low"] < r["rho"] < r["ci_high"]
    assert r["n"] == 200
    x[:5] = np.nan  # NaN pairs (dead units) are dropped, and counted
    assert sd.spearman(x, y, n_boot=200)["n"] == 195
    assert sd.spearman(x, y, n_boot=200, seed=1) == sd.spearman(x, y, n_boot=200, seed=1)


def test_spearman_bootstrap_interval_agrees_with_scipy_bootstrap():
    rng = np.random.default_rng(3)
    x = rng.normal(size=60)
    y = 0.5 * x + rng.normal(size=60)
    ours = sd.spearman(x, y, n_boot=4000, seed=0)
    ref = stats.bootstrap((x, y), lambda a, b: stats.spearmanr(a, b).statistic, paired=True, vectorized=False,
                          n_resamples=4000, method="percentile", rng=np.random.default_rng(1))
    assert ours["ci_low"] == pytest.approx(ref.confidence_interval.low, abs=0.03)
    assert ours["ci_high"] == pytest.approx(ref.confidence_interval.high, abs=0.03)


def test_selection_analysis_exact_on_a_perfect_and_a_reversed_score():
    settings = pd.DataFrame({"auc_zero": np.arange(20.0), "test_acc": np.arange(20.0) / 100})
    perfect = sd.selection_analysis(settings, n_subsets=500)
    assert perfect["top1"] == perfect["top5"] == perfect["top10"] == 1.0
    assert perfect["gap_mean"] == 0.0 and perfect["subset_size"] == 10
    worst = sd.selection_analysis(settings.assign(auc_zero=-settings.auc_zero), n_subsets=500)
    assert worst["top1"] == 0.0 and worst["top5"] == 0.0 and worst["top10"] == 1.0  # subsets of 10
    assert worst["gap_mean"] > 0


def test_selection_analysis_random_score_matches_chance():
    # a score unrelated to the target picks the subset's best 1 time in 20 and a top-5 one 5 in 20,
    # averaged over many independent sets of 40 settings
    rng = np.random.default_rng(0)
    top1, top5 = [], []
    for i in range(300):
        settings = pd.DataFrame({"auc_zero": rng.normal(size=40), "test_acc": rng.normal(size=40)})
        r = sd.selection_analysis(settings, subset_size=20, n_subsets=50, seed=i)
        top1.append(r["top1"]); top5.append(r["top5"])
    assert np.mean(top1) == pytest.approx(1 / 20, abs=0.015)
    assert np.mean(top5) == pytest.approx(5 / 20, abs=0.03)
    with pytest.raises(ValueError, match="subset_size 41"):
        sd.selection_analysis(settings, subset_size=41)


def test_differences_paired_and_unpaired():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = a - 0.5  # a constant shift: the paired difference has no spread
    p = sd.difference(a, b, paired=True)
    assert p["estimate"] == pytest.approx(0.5) and p["ci_low"] == pytest.approx(0.5) and p["ci_high"] == pytest.approx(0.5)
    u = sd.difference(a, b, paired=False)
    assert u["estimate"] == pytest.approx(0.5) and u["ci_low"] < 0 < u["ci_high"]  # groups overlap
    with pytest.raises(ValueError, match="same length"):
        sd.difference(a, b[:3], paired=True)
    m = sd.mean_ci(np.arange(100.0))
    assert m["estimate"] == 49.5 and m["ci_low"] < 49.5 < m["ci_high"]
    # the bootstrap standard error of a mean is sd / sqrt(n)
    assert m["se"] == pytest.approx(np.arange(100.0).std() / 10, rel=0.1)
    assert np.isnan(sd.mean_ci([1.0])["ci_low"])


def test_within_layer_correlation_removes_a_depth_confound():
    """Two layers whose units differ in both x and y by depth, with no relation inside a layer:
    the pooled rho is large, the within-layer rho is near 0."""
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"layer": np.repeat([0, 1], n), "run": 0,
                       "x": np.r_[rng.normal(0, 1, n), rng.normal(10, 1, n)],
                       "y": np.r_[rng.normal(0, 1, n), rng.normal(10, 1, n)]})
    assert sd.spearman(df.x, df.y)["rho"] > 0.7
    w = sd.within_rank_spearman(df, "x", "y", by=["run", "layer"])
    assert abs(w["rho"]) < 0.1 and w["ci_low"] < 0 < w["ci_high"]
    per = sd.per_group_spearman(df, "x", "y", "layer")
    assert list(per.layer) == [0, 1] and (per.rho.abs() < 0.2).all() and (per.n == n).all()
    # ranks are taken inside each group
    r = sd.within_ranks(df, ["x"], ["layer"])
    assert r.groupby("layer").x.max().tolist() == [1.0, 1.0]


def test_partial_spearman_removes_a_common_cause():
    rng = np.random.default_rng(1)
    z = rng.normal(size=500)
    x = z + 0.3 * rng.normal(size=500)
    y = z + 0.3 * rng.normal(size=500)
    assert sd.spearman(x, y)["rho"] > 0.8
    p = sd.partial_spearman(x, y, z)
    assert abs(p["rho"]) < 0.2  # from 0.9: ranks are residualized linearly, so a little is left
    y2 = y + 2 * x  # a real relation survives
    assert sd.partial_spearman(x, y2, z)["rho"] > 0.5


def test_minimum_detectable_rho_has_80_percent_power():
    assert sd.mde_spearman(16) == pytest.approx(0.664, abs=0.002)
    assert sd.mde_spearman(64) == pytest.approx(0.353, abs=0.002)
    assert np.isnan(sd.mde_spearman(3))
    # simulated: at the MDE, a two-sided 5% test rejects in about 80% of runs
    n = 40
    rho_s = sd.mde_spearman(n)
    r = 2 * np.sin(np.pi * rho_s / 6)  # the Pearson r of a normal pair with that Spearman rho
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(600):
        x = rng.normal(size=n)
        y = r * x + np.sqrt(1 - r * r) * rng.normal(size=n)
        hits += stats.spearmanr(x, y).pvalue < 0.05
    assert hits / 600 == pytest.approx(0.8, abs=0.05)
    assert sd.mde(0.1) == pytest.approx(0.280, abs=0.001)


def test_spearman_of_a_constant_input_is_nan_without_a_warning():
    """A constant series (e.g. a test accuracy that never moves) has no rank correlation: NaN,
    and no scipy warning printed into the book's page."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = sd.spearman([1.0, 1.0, 1.0, 1.0], [0.1, 0.2, 0.3, 0.4], n_boot=10)
    assert np.isnan(r["rho"])
