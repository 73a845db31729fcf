"""singledir.book: parameter files, executing chapters (cached by key, atomic on failure) and the
HTML render."""
from __future__ import annotations

import html as html_mod
import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from helpers import APPROACH, CHAPTER_HEADER, SMOKE_APPROACH, glued
from singledir.book import cli
from singledir.book.keys import chapter_key, executed_key, executed_meta
from singledir.book import params as params_mod
from singledir.book import runner
from singledir.pages import scorecard
from singledir.book.params import BookError

SMOKE = params_mod.ROOT / "params" / "smoke.yml"
DEFAULT = params_mod.ROOT / "params" / "default.yml"
MATHJAX = params_mod.ROOT / "book_static" / "mathjax" / "tex-svg-full.js"

FAILING_CHAPTER = CHAPTER_HEADER + '''
# A chapter that fails

```{code-cell} ipython3
:tags: [parameters]

x = 1
```

```{code-cell} ipython3
y = x + 1
```

```{code-cell} ipython3
raise ValueError(f"boom {y}")
```
'''


def write_yaml(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def smoke_doc() -> dict:
    return yaml.safe_load(SMOKE.read_text())


def partials(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if ".partial" in p.name)


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------
def test_chapters_in_book_order():
    chapters = params_mod.chapter_paths()
    assert list(chapters)[0] == "01_approach" and chapters["01_approach"] == APPROACH
    assert list(chapters) == sorted(chapters)


def test_declared_parameters_of_the_approach_chapter():
    assert params_mod.declared_parameters(params_mod.read_chapter(APPROACH)) == {
        "data": {"dataset": "mnist5k", "n_train": None, "n_test": None, "image_size": None, "conv_dataset": None,
                 "unused_to_test": True}, "corruption": 0.4,
        "model": {"kind": "mlp", "widths": [128, 128]},
        "train": {"epochs": 25, "batch_size": 128, "lr": 0.001}, "corrupted_epochs": 75, "seed": 0}


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for src, tags in cells:
        nb.cells.append(nbformat.v4.new_code_cell(src, metadata={"tags": tags}))
    return nb


def test_declared_parameters_forms():
    nb = _nb(("a = 1\nb: int = 2\nc = len([1])\nd, e = 1, 2\n", ["parameters"]), ("z = 3", []))
    assert params_mod.declared_parameters(nb) == {"a": 1, "b": 2, "c": None}


@pytest.mark.parametrize("n", [0, 2])
def test_a_chapter_needs_exactly_one_parameters_cell(n):
    nb = _nb(*[("a = 1", ["parameters"])] * n, ("b = 2", []))
    with pytest.raises(BookError, match=f"exactly one cell tagged 'parameters', found {n}"):
        params_mod.declared_parameters(nb)


def test_load_smoke_params():
    params = params_mod.load_params(SMOKE, params_mod.chapter_paths())
    assert params["01_approach"] == SMOKE_APPROACH


def test_chapter_values_override_defaults_and_defaults_reach_only_declaring_chapters(tmp_path):
    doc = smoke_doc()
    doc["defaults"]["seed"] = 5  # 01_approach declares seed and sets its own
    doc["defaults"]["corruption"] = 0.9
    del doc["chapters"]["01_approach"]["corruption"]
    params = params_mod.load_params(write_yaml(tmp_path / "p.yml", doc), params_mod.chapter_paths())
    assert params["01_approach"] == {**SMOKE_APPROACH, "corruption": 0.9}
    declared = set(params_mod.declared_parameters(params_mod.read_chapter(APPROACH)))
    assert set(params["01_approach"]) <= declared


PRESETS = sorted((params_mod.ROOT / "params").glob("*.yml"))


def test_presets_include_smoke_and_default():
    assert SMOKE in PRESETS and DEFAULT in PRESETS


@pytest.mark.parametrize("path", PRESETS, ids=[p.stem for p in PRESETS])
def test_presets_cover_every_chapter_with_declared_names(path):
    chapters = params_mod.chapter_paths()
    params = params_mod.load_params(path, chapters)
    assert list(params) == list(chapters)
    for name, p in params.items():
        assert set(p) <= set(params_mod.declared_parameters(params_mod.read_chapter(chapters[name])))


@pytest.mark.parametrize("change,words", [
    (lambda d: d["chapters"]["01_approach"].update(epochz=3), ["01_approach", "epochz"]),
    (lambda d: d["chapters"].update({"99_nope": {"seed": 1}}), ["unknown chapter", "99_nope"]),
    (lambda d: d.update(parameters={"seed": 1}), ["unknown section", "parameters"]),
    (lambda d: d["defaults"].update(bogus=1), ["bogus", "declared by no chapter"]),
], ids=["undeclared-key", "unknown-chapter", "unknown-section", "unused-default"])
def test_bad_params_files(tmp_path, change, words):
    doc = smoke_doc()
    change(doc)
    path = write_yaml(tmp_path / "bad.yml", doc)
    with pytest.raises(BookError) as e:
        params_mod.load_params(path, params_mod.chapter_paths())
    for w in words:
        assert w in str(e.value)
    assert str(path) in str(e.value)


def test_missing_params_file(tmp_path):
    with pytest.raises(BookError) as e:
        params_mod.load_params(tmp_path / "nope.yml", params_mod.chapter_paths())
    assert "nope.yml" in str(e.value) and "does not exist" in str(e.value)
    assert "params/smoke.yml" in str(e.value) and "params/default.yml" in str(e.value)
    with pytest.raises(BookError):
        cli.build(tmp_path / "nope.yml", build_dir=tmp_path / "_build", html=False, progress=False)


def test_main_reports_a_book_error(tmp_path, capsys):
    assert cli.main(["--params", str(tmp_path / "nope.yml"), "--no-html", "--build-dir", str(tmp_path)]) == 1
    assert "[book] ERROR" in capsys.readouterr().err


def test_unknown_chapter_in_only(tmp_path):
    with pytest.raises(BookError, match="99_nope"):
        cli.build(SMOKE, build_dir=tmp_path / "_build", only=["99_nope"], html=False, progress=False)


# ---------------------------------------------------------------------------------------------
# Executing the chapters with the smoke parameters
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def smoke_cache(smoke_build, monkeypatch):
    """The smoke build's cache (it holds the example network's weights that chapter 7 reads)."""
    monkeypatch.setenv("SINGLEDIR_CACHE", str(smoke_build.cache))


def test_every_chapter_executes(smoke_build, smoke_cache):
    build_dir, times, chapters, _ = smoke_build
    params = params_mod.load_params(SMOKE, chapters)
    assert list(times) == list(chapters)
    for name, src in chapters.items():
        assert isinstance(times[name], float) and times[name] > 0
        nb = nbformat.read(build_dir / "exec" / f"{name}.ipynb", as_version=4)
        meta = nb.metadata["singledir"]
        assert meta["key"] == chapter_key(src, params[name])
        assert meta["params"] == params[name]
        assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    assert partials(build_dir) == []
    assert not (build_dir / "exec" / "failed").exists()
    assert not (build_dir / "html").exists()  # html=False renders nothing


def test_the_values_a_parameter_file_gives_are_folded_in_a_named_box(smoke_build):
    """papermill's injected cell (the smoke preset's values) is hidden under a box that says what it
    holds, beside the chapter's own "Parameters of this chapter" box."""
    nb = nbformat.read(smoke_build.build_dir / "exec" / "02_memorization.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert "hide-cell" in injected[0].metadata["tags"]
    assert injected[0].metadata["mystnb"]["code_prompt_show"] == "Values the parameter file gives this chapter"


def test_each_chapter_records_where_its_time_went(smoke_build):
    """The run record splits a chapter's seconds into training, curves and unit measures (timed in
    the package) and the rest; chapter 2 trains and draws curves, chapter 5 measures units."""
    from singledir.book.staging import build_info, time_split

    metas = {n: nbformat.read(smoke_build.build_dir / "exec" / f"{n}.ipynb", as_version=4).metadata["singledir"]
             for n in smoke_build.chapters}
    for name, meta in metas.items():
        # the phases recorded are the sums of the timed blocks the run's phases file holds
        path = smoke_build.build_dir / "results" / name / meta["run"] / "phases.jsonl"
        recorded = {"training": 0.0, "curves": 0.0, "units": 0.0}
        for line in path.read_text().splitlines() if path.exists() else []:
            rec = json.loads(line)
            recorded[rec["phase"]] += rec["seconds"]
        assert meta["phases"] == {k: round(v, 2) for k, v in recorded.items()}
        split = time_split(meta)
        assert list(split) == ["training", "curves", "unit measures", "analysis"]
        phases = meta["phases"]["training"] + meta["phases"]["curves"] + meta["phases"]["units"]
        assert (split["training"], split["curves"], split["unit measures"]) == (
            meta["phases"]["training"], meta["phases"]["curves"], meta["phases"]["units"])
        assert split["analysis"] == pytest.approx(max(meta["seconds"] - phases, 0.0), abs=1e-9)
    assert time_split(metas["02_memorization"])["training"] > 0 and time_split(metas["02_memorization"])["curves"] > 0
    assert time_split(metas["05_selectivity"])["unit measures"] > 0
    page = build_info("params/smoke.yml", None, list(metas), metas, dict.fromkeys(metas, True), None)
    assert "| training | curves | unit measures | analysis |" in page


def test_approach_chapter_glues_the_numbers_the_package_computes(smoke_build):
    from singledir.nets.runs import RunConfig, load_run_dataset
    from singledir.nets.training import train_network

    build_dir = smoke_build[0]
    nb = nbformat.read(build_dir / "exec" / "01_approach.ipynb", as_version=4)
    p = SMOKE_APPROACH
    cfg = RunConfig.from_dict({**{k: p["data"][k] for k in ("dataset", "n_train", "n_test")},
                               **{k: p[k] for k in ("model", "train", "seed")}})
    ds = load_run_dataset(cfg.with_(corruption=p["corruption"]))
    assert glued(nb, "ds_name") == "'digits'"
    assert glued(nb, "n_train") == "400" and glued(nb, "n_test") == "200"
    assert glued(nb, "n_chosen") == "200"  # 0.5 * 400
    assert glued(nb, "n_changed") == str(int((ds.y_train != ds.y_train_true).sum()))
    # the kernel's training run gives the same numbers as training here: deterministic across processes
    run = train_network(cfg, use_cache=False, device="cpu")
    assert glued(nb, "true_test_acc") == repr(run.final["test_acc"])
    assert glued(nb, "true_train_acc") == repr(run.final["train_acc"])


def test_second_build_is_up_to_date(smoke_build, smoke_cache):
    build_dir, _, chapters, _ = smoke_build
    # NB: the key includes every singledir/*.py, so editing the package meanwhile re-executes.
    times = cli.build(SMOKE, build_dir=build_dir, html=False, progress=False)
    assert times == {name: None for name in chapters}


def test_changed_params_re_execute_that_chapter(smoke_build, smoke_cache, tmp_path):
    build_dir = tmp_path / "_build"
    shutil.copytree(smoke_build[0], build_dir)
    (build_dir / cli.PARAMS_MARKER).unlink()  # the copy becomes the book of another parameter file
    doc = smoke_doc()
    doc["chapters"]["01_approach"]["seed"] = 1
    params = write_yaml(tmp_path / "smoke_seed1.yml", doc)
    times = cli.build(params, build_dir=build_dir, html=False, progress=False)
    assert isinstance(times["01_approach"], float)
    assert all(t is None for n, t in times.items() if n != "01_approach")
    nb = nbformat.read(build_dir / "exec" / "01_approach.ipynb", as_version=4)
    assert nb.metadata["singledir"]["params"]["seed"] == 1
    assert nb.metadata["singledir"]["key"] == chapter_key(APPROACH, {**SMOKE_APPROACH, "seed": 1})
    assert cli.build(params, build_dir=build_dir, html=False, progress=False)["01_approach"] is None


def test_a_complete_build_is_recorded_in_the_ledger_and_the_ledger_table_lists_it(smoke_build, smoke_cache, tmp_path):
    """``record``: the scorecard is copied to LEDGER/PRESET-DATE-DESIGN.csv, and the staged ledger
    table lists it as this design; a build with a chapter missing is refused and records nothing."""
    import datetime

    build_dir, ledger = tmp_path / "_build", tmp_path / "results"
    shutil.copytree(smoke_build[0], build_dir)
    cli.build(SMOKE, build_dir=build_dir, html=False, progress=False, record=ledger)
    (csv,) = ledger.glob("*.csv")
    design = pd.read_csv(build_dir / "scorecard.csv").design.iloc[0]
    assert csv.name == f"smoke-{datetime.date.today().isoformat()}-{design}.csv"
    assert csv.read_text() == (build_dir / "scorecard.csv").read_text()
    table = scorecard.ledger_markdown(ledger, "smoke", design)
    assert f"design `{design}` (this design)" in table and "| E1 | " in table
    assert "no earlier build" in scorecard.ledger_markdown(ledger, "default", design)
    (build_dir / "exec" / "07_your_model.ipynb").unlink()
    with pytest.raises(params_mod.BookError, match="not recorded in the ledger"):
        cli.build(SMOKE, build_dir=build_dir, html=False, progress=False, record=tmp_path / "other",
                   only=["01_approach"])
    assert not (tmp_path / "other").exists()


def test_force_re_executes(smoke_build, tmp_path, monkeypatch):
    build_dir = tmp_path / "_build"
    shutil.copytree(smoke_build[0], build_dir)
    monkeypatch.setattr(cli, "execute_chapter", lambda name, *a, **k: 1.5)
    assert cli.build(SMOKE, build_dir=build_dir, html=False, progress=False, force=True) == {
        name: 1.5 for name in smoke_build[2]}


def test_a_failing_chapter_leaves_no_result(tmp_path, monkeypatch):
    src = tmp_path / "chapters" / "99_failing.md"
    src.parent.mkdir()
    src.write_text(FAILING_CHAPTER)
    monkeypatch.setattr(cli, "chapter_paths", lambda root=params_mod.ROOT: {"99_failing": src})
    params = write_yaml(tmp_path / "p.yml", {"chapters": {"99_failing": {"x": 2}}})
    build_dir = tmp_path / "_build"
    final = build_dir / "exec" / "99_failing.ipynb"
    final.parent.mkdir(parents=True)
    earlier = json.dumps({"metadata": {"singledir": {"key": "stale", "run": "r0"}}})
    final.write_text(earlier)  # an earlier result, for other parameters
    with pytest.raises(BookError) as e:
        cli.build(params, build_dir=build_dir, html=False, progress=False)
    msg = str(e.value)
    assert "chapter 99_failing failed" in msg and "ValueError" in msg and "boom 3" in msg
    failed = build_dir / "exec" / "failed" / "99_failing.ipynb"
    assert str(failed) in msg
    assert final.read_text() == earlier  # kept as it was, and not current: its key is not this run's
    assert executed_key(final) != chapter_key(src, {"x": 2})
    assert partials(build_dir) == []
    nb = nbformat.read(failed, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert len(errors) == 1 and errors[0]["evalue"] == "boom 3"
    assert cli.main(["--params", str(params), "--no-html", "--build-dir", str(build_dir)]) == 1


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------
def test_html_render(smoke_build, smoke_cache):
    if not MATHJAX.exists():
        pytest.skip(f"{MATHJAX.relative_to(params_mod.ROOT)} is missing: `make` fetches it (npm's mathjax@3.2.2)")
    build_dir, _, chapters, _ = smoke_build
    cli.build(SMOKE, build_dir=build_dir, html=True, progress=False)
    out = build_dir / "html"
    assert (out / "index.html").exists()
    for name in chapters:
        text = (out / "chapters" / f"{name}.html").read_text()
        assert "{glue" not in text, name
        # Sphinx loads MathJax only on pages with math; where it does, from the book itself
        scripts = {s.split("?")[0] for s in re.findall(r'src="([^"]*mathjax[^"]*)"', text, flags=re.IGNORECASE)}
        assert scripts <= {"../_static/mathjax/tex-svg-full.js"}, (name, scripts)
    page = out / "chapters" / "01_approach.html"
    assert page.exists()
    text = page.read_text()
    assert "{glue" not in text
    assert "../_static/mathjax/tex-svg-full.js" in text
    assert (out / "_static" / "mathjax" / "tex-svg-full.js").read_bytes() == MATHJAX.read_bytes()
    assert "cdn.jsdelivr.net" not in text  # MathJax is served by the book itself
    # the page "What this build did" says where the numbers came from
    import torch

    index = " ".join(html_mod.unescape(re.sub(r"<[^>]+>", " ", (out / "build.html").read_text())).split())
    assert "What this build did" in index and "params/smoke.yml" in index
    assert f"{os.cpu_count()} cores" in index
    machine = runner.machine_info()
    assert machine["cpu"] in index and machine["instruction_set"] in index and torch.__version__ in index
    assert f"{machine['torch_threads']} torch threads" in index
    for name in chapters:
        meta = executed_meta(build_dir / "exec" / f"{name}.ipynb")
        assert meta["executed"].replace("T", " ") in index and f"{meta['seconds']:.1f}" in index
    # the session's build executed every chapter; this one, rendering only, kept them: the page
    # describes the build that executed them
    assert f"executed {len(chapters)} of the {len(chapters)} chapters" in index
    words = " ".join(html_mod.unescape(re.sub(r"<[^>]+>", " ", text)).split())
    assert "200 of the 400 training images were chosen" in words
    assert "The test set has 200 images" in words


def test_a_second_build_of_a_design_on_one_day_keeps_the_first_in_the_ledger(tmp_path):
    """Two builds of one design recorded the same day (say, after the networks' code changed): the
    first file stays, the second is ``.2.csv``, and the ledger table shows both, oldest first."""
    ledger = tmp_path / "results"

    def scorecard_csv(verdict: str, executed: str) -> Path:
        path = tmp_path / f"scorecard-{verdict}.csv"
        pd.DataFrame([{"id": "E1", "role": "primary", "headline": verdict, "part_verdict": verdict,
                       "design": "abc123", "executed": executed}]).to_csv(path, index=False)
        return path

    first = cli.record_build(scorecard_csv("reproduced", "2026-11-30T08:00:00+00:00"), ledger, "p", "abc123", True)
    second = cli.record_build(scorecard_csv("inconclusive", "2026-11-30T09:00:00+00:00"), ledger, "p", "abc123", True)
    assert first.name.endswith("-abc123.csv") and second.name == first.name.replace(".csv", ".2.csv")
    assert pd.read_csv(first).headline.iloc[0] == "reproduced"  # not overwritten
    table = scorecard.ledger_markdown(ledger, "p", "abc123")
    header, _, row = table.splitlines()
    assert header.count("design `abc123` (this design)") == 2 and "(build 2)" in header
    assert row.index("reproduced") < row.index("inconclusive")
