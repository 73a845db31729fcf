"""The ledger table reads exactly its preset's files, and a damaged or foreign file is skipped with
one line naming it and what is wrong, never an exception (issue 34)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from singledir.pages import scorecard

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "results" / "default-2026-11-30-db4348fe7bd0.csv"


@pytest.fixture
def ledger(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    shutil.copyfile(GOOD, folder / GOOD.name)
    return folder


def _table(ledger: Path, preset: str = "default"):
    lines = []
    table = scorecard.ledger_markdown(ledger, preset, "db4348fe7bd0", lines.append)
    return table, lines


def test_another_presets_builds_are_not_in_the_table(ledger):
    shutil.copyfile(GOOD, ledger / "default-fast-2026-12-01-db4348fe7bd0.csv")
    table, lines = _table(ledger)
    assert table.splitlines()[0].count("design `") == 1 and "2026-12-01" not in table and not lines
    assert "2026-12-01" in _table(ledger, "default-fast")[0]


def test_a_second_build_of_a_day_is_read(ledger):
    shutil.copyfile(GOOD, ledger / "default-2026-11-30-db4348fe7bd0.2.csv")
    table, lines = _table(ledger)
    assert "(build 2)" in table and not lines


DAMAGED = {
    "header only": (lambda t: t.splitlines()[0] + "\n", "no rows"),
    "empty": (lambda t: "", "cannot be read as a CSV"),
    "cut mid-row": (lambda t: t[:len(t) // 2 + 37], "cut short"),
    "binary bytes": (None, "cannot be read as a CSV"),
    "renamed column": (lambda t: t.replace("headline", "headline_verdict", 1), "headline missing"),
}


@pytest.mark.parametrize("case", DAMAGED)
def test_a_damaged_ledger_file_is_skipped_with_one_line(ledger, case):
    damage, why = DAMAGED[case]
    bad = ledger / "default-2026-12-02-bbbbbbbbbbbb.csv"
    if damage is None:
        bad.write_bytes(b"\x00\xff\xfe\x89PNG\r\n\x1a\n" * 40)
    else:
        bad.write_text(damage(GOOD.read_text()))
    table, lines = _table(ledger)
    assert len(lines) == 1 and str(bad) in lines[0] and why in lines[0], lines
    assert "db4348fe7bd0" in table and "2026-12-02" not in table  # the good entry is still shown


def test_a_stray_file_is_skipped_with_one_line(ledger):
    (ledger / "default-notes.csv").write_text("note\nremember to rebuild\n")
    table, lines = _table(ledger)
    assert len(lines) == 1 and "default-notes.csv" in lines[0] and "not a ledger entry" in lines[0]
    assert "db4348fe7bd0" in table


def test_a_file_whose_rows_are_of_another_design_is_skipped(ledger):
    shutil.copyfile(GOOD, ledger / "default-2026-12-03-cccccccccccc.csv")
    table, lines = _table(ledger)
    assert len(lines) == 1 and "its name says cccccccccccc" in lines[0]
