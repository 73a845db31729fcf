"""singledir.decide.pivots: an interval's levels and p-values come from one pivot; the detectable
effect has 80% power and the narrowest band is certified 80% of the time (measured by simulation,
as in tests/test_stats.py, whose helpers these tests share); a pilot's spread sizes a run."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from singledir.decide import pivots
from singledir.decide import stats as sd
from test_stats import (_bounds, _margin_se, _normal_pairs, _row_spearman, _same_interval, _t_bounds,  # noqa: F401
                        quantiles_once)


def test_the_statistics_module_still_offers_the_pivots_methods():
    for name in ("CONFIDENCE", "POWER", "pivot_result", "interval", "alpha_excluding", "mde", "narrowest_band",
                 "with_n", "n_needed"):
        assert getattr(sd, name) is getattr(pivots, name)


def _assert_rate(rate: float, target: float, tol: float, draws: int, what: str) -> None:
    print(f"\n{what}: {rate:.3f} ({_margin_se(rate, (target - tol, target + tol), draws):.1f} SEs from "
          f"{target} +/- {tol})")
    assert rate == pytest.approx(target, abs=tol), what


def test_interval_p_value_and_levels_come_from_one_pivot():
    r = sd.mean_ci([0.1, 0.4, 0.3, 0.6, 0.2])
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(pivots.interval(r))
    lo90, hi90 = pivots.interval(r, 0.90)
    assert r["ci_low"] < lo90 < r["estimate"] < hi90 < r["ci_high"]
    a = pivots.alpha_excluding(r, 0.0)  # the (1 - a) interval touches 0
    assert a == pytest.approx(stats.ttest_1samp([0.1, 0.4, 0.3, 0.6, 0.2], 0.0).pvalue)
    assert pivots.interval(r, 1 - a)[0] == pytest.approx(0.0, abs=1e-9)
    s = sd._fisher(0.5, 30)
    b = pivots.alpha_excluding(s, 0.2)
    assert pivots.interval(s, 1 - b)[0] == pytest.approx(0.2, abs=1e-9)
    assert pivots.alpha_excluding(sd.mean_ci([1.0]), 0.0) == 1.0  # no pivot: nothing decided
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
    effect = pivots.mde(sd.mean_ci(x0))
    assert effect == pytest.approx(sigma / math.sqrt(n) * 3.7611, rel=1e-3)  # normal quantiles: 2.80
    x = np.random.default_rng(4).normal(effect, sigma, (20000, n))
    power = float(np.mean(stats.ttest_1samp(x, 0.0, axis=1).pvalue < 0.05))
    _assert_rate(power, 0.80, 0.02, len(x), "t-test power at the MDE, n = 5")
    assert pivots.mde(sd.mean_ci(x0 + 10.0), boundary=3.0) == pytest.approx(effect)  # a shift, not a scale
    assert math.isnan(pivots.mde(sd.mean_ci([1.0])))


def test_mde_of_a_spearman_has_80_percent_power(quantiles_once):
    """A sample of 40 with no correlation: at a true Spearman rho equal to its MDE, the Fisher
    interval excludes 0 in about 80% of draws. (The Fisher scale depends on the observed rho, so
    the MDE is computed from a result whose estimate is 0.)"""
    n = 40
    effect = pivots.mde(sd._fisher(0.0, n))
    assert 0.4 < effect < 0.5
    assert pivots.mde(sd._fisher(0.0, n), boundary=0.0) == pytest.approx(effect)
    rng = np.random.default_rng(5)
    draws = 40000  # its power is about 0.82: 40000 draws put 0.83 about 5 standard errors away
    x, y = _normal_pairs(rng, draws, n, 2 * math.sin(math.pi * effect / 6))  # Pearson r with that Spearman
    r = _row_spearman(x, y)
    lo, hi = _bounds(sd._fisher(float(v), n) for v in r)
    _same_interval(sd.spearman(x[0], y[0]), lo[0], hi[0])
    power = float(np.mean((lo > 0) | (hi < 0)))
    _assert_rate(power, 0.80, 0.03, draws, f"Spearman power at the MDE ({effect:.3f}), n = 40")
    assert pivots.mde(sd._fisher(0.0, 400)) < effect / 2  # more pairs, smaller detectable effects


def test_narrowest_band_is_certified_80_percent_of_the_time(quantiles_once):
    """With the true value 0, the 95% interval lies inside +/- narrowest_band in about 80% of
    draws: a mean over 5 networks (t) and a Spearman over 40 pairs (Fisher)."""
    rng = np.random.default_rng(6)
    n, sigma = 5, 1.0
    x0 = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    width = pivots.narrowest_band(sd.mean_ci(sigma * x0 / x0.std(ddof=1)))
    x = rng.normal(0.0, sigma, (20000, n))
    lo, hi = _bounds(sd.mean_ci(row) for row in x)
    inside_t = float(np.mean((-width < lo) & (hi < width)))
    m, draws = 40, 16000
    band_rho = pivots.narrowest_band(sd._fisher(0.0, m))
    xs, ys = _normal_pairs(rng, draws, m, 0.0)
    lo, hi = _bounds(sd._fisher(float(v), m) for v in _row_spearman(xs, ys))
    _same_interval(sd.spearman(xs[0], ys[0]), lo[0], hi[0])
    inside_f = float(np.mean((-band_rho < lo) & (hi < band_rho)))
    _assert_rate(inside_t, 0.80, 0.03, 20000, f"narrowest band certified, mean n=5 band {width:.3f}")
    _assert_rate(inside_f, 0.80, 0.03, draws, f"narrowest band certified, Spearman n=40 band {band_rho:.3f}")


def test_n_needed_sizes_a_run_from_a_pilots_spread():
    """A one-sample t-test detects a shift of one standard deviation with 80% power at n = 10
    (power.t.test in R: n = 9.94); the smallest n whose MDE reaches the effect is returned."""
    rng = np.random.default_rng(0)
    pilot = sd.mean_ci(rng.normal(size=6))
    sd_pilot = pilot["scale"] * np.sqrt(6)
    n = pivots.n_needed(pilot, pivots.mde, effect=sd_pilot)
    assert n == 10
    assert pivots.mde(pivots.with_n(pilot, 10)) <= sd_pilot < pivots.mde(pivots.with_n(pilot, 9))
    # a Spearman over networks: |rho| = 0.3 needs about 89 pairs (Bonett-Wright variance at 0.3)
    r0 = sd._fisher(0.0, 28)
    need = pivots.n_needed(r0, pivots.mde, effect=0.3)
    assert 85 <= need <= 92 and pivots.mde(pivots.with_n(r0, int(need))) <= 0.3
    assert np.isnan(pivots.n_needed(sd.mean_ci([1.0]), pivots.mde, 0.1))  # no spread, no answer
    assert pivots.n_needed(pilot, pivots.mde, effect=1e-9, limit=1000) == np.inf
