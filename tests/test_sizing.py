"""Sizing a design from the ledger's spread (singledir.decide.sizing): the pivot rebuilt from
a recorded interval is the one the interval came from, and the count is the one stats.n_needed
gives on the original result."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from singledir.decide import claims, sizing, stats, verdicts


def _row(cid: str, part: str, r: dict, with_pivot: bool) -> dict:
    row = {"id": cid, "part": part, "role": "primary", "ours": r["estimate"], "ci_low": r["ci_low"],
           "ci_high": r["ci_high"], "n": r["n"], "part_verdict": "whatever it was"}
    if with_pivot:
        row.update({"pivot_center": r["center"], "pivot_scale": r["scale"], "pivot_df": r["df"],
                    "pivot_transform": r["transform"]})
    return row


@pytest.mark.parametrize("with_pivot", [True, False])
def test_the_pivot_of_a_recorded_interval_and_the_count_it_asks_for(tmp_path, with_pivot):
    rng = np.random.default_rng(3)
    e7 = stats.mean_ci(0.01 + 0.05 * rng.standard_normal(5))  # a t pivot
    x = rng.standard_normal(30)
    e3 = stats.spearman(x, -0.3 * x + rng.standard_normal(30))  # a Fisher pivot
    for r, back in ((e7, sizing.pivot_of(pd.Series(_row("E7", "conv net", e7, with_pivot)))),
                    (e3, sizing.pivot_of(pd.Series(_row("E3", "conv net", e3, with_pivot))))):
        assert back["transform"] == r["transform"]
        assert (back["center"], back["scale"], back["df"]) == pytest.approx((r["center"], r["scale"], r["df"]))
    path = tmp_path / "default-2026-12-07-abc.csv"
    pd.DataFrame([_row("E7", "conv net", e7, with_pivot), _row("E3", "conv net", e3, with_pivot),
                  {**_row("E1", "conv net", e3, with_pivot), "role": "secondary"}]).to_csv(path, index=False)
    t = sizing.sizes([path], power=0.9).set_index("id")
    assert list(t.index) == ["E3", "E7"]  # primary parts only
    for cid, r in (("E7", e7), ("E3", e3)):
        part = claims.CLAIMS[cid].primary
        effect = verdicts.effect_of_interest(cid, part)[0]
        want = stats.n_needed(r, lambda q: part.rule.detectable(q, power=0.9), effect)
        assert t.loc[cid, "n_needed"] == want and t.loc[cid, "effect"] == effect
    # more power asks for more replicates
    assert (sizing.sizes([path], power=0.8).set_index("id").n_needed <= t.n_needed).all()


def test_an_interval_clipped_at_the_range_or_too_few_replicates_gives_no_pivot():
    clipped = pd.Series({"n": 3, "ours": -0.5, "ci_low": -1.0, "ci_high": 0.1})
    assert math.isnan(sizing.pivot_of(clipped)["scale"])
    two = pd.Series({"n": 2, "ours": 0.5, "ci_low": 0.2, "ci_high": 0.8})
    assert math.isnan(sizing.pivot_of(two)["scale"])


def test_power_at_inverts_n_needed_for_a_mean():
    """For a t pivot the power at the count n_needed gives is at least the power asked for, and one
    replicate fewer falls short of it; an effect far beyond reach gives the floor, one trivially in
    reach the ceiling."""
    from singledir.decide import stats
    from singledir.decide.rules import POSITIVE
    from singledir.decide.sizing import power_at

    pilot = stats.mean_ci([0.3, -0.2, 0.5, 0.1, 0.0, 0.4])
    detect = POSITIVE.detectable
    n = int(stats.n_needed(pilot, lambda r: detect(r, power=0.8), 0.1))
    assert power_at(pilot, detect, 0.1, n) >= 0.8 - 1e-9
    assert power_at(pilot, detect, 0.1, n - 1) < 0.8
    assert power_at(pilot, detect, 1e-6, 3) == 0.05
    assert power_at(pilot, detect, 100.0, 3) == 0.9999
