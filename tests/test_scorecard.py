"""singledir.pages.scorecard: a finding written and tabulated (its JSON file, the scorecard CSV
and table) and the texts the chapters glue for a part with no number."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from helpers import fisher_interval
from singledir.pages import scorecard as scorecard_mod
from singledir.decide import stats
from singledir.decide import verdicts


SETUP = {k: "x" for k in scorecard_mod.SETUP_KEYS}


def test_report_writes_the_finding_and_the_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGLEDIR_RESULTS", str(tmp_path))
    r = fisher_interval(-0.4, 0.5, 20)  # neither wholly below 0 nor wholly above -0.3
    f = scorecard_mod.report("E3", {"conv net": r}, scale="tiny", setup=SETUP, glue=False)
    # NaN (a correlation has no standardized size) compares unequal to itself: compare the JSON texts
    assert f["verdict"] == "inconclusive" and json.dumps(json.loads((tmp_path / "E3.json").read_text())) == json.dumps(f)
    scorecard_mod.report("E12", {"conv net": fisher_interval(0.05, 0.2, 20)}, scale="tiny", setup=SETUP, glue=False)
    got = [json.loads((tmp_path / f"{i}.json").read_text()) for i in ("E3", "E12")]
    assert [g["id"] for g in got] == ["E3", "E12"]
    out = tmp_path / "scorecard.csv"
    got = [{**g, "chapter": "03_generalization"} for g in got]
    scorecard_mod.write_csv(got, out, metas={"03_generalization": {"preset": "p.yml", "machine": {"cpu": "test"}}},
                        design="abc123")
    lines = out.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["id", "part", "role"] and lines[0].endswith(",torch,device,training_code,chapter_current")
    t = pd.read_csv(out)
    assert len(t) == 2 and list(t.id) == ["E3", "E12"] and (t.design == "abc123").all()
    e3, e12 = t.iloc[0], t.iloc[1]
    assert (e3.part, e3.role, e3.part_verdict, e3.verdict, e3.preset) == ("conv net", "primary", "inconclusive",
                                                                           "inconclusive", "p.yml")
    # undecided, its p is the route nearer to deciding: the estimate lies above 0, so the contradicting route (-0.3)
    assert e3.mde == pytest.approx(stats.mde(r)) and e3.p == pytest.approx(stats.alpha_excluding(r, -0.3))
    assert e12.route == "opposite sign, within 0.3 of 0" and math.isnan(e12.standardized)
    assert (e12.part_verdict, e12.verdict, e12.cpu) == ("contradicted", "contradicted", "test")  # E12: negative
    assert math.isnan(e12.mde)  # a decided part has no MDE
    with pytest.raises(ValueError, match="lacks"):
        scorecard_mod.report("E3", {"conv net": r}, scale="", setup={"data": "x"}, glue=False)
    md = scorecard_mod.scorecard_markdown(got)
    assert md.count("\n") == 2 + 2 and "{numref}`fig-e3`" in md
    assert "::E3_p0_est_text:s`" in md and "::E3_p0_ci_text:s`" in md


def test_a_part_without_a_number_reads_n_a_not_nan():
    """E5 on data where 1 setting fits its training set has no correlation: the table says so."""
    one = stats.spearman([0.5], [0.9])
    _, (p, _) = verdicts.decide("E5", {"settings that fit": one, "every setting, given training accuracy": one})
    assert (p.verdict, p.route, p.p) == ("description", "description: n = 1", 1.0) and math.isnan(p.mde)
    assert (scorecard_mod.estimate_text(p), scorecard_mod.interval_text(p)) == ("n/a", "n/a: 1 settings")
    assert scorecard_mod.mde_text(p) == "Description only (settings that fit): n = 1, too few replicates to decide."
    fit = fisher_interval(0.71, 0.99, 11)
    _, (q, _) = verdicts.decide("E5", {"settings that fit": fit, "every setting, given training accuracy": one})
    assert (scorecard_mod.estimate_text(q), scorecard_mod.interval_text(q)) == (f"{fit['estimate']:.3f}", "0.710 to 0.990")
    assert scorecard_mod.mde_text(q) == ""  # decided
    e3 = fisher_interval(-0.34, 0.44, 28)
    _, (r,) = verdicts.decide("E3", {"conv net": e3})
    assert scorecard_mod.mde_text(r) == (f"Inconclusive part (conv net): with 80% power this run detects an effect of "
                                     f"{stats.mde(e3):.3f} beyond the rule's boundary.")


def test_a_description_route_does_not_repeat_its_verdict_word():
    from singledir.pages.scorecard import route_text

    assert route_text({"verdict": "description", "route": "description: n = 2"}) == "n = 2"
    assert route_text({"verdict": "description", "route": "description: every replicate the same"}) == \
        "every replicate the same"
    assert route_text({"verdict": "contradicted", "route": "smaller than 0.3"}) == "smaller than 0.3"
    assert route_text({"verdict": "inconclusive"}) == ""
