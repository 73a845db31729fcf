"""The first page's forest plot (singledir.pages.forest): each primary part in units of its effect
of interest, the paper's side to the right, with hand-computed positions."""
from __future__ import annotations

import math
from dataclasses import asdict

import pytest

from singledir.pages import forest
from singledir.decide import verdicts

from helpers import fisher_interval
from test_claims import t_result


def _finding(cid: str, results: dict) -> dict:
    verdict, parts = verdicts.decide(cid, results)
    return {"id": cid, "verdict": verdict, "parts": [asdict(p) for p in parts]}


def test_forest_table_scales_each_rule_by_its_effect_of_interest(tmp_path):
    e3 = fisher_interval(-0.3, 0.0, 40)  # sign rule below 0, effect 0.3: x from 1 (at -0.3) to 0
    e9 = {"MLP": fisher_interval(-0.15, 0.15, 300), "conv net, early layers": t_result(-0.2),
          "conv net, later layers": t_result(0.0), "depth": t_result(-0.5)}  # band of 0.3
    f5 = {"epoch, MLP": t_result(0.01, 0.004), "epoch, conv net": t_result(0.0), "setting": t_result(0.0)}
    findings = [_finding("E3", {"conv net": e3}), _finding("E9", e9), _finding("F5", f5)]
    t = forest.forest_table(findings).set_index("id")
    assert list(t.kind) == ["sign", "band", "margin"]
    assert (t.loc["E3", "lo"], t.loc["E3", "hi"]) == pytest.approx((0.0, 1.0))
    assert t.loc["E3", "x"] == pytest.approx(-e3["estimate"] / 0.3)
    assert (t.loc["E9", "lo"], t.loc["E9", "hi"]) == pytest.approx((-0.5, 0.5))  # a band: value over its half-width
    assert t.loc["E9", "paper"] == pytest.approx(0.095 / 0.3)  # "0.095 (pooled units)"
    assert t.loc["F5", "x"] == pytest.approx((0.01 + 0.01) / 0.02)  # the margin -0.01 at 0, effect 0.02 at 1
    assert math.isnan(t.loc["F5", "paper"])  # "as good as stopping on held-out loss" states no number
    assert t.loc["E3", "headline"] == verdicts.corrected_verdicts(findings)["E3"]["headline"]
    png = tmp_path / "forest.png"
    forest.forest_figure(t.reset_index(), png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    forest.forest_figure(forest.forest_table([]), tmp_path / "empty.png")  # no findings: a figure that says so
    assert (tmp_path / "empty.png").stat().st_size > 0


@pytest.mark.parametrize("text, value", [("-0.728 (over all checkpoints)", -0.728), ("0.914", 0.914),
                                         ("0.095 (pooled units)", 0.095), ("no relation", math.nan),
                                         ("AUC pick in the top 5 of 96 settings 83% of the time", math.nan),
                                         ("", math.nan)])
def test_the_paper_value_is_a_number_the_part_states_first(text, value):
    got = forest._paper_value(text)
    assert (math.isnan(got) and math.isnan(value)) or got == value
