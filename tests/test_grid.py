"""The first page's verdict grid (singledir.pages.grid): every claim a row, its short name linked to
its figure, a mark per build that says its verdict."""
from __future__ import annotations

from dataclasses import asdict

from singledir.pages import grid
from singledir.decide import claims, verdicts

from helpers import fisher_interval


def test_every_claim_has_a_short_name():
    assert set(grid.SHORT_NAMES) == set(claims.CLAIMS)
    assert all(0 < len(n) <= 50 for n in grid.SHORT_NAMES.values())


def test_the_grid_sets_the_paper_beside_the_later_work_with_a_mark_per_build():
    verdict, parts = verdicts.decide("E3", {"conv net": fisher_interval(-0.8, -0.4, 90)})
    findings = [{"id": "E3", "verdict": verdict, "figure": "fig-e3", "parts": [asdict(p) for p in parts]}]
    md = grid.grid_markdown(findings, columns={"registered": {"E3": "inconclusive", "F2": "contradicted"}})
    lines = md.splitlines()
    assert lines[0] == "| id | the claim | registered | this build | id | the claim | registered | this build |"
    n_paper = sum(c.startswith("E") for c in claims.CLAIMS)
    assert len(lines) == 2 + n_paper  # the longer column sets the rows
    e3 = next(l for l in lines if l.startswith('| <span class="claim-id">E3</span> |'))
    assert "{ref}`generalizers rely less on single directions <fig-e3>`" in e3
    assert grid.mark("inconclusive") in e3 and grid.mark("reproduced") in e3  # registered, then this build
    f2 = next(l for l in lines if '| <span class="claim-id">F2</span> |' in l)
    assert grid.mark("contradicted") in f2 and "{ref}" not in f2  # no finding of F2 in this build: no link
    assert grid.mark("not tested") == '<span class="verdict-mark not-tested">not tested</span>'
