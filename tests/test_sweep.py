"""Sweeps (in-process and on a real two-worker Dask LocalCluster, resumable, divergence recorded),
(the early-stopping rule: test_early_stopping.py)."""
import math
import multiprocessing as mp
from pathlib import Path

import pandas as pd
import torch
import pytest

from helpers import trapezoid_area
from singledir.experiments import sweep as sweep_mod
from singledir.nets.models import MLPConfig
from singledir.nets.runs import RunConfig, TrainConfig

BASE = RunConfig(dataset="digits", n_train=200, n_test=100, model=MLPConfig(widths=(12, 12)),
                 train=TrainConfig(epochs=2, batch_size=64, lr=3e-3))
AN = sweep_mod.Measurements(grid=5, repetitions=2, noise_scales=(0.1, 1.0), noise_repetitions=1)


def test_expand_builds_the_grid_and_refuses_unknown_axes():
    cfgs = sweep_mod.expand(BASE, corruption=[0.0, 0.5], seed=[0, 1, 2], train__lr=[1e-3, 1e-2])
    assert len(cfgs) == 12
    assert {(c.corruption, c.seed, c.train.lr) for c in cfgs} == {
        (p, s, lr) for p in (0.0, 0.5) for s in (0, 1, 2) for lr in (1e-3, 1e-2)}
    assert {c.model.dropout for c in sweep_mod.expand(BASE, model__dropout=[0.1, 0.2])} == {0.1, 0.2}
    with pytest.raises(ValueError, match="unknown parameter 'lrr'"):
        sweep_mod.expand(BASE, train__lrr=[1])
    # a train field the config dict leaves out at its default is still an axis
    assert [c.train.selectivity_alpha for c in sweep_mod.expand(BASE, train__selectivity_alpha=[-1.0, 0.0, 1.0])] == [
        -1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="corruption 1.5 is outside"):
        sweep_mod.expand(BASE, corruption=[1.5])


def test_local_sweep_tables_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path))
    cfgs = sweep_mod.expand(BASE, corruption=[0.0, 1.0], seed=[0, 1])
    r = sweep_mod.run_sweep(cfgs, AN, name="t")
    assert len(r.runs) == 4 and list(r.runs.run) == [0, 1, 2, 3]
    assert list(r.runs.corruption) == [0.0, 0.0, 1.0, 1.0] and list(r.runs.seed) == [0, 1, 0, 1]
    assert r.runs.attrs["computed"] == 4
    assert set(r.curves.columns) >= {"run", "repetition", "n_ablated", "fraction", "accuracy", "loss", "epoch", "baseline"}
    assert len(r.curves) == 4 * 2 * 5 and len(r.noise) == 4 * 1 * 2
    # the AUC in the run table is the area under that run's curve, from no unit to every unit ablated
    for run, g in r.curves.groupby("run"):
        assert sorted(set(g.fraction)) == [0.0, 0.25, 0.5, 0.75, 1.0] and len(g) == 2 * 5
        assert r.runs.set_index("run").loc[run, "auc_zero"] == pytest.approx(trapezoid_area(g), abs=1e-12)
    # two noise scales: the area over log10(scale) divided by its range is the mean of their accuracies
    for run, g in r.noise.groupby("run"):
        assert r.runs.set_index("run").loc[run, "noise_auc"] == pytest.approx(g.accuracy.mean(), abs=1e-12)
    tables = Path(r.runs.attrs["tables"])
    assert tables.parent == tmp_path / "sweeps" and tables.name.startswith("t-")
    assert pd.read_parquet(tables / "runs.parquet").equals(r.runs)
    again = sweep_mod.run_sweep(cfgs, AN)
    assert again.runs.attrs["computed"] == 0 and again.runs.attrs["cached"] == 4
    pd.testing.assert_frame_equal(again.curves, r.curves)


def test_live_unit_curve_and_normalized_noise(tmp_path, monkeypatch):
    """``live_units``: a second curve over the units that fire on the curve's data, normalized by its
    intact accuracy, beside the curve over every unit; the noise robustness divided by the intact
    accuracy of the curve."""
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path))
    r = sweep_mod.run_sweep(sweep_mod.expand(BASE, seed=[0]), sweep_mod.Measurements(grid=5, repetitions=2, live_units=True,
                                                                          noise_scales=(0.1, 1.0)), name="live")
    row = r.runs.iloc[0]
    live = r.curves[r.curves.units == "live"]
    live_intact = live[live.n_ablated == 0].accuracy.mean()
    assert row.auc_live_norm_zero == pytest.approx(trapezoid_area(live) / live_intact, abs=1e-12)
    assert live.n_ablated.max() == row.units_total - row.dead_units  # only the live units are ablated
    paper = r.curves[r.curves.units == "paper"]
    assert paper.n_ablated.max() == row.units_total == 24
    assert row.auc_zero == pytest.approx(trapezoid_area(paper), abs=1e-12)  # the curve over every unit is unchanged
    assert row.intact_acc == pytest.approx(paper[paper.n_ablated == 0].accuracy.mean())
    assert row.noise_auc_norm == pytest.approx(row.noise_auc / row.intact_acc)


def test_sweep_tables_of_different_sweeps_under_one_name_do_not_replace_each_other(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path))
    base = RunConfig(dataset="digits", n_train=100, n_test=50, model=MLPConfig(widths=(8,)),
                     train=TrainConfig(epochs=1, batch_size=64))
    an = sweep_mod.Measurements(grid=3, repetitions=1)
    small = sweep_mod.run_sweep(sweep_mod.expand(base, seed=[0]), an, name="e1-mlp", progress=False)
    big = sweep_mod.run_sweep(sweep_mod.expand(base, seed=[0, 1]), an, name="e1-mlp", progress=False)
    other = sweep_mod.run_sweep(sweep_mod.expand(base, seed=[0]), sweep_mod.Measurements(grid=4, repetitions=1), name="e1-mlp",
                            progress=False)
    folders = {Path(r.runs.attrs["tables"]) for r in (small, big, other)}
    assert len(folders) == 3 and all(f.parent == tmp_path / "sweeps" and f.name.startswith("e1-mlp-") for f in folders)
    assert len(pd.read_parquet(Path(small.runs.attrs["tables"]) / "runs.parquet")) == 1
    assert len(pd.read_parquet(Path(big.runs.attrs["tables"]) / "runs.parquet")) == 2
    again = sweep_mod.run_sweep(sweep_mod.expand(base, seed=[0]), an, name="e1-mlp", progress=False)
    assert again.runs.attrs["tables"] == small.runs.attrs["tables"]


CHILD_ENV = "SINGLEDIR_TEST_CHILD"  # marks the processes the interrupted sweep's child starts


def _interrupted_sweep(cache: str, cfgs, stop_after: int, mark: str):
    """Child process: run the sweep and die hard (no cleanup) after `stop_after` finished runs. The
    processes it starts (its training worker) carry ``mark``, so that the test can end them."""
    import os

    os.environ["SINGLEDIR_CACHE"] = cache
    os.environ[CHILD_ENV] = mark
    from singledir.experiments import sweep as sweep_mod

    real = sweep_mod.analyze_run
    count = {"n": 0}

    def counting(*a, **k):
        if count["n"] == stop_after:
            os._exit(3)  # a killed process: nothing after this point runs
        count["n"] += 1
        return real(*a, **k)

    sweep_mod.analyze_run = counting
    sweep_mod.run_sweep(cfgs, AN)


def test_interrupted_sweep_resumes_and_loses_no_finished_run(tmp_path, monkeypatch):
    """A sweep killed after two finished runs resumes with those two from the cache. The child
    dies without cleanup, so its worker process (adopted by PID 1) is ended here."""
    import uuid

    from helpers import end_processes, processes_marked

    cfgs = sweep_mod.expand(BASE, seed=[0, 1, 2])
    mark = uuid.uuid4().hex
    p = mp.get_context("spawn").Process(target=_interrupted_sweep, args=(str(tmp_path), cfgs, 2, mark))
    p.start()
    try:
        p.join(300)
        assert p.exitcode == 3
    finally:
        if p.is_alive():  # the wait timed out: end what it waited for
            p.kill()
            p.join()
        end_processes(processes_marked(CHILD_ENV, mark))
    assert processes_marked(CHILD_ENV, mark) == []
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path))
    r = sweep_mod.run_sweep(cfgs, AN)
    assert r.runs.attrs["cached"] == 2 and r.runs.attrs["computed"] == 1
    assert not list(tmp_path.rglob("*.partial"))


def test_ctrl_c_keeps_finished_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path))
    cfgs = sweep_mod.expand(BASE, seed=[5, 6, 7])
    real = sweep_mod.analyze_run
    calls = []

    def interrupt_second(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(sweep_mod, "analyze_run", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        sweep_mod.run_sweep(cfgs, AN)
    monkeypatch.setattr(sweep_mod, "analyze_run", real)
    r = sweep_mod.run_sweep(cfgs, AN)
    assert r.runs.attrs["cached"] == 1 and r.runs.attrs["computed"] == 2


def test_diverged_run_is_recorded_not_raised(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path))
    bad = BASE.with_(train=TrainConfig(epochs=3, lr=1e8, optimizer="sgd"), seed=0)
    good = BASE.with_(seed=1)
    r = sweep_mod.run_sweep([bad, good], AN)
    runs = r.runs.set_index("run")
    assert bool(runs.loc[0, "diverged"]) and math.isnan(runs.loc[0, "auc_zero"])
    assert not bool(runs.loc[1, "diverged"]) and runs.loc[1, "auc_zero"] > 0
    assert set(r.curves.run) == {1}
    assert runs.loc[0, "train.lr"] == 1e8  # the config is kept with the diverged record


def test_dask_local_cluster_gives_the_same_table(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "local"))
    cfgs = sweep_mod.expand(BASE, corruption=[0.0, 1.0], seed=[0, 1])
    local = sweep_mod.run_sweep(cfgs, AN)
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "dask"))
    dask = sweep_mod.run_sweep(cfgs, AN, executor="dask", n_workers=2)
    assert dask.runs.attrs["computed"] == 4
    cols = ["run", "corruption", "seed", "train_acc", "test_acc", "auc_zero", "noise_auc"]
    pd.testing.assert_frame_equal(local.runs[cols], dask.runs[cols])
    pd.testing.assert_frame_equal(local.curves, dask.curves)
    # the results came back to this process and are cached here
    assert sweep_mod.run_sweep(cfgs, AN, executor="dask").runs.attrs["computed"] == 0


def test_unknown_executor():
    with pytest.raises(ValueError, match="unknown executor 'ray'"):
        sweep_mod.run_sweep([BASE], AN, executor="ray")


def test_analysis_validates():
    with pytest.raises(ValueError, match="split"):
        sweep_mod.Measurements(split="valid")
    with pytest.raises(ValueError, match="baselines"):
        sweep_mod.Measurements(baselines=("median",))


# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scales", [(1.0,), (0.0, 2.0)])
def test_noise_scales_that_give_no_auc_are_refused_before_any_training(scales):
    with pytest.raises(ValueError, match=r"noise_scales: .* has 1 positive scale\(s\), but the area under a noise "
                                         r"curve needs at least two"):
        sweep_mod.Measurements(noise_scales=scales)
    assert sweep_mod.Measurements(noise_scales=()).noise_scales == ()  # no noise curve


def test_the_processes_executor_gives_the_in_process_results(tmp_path, monkeypatch):
    """Groups trained and measured in two single-thread worker processes: the same networks and
    measurements as in this process (a small network trains on one thread wherever it trains), the
    same cache keys for the networks, and each worker's phase seconds counted as its share."""
    import json

    from singledir.base.progress import PHASES_FILE
    from singledir.nets.runs import load_cached

    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SINGLEDIR_RESULTS", str(tmp_path))
    cfgs = sweep_mod.expand(RunConfig(dataset="digits", n_train=200, train=TrainConfig(epochs=2, batch_size=50),
                                  model=MLPConfig(widths=(16,))), seed=range(4))
    m = sweep_mod.Measurements(n_curve=50, grid=3, repetitions=1)
    a = sweep_mod.run_sweep(cfgs, m, executor="processes", n_workers=2, group_size=2)
    assert a.runs.attrs["executor"] == "processes"
    assert all(load_cached(c, torch.device("cpu")) is not None for c in cfgs)  # cached under this process's keys
    phases = [json.loads(line) for line in (tmp_path / PHASES_FILE).read_text().splitlines()]
    assert phases and all(p["phase"] in ("training", "curves") for p in phases)
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "fresh"))
    b = sweep_mod.run_sweep(cfgs, m, executor="local", group_size=2)
    cols = [c for c in a.runs.columns if c != "train_seconds"]
    pd.testing.assert_frame_equal(a.runs[cols], b.runs[cols])
    pd.testing.assert_frame_equal(a.curves, b.curves)
