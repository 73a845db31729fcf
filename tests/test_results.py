"""singledir.book.results: the findings files a chapter's run writes, which ones it must have written,
how they are read back (by claim number, damaged ones named), and the leftovers of killed runs."""
from __future__ import annotations

import json
from pathlib import Path

from singledir.book import results


def _executed(build_dir: Path, name: str, meta: dict) -> None:
    """An executed notebook of ``name`` whose runner metadata is ``meta``."""
    (build_dir / "exec").mkdir(parents=True, exist_ok=True)
    (build_dir / "exec" / f"{name}.ipynb").write_text(json.dumps({"metadata": {"singledir": meta}}))


def _finding(folder: Path, cid: str, text: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{cid}.json").write_text(json.dumps({"id": cid, "parts": []}) if text is None else text)


def test_findings_expected_of_a_notebook_without_a_record_come_from_the_claims():
    from singledir.book import results

    assert results.expected_findings({"run": "x"}, "02_memorization") == ["E1.json", "E2.json"]
    assert results.expected_findings({"run": "x", "findings": []}, "02_memorization") == []


def test_chapter_findings_come_from_the_recorded_run_by_claim_number_and_a_damaged_file_is_left_out(tmp_path, capsys):
    _executed(tmp_path, "03_b", {"run": "r2", "findings": ["E10.json", "E3.json", "F1.json"]})
    _executed(tmp_path, "02_a", {"run": "r1", "findings": ["E2.json", "E12.json"]})
    for cid in ("E10", "E3", "F1"):
        _finding(tmp_path / "results" / "03_b" / "r2", cid)
    _finding(tmp_path / "results" / "03_b" / "r1", "E4")  # an earlier run of 03_b: not read
    _finding(tmp_path / "results" / "02_a" / "r1", "E2")
    _finding(tmp_path / "results" / "02_a" / "r1", "E12", "{not json")
    got = results.chapter_findings(tmp_path, ["02_a", "03_b", "04_never_ran"])
    assert [(f["id"], f["chapter"]) for f in got] == [("E2", "02_a"), ("E3", "03_b"), ("E10", "03_b"), ("F1", "03_b")]
    assert "02_a: left out of the scorecard: its findings file" in capsys.readouterr().out
    assert results.findings_problem(tmp_path, "03_b") is None
    problem = results.findings_problem(tmp_path, "02_a")
    assert problem.startswith(f"its findings file {tmp_path / 'results' / '02_a' / 'r1' / 'E12.json'} is damaged (")
    (tmp_path / "results" / "03_b" / "r2" / "F1.json").unlink()
    assert results.findings_problem(tmp_path, "03_b") == (
        f"its findings file {tmp_path / 'results' / '03_b' / 'r2' / 'F1.json'} is missing")


def test_clean_leftovers_removes_partial_notebooks_and_the_failed_notebooks_of_current_chapters(tmp_path):
    (tmp_path / "failed").mkdir()
    for p in (".01_a.partial.ipynb", "01_a.ipynb", "failed/01_a.ipynb", "failed/02_b.ipynb"):
        (tmp_path / p).write_text("{}")
    results.clean_leftovers(tmp_path, ["01_a"])
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == ["01_a.ipynb", "failed", "failed/02_b.ipynb"]
    results.clean_leftovers(tmp_path, ["02_b"])
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["01_a.ipynb"]  # the empty folder too
