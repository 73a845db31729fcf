"""The registered builds on the first page, in the forest plot and in each chapter's verdict box."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from singledir.book.params import ROOT
from singledir.book.registration import registered_builds
from singledir.pages.forest import ledger_forest_table
from singledir.pages.grid import grid_markdown, registered_columns, registered_markdown, verdict_box

CARD = ROOT / "results/default-2026-12-08-555f603396c2.csv"


def _ledger(tmp_path, design="555f603396c2", card=True):
    """A ledger with one registered preset, ``mine`` (Fashion-MNIST), and its build's scorecard."""
    ledger, presets = tmp_path / "results", tmp_path / "params"
    ledger.mkdir(), presets.mkdir()
    (presets / "mine.yml").write_text("description: x\ndefaults:\n  data: {dataset: fashion_mnist}\n")
    (ledger / "mine-registration.json").write_text(json.dumps({"preset": "mine", "design": design,
                                                               "registered": "2026-12-08"}))
    if card:
        shutil.copy(CARD, ledger / "mine-2026-12-08-555f603396c2.csv")
    return ledger, presets


def test_a_registered_build_is_found_with_the_scorecard_of_its_design(tmp_path):
    ledger, presets = _ledger(tmp_path)
    [b] = registered_builds(ledger, presets)
    assert (b["preset"], b["label"], b["file"].name) == ("mine", "Fashion-MNIST, registered",
                                                         "mine-2026-12-08-555f603396c2.csv")
    assert len(b["card"]) == len(pd.read_csv(CARD))


def test_a_scorecard_of_another_design_is_not_the_registered_build(tmp_path):
    ledger, presets = _ledger(tmp_path, design="0123456789ab")
    [b] = registered_builds(ledger, presets)
    assert b["card"] is None and b["file"] is None
    assert "not built yet" in registered_markdown([b])


def test_the_grid_and_the_numbers_show_the_registered_column_beside_this_build(tmp_path):
    [b] = registered_builds(*_ledger(tmp_path))
    columns = registered_columns([b])
    assert columns["Fashion-MNIST, registered"]["E1"] == "reproduced"
    head = grid_markdown([], columns).splitlines()[0]
    assert "Fashion\u2011MNIST, registered" in head and "this build" in head  # a hyphen that does not break
    numbers = registered_markdown([b])
    e1 = next(line for line in numbers.splitlines() if line.startswith("| E1 |"))
    assert "MLP: -0.893 (-0.967 to -0.686), n 18; effect of interest 0.300; paper's side of 0" in e1


def test_each_verdict_box_opens_with_the_registered_verdicts(tmp_path):
    [b] = registered_builds(*_ledger(tmp_path))
    box = verdict_box("E3", [], [b])
    assert "Registered confirmatory verdicts" in box
    assert "conv net: 0.265 (-0.134 to 0.591), n 28; effect of interest 0.300; smaller than 0.3" in box
    assert "contradicted" in box and "not decided in this build" in box
    assert "Registered" not in verdict_box("E3", [], [])


def test_the_forest_rows_of_a_recorded_build_are_in_units_of_the_effect_of_interest():
    t = ledger_forest_table(pd.read_csv(CARD, dtype=str, keep_default_na=False, na_values=[""]), "recorded")
    assert len(t) == 21 and set(t.build) == {"recorded"}
    e1 = t.set_index("id").loc["E1"]
    # E1's paper side is negative: x = -(-0.893487) / 0.3
    assert e1.x == pytest.approx(0.893487172672944 / 0.3)
    assert (e1.lo, e1.hi) == pytest.approx((0.685998 / 0.3, 0.966587 / 0.3), abs=1e-5)
    assert e1.headline == "reproduced"


def test_the_numbers_give_each_parts_power_at_registration(tmp_path):
    ledger, presets = _ledger(tmp_path)
    rec = json.loads((ledger / "mine-registration.json").read_text())
    rec["parts"] = [{"id": "E1", "power_lowest": 0.906}]
    (ledger / "mine-registration.json").write_text(json.dumps(rec))
    numbers = registered_markdown(registered_builds(ledger, presets))
    assert "paper's side of 0; power 0.91 when registered |" in numbers
    assert "power" not in next(line for line in numbers.splitlines() if line.startswith("| E2 |"))


def test_a_forest_of_three_builds_is_as_tall_as_one_of_one_build(tmp_path):
    """The registered builds share each row with this build and the legend takes its place from the
    rows, so that the first page keeps its height."""
    from PIL import Image

    from singledir.pages.forest import forest_figure

    card = pd.read_csv(CARD, dtype=str, keep_default_na=False, na_values=[""])
    one = ledger_forest_table(card, "this build")
    three = pd.concat([ledger_forest_table(card, "MNIST, registered"), ledger_forest_table(card, "Fashion, registered"), one])
    forest_figure(one, tmp_path / "one.png")
    forest_figure(three, tmp_path / "three.png")
    h1, h3 = Image.open(tmp_path / "one.png").size[1], Image.open(tmp_path / "three.png").size[1]
    assert h3 == h1


def test_a_registered_preset_whose_file_is_gone_is_named_by_its_preset(tmp_path):
    ledger, presets = _ledger(tmp_path)
    (presets / "mine.yml").unlink()
    [b] = registered_builds(ledger, presets)
    assert b["label"] == "mine, registered" and b["card"] is not None
