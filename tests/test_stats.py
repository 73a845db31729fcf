"""singledir.experiments.stats: intervals that keep their 95% coverage (measured by simulation), detectable
effects from the interval that decides a part, networks as the unit of replication, correlations
within layers, partial correlation, selection by a score.

The coverage and power simulations draw every sample at once (one row per draw) and compute the
intervals with numpy from the pivot the library uses; each checks on its first draws that the
library's own function returns the same interval, so what is measured is the library's method.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from singledir.experiments import stats as sd

COVERAGE = (0.93, 0.97)
SMALL_N = (3, 4, 5, 8, 12, 28)
SKEW_SHAPE = 8  # gamma shape 8: skewness 2 / sqrt(8) = 0.71


def _t_bounds(center, se, df):
    q = stats.t.ppf(0.975, df)
    return center - q * se, center + q * se


def _fisher_bounds(r, n, controlled=0):
    """Fisher's z interval with the Bonett-Wright variance, as :func:`singledir.experiments.stats.spearman`."""
    z = np.arctanh(np.clip(r, -sd._RHO_CLIP, sd._RHO_CLIP))
    h = stats.norm.ppf(0.975) * np.sqrt((1 + r * r / 2) / (n - 3 - controlled))
    return np.tanh(z - h), np.tanh(z + h)


def _same_interval(result: dict, lo: float, hi: float) -> None:
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((lo, hi), rel=1e-9, abs=1e-12)


def _row_spearman(x, y):
    return sd._row_pearson(stats.rankdata(x, axis=1), stats.rankdata(y, axis=1))


def _covered(lo, hi, truth) -> float:
    return float(np.mean((lo < truth) & (truth < hi)))


def _assert_coverage(cov: dict, what: str) -> None:
    print(f"\n{what} coverage: " + ", ".join(f"{k}: {v:.3f}" for k, v in cov.items()))
    bad = {k: v for k, v in cov.items() if not COVERAGE[0] <= v <= COVERAGE[1]}
    assert not bad, f"{what}: 95% intervals cover outside {COVERAGE}: {bad}"


def _normal_and_skewed(rng, draws, n):
    """(samples, true mean) for normal data and for gamma(8) data (skewness 0.71)."""
    return {"normal": (rng.normal(2.0, 3.0, (draws, n)), 2.0),
            "skewed": (rng.gamma(SKEW_SHAPE, 1.0, (draws, n)), float(SKEW_SHAPE))}


def test_mean_ci_keeps_its_coverage_on_normal_and_skewed_data():
    """The t-interval of a mean covers 93-97% at n = 3 to 28, on normal data and on gamma(8) data
    (skewness 0.71). More skew costs coverage at small n: gamma shape 4 (skewness 1) gives about
    0.93 at n = 4. The percentile bootstrap this replaced covered 75% at n = 3."""
    rng = np.random.default_rng(0)
    draws, cov = 20000, {}
    for n in SMALL_N:
        for kind, (x, mu) in _normal_and_skewed(rng, draws, n).items():
            lo, hi = _t_bounds(x.mean(1), x.std(1, ddof=1) / math.sqrt(n), n - 1)
            for i in range(5):
                _same_interval(sd.mean_ci(x[i]), lo[i], hi[i])
            cov[f"{kind} n={n}"] = _covered(lo, hi, mu)
    _assert_coverage(cov, "mean_ci")


def test_paired_difference_keeps_its_coverage():
    """Paired by seed: a shared seed effect (SD 5) cancels; the differences are normal or gamma(8)
    (skewness 0.71; shape 4, skewness 1, gives about 0.93 at n = 4)."""
    rng = np.random.default_rng(1)
    draws, cov = 20000, {}
    for n in SMALL_N:
        for kind, (d, mu) in _normal_and_skewed(rng, draws, n).items():
            seed_effect = rng.normal(0.0, 5.0, (draws, n))
            a, b = seed_effect + d, seed_effect
            diff = a - b
            lo, hi = _t_bounds(diff.mean(1), diff.std(1, ddof=1) / math.sqrt(n), n - 1)
            for i in range(5):
                _same_interval(sd.difference(a[i], b[i], paired=True), lo[i], hi[i])
            cov[f"{kind} n={n}"] = _covered(lo, hi, mu)
    _assert_coverage(cov, "paired difference")


def test_welch_difference_keeps_its_coverage():
    """Two independent groups with unequal spreads (SD 1 and 2; gamma(8) with scales 1 and 2) and
    unequal sizes: Welch's interval."""
    rng = np.random.default_rng(2)
    draws, cov = 20000, {}
    for na, nb in [(3, 3), (4, 6), (5, 5), (8, 12), (28, 28)]:
        groups = {"normal": (rng.normal(1.0, 1.0, (draws, na)), rng.normal(0.0, 2.0, (draws, nb)), 1.0),
                  "skewed": (rng.gamma(SKEW_SHAPE, 1.0, (draws, na)), rng.gamma(SKEW_SHAPE, 2.0, (draws, nb)),
                             -float(SKEW_SHAPE))}
        for kind, (a, b, mu) in groups.items():
            va, vb = a.var(1, ddof=1) / na, b.var(1, ddof=1) / nb
            df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
            lo, hi = _t_bounds(a.mean(1) - b.mean(1), np.sqrt(va + vb), df)
            for i in range(5):
                _same_interval(sd.difference(a[i], b[i], paired=False), lo[i], hi[i])
            cov[f"{kind} {na}+{nb}"] = _covered(lo, hi, mu)
    _assert_coverage(cov, "Welch difference")


def _normal_pairs(rng, draws, n, rho):
    x = rng.normal(size=(draws, n))
    return x, rho * x + math.sqrt(1 - rho * rho) * rng.normal(size=(draws, n))


def _true_spearman(rho: float) -> float:
    """Spearman's rho of a bivariate normal with Pearson correlation ``rho``."""
    return 6 / math.pi * math.asin(rho / 2)


def test_spearman_keeps_its_coverage_from_10_to_200_pairs():
    """Fisher's z with the Bonett-Wright variance covers the true Spearman rho 93-97% for rho up to
    0.9 at n = 10 to 200 (slightly conservative at n = 10: about 0.966)."""
    rng = np.random.default_rng(3)
    cov = {}
    for n in (10, 12, 28, 50, 200):
        draws = 10000 if n <= 28 else 4000  # small n: coverage near 0.966, more draws to measure it
        for rho in (0.0, 0.3, 0.6, 0.9):
            x, y = _normal_pairs(rng, draws, n, rho)
            r = _row_spearman(x, y)
            lo, hi = _fisher_bounds(r, n)
            for i in range(3):
                res = sd.spearman(x[i], y[i])
                assert res["rho"] == pytest.approx(r[i])
                _same_interval(res, lo[i], hi[i])
            cov[f"n={n} rho={rho}"] = _covered(lo, hi, _true_spearman(rho))
    _assert_coverage(cov, "spearman")


def test_interval_p_value_and_levels_come_from_one_pivot():
    r = sd.mean_ci([0.1, 0.4, 0.3, 0.6, 0.2])
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(sd.interval(r))
    lo90, hi90 = sd.interval(r, 0.90)
    assert r["ci_low"] < lo90 < r["estimate"] < hi90 < r["ci_high"]
    a = sd.alpha_excluding(r, 0.0)  # the (1 - a) interval touches 0
    assert a == pytest.approx(stats.ttest_1samp([0.1, 0.4, 0.3, 0.6, 0.2], 0.0).pvalue)
    assert sd.interval(r, 1 - a)[0] == pytest.approx(0.0, abs=1e-9)
    s = sd._fisher(0.5, 30)
    b = sd.alpha_excluding(s, 0.2)
    assert sd.interval(s, 1 - b)[0] == pytest.approx(0.2, abs=1e-9)
    assert sd.alpha_excluding(sd.mean_ci([1.0]), 0.0) == 1.0  # no pivot: nothing decided
    x = [0.8, 0.95, 0.99]  # correlations: the interval is clipped to their range
    c = sd.mean_ci(x, bounds=(-1.0, 1.0))
    lo, hi = _t_bounds(np.mean(x), np.std(x, ddof=1) / math.sqrt(3), 2)
    assert hi > 1 and (c["ci_low"], c["ci_high"]) == (pytest.approx(lo), 1.0)


def test_mde_of_a_mean_has_80_percent_power():
    """At the MDE of a t-interval over 5 networks (the noncentral t, not normal quantiles), a
    two-sided t-test at 5% rejects in about 80% of samples."""
    n, sigma = 5, 2.0
    x0 = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    x0 = sigma * x0 / x0.std(ddof=1)  # a sample whose SD is exactly sigma
    effect = sd.mde(sd.mean_ci(x0))
    assert effect == pytest.approx(sigma / math.sqrt(n) * 3.7611, rel=1e-3)  # normal quantiles: 2.80
    x = np.random.default_rng(4).normal(effect, sigma, (20000, n))
    power = float(np.mean(stats.ttest_1samp(x, 0.0, axis=1).pvalue < 0.05))
    print(f"\nt-test power at the MDE, n = 5: {power:.3f}")
    assert power == pytest.approx(0.80, abs=0.02)
    assert sd.mde(sd.mean_ci(x0 + 10.0), boundary=3.0) == pytest.approx(effect)  # a shift, not a scale
    assert math.isnan(sd.mde(sd.mean_ci([1.0])))


def test_mde_of_a_spearman_has_80_percent_power():
    """A sample of 40 with no correlation: at a true Spearman rho equal to its MDE, the Fisher
    interval excludes 0 in about 80% of draws. (The Fisher scale depends on the observed rho, so
    the MDE is computed from a result whose estimate is 0.)"""
    n = 40
    effect = sd.mde(sd._fisher(0.0, n))
    assert 0.4 < effect < 0.5
    assert sd.mde(sd._fisher(0.0, n), boundary=0.0) == pytest.approx(effect)
    rng = np.random.default_rng(5)
    x, y = _normal_pairs(rng, 4000, n, 2 * math.sin(math.pi * effect / 6))  # Pearson r with that Spearman
    lo, hi = _fisher_bounds(_row_spearman(x, y), n)
    _same_interval(sd.spearman(x[0], y[0]), lo[0], hi[0])
    power = float(np.mean((lo > 0) | (hi < 0)))
    print(f"\nSpearman power at the MDE ({effect:.3f}), n = 40: {power:.3f}")
    assert power == pytest.approx(0.80, abs=0.03)
    assert sd.mde(sd._fisher(0.0, 400)) < effect / 2  # more pairs, smaller detectable effects


def test_narrowest_band_is_certified_80_percent_of_the_time():
    """With the true value 0, the 95% interval lies inside +/- narrowest_band in about 80% of
    draws: a mean over 5 networks (t) and a Spearman over 40 pairs (Fisher)."""
    rng = np.random.default_rng(6)
    n, sigma = 5, 1.0
    x0 = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    width = sd.narrowest_band(sd.mean_ci(sigma * x0 / x0.std(ddof=1)))
    x = rng.normal(0.0, sigma, (20000, n))
    lo, hi = _t_bounds(x.mean(1), x.std(1, ddof=1) / math.sqrt(n), n - 1)
    inside_t = float(np.mean((-width < lo) & (hi < width)))
    m = 40
    band_rho = sd.narrowest_band(sd._fisher(0.0, m))
    xs, ys = _normal_pairs(rng, 4000, m, 0.0)
    lo, hi = _fisher_bounds(_row_spearman(xs, ys), m)
    inside_f = float(np.mean((-band_rho < lo) & (hi < band_rho)))
    print(f"\nnarrowest band certified: mean n=5 band {width:.3f}: {inside_t:.3f}; "
          f"Spearman n=40 band {band_rho:.3f}: {inside_f:.3f}")
    assert inside_t == pytest.approx(0.80, abs=0.03) and inside_f == pytest.approx(0.80, abs=0.03)


def _clustered_units(rng, draws, nets, layers, units, sd_net, sd_layer):
    """x, y of shape (draws, nets, layers, units): within each layer of each network a bivariate
    normal whose correlation is 0 on average, varying between networks and between layers."""
    r = rng.normal(0, sd_net, (draws, nets, 1, 1)) + rng.normal(0, sd_layer, (draws, nets, layers, 1))
    r = np.clip(r, -0.95, 0.95)
    x = rng.normal(size=(draws, nets, layers, units))
    return x, r * x + np.sqrt(1 - r * r) * rng.normal(size=(draws, nets, layers, units))


def _table(x, y) -> pd.DataFrame:
    nets, layers, units = x.shape
    idx = np.indices(x.shape).reshape(3, -1)
    return pd.DataFrame({"run": idx[0], "layer": idx[1], "x": x.ravel(), "y": y.ravel()})


def test_networks_are_the_unit_of_replication():
    """5 networks x 4 layers x 60 units, the within-layer correlation 0 on average but varying with
    SD 0.15 between networks and 0.15 between layers of a network. The interval over networks
    (network_spearman) excludes 0 in at most 6% of draws; the pooled-unit interval
    (within_rank_spearman) treats 1200 units of 5 networks as independent and excludes 0 far more
    often, which is why pooled units are shown only as a description."""
    rng = np.random.default_rng(7)
    draws, nets, layers, units = 1500, 5, 4, 60
    x, y = _clustered_units(rng, draws, nets, layers, units, 0.15, 0.15)
    per_layer = _row_spearman(x.reshape(-1, units), y.reshape(-1, units)).reshape(draws, nets, layers)
    per_net = per_layer.mean(2)
    lo, hi = np.clip(_t_bounds(per_net.mean(1), per_net.std(1, ddof=1) / math.sqrt(nets), nets - 1), -1, 1)
    # pooled: ranks within each layer of each network (scaled to (0, 1]), then one Spearman over all units
    pct = lambda v: stats.rankdata(v, axis=3) / units
    pooled = _row_spearman(pct(x).reshape(draws, -1), pct(y).reshape(draws, -1))
    plo, phi = _fisher_bounds(pooled, nets * layers * units)
    for i in range(3):
        df = _table(x[i], y[i])
        res = sd.network_spearman(df, "x", "y", network="run", layer="layer")
        _same_interval(res, lo[i], hi[i])
        assert list(res["per_network"].values()) == pytest.approx(per_net[i])
        _same_interval(sd.within_rank_spearman(df, "x", "y", by=["run", "layer"]), plo[i], phi[i])
    by_network = float(np.mean((lo > 0) | (hi < 0)))
    by_unit = float(np.mean((plo > 0) | (phi < 0)))
    print(f"\nexcludes 0 when the mean correlation is 0: over networks {by_network:.3f}, pooled units {by_unit:.3f}")
    assert by_network <= 0.06
    assert by_unit > 0.10


def test_per_network_spearman_exact_on_a_hand_built_table():
    rows = [("a", 0, 1, 1), ("a", 0, 2, 2), ("a", 0, 3, 3),  # layer 0 of a: +1
            ("a", 1, 1, 3), ("a", 1, 2, 2), ("a", 1, 3, 1),  # layer 1 of a: -1
            ("b", 0, 1, 1), ("b", 0, 2, 3), ("b", 0, 3, 2), ("b", 0, 4, 4),  # +0.8
            ("b", 1, 1, 5), ("b", 1, 2, 6),  # 2 units: skipped
            ("b", 2, 1, 7), ("b", 2, 2, 7), ("b", 2, 3, 7)]  # no spread in y: skipped
    df = pd.DataFrame(rows, columns=["run", "layer", "x", "y"])
    per = sd.per_network_spearman(df, "x", "y", network="run", layer="layer")
    assert per.to_dict() == pytest.approx({"a": 0.0, "b": 0.8})
    pooled = sd.per_network_spearman(df[df.layer < 2], "x", "y")  # no layer: one rho over the network's units
    assert pooled["a"] == pytest.approx(0.0)
    assert pooled["b"] == pytest.approx(stats.spearmanr([1, 2, 3, 4, 1, 2], [1, 3, 2, 4, 5, 6]).statistic)
    res = sd.network_spearman(df, "x", "y", network="run", layer="layer")
    assert res["per_network"] == pytest.approx({"a": 0.0, "b": 0.8})
    assert res["estimate"] == pytest.approx(0.4) and res["n"] == 2 and res["df"] == 1
    lo, hi = _t_bounds(0.4, 0.4, 1)  # (-4.7, 5.5): a mean of correlations is clipped to [-1, 1]
    assert lo < -1 and hi > 1 and (res["ci_low"], res["ci_high"]) == (-1.0, 1.0)
    assert math.isinf(sd.mde(res)) and math.isinf(sd.narrowest_band(res))  # beyond the range: undetectable


def test_spearman_matches_scipy_with_a_fisher_interval():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    r = sd.spearman(x, y)
    ref = stats.spearmanr(x, y)
    assert r["rho"] == r["estimate"] == pytest.approx(ref.statistic) and r["p"] == pytest.approx(ref.pvalue)
    assert r["ci_low"] < r["rho"] < r["ci_high"] and r["n"] == 200
    assert r["transform"] == "fisher" and r["center"] == pytest.approx(np.arctanh(r["rho"]))
    _same_interval(r, *_fisher_bounds(r["rho"], 200))
    x[:5] = np.nan  # NaN pairs (dead units) are dropped, and counted
    assert sd.spearman(x, y)["n"] == 195
    assert sd.spearman(x, y) == sd.spearman(x, y)  # no resampling: the same numbers every time
    perfect = sd.spearman(np.arange(10.0), np.arange(10.0))  # |rho| = 1: a finite interval
    assert perfect["rho"] == pytest.approx(1.0) and 0.9 < perfect["ci_low"] < perfect["ci_high"] <= 1.0
    assert np.isnan(sd.spearman([1.0, 2.0], [2.0, 1.0])["ci_low"])
    with pytest.raises(ValueError, match="same shape"):
        sd.spearman([1.0, 2.0, 3.0], [1.0, 2.0])


def test_selection_analysis_exact_on_a_perfect_and_a_reversed_score():
    settings = pd.DataFrame({"auc_zero": np.arange(20.0), "test_acc": np.arange(20.0) / 100})
    perfect = sd.selection_analysis(settings, n_subsets=500)
    assert perfect["top1"] == perfect["top5"] == perfect["top10"] == 1.0
    assert perfect["gap_mean"] == 0.0 and perfect["subset_size"] == 10
    assert (perfect["chance1"], perfect["chance5"], perfect["chance10"]) == (0.1, 0.5, 1.0)
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
    assert np.mean(top1) == pytest.approx(r["chance1"], abs=0.015) and r["chance1"] == 1 / 20
    assert np.mean(top5) == pytest.approx(r["chance5"], abs=0.03) and r["chance5"] == 5 / 20
    with pytest.raises(ValueError, match="subset_size 41"):
        sd.selection_analysis(settings, subset_size=41)


def test_differences_paired_and_unpaired():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = a - 0.5  # a constant shift: the paired difference has no spread
    p = sd.difference(a, b, paired=True)
    assert (p["estimate"], p["ci_low"], p["ci_high"]) == pytest.approx((0.5, 0.5, 0.5))
    u = sd.difference(a, b, paired=False)
    assert u["estimate"] == pytest.approx(0.5) and u["ci_low"] < 0 < u["ci_high"]  # groups overlap
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert sd.alpha_excluding(u, 0.0) == pytest.approx(ref.pvalue) and u["df"] == pytest.approx(6.0)
    with pytest.raises(ValueError, match="same length"):
        sd.difference(a, b[:3], paired=True)
    m = sd.mean_ci(np.arange(100.0))
    assert m["estimate"] == 49.5 and m["ci_low"] < 49.5 < m["ci_high"]
    assert m["se"] == pytest.approx(np.arange(100.0).std(ddof=1) / 10) and m["df"] == 99
    assert sd.mean_ci([1.0, np.nan, 3.0])["n"] == 2  # NaN values dropped
    assert np.isnan(sd.mean_ci([1.0])["ci_low"])
    assert np.isnan(sd.difference([1.0], [2.0, 3.0], paired=False)["ci_low"])


def test_within_layer_correlation_removes_a_depth_confound():
    """Two layers whose units differ in both x and y by depth, with no relation inside a layer:
    the pooled rho is large, the within-layer rho is near 0, pooled or over networks."""
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"layer": np.tile(np.repeat([0, 1], n), 3), "run": np.repeat([0, 1, 2], 2 * n),
                       "x": np.concatenate([np.r_[rng.normal(0, 1, n), rng.normal(10, 1, n)] for _ in range(3)]),
                       "y": np.concatenate([np.r_[rng.normal(0, 1, n), rng.normal(10, 1, n)] for _ in range(3)])})
    assert sd.spearman(df.x, df.y)["rho"] > 0.7
    w = sd.within_rank_spearman(df, "x", "y", by=["run", "layer"])
    assert abs(w["rho"]) < 0.1 and w["ci_low"] < 0 < w["ci_high"]
    net = sd.network_spearman(df, "x", "y", network="run", layer="layer")
    assert abs(net["estimate"]) < 0.1 and net["ci_low"] < 0 < net["ci_high"] and net["n"] == 3
    assert sd.network_spearman(df, "x", "y", network="run")["estimate"] > 0.7  # without layers: depth
    per = sd.per_group_spearman(df[df.run == 0], "x", "y", "layer")
    assert list(per.layer) == [0, 1] and (per.rho.abs() < 0.2).all() and (per.n == n).all()
    # ranks are taken inside each group
    r = sd.within_ranks(df, ["x"], ["run", "layer"])
    assert r.groupby(["run", "layer"]).x.max().tolist() == [1.0] * 6


def test_partial_spearman_removes_a_common_cause():
    rng = np.random.default_rng(1)
    z = rng.normal(size=500)
    x = z + 0.3 * rng.normal(size=500)
    y = z + 0.3 * rng.normal(size=500)
    assert sd.spearman(x, y)["rho"] > 0.8
    p = sd.partial_spearman(x, y, z)
    assert abs(p["rho"]) < 0.2  # from 0.9: ranks are residualized linearly, so a little is left
    assert p["n"] == 500 and p["transform"] == "fisher"
    _same_interval(p, *_fisher_bounds(p["rho"], 500, controlled=1))  # one variable partialled out: n - 4
    y2 = y + 2 * x  # a real relation survives
    assert sd.partial_spearman(x, y2, z)["ci_low"] > 0.5
    x[:3] = np.nan  # NaN triples are dropped, and counted
    assert sd.partial_spearman(x, y, z)["n"] == 497
    assert np.isnan(sd.partial_spearman([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [3.0, 1.0, 2.0])["ci_low"])


def test_n_needed_sizes_a_run_from_a_pilots_spread():
    """A one-sample t-test detects a shift of one standard deviation with 80% power at n = 10
    (power.t.test in R: n = 9.94); the smallest n whose MDE reaches the effect is returned."""
    rng = np.random.default_rng(0)
    pilot = sd.mean_ci(rng.normal(size=6))
    sd_pilot = pilot["scale"] * np.sqrt(6)
    n = sd.n_needed(pilot, sd.mde, effect=sd_pilot)
    assert n == 10
    assert sd.mde(sd.with_n(pilot, 10)) <= sd_pilot < sd.mde(sd.with_n(pilot, 9))
    # a Spearman over networks: |rho| = 0.3 needs about 89 pairs (Bonett-Wright variance at 0.3)
    r0 = sd._fisher(0.0, 28)
    need = sd.n_needed(r0, sd.mde, effect=0.3)
    assert 85 <= need <= 92 and sd.mde(sd.with_n(r0, int(need))) <= 0.3
    assert np.isnan(sd.n_needed(sd.mean_ci([1.0]), sd.mde, 0.1))  # no spread, no answer
    assert sd.n_needed(pilot, sd.mde, effect=1e-9, limit=1000) == np.inf


def test_spearman_of_a_constant_input_is_nan_without_a_warning():
    """A constant series (e.g. a test accuracy that never moves) has no rank correlation: NaN,
    and no scipy warning printed into the book's page."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = sd.spearman([1.0, 1.0, 1.0, 1.0], [0.1, 0.2, 0.3, 0.4])
    assert np.isnan(r["rho"])
