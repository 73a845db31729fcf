"""singledir.decide.stats: intervals that keep their 95% coverage (measured by simulation), networks
as the unit of replication, correlations within layers, partial correlation, selection by a score
(the detectable effects of the pivot behind each interval: tests/test_pivots.py).

The coverage and power simulations draw every sample at once (one row per draw) and call the
library's own interval function on every draw (its t quantiles memoized: the same values, each
computed once by scipy); on the first draws they also compare it with scipy's t-tests or the
documented Fisher formula. Each rate asserted is at least 3 standard errors of its draws from the
bound it is held to (the margins are printed); the seeds are fixed.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from singledir.decide import pivots
from singledir.decide import stats as sd

COVERAGE = (0.93, 0.97)
SMALL_N = (3, 4, 5, 8, 12, 28)
SKEW_SHAPE = 8  # gamma shape 8: skewness 2 / sqrt(8) = 0.71


def _t_bounds(center, se, df):
    q = stats.t.ppf(0.975, df)
    return center - q * se, center + q * se


def _fisher_bounds(r, n, controlled=0):
    """Fisher's z interval with the Bonett-Wright variance, as :func:`singledir.decide.stats.spearman`."""
    z = np.arctanh(np.clip(r, -pivots._RHO_CLIP, pivots._RHO_CLIP))
    h = stats.norm.ppf(0.975) * np.sqrt((1 + r * r / 2) / (n - 3 - controlled))
    return np.tanh(z - h), np.tanh(z + h)


def _same_interval(result: dict, lo: float, hi: float) -> None:
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((lo, hi), rel=1e-9, abs=1e-12)


def _row_spearman(x, y):
    return sd._row_pearson(stats.rankdata(x, axis=1), stats.rankdata(y, axis=1))


@pytest.fixture
def quantiles_once(monkeypatch):
    """The library's quantile function memoized while a simulation calls the library on every draw."""
    monkeypatch.setattr(pivots, "_quantile", functools.lru_cache(maxsize=None)(pivots._quantile))


def _bounds(results) -> tuple[np.ndarray, np.ndarray]:
    """(ci_low, ci_high) arrays of the library's results, one per draw."""
    results = list(results)
    return np.array([r["ci_low"] for r in results]), np.array([r["ci_high"] for r in results])


def _same_as_scipy(result: dict, test) -> None:
    """The library's 95% interval against the one scipy's t-test result ``test`` gives."""
    ci = test.confidence_interval(0.95)
    _same_interval(result, ci.low, ci.high)


def _covered(lo, hi, truth) -> float:
    return float(np.mean((lo < truth) & (truth < hi)))


def _margin_se(rate: float, bounds: tuple[float, float], draws: int) -> float:
    """How many standard errors of a rate over ``draws`` it lies from the nearer bound."""
    se = math.sqrt(max(rate * (1 - rate), 1e-12) / draws)
    return min(rate - bounds[0], bounds[1] - rate) / se


def _assert_coverage(cov: dict, draws: dict, what: str) -> None:
    print(f"\n{what} coverage (SEs from the nearer bound): " + ", ".join(
        f"{k}: {v:.3f} ({_margin_se(v, COVERAGE, draws[k]):.1f})" for k, v in cov.items()))
    bad = {k: v for k, v in cov.items() if not COVERAGE[0] <= v <= COVERAGE[1]}
    assert not bad, f"{what}: 95% intervals cover outside {COVERAGE}: {bad}"


def _normal_and_skewed(rng, draws, n):
    """(samples, true mean) for normal data and for gamma(8) data (skewness 0.71)."""
    return {"normal": (rng.normal(2.0, 3.0, (draws, n)), 2.0),
            "skewed": (rng.gamma(SKEW_SHAPE, 1.0, (draws, n)), float(SKEW_SHAPE))}


def test_mean_ci_keeps_its_coverage_on_normal_and_skewed_data(quantiles_once):
    """The t-interval of a mean covers 93-97% at n = 3 to 28, on normal data and on gamma(8) data
    (skewness 0.71). More skew costs coverage at small n: gamma shape 4 (skewness 1) gives about
    0.93 at n = 4. The percentile bootstrap this replaced covered 75% at n = 3."""
    rng = np.random.default_rng(0)
    draws, cov = 8000, {}
    for n in SMALL_N:
        for kind, (x, mu) in _normal_and_skewed(rng, draws, n).items():
            lo, hi = _bounds(sd.mean_ci(row) for row in x)
            for i in range(3):
                _same_as_scipy({"ci_low": lo[i], "ci_high": hi[i]}, stats.ttest_1samp(x[i], 0.0))
            cov[f"{kind} n={n}"] = _covered(lo, hi, mu)
    _assert_coverage(cov, dict.fromkeys(cov, draws), "mean_ci")


def test_paired_difference_keeps_its_coverage(quantiles_once):
    """Paired by seed: a shared seed effect (SD 5) cancels; the differences are normal or gamma(8)
    (skewness 0.71; shape 4, skewness 1, gives about 0.93 at n = 4)."""
    rng = np.random.default_rng(1)
    draws, cov = 8000, {}
    for n in SMALL_N:
        for kind, (d, mu) in _normal_and_skewed(rng, draws, n).items():
            seed_effect = rng.normal(0.0, 5.0, (draws, n))
            a, b = seed_effect + d, seed_effect
            lo, hi = _bounds(sd.difference(a[i], b[i], paired=True) for i in range(draws))
            for i in range(3):
                _same_as_scipy({"ci_low": lo[i], "ci_high": hi[i]}, stats.ttest_rel(a[i], b[i]))
            cov[f"{kind} n={n}"] = _covered(lo, hi, mu)
    _assert_coverage(cov, dict.fromkeys(cov, draws), "paired difference")


def test_welch_difference_keeps_its_coverage():
    """Two independent groups with unequal spreads (SD 1 and 2; gamma(8) with scales 1 and 2) and
    unequal sizes: Welch's interval."""
    rng = np.random.default_rng(2)
    draws, cov = 4000, {}
    for na, nb in [(3, 3), (4, 6), (5, 5), (8, 12), (28, 28)]:
        groups = {"normal": (rng.normal(1.0, 1.0, (draws, na)), rng.normal(0.0, 2.0, (draws, nb)), 1.0),
                  "skewed": (rng.gamma(SKEW_SHAPE, 1.0, (draws, na)), rng.gamma(SKEW_SHAPE, 2.0, (draws, nb)),
                             -float(SKEW_SHAPE))}
        for kind, (a, b, mu) in groups.items():
            lo, hi = _bounds(sd.difference(a[i], b[i], paired=False) for i in range(draws))
            for i in range(3):
                _same_as_scipy({"ci_low": lo[i], "ci_high": hi[i]}, stats.ttest_ind(a[i], b[i], equal_var=False))
            cov[f"{kind} {na}+{nb}"] = _covered(lo, hi, mu)
    _assert_coverage(cov, dict.fromkeys(cov, draws), "Welch difference")


def _normal_pairs(rng, draws, n, rho):
    x = rng.normal(size=(draws, n))
    return x, rho * x + math.sqrt(1 - rho * rho) * rng.normal(size=(draws, n))


def _true_spearman(rho: float) -> float:
    """Spearman's rho of a bivariate normal with Pearson correlation ``rho``."""
    return 6 / math.pi * math.asin(rho / 2)


def test_spearman_keeps_its_coverage_from_10_to_200_pairs(quantiles_once):
    """Fisher's z with the Bonett-Wright variance covers the true Spearman rho 93-97% for rho up to
    0.9 at n = 10 to 200 (slightly conservative at n = 10: about 0.965, so 30000 draws there). The
    rank correlations are computed for all draws at once (the library's own on the first draws,
    and scipy's in test_spearman_matches_scipy_with_a_fisher_interval), the library's Fisher
    interval of each on every draw."""
    rng = np.random.default_rng(3)
    cov, n_draws = {}, {}
    for n in (10, 12, 28, 50, 200):
        draws = {10: 30000, 12: 10000, 28: 10000}.get(n, 6000)
        for rho in (0.0, 0.3, 0.6, 0.9):
            x, y = _normal_pairs(rng, draws, n, rho)
            r = _row_spearman(x, y)
            lo, hi = _bounds(sd._fisher(float(v), n) for v in r)
            for i in range(3):
                res = sd.spearman(x[i], y[i])
                assert res["rho"] == pytest.approx(r[i])
                _same_interval(res, lo[i], hi[i])
                _same_interval(res, *_fisher_bounds(r[i], n))
            cov[f"n={n} rho={rho}"] = _covered(lo, hi, _true_spearman(rho))
            n_draws[f"n={n} rho={rho}"] = draws
    _assert_coverage(cov, n_draws, "spearman")


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


def test_networks_are_the_unit_of_replication(quantiles_once):
    """5 networks x 4 layers x 60 units, the within-layer correlation 0 on average but varying with
    SD 0.15 between networks and 0.15 between layers of a network. The interval over networks
    (network_spearman) excludes 0 in at most 6% of draws (a 5% test; 6000 draws put the bound
    about 4 standard errors away); the pooled-unit interval (within_rank_spearman) treats 1200
    units of 5 networks as independent and excludes 0 far more often, which is why pooled units
    are shown only as a description. The rank correlations are computed for all draws at once
    (the library's own on the first three tables), the library's intervals on every draw."""
    rng = np.random.default_rng(7)
    draws, nets, layers, units = 6000, 5, 4, 60
    x, y = _clustered_units(rng, draws, nets, layers, units, 0.15, 0.15)
    # ranks within each layer of each network (continuous data: no ties)
    rx, ry = x.argsort(3).argsort(3) + 1.0, y.argsort(3).argsort(3) + 1.0
    per_layer = sd._row_pearson(rx.reshape(-1, units), ry.reshape(-1, units)).reshape(draws, nets, layers)
    per_net = per_layer.mean(2)
    lo, hi = _bounds(sd.mean_ci(row, bounds=(-1.0, 1.0)) for row in per_net)
    # pooled: the within-layer ranks k / 60, then one Spearman over all units. Each k / 60 occurs
    # once in each of the 20 layers, so its pooled rank is the tie average 20 k - 9.5: a linear map
    # of k, so the pooled Spearman is the Pearson correlation of the within-layer ranks
    pooled = sd._row_pearson(rx.reshape(draws, -1), ry.reshape(draws, -1))
    plo, phi = _bounds(sd._fisher(float(v), nets * layers * units) for v in pooled)
    for i in range(3):
        df = _table(x[i], y[i])
        res = sd.network_spearman(df, "x", "y", network="run", layer="layer")
        _same_interval(res, lo[i], hi[i])
        assert list(res["per_network"].values()) == pytest.approx(per_net[i])
        _same_interval(sd.within_rank_spearman(df, "x", "y", by=["run", "layer"]), plo[i], phi[i])
    by_network = float(np.mean((lo > 0) | (hi < 0)))
    by_unit = float(np.mean((plo > 0) | (phi < 0)))
    print(f"\nexcludes 0 when the mean correlation is 0: over networks {by_network:.3f} "
          f"({_margin_se(by_network, (0.0, 0.06), draws):.1f} SEs below 0.06), pooled units {by_unit:.3f}")
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
    kept = sd.spearman(x, y)
    assert kept["n"] == 195 and kept["rho"] == pytest.approx(stats.spearmanr(x[5:], y[5:]).statistic, abs=1e-12)
    _same_interval(kept, *_fisher_bounds(kept["rho"], 195))
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
    """A score unrelated to the target picks the subset's best 1 time in 20 and a top-5 one 5 in
    20, averaged over 2000 independent sets of 40 settings (5 subsets each: subsets of one set
    share settings, so the standard error is measured across sets; the tolerances are 4 or more
    of them)."""
    rng = np.random.default_rng(0)
    sets = 2000
    top1, top5 = np.empty(sets), np.empty(sets)
    for i in range(sets):
        settings = pd.DataFrame({"auc_zero": rng.normal(size=40), "test_acc": rng.normal(size=40)})
        r = sd.selection_analysis(settings, subset_size=20, n_subsets=5, seed=i)
        top1[i], top5[i] = r["top1"], r["top5"]
    assert r["chance1"] == 1 / 20 and r["chance5"] == 5 / 20
    for got, chance, tol in ((top1, r["chance1"], 0.015), (top5, r["chance5"], 0.03)):
        se = got.std(ddof=1) / math.sqrt(sets)
        print(f"\nrandom score: {got.mean():.4f} against chance {chance} ({abs(got.mean() - chance) / se:.1f} SEs "
              f"from it, the tolerance {tol / se:.1f} SEs)")
        assert tol >= 4 * se  # the design: the tolerance is wide against the draws' spread
        assert got.mean() == pytest.approx(chance, abs=tol)
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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_partial_spearman_is_the_correlation_of_rank_residuals(seed):
    """Against two computations written here: the ranks (ties averaged) of x and y each regressed
    on the ranks of z by least squares with an intercept (numpy's lstsq), and the Pearson
    correlation of the residuals (numpy's corrcoef); and the partial correlation from the three
    rank correlations, (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2)). Tied x values; NaN
    triples dropped."""
    rng = np.random.default_rng(seed)
    n = 60
    z = rng.normal(size=n)
    x = np.round(z + rng.normal(size=n), 1)  # rounded: ties
    y = 0.5 * z - 0.3 * x + rng.normal(size=n)
    rx, ry, rz = (stats.rankdata(v) for v in (x, y, z))
    design = np.column_stack([np.ones(n), rz])
    residual = lambda v: v - design @ np.linalg.lstsq(design, v, rcond=None)[0]  # noqa: E731
    expected = float(np.corrcoef(residual(rx), residual(ry))[0, 1])
    c = np.corrcoef([rx, ry, rz])
    formula = (c[0, 1] - c[0, 2] * c[1, 2]) / math.sqrt((1 - c[0, 2] ** 2) * (1 - c[1, 2] ** 2))
    assert expected == pytest.approx(formula, abs=1e-12)
    got = sd.partial_spearman(x, y, z)
    assert got["rho"] == pytest.approx(expected, abs=1e-12) and got["n"] == n
    _same_interval(got, *_fisher_bounds(expected, n, controlled=1))  # Fisher's z on n - 4
    assert abs(got["rho"] - stats.spearmanr(x, y).statistic) > 0.01  # partialling z out changed it
    x_nan = np.r_[x, np.nan, 1.0]
    assert sd.partial_spearman(x_nan, np.r_[y, 2.0, np.nan], np.r_[z, 3.0, 4.0])["rho"] == pytest.approx(expected, abs=1e-12)


def test_spearman_of_a_constant_input_is_nan_without_a_warning():
    """A constant series (e.g. a test accuracy that never moves) has no rank correlation: NaN,
    and no scipy warning printed into the book's page."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = sd.spearman([1.0, 1.0, 1.0, 1.0], [0.1, 0.2, 0.3, 0.4])
    assert np.isnan(r["rho"])
