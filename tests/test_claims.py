"""singledir.decide.claims: every rule fed synthetic intervals, p-values that agree with the 95%
verdicts, the combination of parts, Holm's correction of the headline verdicts, every claim wired to
the chapter that reports it (the design hash: test_keys.py; findings written and tabulated:
test_scorecard.py)."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import yaml
from scipy import stats as st

from helpers import fisher_interval
from singledir.book import params as params_mod
from singledir.decide import claims as claims_mod
from singledir.decide import verdicts
from singledir.pages import scorecard as scorecard_mod
from singledir.decide import stats


def inside(rule: claims_mod.Rule) -> tuple[float, float]:
    """An interval wholly inside the rule's range."""
    lo = rule.low if math.isfinite(rule.low) else (rule.high - 1.0)
    hi = rule.high if math.isfinite(rule.high) else (rule.low + 1.0)
    w = hi - lo
    return lo + 0.25 * w, lo + 0.75 * w


def outside(rule: claims_mod.Rule) -> list[tuple[float, float]]:
    """Intervals wholly outside it: beyond each finite boundary."""
    out = []
    if math.isfinite(rule.high):
        out.append((rule.high + 0.05, rule.high + 0.2))
    if math.isfinite(rule.low):
        out.append((rule.low - 0.2, rule.low - 0.05))
    return out


def straddling(rule: claims_mod.Rule) -> list[tuple[float, float]]:
    return [(b - 0.01, b + 0.01) for b in (rule.low, rule.high) if math.isfinite(b)]


def t_result(center: float, scale: float = 0.1, df: float = 4, n: int = 5) -> dict:
    """A mean over ``n`` networks with its t pivot."""
    return stats.pivot_result(center, center, scale, df, "none", n)


def fisher_result(rho: float, n: int = 30) -> dict:
    """A Spearman rho over ``n`` pairs with its Fisher pivot (Bonett-Wright scale)."""
    return stats.pivot_result(rho, math.atanh(rho), math.sqrt((1 + rho * rho / 2) / (n - 3)), math.inf, "fisher", n)


PARTS = [(c.id, p) for c in claims_mod.CLAIMS.values() for p in c.parts]


@pytest.mark.parametrize("cid, part", PARTS, ids=[f"{c}-{p.name}" for c, p in PARTS])
def test_every_rule_on_synthetic_intervals(cid, part):
    rule = part.rule
    assert rule.verdict(*inside(rule)) == "reproduced"
    for iv in outside(rule):
        assert rule.verdict(*iv) == "contradicted", iv
    for iv in straddling(rule):
        assert rule.verdict(*iv) == "inconclusive", iv
    assert rule.verdict(float("nan"), 0.1) == "inconclusive"
    assert rule.verdict(*reversed(inside(rule))) == "reproduced"  # the order of the bounds does not matter
    if rule.is_band:  # an interval wider than the band on both sides decides nothing
        assert rule.verdict(rule.low - 1, rule.high + 1) == "inconclusive"


def test_the_rules_say_what_the_paper_says():
    """Signs and bands, checked by hand against the paper's claims."""
    c = {cid: {p.name: p.rule for p in claim.parts} for cid, claim in claims_mod.CLAIMS.items()}
    assert c["E1"]["MLP"].verdict(-0.9, -0.5) == "reproduced"  # more corruption, lower AUC
    assert c["E3"]["conv net"].verdict(0.1, 0.5) == "contradicted"  # better generalizers less robust
    assert c["E5"]["settings that fit"].verdict(0.5, 0.95) == "reproduced"
    assert c["E6"]["plateau"].verdict(0.01, 0.05) == "reproduced"  # dropout p keeps more than dropout 0
    assert c["E6"]["plateau"].verdict(-0.1, -0.02) == "contradicted"
    assert c["E6"]["true labels alike"].verdict(-0.03, 0.04) == "reproduced"  # within 0.05
    assert c["E6"]["true labels alike"].verdict(0.06, 0.1) == "contradicted"
    assert c["E4"]["MLP, timing"].verdict(-0.8, 0.9) == "reproduced"  # peak within a factor 2 of the minimum
    assert c["E4"]["MLP, timing"].verdict(-3.0, -1.5) == "contradicted"  # peak far before the minimum
    assert c["E7"]["conv net"].verdict(-0.1, -0.05) == "contradicted"  # BN less robust
    assert c["E8"]["selectivity"].verdict(-0.2, -0.1) == "reproduced"  # BN: fewer highly selective maps
    e9 = c["E9"]
    assert e9["MLP"].verdict(0.05, 0.15) == "reproduced"  # 0.095: a poor predictor
    assert e9["MLP"].verdict(-0.6, -0.4) == "contradicted"  # a strong negative correlation predicts well
    assert e9["MLP"].verdict(0.4, 0.6) == "contradicted"
    assert e9["conv net, early layers"].verdict(-0.6, -0.2) == "reproduced"
    assert e9["conv net, later layers"].verdict(-0.2, 0.2) == "reproduced"
    assert e9["conv net, later layers"].verdict(-0.6, -0.4) == "contradicted"
    assert c["E12"]["conv net"].verdict(-0.4, -0.1) == "reproduced"  # negative on CIFAR-10
    assert c["E12"]["conv net"].verdict(0.05, 0.2) == "contradicted"  # below +0.3 is no longer enough
    for name in ("MLP", "conv net"):
        assert c["E13"][name].verdict(-0.6, -0.4) == "contradicted"
        assert c["E13"][name].verdict(-0.25, 0.25) == "reproduced"
    assert c["E10"]["conv net with BN"].verdict(0.01, 0.05) == "reproduced"  # zero gentler than the mean
    assert {p.rule for _, p in PARTS if "no relation" in p.paper or p.rule.low == -0.3} == {claims_mod.NO_RELATION}
    assert (claims_mod.NO_RELATION.low, claims_mod.NO_RELATION.high) == (-claims_mod.NO_RELATION_BAND, claims_mod.NO_RELATION_BAND)


def test_the_after_the_paper_rules_say_what_the_publications_say():
    """F1-F5, checked by hand against each publication's claim."""
    c = {cid: {p.name: p.rule for p in claim.parts} for cid, claim in claims_mod.CLAIMS.items()}
    assert c["F1"]["conv net"].verdict(0.1, 0.4) == "reproduced"  # selective units damage single classes more
    assert c["F1"]["conv net"].verdict(-0.4, -0.1) == "contradicted"
    assert c["F1"]["preferred class"].verdict(0.05, 0.3) == "reproduced"  # above chance
    assert c["F2"]["MLP, lowering"].verdict(-0.008, 0.004) == "reproduced"  # within one point: no cost
    assert c["F2"]["MLP, lowering"].verdict(-0.03, -0.015) == "contradicted"  # lowering costs accuracy
    assert c["F2"]["MLP, lowering"].verdict(-0.02, 0.0) == "inconclusive"
    assert c["F2"]["conv net, raising"].verdict(-0.05, -0.01) == "reproduced"  # accuracy falls with alpha
    assert c["F2"]["MLP, selectivity moved"].verdict(0.5, 0.9) == "reproduced"
    f3 = c["F3"]["conv net with BN, against the mean"]
    assert f3.verdict(-0.06, -0.02, 0.01) == "reproduced"  # optimal constant costs less, by 2-6% of the loss
    assert f3.verdict(0.001, 0.003, 0.01) == "contradicted"  # costs more
    assert f3.verdict(-0.004, 0.001, 0.01) == "contradicted"  # at most 0.4% of the loss less: smaller than 0.01
    assert f3.verdict(-0.02, 0.001, 0.01) == "inconclusive"
    assert claims_mod.CLAIMS["F3"].primary.name == "conv net with BN, against the mean"
    assert c["F4"]["MLP, selectivity"].verdict(-0.1, -0.02) == "reproduced"  # descending order: lower AUC
    assert c["F5"]["epoch, MLP"].verdict(-0.005, 0.02) == "reproduced"  # at most one point worse
    assert c["F5"]["epoch, MLP"].verdict(-0.05, -0.02) == "contradicted"
    assert c["F5"]["setting"].verdict(-0.02, 0.01) == "inconclusive"
    assert claims_mod.ACCURACY_ALIKE.low == -claims_mod.ACCURACY_MARGIN == claims_mod.NOT_WORSE.low


def test_the_later_rules_f6_to_f8_say_what_the_publications_say():
    """F6-F8, checked by hand against each publication's claim."""
    c = {cid: {p.name: p.rule for p in claim.parts} for cid, claim in claims_mod.CLAIMS.items()}
    assert c["F6"]["rise and fall"].verdict(0.01, 0.05) == "reproduced"  # higher at the peak than at the end
    assert c["F6"]["ablation, early vs late"].verdict(-0.05, -0.01) == "contradicted"  # matters more late
    assert c["F7"]["MLP"].verdict(0.1, 0.4) == "reproduced"  # mislabeled examples lose more
    assert c["F7"]["MLP, beyond random units"].verdict(-0.1, -0.02) == "contradicted"
    assert c["F8"]["settings, vs the AUC"].verdict(-0.05, 0.3) == "reproduced"  # at most 0.1 below the AUC's rho
    assert c["F8"]["settings, vs the AUC"].verdict(-0.5, -0.15) == "contradicted"
    assert c["F8"]["seeds"].verdict(0.1, 0.6) == "reproduced"
    assert {cid: claims_mod.CLAIMS[cid].primary.name for cid in ("F6", "F7", "F8")} == {
        "F6": "rise and fall", "F7": "MLP", "F8": "settings, vs the AUC"}


def test_each_claim_has_exactly_one_primary_part():
    assert list(claims_mod.CLAIMS) == [f"E{i}" for i in range(1, 14)] + [f"F{i}" for i in range(1, 9)]
    for cid, c in claims_mod.CLAIMS.items():
        primaries = [p.name for p in c.parts if p.primary]
        assert len(primaries) == 1, (cid, primaries)
        assert c.primary.name == primaries[0]


RULES = {"negative": claims_mod.NEGATIVE, "positive": claims_mod.POSITIVE, "no relation": claims_mod.NO_RELATION,
         "alike": claims_mod.ALIKE, "same point": claims_mod.SAME_POINT}


def _check_p(rule: claims_mod.Rule, r: dict) -> str:
    verdict = rule.verdict(r["ci_low"], r["ci_high"])
    p, side = rule.p_value(r)
    assert (p < 0.05) == (verdict != "inconclusive"), (r, verdict, p)
    if verdict != "inconclusive":
        assert side == verdict, (r, verdict, side)
    if 1e-6 < p < 1:  # the (1 - p) interval touches the rule's boundary that decides it
        lo, hi = stats.interval(r, 1 - p)
        bounds = [b for b in (rule.low, rule.high) if math.isfinite(b)]
        assert min(abs(e - b) for e in (lo, hi) for b in bounds) == pytest.approx(0.0, abs=1e-6)
    return verdict


@pytest.mark.parametrize("name", list(RULES))
def test_p_value_agrees_with_the_95_percent_verdict_t(name):
    rule = RULES[name]
    rng = np.random.default_rng(0)
    span = 0.3 if name == "alike" else 3.0
    seen = set()
    for _ in range(400):
        r = t_result(rng.uniform(-span, span), scale=rng.uniform(0.005, span / 4), df=rng.choice([2, 4, 27, 1e9]))
        seen.add(_check_p(rule, r))
    assert seen == {"reproduced", "contradicted", "inconclusive"}
    assert rule.p_value(stats.mean_ci([1.0])) == (1.0, "inconclusive")  # no pivot, no decision


@pytest.mark.parametrize("name", ["negative", "positive", "no relation"])
def test_p_value_agrees_with_the_95_percent_verdict_fisher(name):
    rule = RULES[name]
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(400):
        seen.add(_check_p(rule, fisher_result(rng.uniform(-0.95, 0.95), n=int(rng.integers(6, 300)))))
    assert seen == {"reproduced", "contradicted", "inconclusive"}


def test_a_strong_negative_correlation_contradicts_no_relation():
    """Two-sided band: rho = -0.8 over 100 pairs is a good predictor, so "a poor predictor" is
    contradicted (not reproduced, as the old one-sided "below +0.3" would have it)."""
    r = fisher_result(-0.8, 100)
    assert claims_mod.NO_RELATION.verdict(r["ci_low"], r["ci_high"]) == "contradicted"
    p, side = claims_mod.NO_RELATION.p_value(r)
    assert side == "contradicted" and p < 1e-6
    _, (mlp, conv) = verdicts.decide("E13", {"MLP": r, "conv net": fisher_result(0.0, 400)})
    assert (mlp.verdict, mlp.sensitivity, conv.verdict) == ("contradicted", "contradicted", "reproduced")


def _reported_ids(chapter_text: str) -> set[str]:
    return set(re.findall(r'(?<![\w.])report\(\s*"([EF]\d+)"', chapter_text))


def test_every_claim_is_reported_by_its_chapter_and_the_chapter_is_in_the_book():
    toc = yaml.safe_load((params_mod.ROOT / "_toc.yml").read_text())
    in_toc = {c["file"].split("/")[-1] for c in toc["chapters"]}
    chapters = params_mod.chapter_paths()
    reported = {name: _reported_ids(p.read_text()) for name, p in chapters.items()}
    for c in claims_mod.CLAIMS.values():
        assert c.chapter in chapters and c.chapter in in_toc, c.id
        assert c.id in reported[c.chapter], (c.id, c.chapter)
        assert set(c.paper_setup) == set(scorecard_mod.SETUP_KEYS), c.id
        text = chapters[c.chapter].read_text()
        assert f":name: {c.figure}" in text, (c.id, c.figure)
    assert set().union(*reported.values()) == set(claims_mod.CLAIMS)


def test_no_chapter_prints_a_finding_as_a_raw_dict():
    """``scorecard_mod.report`` returns the finding (for code that uses it); a chapter cell that ends with
    the call would print the whole dict into the book under the figure. The prose and the first
    page show the finding; the cell ends with ``;``."""
    import ast

    for name, path in params_mod.chapter_paths().items():
        for c in params_mod.read_chapter(path).cells:
            if c.cell_type != "code" or "scorecard_mod.report" not in c.source:
                continue
            last = ast.parse(c.source).body[-1]
            shown = isinstance(last, ast.Expr) and not c.source.rstrip().endswith(";")
            assert not shown, f"{name}: a cell ends with a displayed {ast.unparse(last)[:40]}...; end it with ';'"


def test_every_part_says_in_its_chapter_what_it_could_detect_when_inconclusive():
    """Each part's ``_mde_text`` (empty when decided) appears in its chapter's prose, so an
    inconclusive verdict is never shown without what the run could have detected. E3 states its
    detectable |rho| in its own sentence whatever the verdict."""
    for cid, claim in claims_mod.CLAIMS.items():
        text = (params_mod.ROOT / "chapters" / f"{claim.chapter}.md").read_text()
        if cid == "E3":
            assert "e3_mde" in text
            continue
        missing = [i for i in range(len(claim.parts)) if f"{{glue:text}}`{cid}_p{i}_mde_text`" not in text]
        assert not missing, f"{claim.chapter} never shows {cid}'s detectable effect for parts {missing}"

