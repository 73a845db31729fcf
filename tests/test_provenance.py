"""Where each figure came from: the data a figure was drawn from, the sweeps' record of the cache,
the chapter run's record, and the line the book puts under each figure."""
from __future__ import annotations

import json

import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import pytest

from singledir.base import sweeplog
from singledir.book import provenance
from singledir.pages import figures, plots


def test_a_figure_carries_the_tables_it_was_drawn_from():
    t = pd.DataFrame({"fraction": [0, 0.5, 1] * 2, "accuracy": [1, .5, .1, 1, .6, .2], "c": [0] * 3 + [1] * 3})
    fig = plots.curve_panels({"a": t, "b": t.assign(accuracy=0.5)}, hue="c")
    try:
        data = fig.singledir_data
        assert list(data) == ["tables: a", "tables: b"]
        table = figures.figure_table(data)
        assert list(table.columns) == ["table", "fraction", "accuracy", "c"] and len(table) == 12
        assert set(table.table) == {"tables: a", "tables: b"}
    finally:
        plt.close(fig)
    history = [{"epoch": e, "train_loss": 1.0 / (e + 1), "test_loss": 1.0, "train_acc": 0.5, "test_acc": 0.5}
               for e in range(3)]
    fig = plots.training_curves(history)  # a list of records is a table too
    try:
        assert figures.figure_table(fig.singledir_data).epoch.tolist() == [0, 1, 2]
    finally:
        plt.close(fig)
    assert figures.figure_table({"runs": t.set_index("c")}).columns[0] == "c"  # a named index is kept
    assert figures.figure_table({}).empty


def test_glue_figure_writes_the_data_in_a_chapter_run_and_nowhere_else(tmp_path, monkeypatch):
    monkeypatch.setattr("myst_nb.glue", lambda *a, **k: None)
    t = pd.DataFrame({"x": [1, 2], "y": [3, 4]})
    monkeypatch.delenv("SINGLEDIR_RESULTS", raising=False)
    fig = plots.scatter_with_fit(t, "x", "y").figure
    figures.glue_figure("fig_none", fig)  # outside a book's chapter: nothing written
    assert not list(tmp_path.rglob("*.csv"))
    monkeypatch.setenv("SINGLEDIR_RESULTS", str(tmp_path))
    fig, ax = plots.panels(1)
    fig.singledir_data = {"points": t}
    figures.glue_figure("fig_x", fig)
    assert pd.read_csv(tmp_path / figures.FIGURE_DATA / "fig_x.csv").equals(t)


def test_sweeps_record_what_came_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("SINGLEDIR_RESULTS", raising=False)
    sweeplog.record_sweep("nowhere", [0], 1, 1)  # outside a chapter: no file, no error
    monkeypatch.setenv("SINGLEDIR_RESULTS", str(tmp_path))
    sweeplog.record_sweep("a", [1, 0, 1], 3, 1)
    sweeplog.record_sweep(None, [5], 0, 4)
    (tmp_path / sweeplog.SWEEPS_FILE).open("a").write('{"name": "cut sh')  # a line cut short by a killed kernel
    assert sweeplog.sweep_counts(tmp_path) == {"sweeps": 2, "computed": 3, "cached": 5, "seeds": [0, 1, 5]}
    assert sweeplog.sweep_counts(tmp_path / "missing") == {"sweeps": 0, "computed": 0, "cached": 0, "seeds": []}


def test_a_sweep_records_its_seeds_and_what_it_took_from_the_cache(tmp_path, monkeypatch):
    """Two tiny MLPs trained, then the same sweep again: all from the cache, the networks trained
    counted once (new entries in the cache's runs/)."""
    import time

    from singledir.experiments import sweep
    from singledir.nets.models import MLPConfig
    from singledir.nets.runs import RunConfig, TrainConfig

    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SINGLEDIR_RESULTS", str(tmp_path))
    base = RunConfig(dataset="digits", n_train=100, n_test=50, model=MLPConfig(widths=(8,)),
                     train=TrainConfig(epochs=1, batch_size=64, lr=3e-3))
    cfgs = sweep.expand(base, seed=[3, 4])
    an = sweep.Measurements(grid=3, repetitions=1, noise_scales=())
    t0 = time.time() - 1
    sweep.run_sweep(cfgs, an, progress=False)
    assert provenance.networks_trained_since(t0) == 2
    sweep.run_sweep(cfgs, an, progress=False)
    assert sweeplog.sweep_counts(tmp_path) == {"sweeps": 2, "computed": 2, "cached": 2, "seeds": [3, 4]}
    assert provenance.networks_trained_since(time.time() + 60) == 0


@pytest.mark.parametrize("seeds, text", [([], "none recorded"), ([3], "3"), ([0, 1], "0, 1"), ([0, 1, 2, 3], "0-3"),
                                         ([0, 1, 100, 101, 102, 7], "0, 1, 7, 100-102")])
def test_seeds_read_as_ranges(seeds, text):
    assert provenance.seeds_text(seeds) == text


def test_the_line_under_a_chapters_figures():
    meta = {"preset": "params/smoke.yml", "executed": "2026-12-07T23:40:12+00:00", "commit": "abc123def456",
            "networks_trained": 3, "sweeps": {"sweeps": 2, "computed": 4, "cached": 36, "seeds": [0, 1, 2]}}
    line = provenance.chapter_line("03_generalization", meta, "d1e2", True, True)
    assert line == {"preset": "params/smoke.yml", "design": "d1e2", "commit": "abc123def456",
                    "run": "2026-12-07 23:40, executed in this build", "seeds": "0-2",
                    "networks": "3 trained in its run; of its 40 sweep runs, 36 from the cache",
                    "command": "make book ONLY=03_generalization PARAMS=params/smoke.yml"}
    kept = provenance.chapter_line("03_generalization", {"preset": "params/default.yml"}, "d1e2", False, False)
    assert kept["run"].endswith("kept from an earlier build") and "stale" in kept["design"]
    assert kept["commit"] == "not recorded" and kept["command"] == "make book ONLY=03_generalization"
    assert kept["networks"] == "trained in its run: not recorded"
    forest = provenance.forest_line({"a": meta, "b": {**meta, "commit": "fff"}}, "d1e2", "params/default.yml")
    assert forest["commit"] == "abc123def456, fff" and forest["command"] == "make book"
    assert forest["networks"] == "6 trained in the chapters' runs; of the chapters' 80 sweep runs, 72 from the cache"


def test_the_build_remembers_the_chapters_it_executed(tmp_path):
    assert provenance.last_execution(tmp_path) is None
    provenance.record_execution(tmp_path, ["02_memorization"])
    provenance.record_execution(tmp_path, [])  # a build that executed nothing leaves the record as it was
    assert provenance.last_execution(tmp_path) == ["02_memorization"]


def test_staging_copies_each_figures_data_beside_its_page(tmp_path):
    build, src = tmp_path / "build", tmp_path / "src"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "```{glue:figure} fig_a\n:name: fig-a\n\nCaption.\n```\n\n```{glue:figure} fig_b\n:name: fig-b\n\nNo data.\n```")])
    (build / "exec").mkdir(parents=True)
    nbformat.write(nb, str(build / "exec" / "02_memorization.ipynb"))
    (build / "results" / "02_memorization" / "run1" / "figures").mkdir(parents=True)
    (build / "results" / "02_memorization" / "run1" / "figures" / "fig_a.csv").write_text("x\n1\n")
    provenance.record_execution(build, ["02_memorization"])
    meta = {"run": "run1", "preset": "params/smoke.yml", "executed": "2026-12-07T23:40:12+00:00"}
    record = provenance.stage_figures(build, src, {"02_memorization": meta}, "d1e2", {"02_memorization": True},
                                      {"line": {}, "figures": {"fig-forest": "forest.csv"}})
    assert record["chapters/02_memorization"]["figures"] == {"fig-a": "02_memorization/fig_a.csv"}
    assert record["chapters/02_memorization"]["line"]["run"].endswith("executed in this build")
    assert record["index"]["figures"] == {"fig-forest": "forest.csv"}
    assert (src / provenance.FIGURE_DATA / "chapters" / "02_memorization" / "fig_a.csv").read_text() == "x\n1\n"
    json.dumps(record)  # what staging writes for the Sphinx extension


def test_the_commit_is_the_checkouts():
    commit = provenance.git_commit()
    assert commit == "unknown" or len(commit.split("+")[0]) == 12
    assert provenance.git_commit(provenance.ROOT.parent / "no-such-checkout") == "unknown"
