"""How a claim is decided from its parts (singledir.decide.verdicts): combining parts, p-values
and detectable effects, Holm's correction within each family, effects of interest, the rules table."""
from __future__ import annotations

import re
from dataclasses import asdict

import numpy as np
import pytest
from scipy import stats as st

from singledir.decide import claims as claims_mod
from singledir.pages import scorecard as scorecard_mod
from singledir.decide import stats
from singledir.decide import verdicts

from helpers import fisher_interval
from test_claims import PARTS, fisher_result, t_result


def test_claim_verdicts_combine_parts():
    v = verdicts.claim_verdict
    assert v(["reproduced"]) == v(["reproduced", "reproduced", "reproduced"]) == "reproduced"
    assert v(["inconclusive", "inconclusive"]) == "inconclusive"
    assert v(["reproduced", "inconclusive"]) == "partly"
    assert v(["reproduced", "contradicted"]) == "partly"
    assert v(["contradicted", "inconclusive"]) == "contradicted"  # no part reproduced: not "partly"
    assert v(["contradicted", "contradicted"]) == "contradicted"
    with pytest.raises(ValueError):
        v([])


def test_holm_on_hand_computed_examples():
    # sorted 0.01 <= 0.05/3 rejected; 0.03 > 0.05/2: stop
    assert verdicts.holm({"a": 0.01, "b": 0.04, "c": 0.03}, 0.05) == {"a": True, "b": False, "c": False}
    # 0.001 <= 0.05/3, 0.01 <= 0.05/2, 0.02 <= 0.05/1
    assert verdicts.holm({"a": 0.001, "b": 0.01, "c": 0.02}, 0.05) == {"a": True, "b": True, "c": True}
    # step-down stops at the first failure: 0.04 <= 0.05/1 would pass alone, but 0.03 > 0.05/2 came first
    assert verdicts.holm({"a": 0.005, "b": 0.03, "c": 0.04}, 0.05) == {"a": True, "b": False, "c": False}
    assert verdicts.holm({"a": 0.03}, 0.05) == {"a": True} and verdicts.holm({}, 0.05) == {}
    assert verdicts.holm({"a": 0.03, "b": 0.5}, 0.05) == {"a": False, "b": False}  # 0.03 > 0.05/2


def _decided_at(p: float, df: float = 4) -> dict:
    """A mean over networks whose interval excludes 0 (below it) exactly at alpha = p."""
    return t_result(-0.1 * st.t.isf(p / 2, df), scale=0.1, df=df)


def _findings(primary_results: dict[str, dict]) -> list[dict]:
    """A finding for every claim: its primary part from ``primary_results`` (default: undecided),
    every secondary part decided at p = 1e-6 (which must not count)."""
    out = []
    for cid, c in claims_mod.CLAIMS.items():
        results = {p.name: primary_results.get(cid, t_result(0.0, scale=1.0)) if p.primary else _decided_at(1e-6)
                   for p in c.parts}
        verdict, parts = verdicts.decide(cid, results)
        out.append({"id": cid, "verdict": verdict, "parts": [asdict(p) for p in parts]})
    return out


def test_headline_verdicts_correct_the_primary_parts_with_holm():
    """A primary part decided at p = 0.04 alone is reproduced at 95% but inconclusive after Holm's
    correction over 13 primary parts; at p = 0.001 (below 0.05 / 13) it stands."""
    findings = _findings({"E7": _decided_at(0.04),  # E7: interval wholly below 0 -> contradicted at 95%
                          "E1": _decided_at(0.001),  # E1: below 0 -> reproduced
                          "E3": _decided_at(0.0001)})
    prim = {f["id"]: next(p for p in f["parts"] if p["primary"]) for f in findings}
    # E7 claims a positive difference: an interval below 0 contradicts it, and the deciding p is the
    # contradicting route's, the interval's exclusion of the effect of interest (+0.05)
    e7 = _decided_at(0.04)
    assert prim["E7"]["verdict"] == "contradicted" and prim["E7"]["route"] == "opposite sign"
    assert prim["E7"]["p"] == pytest.approx(stats.alpha_excluding(e7, 0.05)) and prim["E7"]["p"] < 0.04
    assert prim["E1"]["side"] == "reproduced" and prim["E3"]["side"] == "reproduced"
    head = verdicts.headline_verdicts(findings)
    assert set(head) == set(claims_mod.CLAIMS)
    assert head["E7"] == "inconclusive"  # 0.04 > 0.05 / 11 after the two smaller p-values
    assert head["E1"] == "reproduced" and head["E3"] == "reproduced"
    assert all(head[c] == "inconclusive" for c in claims_mod.CLAIMS if c not in ("E1", "E3", "E7"))
    # with a single claim, 0.04 is below 0.05 and E7 stands as contradicted
    assert verdicts.headline_verdicts([f for f in findings if f["id"] == "E7"]) == {"E7": "contradicted"}


def test_holm_runs_within_each_family():
    """F1-F5 are corrected among themselves: an F part at p = 0.005 stands (0.005 < 0.05 / 5) although
    it would not among all 18 primary parts, and the E claims' headline verdicts do not depend on
    the F parts at all."""
    assert verdicts.family("E9") == "paper" and verdicts.family("F2") == "after the paper"
    findings = _findings({"F2": _decided_at(0.005), "E1": _decided_at(0.003)})
    head = verdicts.headline_verdicts(findings)
    assert head["F2"] != "inconclusive"
    assert head["E1"] == "reproduced"  # 0.003 < 0.05 / 13
    only_e = verdicts.headline_verdicts([f for f in findings if f["id"].startswith("E")])
    assert only_e == {k: v for k, v in head.items() if k.startswith("E")}


def test_decide_takes_stats_results_and_computes_p_and_detectable_effects():
    with pytest.raises(ValueError, match="has parts"):
        verdicts.decide("E1", {"MLP": fisher_result(-0.5)})
    mlp, conv = fisher_interval(-0.8, -0.2, 18), fisher_interval(-0.4, 0.2, 12)
    verdict, parts = verdicts.decide("E1", {"MLP": mlp, "conv net": conv})
    assert verdict == "partly" and [p.verdict for p in parts] == ["reproduced", "inconclusive"]
    assert [p.primary for p in parts] == [True, False] and "below 0" in parts[0].rule
    assert parts[1].mde == pytest.approx(stats.mde(conv, 0.0)) and not parts[1].band
    assert parts[0].p == pytest.approx(stats.alpha_excluding(mlp, 0.0)) and parts[0].p < 0.05
    assert parts[0].side == "reproduced" and parts[1].p > 0.05
    assert (parts[0].ci_low, parts[0].ci_high, parts[0].n) == (pytest.approx(-0.8), pytest.approx(-0.2), 18)
    # E8: contradicted + inconclusive is contradicted, not partly
    verdict, _ = verdicts.decide("E8", {"selectivity": t_result(0.02, 0.005), "information": t_result(0.0)})
    assert verdict == "contradicted"


def test_band_parts_state_the_narrowest_band_and_a_sensitivity_verdict():
    """Every "no relation" part also gets its verdict with the band at 0.2; its detectable effect is
    the narrowest band the run certifies."""
    wide, narrow = fisher_interval(-0.25, 0.25, 60), fisher_interval(-0.1, 0.12, 300)
    verdict, (mlp, conv) = verdicts.decide("E13", {"MLP": wide, "conv net": narrow})
    assert verdict == "reproduced" and mlp.band and conv.band
    assert (mlp.verdict, mlp.sensitivity) == ("reproduced", "inconclusive")  # inside 0.3, not inside 0.2
    assert (conv.verdict, conv.sensitivity) == ("reproduced", "reproduced")
    assert mlp.mde == pytest.approx(stats.narrowest_band(wide, 0.0))
    for cid, part in PARTS:
        if part.rule.low == -claims_mod.NO_RELATION_BAND:
            assert part.rule.is_band and claims_mod.SENSITIVITY_BAND < claims_mod.NO_RELATION_BAND, cid
    # the E6 "alike" band is no "no relation" band: no sensitivity line
    _, e6 = verdicts.decide("E6", {"plateau": t_result(0.05), "past the plateau": t_result(0.2),
                                 "true labels alike": t_result(0.0, 0.005)})
    assert [p.sensitivity for p in e6] == ["", "", ""] and e6[2].verdict == "reproduced" and e6[2].band


def test_rules_table_lists_every_part():
    t = verdicts.rules_table()
    assert len(t) == len(PARTS) and list(dict.fromkeys(t.id)) == list(claims_mod.CLAIMS)
    assert t["reproduced when"].str.contains("interval").all()
    assert (t.role == "primary").sum() == 21 and t[t.role == "primary"].id.is_unique


def test_every_part_has_an_effect_of_interest_and_the_power_table_says_what_a_run_can_decide():
    for cid, c in claims_mod.CLAIMS.items():
        for p in c.parts:
            effect, why = verdicts.effect_of_interest(cid, p)
            assert effect > 0 and why, (cid, p.name)
    e5 = claims_mod.CLAIMS["E5"].primary
    assert verdicts.effect_of_interest("E5", e5)[0] == 0.3 and "0.914" in verdicts.effect_of_interest("E5", e5)[1]
    alike = next(p for p in claims_mod.CLAIMS["E6"].parts if p.name == "true labels alike")
    assert verdicts.effect_of_interest("E6", alike)[0] == pytest.approx(claims_mod.ALIKE_BAND)
    # five seeds with a spread of 0.05: a difference of 0.05 is not detectable (MDE ~0.083), 0.5 would be
    rng = np.random.default_rng(1)
    r = stats.mean_ci(0.01 + 0.05 * rng.standard_normal(5))
    _, (part,) = verdicts.decide("E7", {"conv net": r})
    assert part.effect == 0.05 and not part.can_decide and part.n_needed > 5
    assert stats.mde(stats.with_n(r, int(part.n_needed))) <= 0.05
    finding = {"id": "E7", "parts": [asdict(part)]}
    table = scorecard_mod.power_markdown([finding])
    assert "| E7 | conv net (primary) | 5 networks |" in table and "**no**" in table
    assert f"| {part.n_needed:.0f} |" in table
    # a part name holding "|" is escaped, so the row keeps its seven cells
    e3 = {"id": "E3", "parts": [asdict(verdicts.decide("E3", {"conv net": stats.spearman(range(10), range(10))})[1][0])]}
    e3["parts"][0]["name"] = "conv net | piped"
    row = scorecard_mod.power_markdown([e3]).splitlines()[2]
    assert "conv net \\| piped" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 8
