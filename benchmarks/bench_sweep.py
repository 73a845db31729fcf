"""Sweep throughput in-process against a two-worker Dask LocalCluster, on the same configs.

Each case runs one chapter-like sweep (:class:`singledir.pages.chapter.Setup` and
:class:`singledir.experiments.sweep.Measurements`: train, then the ablation curve of every network) twice,
in this process (torch's default threads) and on a LocalCluster of two single-thread workers,
with the networks in two groups (one per worker), each from an empty cache, and prints

    SWEEP CASE x N runs: in-process X s (R runs/min), LocalCluster(2x1 thread) Y s (R runs/min), ratio Rx, same AUCs: B

``same AUCs`` says whether both gave the same ablation AUCs (to 1e-6).

    python benchmarks/bench_sweep.py            # 8 runs per case
    python benchmarks/bench_sweep.py --quick    # 4 tiny runs per case, for a smoke run
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from singledir.experiments import executors  # noqa: E402
from singledir.experiments import sweep as sweep_mod  # noqa: E402
from singledir.pages.chapter import Setup  # noqa: E402


def timed_sweep(setup: Setup, cfgs, measurements: sweep_mod.Measurements) -> tuple[pd.DataFrame, float]:
    with tempfile.TemporaryDirectory() as d:
        os.environ["SINGLEDIR_CACHE"] = d
        if setup.executor == "dask":
            executors.local_client(2)  # cluster start-up is timed separately below
        t0 = time.perf_counter()
        r = setup.sweep(cfgs, measurements)
        return r.runs, time.perf_counter() - t0


def cases(quick: bool) -> list[tuple[str, dict, dict, int | None]]:
    """(name, model, training, training images) of each case."""
    mlp_epochs, conv_epochs = (2, 1) if quick else (20, 6)
    return [(f"MLP 128-128, {mlp_epochs} epochs", {"kind": "mlp", "widths": [128, 128]},
             {"epochs": mlp_epochs, "eval_every": mlp_epochs}, 500 if quick else None),
            (f"conv net x1/8, {conv_epochs} epoch{'s' * (conv_epochs > 1)}, {200 if quick else 1000} images",
             {"kind": "convnet", "width": 0.125}, {"epochs": conv_epochs, "eval_every": conv_epochs},
             200 if quick else 1000)]


def main(quick: bool) -> None:
    t0 = time.perf_counter()
    executors.local_client(2)
    print(f"# LocalCluster start-up {time.perf_counter() - t0:.1f} s", flush=True)
    n = 4 if quick else 8
    measurements = sweep_mod.Measurements(n_curve=100 if quick else 500, grid=11 if quick else 21,
                                      repetitions=1 if quick else 5)
    for name, model, train, n_train in cases(quick):
        # two groups of n / 2 networks: one per worker on the cluster, one after the other in-process
        local = Setup(dataset="mnist5k", group_size=n // 2)
        dask = Setup(dataset="mnist5k", group_size=n // 2, executor="dask")
        cfgs = sweep_mod.expand(local.run(model, train, n_train=n_train), seed=list(range(n)))
        runs_local, t_local = timed_sweep(local, cfgs, measurements)
        runs_dask, t_dask = timed_sweep(dask, cfgs, measurements)
        same = bool((runs_local.auc_zero - runs_dask.auc_zero).abs().max() < 1e-6)
        print(f"SWEEP {name} x {n} runs: in-process {t_local:.1f} s ({60 * n / t_local:.1f} runs/min), "
              f"LocalCluster(2x1 thread) {t_dask:.1f} s ({60 * n / t_dask:.1f} runs/min), "
              f"ratio {t_local / t_dask:.2f}x, same AUCs: {same}", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run of every case")
    main(ap.parse_args().quick)
