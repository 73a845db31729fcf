"""singledir.book: what a build folder holds and when it is current, as the book's own state goes
wrong: a parameter file named like a preset, a render interrupted, findings files lost or damaged,
leftovers of killed and failed runs, chapters that are no longer current."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from singledir.book import cli
from singledir.book import params as params_mod
from singledir.book import staging
from singledir.book.params import BookError
from test_runner import make_chapters, meta, ours, write_params

ROOT = params_mod.ROOT
VALUES = {"01_approach": {"value": 1.0}, "02_memorization": {"value": 2.0}}


@pytest.fixture
def fake_book(tmp_path, monkeypatch):
    """The two quick test chapters of test_runner in place of the book's."""
    chapters = make_chapters(tmp_path / "chapters")
    paths = {p.stem: p for p in sorted(chapters.glob("*.md"))}
    monkeypatch.setattr(cli, "chapter_paths", lambda root=ROOT: paths)
    return tmp_path


def said(capsys) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("[book]")]


# ---------------------------------------------------------------------------------------------
# Item 1: a build folder belongs to one parameter file
# ---------------------------------------------------------------------------------------------
def test_presets_keep_their_folders_and_other_files_named_like_them_get_their_own(tmp_path):
    assert cli.default_build_dir(ROOT / "params" / "default.yml") == ROOT / "_build"
    assert cli.default_build_dir(ROOT / "params" / "smoke.yml") == ROOT / "_build" / "smoke"
    assert cli.default_build_dir(Path("params/smoke.yml")) == ROOT / "_build" / "smoke"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    mine = {cli.default_build_dir(tmp_path / d / f"{stem}.yml") for d in "ab" for stem in ("default", "smoke")}
    assert len(mine) == 4 and not mine & {ROOT / "_build", ROOT / "_build" / "smoke"}
    assert all(p.parent == ROOT / "_build" and p.name.startswith(("default-", "smoke-")) for p in mine)


def test_a_build_folder_refuses_the_book_of_another_parameter_file(fake_book, capsys):
    build_dir = fake_book / "_build"
    first = write_params(fake_book / "smoke.yml", VALUES)
    cli.build(first, build_dir=build_dir, html=False, progress=False)
    assert f"[book] building {first} into {build_dir}" in said(capsys)
    assert (build_dir / cli.PARAMS_MARKER).read_text().strip() == str(first)
    before = {n: meta(build_dir, n) for n in VALUES}
    (fake_book / "exp").mkdir()
    other = write_params(fake_book / "exp" / "smoke.yml", {"01_approach": {"value": 9.0}})
    with pytest.raises(BookError) as e:
        cli.build(other, build_dir=build_dir, html=False, progress=False)
    assert f"holds the book of {first}, not of {other}" in str(e.value) and "--build-dir" in str(e.value)
    assert {n: meta(build_dir, n) for n in VALUES} == before
    # the same file, edited, is the same book
    write_params(first, {**VALUES, "01_approach": {"value": 3.0}})
    assert cli.build(first, build_dir=build_dir, html=False, progress=False)["01_approach"] > 0


# ---------------------------------------------------------------------------------------------
# Item 2: a render interrupted is not taken for the current pages
# ---------------------------------------------------------------------------------------------
def fake_render(calls: list):
    def render(src_dir, build_dir, full):
        calls.append(src_dir)
        (build_dir / "html").mkdir(parents=True, exist_ok=True)
        (build_dir / "html" / "index.html").write_text((src_dir / staging.BUILD_INFO_PAGE).read_text())
    return render


def test_a_render_interrupted_after_staging_is_rendered_again(fake_book, monkeypatch, capsys):
    build_dir, calls = fake_book / "_build", []
    params = write_params(fake_book / "p.yml", VALUES)
    monkeypatch.setattr(cli, "render", fake_render(calls))
    cli.build(params, build_dir=build_dir, progress=False)
    assert len(calls) == 1
    params.write_text(params.read_text() + "description: a new description\n")  # a staged page changes

    def interrupted(src_dir, build_dir, full):
        assert "a new description" in (src_dir / staging.BUILD_INFO_PAGE).read_text()  # already staged
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "render", interrupted)
    with pytest.raises(cli.BuildInterrupted):
        cli.build(params, build_dir=build_dir, progress=False)
    monkeypatch.setattr(cli, "render", fake_render(calls))
    capsys.readouterr()
    cli.build(params, build_dir=build_dir, progress=False)
    assert len(calls) == 2, said(capsys)
    assert "a new description" in (build_dir / "html" / "index.html").read_text()
    cli.build(params, build_dir=build_dir, progress=False)
    assert len(calls) == 2
    assert f"[book] HTML in {build_dir / 'html'} is up to date" in said(capsys)


# ---------------------------------------------------------------------------------------------
# Items 3 and 4: findings files missing or damaged
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["missing", "damaged"])
def test_a_chapter_whose_findings_file_is_lost_is_executed_again(fake_book, capsys, damage):
    build_dir = fake_book / "_build"
    params = write_params(fake_book / "p.yml", VALUES)
    cli.build(params, build_dir=build_dir, html=False, progress=False)
    path = build_dir / "results" / "01_approach" / meta(build_dir, "01_approach")["run"] / "E1.json"
    path.unlink() if damage == "missing" else path.write_text('{"id": "E1", "parts": [')
    capsys.readouterr()
    if damage == "damaged":  # read on its own, the damaged file is named and left out, never a traceback
        assert ours(build_dir) == {"E2": 2.0}
        assert f"[book] 01_approach: left out of the scorecard: its findings file {path} is damaged" in \
            "\n".join(said(capsys))
    cli.build(params, build_dir=build_dir, only=["02_memorization"], html=False, progress=False)  # not chapter 1
    assert any(line.startswith(f"[book] 01_approach: not current: its findings file {path} is {damage}")
               and line.endswith("; its claims are marked stale; execute it again with --only 01_approach")
               for line in said(capsys))
    assert set(pd.read_csv(build_dir / "scorecard.csv").id) == {"E2"}  # E1's numbers are not there to show
    times = cli.build(params, build_dir=build_dir, html=False, progress=False)
    assert times["01_approach"] > 0 and times["02_memorization"] is None
    lines = said(capsys)
    assert any(line.startswith(f"[book] 01_approach: not current: its findings file {path} is {damage}")
               and line.endswith("; executing it again") for line in lines), lines
    assert ours(build_dir) == {"E1": 1.0, "E2": 2.0}
    assert meta(build_dir, "01_approach")["findings"] == ["E1.json"]


# ---------------------------------------------------------------------------------------------
# Items 9 and 12: stale findings marked; leftovers cleaned
# ---------------------------------------------------------------------------------------------
def test_findings_of_a_chapter_not_current_are_marked_in_the_csv_and_the_scorecard(fake_book, monkeypatch):
    build_dir = fake_book / "_build"
    params = write_params(fake_book / "p.yml", VALUES)
    monkeypatch.setattr(cli, "render", fake_render([]))
    cli.build(params, build_dir=build_dir, progress=False)
    assert set(pd.read_csv(build_dir / "scorecard.csv").chapter_current) == {True}
    write_params(params, {**VALUES, "01_approach": {"value": 5.0}})  # chapter 1 is no longer current
    cli.build(params, build_dir=build_dir, only=["02_memorization"], progress=False)
    table = pd.read_csv(build_dir / "scorecard.csv")
    assert dict(zip(table.id, table.chapter_current)) == {"E1": False, "E2": True}
    page = (build_dir / "src" / staging.SCORECARD_PAGE).read_text()
    assert "| E1 (stale: its chapter is not current) |" in page and "| E2 |" in page


def test_leftovers_of_killed_and_failed_runs_are_removed_once_they_describe_nothing(fake_book):
    build_dir = fake_book / "_build"
    params = write_params(fake_book / "p.yml", VALUES)
    cli.build(params, build_dir=build_dir, html=False, progress=False)
    exec_dir = build_dir / "exec"
    partial = exec_dir / ".02_memorization.partial.ipynb"  # a run killed with SIGKILL leaves this
    partial.write_text("{}")
    write_params(params, {**VALUES, "01_approach": {"value": 1.0, "fail": True}})
    with pytest.raises(BookError, match="chapter 01_approach failed"):
        cli.build(params, build_dir=build_dir, html=False, progress=False)
    assert (exec_dir / "failed" / "01_approach.ipynb").exists()
    write_params(params, VALUES)  # back to the values of its last successful run: current again
    assert cli.build(params, build_dir=build_dir, html=False, progress=False)["01_approach"] is None
    assert not partial.exists() and not (exec_dir / "failed").exists()
    assert sorted(p.name for p in exec_dir.iterdir()) == ["01_approach.ipynb", "02_memorization.ipynb"]


def test_a_refused_parameter_file_leaves_no_build_folder(fake_book):
    build_dir = fake_book / "_build" / "bad"
    params = write_params(fake_book / "bad.yml", {"01_approach": {"value": "abc"}})
    with pytest.raises(BookError, match="value"):
        cli.build(params, build_dir=build_dir, html=False, progress=False)
    assert not (fake_book / "_build").exists()


# ---------------------------------------------------------------------------------------------
# Item 10: warnings go to the build's lines, not into the pages
# ---------------------------------------------------------------------------------------------
WARNING_CELL = '''
```{code-cell} ipython3
import warnings
warnings.warn("a test warning")
print("printed output stays")
```
'''


def test_a_warning_in_a_chapter_is_a_build_line_not_a_cell_output(fake_book, capsys):
    import nbformat

    source = fake_book / "chapters" / "01_approach.md"
    source.write_text(source.read_text() + WARNING_CELL)
    build_dir = fake_book / "_build"
    params = write_params(fake_book / "p.yml", VALUES)
    cli.build(params, build_dir=build_dir, only=["01_approach"], html=False, progress=False)
    lines = said(capsys)
    assert any(line.startswith("[book] 01_approach: warning: UserWarning: a test warning (") for line in lines), lines
    nb = nbformat.read(build_dir / "exec" / "01_approach.ipynb", as_version=4)
    outputs = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "printed output stays" in outputs and "a test warning" not in outputs and "UserWarning" not in outputs
    assert "warnings_to_progress" not in json.dumps(nb.cells[-1])  # nothing of the routing shows in the page
