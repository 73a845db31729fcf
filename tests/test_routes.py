"""The routes by which a part is decided (singledir.decide.rules): a claim of direction is
reproduced on the paper's side of 0 and contradicted by sign or by size (smaller than its effect of
interest); parts with too few replicates describe; secondary parts are gatekept behind their
claim's primary; each route's simulated error rate stays at or below 5% at the presets' sizes."""
from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pytest
from scipy import stats as st

from singledir.decide import claims, stats, verdicts
from singledir.decide.rules import NEGATIVE, NOT_WORSE, POSITIVE, Rule, band

from helpers import fisher_interval
from test_claims import t_result


def _t(lo: float, hi: float, n: int = 10) -> dict:
    """A t result (n - 1 df) whose 95% interval is exactly (lo, hi)."""
    q = st.t.isf(0.025, n - 1)
    return t_result((lo + hi) / 2, scale=(hi - lo) / (2 * q), df=n - 1)


@pytest.mark.parametrize("rule, lo, hi, verdict, route", [
    # the paper's side is below 0 (NEGATIVE), effect of interest 0.3
    (NEGATIVE, -0.9, -0.35, "reproduced", "paper's side of 0"),
    (NEGATIVE, -0.5, -0.01, "reproduced", "paper's side of 0"),  # reaches past -0.3: not smaller
    (NEGATIVE, -0.25, -0.05, "contradicted", "smaller than 0.3"),  # on the paper's side, but too small
    (NEGATIVE, -0.2, 0.15, "contradicted", "smaller than 0.3"),  # rules out -0.3 and beyond
    (NEGATIVE, 0.05, 0.2, "contradicted", "opposite sign, within 0.3 of 0"),
    (NEGATIVE, 0.1, 0.6, "contradicted", "opposite sign"),
    (NEGATIVE, -0.5, 0.2, "inconclusive", ""),
    # the paper's side is above 0 (POSITIVE): the mirror image
    (POSITIVE, 0.35, 0.9, "reproduced", "paper's side of 0"),
    (POSITIVE, 0.05, 0.25, "contradicted", "smaller than 0.3"),
    (POSITIVE, -0.6, -0.1, "contradicted", "opposite sign"),
    (POSITIVE, -0.2, 0.5, "inconclusive", ""),
])
def test_a_claim_of_direction_has_two_routes(rule, lo, hi, verdict, route):
    d = rule.decide(_t(lo, hi), 0.3)
    assert (d["verdict"], d["route"]) == (verdict, route)
    assert rule.verdict(lo, hi, 0.3) == verdict


def test_without_an_effect_of_interest_only_the_sign_decides():
    assert NEGATIVE.verdict(-0.25, -0.05) == "reproduced" and NEGATIVE.verdict(-0.2, 0.15) == "inconclusive"
    assert NEGATIVE.verdict(0.05, 0.2) == "contradicted"


def test_bands_and_margins_keep_one_route_each_way():
    b = band(0.3)
    assert b.sign == 0 and NOT_WORSE.sign == 0 and NEGATIVE.sign == -1 and POSITIVE.sign == 1
    assert b.decide(_t(-0.1, 0.2), 0.3)["route"] == "inside the band"
    assert b.decide(_t(0.4, 0.6), 0.3)["route"] == "outside the band"
    assert b.decide(_t(0.1, 0.6), 0.3)["verdict"] == "inconclusive"
    assert NOT_WORSE.decide(_t(-0.005, 0.02), 0.02)["route"] == "paper's side of -0.01"
    assert NOT_WORSE.decide(_t(-0.05, -0.02), 0.02)["route"] == "other side of -0.01"
    assert Rule(low=0.5).sign == 0  # a one-sided boundary other than zero is a margin, not a sign


def test_each_route_has_its_p_value_from_the_same_pivot():
    """p inverts the interval: the 95% verdict of a route holds exactly when its p is below 0.05."""
    r = _t(-0.25, -0.05)  # reproduced by sign at 95% and smaller than 0.3 at 95%: contradicted decides
    d = NEGATIVE.decide(r, 0.3)
    assert d["side"] == "contradicted" and d["p"] == pytest.approx(stats.alpha_excluding(r, -0.3)) and d["p"] < 0.05
    assert stats.alpha_excluding(r, 0.0) < 0.05  # the other route would also decide: contradicted comes first
    r = _t(-0.9, -0.35)
    d = NEGATIVE.decide(r, 0.3)
    assert d["side"] == "reproduced" and d["p"] == pytest.approx(stats.alpha_excluding(r, 0.0))
    # undecided: the route nearer to deciding
    r = _t(-0.5, 0.2)
    d = NEGATIVE.decide(r, 0.3)
    assert d["p"] == pytest.approx(min(stats.alpha_excluding(r, 0.0), stats.alpha_excluding(r, -0.3)))
    assert d["p"] > 0.05 and d["verdict"] == "inconclusive"
    # an interval that just excludes -0.3 gives p = 0.05 on that route
    assert NEGATIVE.decide(_t(-0.3, 0.1), 0.3)["p"] == pytest.approx(0.05)


def test_a_part_with_too_few_replicates_or_no_spread_is_a_description():
    e5 = claims.CLAIMS["E5"]
    two = fisher_interval(0.5, 0.99, 2)
    _, (p, _) = verdicts.decide("E5", {"settings that fit": two, "every setting, given training accuracy": two})
    assert (p.verdict, p.route, p.p, p.side) == ("description", "description: n = 2", 1.0, "inconclusive")
    same = stats.mean_ci([1.0, 1.0, 1.0, 1.0])
    assert same["ci_low"] == same["ci_high"] == 1.0
    assert verdicts.is_description(same) == "description: every replicate the same"
    assert verdicts.is_description(stats.mean_ci([0.1, 0.2, 0.4])) == ""
    assert verdicts.claim_verdict(["reproduced", "description"]) == "reproduced"
    assert e5.primary.name == "settings that fit"


def test_standardized_size_is_the_mean_over_the_sd_of_the_replicates():
    a, b = np.array([0.3, 0.5, 0.4, 0.6]), np.array([0.1, 0.2, 0.3, 0.2])
    # a - b = 0.2, 0.3, 0.1, 0.4: mean 0.25, sd sqrt(((.05)^2 + (.05)^2 + (.15)^2 + (.15)^2) / 3)
    sd = math.sqrt((0.0025 + 0.0025 + 0.0225 + 0.0225) / 3)
    _, (part,) = verdicts.decide("E7", {"conv net": stats.difference(a, b, paired=True)})
    assert part.standardized == pytest.approx(0.25 / sd)
    # Welch: the difference over the two groups' average SD
    w = stats.difference(a, b, paired=False)
    va, vb = np.var(a, ddof=1), np.var(b, ddof=1)
    assert w["sd"] == pytest.approx(math.sqrt((va + vb) / 2))
    # a correlation has no standardized size
    _, (e3,) = verdicts.decide("E3", {"conv net": fisher_interval(-0.5, -0.1, 30)})
    assert math.isnan(e3.standardized)


def _finding(cid: str, results: dict) -> dict:
    verdict, parts = verdicts.decide(cid, results)
    return {"id": cid, "verdict": verdict, "parts": [asdict(p) for p in parts]}


def test_secondary_parts_are_gatekept_behind_their_primary():
    """E1: primary MLP, secondary conv net. E9: primary MLP (band), three secondaries."""
    decided, undecided = fisher_interval(-0.9, -0.6, 90), fisher_interval(-0.5, 0.2, 12)
    # primary undecided: the secondary is not tested, though decided alone at 95%
    f = [_finding("E1", {"MLP": undecided, "conv net": decided})]
    c = verdicts.corrected_verdicts(f)["E1"]
    assert f[0]["parts"][1]["verdict"] == "reproduced"
    assert c == {"headline": "inconclusive", "parts": ["inconclusive", "not tested"], "verdict": "inconclusive"}
    # primary reproduced, secondary undecided: the claim is partly reproduced
    c = verdicts.corrected_verdicts([_finding("E1", {"MLP": decided, "conv net": undecided})])["E1"]
    assert c == {"headline": "reproduced", "parts": ["reproduced", "inconclusive"], "verdict": "partly"}
    # Holm among the secondaries: the later-layers band far below 0.05 / 3 stands; then two at p = 0.03 > 0.05 / 2 stop
    at = lambda p, sign=-1: t_result(sign * 0.1 * st.t.isf(p / 2, 9), scale=0.1, df=9)
    e9 = {"MLP": fisher_interval(-0.1, 0.1, 200), "conv net, early layers": at(0.03),
          "conv net, later layers": fisher_interval(-0.1, 0.1, 200), "depth": at(0.03)}
    f9 = _finding("E9", e9)
    c = verdicts.corrected_verdicts([f9])["E9"]
    assert c["headline"] == "reproduced" and f9["parts"][1]["verdict"] == "reproduced"
    p_late = f9["parts"][2]["p"]
    assert p_late < 0.05 / 3  # the later-layers band is certified by far
    assert c["parts"] == ["reproduced", "inconclusive", "reproduced", "inconclusive"] and c["verdict"] == "partly"


def _rates(draw, cid: str, n_draws: int, seed: int) -> dict[str, float]:
    """How often the part's own rule (with its effect of interest) decides each way over draws."""
    rng = np.random.default_rng(seed)
    part = claims.CLAIMS[cid].primary
    effect = verdicts.effect_of_interest(cid, part)[0]
    out = {"reproduced": 0, "smaller": 0}
    for _ in range(n_draws):
        d = part.rule.decide(draw(rng), effect)
        out["reproduced"] += d["verdict"] == "reproduced"
        out["smaller"] += d["route"].startswith("smaller")
    return {k: v / n_draws for k, v in out.items()}


N_DRAWS = 2000  # each route's true rate is about 2.5% (one tail of a 95% interval): SE 0.35%, 7 SE below 5%


@pytest.mark.parametrize("n", [3, 5, 14])
def test_t_routes_keep_their_error_rates(n):
    """E7 (a paired difference over networks, effect of interest 0.05): a true difference of 0 is
    called reproduced, and a true difference of 0.05 called "smaller than", in at most 5% of draws."""
    sd = 0.04
    zero = _rates(lambda rng: stats.mean_ci(sd * rng.standard_normal(n)), "E7", N_DRAWS, 10 + n)
    at_effect = _rates(lambda rng: stats.mean_ci(0.05 + sd * rng.standard_normal(n)), "E7", N_DRAWS, 20 + n)
    assert zero["reproduced"] <= 0.05 and at_effect["smaller"] <= 0.05
    # and each route can decide: the other truth is called by it more often than the error rate
    assert zero["smaller"] > at_effect["smaller"]


def _spearman_draw(rho_s: float, n: int):
    r = 2 * math.sin(math.pi * rho_s / 6)  # the normal copula's Pearson r for a Spearman rho of rho_s
    cov = [[1, r], [r, 1]]
    return lambda rng: stats.spearman(*rng.multivariate_normal([0, 0], cov, size=n).T)


@pytest.mark.parametrize("n", [11, 28, 90])
def test_fisher_routes_keep_their_error_rates(n):
    """E3 (Spearman over networks, the paper's side negative, effect of interest 0.3): a true rho of 0
    is called reproduced, and a true rho of -0.3 called "smaller than", in at most 5% of draws."""
    zero = _rates(_spearman_draw(0.0, n), "E3", N_DRAWS, 30 + n)
    at_effect = _rates(_spearman_draw(-0.3, n), "E3", N_DRAWS, 40 + n)
    assert zero["reproduced"] <= 0.05 and at_effect["smaller"] <= 0.05
    assert zero["smaller"] > at_effect["smaller"]
