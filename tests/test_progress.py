"""singledir.base.progress: one line per update in $SINGLEDIR_PROGRESS_LOG (what the book runner prints
while a chapter runs), from sweeps and from the cache's damaged-entry message."""
from __future__ import annotations

import re
import warnings

import pytest
import torch

from singledir.base import cache as cache_mod
from singledir.base import progress as progress_mod


class FakeClock:
    """A ``time`` module whose ``perf_counter`` moves only when told to."""

    def __init__(self):
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now


def test_progress_appends_one_line_per_update(tmp_path, monkeypatch):
    """Elapsed and left on a clock the test moves: one step in 3 s leaves two more, ~6 s."""
    clock = FakeClock()
    monkeypatch.setattr(progress_mod, "time", clock)
    log = tmp_path / "progress.log"
    monkeypatch.setenv(progress_mod.ENV, str(log))
    with progress_mod.Progress(4, "sweep runs", initial=1, bar=False) as bar:
        clock.now += 3.0
        bar.update(note="seed 3 done")
        assert log.read_text().splitlines()[-1].startswith("sweep runs: 2/4, ")  # flushed at once
        clock.now += 122.0
        bar.update(2)
    progress_mod.note("cache entry x is damaged")
    assert log.read_text().splitlines() == ["sweep runs: 1/4, started (1 already done)",
                                            "sweep runs: 2/4, 3s elapsed, ~6s left, seed 3 done",
                                            "sweep runs: 4/4, 2:05 elapsed, done",
                                            "cache entry x is damaged"]
    assert progress_mod.duration(5) == "5s" and progress_mod.duration(125) == "2:05" and progress_mod.duration(3725) == "1:02:05"


def test_progress_without_a_log_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(progress_mod.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with progress_mod.Progress(2, "x", bar=False) as bar:
        bar.update(note="n")
    progress_mod.note("nothing")
    assert list(tmp_path.iterdir()) == []

def test_sweep_and_damaged_cache_entries_report_to_the_log(tmp_path, monkeypatch):
    from singledir.experiments import sweep
    from singledir.nets.models import MLPConfig
    from singledir.nets.runs import RunConfig, TrainConfig

    log = tmp_path / "progress.log"
    monkeypatch.setenv(progress_mod.ENV, str(log))
    base = RunConfig(dataset="digits", n_train=100, n_test=50, model=MLPConfig(widths=(8,)),
                     train=TrainConfig(epochs=1, batch_size=64))
    sweep.run_sweep(sweep.expand(base, seed=[0, 1]), sweep.Measurements(grid=3, repetitions=1), name="t", progress=False,
                    group_size=2)
    lines = log.read_text().splitlines()
    assert lines[0] == "sweep t: 0/2, started"
    # the two networks train as one group, which says how far it has got, then each run is measured
    assert lines[1].startswith("sweep t: training 2 network(s) together: epoch 1/1")
    assert lines[2].startswith("sweep t: 1/2, ") and "left" in lines[2] and "seed 0" in lines[2]
    assert lines[3].startswith("sweep t: 2/2, ") and "done" in lines[3]
    c = cache_mod.Cache("ns", root=tmp_path)
    c.put("k", {"x": torch.zeros(2)})
    c.paths("k")[1].write_text("{not json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # with a progress log (a book chapter), a line and no warning
        assert c.get("k") is None
    assert "is damaged" in log.read_text().splitlines()[-1] and "recomputed" in log.read_text()


def test_phases_are_timed_into_the_chapters_results_once(tmp_path, monkeypatch):
    """A timed block appends its seconds (on a clock the test moves) to the run's phases file; a
    block inside another timed block counts as the outer one's kind (not twice); a worker's block
    counts its share of the machine; outside a book chapter nothing is written."""
    from singledir.base import progress as progress_mod

    clock = FakeClock()
    monkeypatch.setattr(progress_mod, "time", clock)
    monkeypatch.delenv("SINGLEDIR_RESULTS", raising=False)
    monkeypatch.delenv(progress_mod.PHASE_SHARE_ENV, raising=False)
    with progress_mod.phase("training"):
        clock.now += 5.0
    assert not (tmp_path / progress_mod.PHASES_FILE).exists()
    monkeypatch.setenv("SINGLEDIR_RESULTS", str(tmp_path))

    @progress_mod.timed("curves")
    def curve(seconds):
        clock.now += seconds

    with progress_mod.phase("units"):
        clock.now += 1.0
        curve(2.0)  # inside a unit measure: counted as units
    curve(0.5)
    monkeypatch.setenv(progress_mod.PHASE_SHARE_ENV, "0.25")  # one of 4 workers side by side
    with progress_mod.phase("training"):
        clock.now += 8.0
    (tmp_path / progress_mod.PHASES_FILE).open("a").write('{"phase": "training", "sec')  # a line cut short
    got = progress_mod.phase_seconds(tmp_path)
    assert got == {"training": 2.0, "curves": 0.5, "units": 3.0}
    lines = (tmp_path / progress_mod.PHASES_FILE).read_text().splitlines()
    assert len(lines) == 4  # units, curves, training, the damaged line
    with pytest.raises(ValueError, match="phase 'plotting'"):
        with progress_mod.phase("plotting"):
            pass
