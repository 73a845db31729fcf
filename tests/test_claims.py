"""singledir.claims and singledir.scorecard: every rule fed synthetic numbers, every claim wired to
the chapter that reports it, findings written and tabulated."""
from __future__ import annotations

import json
import math
import re

import pytest
import yaml

from singledir import book, claims, scorecard


def inside(rule: claims.Rule) -> tuple[float, float]:
    """An interval wholly inside the rule's range."""
    lo = rule.low if math.isfinite(rule.low) else (rule.high - 1.0)
    hi = rule.high if math.isfinite(rule.high) else (rule.low + 1.0)
    w = hi - lo
    return lo + 0.25 * w, lo + 0.75 * w


def outside(rule: claims.Rule) -> tuple[float, float]:
    """An interval wholly outside it (beyond the finite boundary)."""
    if math.isfinite(rule.high):
        return rule.high + 0.05, rule.high + 0.2
    return rule.low - 0.2, rule.low - 0.05


def straddling(rule: claims.Rule) -> tuple[float, float]:
    b = rule.high if math.isfinite(rule.high) else rule.low
    return b - 0.05, b + 0.05


PARTS = [(c.id, p) for c in claims.CLAIMS.values() for p in c.parts]


@pytest.mark.parametrize("cid, part", PARTS, ids=[f"{c}-{p.name}" for c, p in PARTS])
def test_every_rule_on_synthetic_intervals(cid, part):
    rule = part.rule
    assert rule.verdict(*inside(rule)) == "reproduced"
    assert rule.verdict(*outside(rule)) == "contradicted"
    assert rule.verdict(*straddling(rule)) == "inconclusive"
    assert rule.verdict(float("nan"), 0.1) == "inconclusive"
    assert rule.verdict(*reversed(inside(rule))) == "reproduced"  # the order of the bounds does not matter


def test_the_rules_say_what_the_paper_says():
    """Signs and bands, checked by hand against the paper's claims."""
    c = claims.CLAIMS
    assert c["E1"].parts[0].rule.verdict(-0.9, -0.5) == "reproduced"  # more corruption, lower AUC
    assert c["E3"].parts[0].rule.verdict(0.1, 0.5) == "contradicted"  # better generalizers less robust
    assert c["E5"].parts[0].rule.verdict(0.5, 0.95) == "reproduced"
    assert c["E6"].parts[0].rule.verdict(0.92, 0.97) == "reproduced"  # flat: keeps > 90%
    assert c["E6"].parts[0].rule.verdict(0.5, 0.8) == "contradicted"
    assert c["E7"].parts[0].rule.verdict(-0.1, -0.05) == "contradicted"  # BN less robust
    assert c["E8"].parts[0].rule.verdict(-0.2, -0.1) == "reproduced"  # BN: fewer highly selective maps
    e9 = {p.name: p.rule for p in c["E9"].parts}
    assert e9["MLP"].verdict(0.05, 0.15) == "reproduced"  # 0.095: a poor predictor
    assert e9["MLP"].verdict(-0.6, -0.4) == "reproduced"  # negative is no better a predictor
    assert e9["MLP"].verdict(0.4, 0.6) == "contradicted"
    assert e9["conv net, later layers"].verdict(-0.2, 0.2) == "reproduced"
    assert e9["conv net, later layers"].verdict(-0.6, -0.4) == "contradicted"
    assert c["E9"].parts[0].rule is c["E13"].parts[0].rule  # the same rule serves E9 and E13
    assert c["E10"].parts[0].rule.verdict(0.01, 0.05) == "reproduced"  # zero gentler than the mean


def test_claim_verdicts_combine_parts():
    assert claims.claim_verdict(["reproduced"]) == "reproduced"
    assert claims.claim_verdict(["inconclusive", "inconclusive"]) == "inconclusive"
    assert claims.claim_verdict(["reproduced", "inconclusive"]) == "partly"
    assert claims.claim_verdict(["reproduced", "contradicted"]) == "partly"
    assert claims.claim_verdict(["contradicted", "contradicted"]) == "contradicted"
    with pytest.raises(ValueError):
        claims.claim_verdict([])


def test_decide_needs_every_part():
    with pytest.raises(ValueError, match="has parts"):
        claims.decide("E1", {"MLP": {"estimate": -0.5, "ci_low": -0.8, "ci_high": -0.2}})
    verdict, parts = claims.decide("E1", {"MLP": {"estimate": -0.5, "ci_low": -0.8, "ci_high": -0.2, "n": 18},
                                          "conv net": {"estimate": -0.1, "ci_low": -0.4, "ci_high": 0.2, "n": 12,
                                                       "mde": 0.7}})
    assert verdict == "partly" and [p.verdict for p in parts] == ["reproduced", "inconclusive"]
    assert parts[1].mde == 0.7 and "below 0" in parts[0].rule


def test_rules_table_lists_every_part():
    t = claims.rules_table()
    assert len(t) == len(PARTS) and list(dict.fromkeys(t.id)) == [f"E{i}" for i in range(1, 14)]
    assert t["reproduced when"].str.contains("interval").all()


SETUP = {k: "x" for k in scorecard.SETUP_KEYS}


def test_report_writes_the_finding_and_the_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGLEDIR_RESULTS", str(tmp_path))
    r = {"estimate": 0.2, "ci_low": -0.1, "ci_high": 0.5, "n": 20, "mde": 0.6}
    f = scorecard.report("E3", {"conv net": r}, scale="tiny", setup=SETUP, glue=False)
    assert f["verdict"] == "inconclusive" and json.loads((tmp_path / "E3.json").read_text()) == f
    scorecard.report("E12", {"conv net": {**r, "ci_low": 0.05, "ci_high": 0.2}}, scale="tiny", setup=SETUP, glue=False)
    got = scorecard.collect(tmp_path)
    assert [g["id"] for g in got] == ["E3", "E12"]
    out = tmp_path / "scorecard.csv"
    got = [{**g, "chapter": "03_generalization"} for g in got]
    scorecard.write_csv(got, out, metas={"03_generalization": {"preset": "p.yml", "machine": {"cpu": "test"}}})
    lines = out.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["id", "part", "claim"] and lines[0].endswith(",torch,device,chapter_current")
    assert len(lines) == 1 + 2
    assert lines[1].startswith("E3,conv net,") and ",inconclusive,0.6,inconclusive,tiny,03_generalization,p.yml" in lines[1]
    assert ",reproduced,,reproduced,tiny," in lines[2]  # E12 lies below +0.3; a decided part has no MDE
    assert ",test," in lines[2]
    with pytest.raises(ValueError, match="lacks"):
        scorecard.report("E3", {"conv net": r}, scale="", setup={"data": "x"}, glue=False)
    md = scorecard.scorecard_markdown(got)
    assert md.count("\n") == 2 + 2 and "{numref}`fig-e3`" in md
    assert "::E3_p0_est_text:s`" in md and "::E3_p0_ci_text:s`" in md


def test_a_part_without_a_number_reads_n_a_not_nan():
    """E5 on data where 1 setting fits its training set has no correlation: the table says so."""
    nan = float("nan")
    _, (p,) = claims.decide("E5", {"settings that fit": {"estimate": nan, "ci_low": nan, "ci_high": nan, "n": 1,
                                                          "mde": nan}})
    assert p.verdict == "inconclusive"
    assert (scorecard.estimate_text(p), scorecard.interval_text(p)) == ("n/a", "n/a: 1 settings")
    assert scorecard.mde_text(p) == ("Inconclusive part (settings that fit): too few samples to estimate what "
                                     "this run could detect.")
    _, (q,) = claims.decide("E5", {"settings that fit": {"estimate": 0.9, "ci_low": 0.71, "ci_high": 1.0, "n": 11,
                                                          "mde": nan}})
    assert (scorecard.estimate_text(q), scorecard.interval_text(q)) == ("0.900", "0.710 to 1.000")
    assert scorecard.mde_text(q) == ""  # decided
    _, (r,) = claims.decide("E3", {"conv net": {"estimate": 0.05, "ci_low": -0.34, "ci_high": 0.44, "n": 28,
                                                 "mde": 0.52}})
    assert scorecard.mde_text(r) == ("Inconclusive part (conv net): with 80% power this run detects an effect of "
                                     "0.520 beyond the rule's boundary.")


def _reported_ids(chapter_text: str) -> set[str]:
    return set(re.findall(r'scorecard\.report\(\s*"(E\d+)"', chapter_text))


def test_every_claim_is_reported_by_its_chapter_and_the_chapter_is_in_the_book():
    toc = yaml.safe_load((book.ROOT / "_toc.yml").read_text())
    in_toc = {c["file"].split("/")[-1] for c in toc["chapters"]}
    chapters = book.chapter_paths()
    reported = {name: _reported_ids(p.read_text()) for name, p in chapters.items()}
    for c in claims.CLAIMS.values():
        assert c.chapter in chapters and c.chapter in in_toc, c.id
        assert c.id in reported[c.chapter], (c.id, c.chapter)
        assert set(c.paper_setup) == set(scorecard.SETUP_KEYS), c.id
        text = chapters[c.chapter].read_text()
        assert f":name: {c.figure}" in text, (c.id, c.figure)
    assert set().union(*reported.values()) == set(claims.CLAIMS)


def test_no_chapter_prints_a_finding_as_a_raw_dict():
    """``scorecard.report`` returns the finding (for code that uses it); a chapter cell that ends with
    the call would print the whole dict into the book under the figure. The prose and the first
    page show the finding; the cell ends with ``;``."""
    import ast

    for name, path in book.chapter_paths().items():
        for c in book.read_chapter(path).cells:
            if c.cell_type != "code" or "scorecard.report" not in c.source:
                continue
            last = ast.parse(c.source).body[-1]
            shown = isinstance(last, ast.Expr) and not c.source.rstrip().endswith(";")
            assert not shown, f"{name}: a cell ends with a displayed {ast.unparse(last)[:40]}...; end it with ';'"


def test_every_part_says_in_its_chapter_what_it_could_detect_when_inconclusive():
    """Each part's ``_mde_text`` (empty when decided) appears in its chapter's prose, so an
    inconclusive verdict is never shown without what the run could have detected. E3 states its
    detectable |rho| in its own sentence whatever the verdict."""
    for cid, claim in claims.CLAIMS.items():
        if cid == "E3":
            assert "e3_mde" in (book.ROOT / "chapters" / f"{claim.chapter}.md").read_text()
            continue
        text = (book.ROOT / "chapters" / f"{claim.chapter}.md").read_text()
        missing = [i for i in range(len(claim.parts)) if f"{{glue:text}}`{cid}_p{i}_mde_text`" not in text]
        assert not missing, f"{claim.chapter} never shows {cid}'s detectable effect for parts {missing}"
