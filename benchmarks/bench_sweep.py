"""Sweep throughput in-process against a two-worker Dask LocalCluster, on the same configs.

Prints ``SWEEP: in-process X s, LocalCluster(2x1 thread) Y s, ratio Rx`` (runs per minute in
both) and checks that both give the same table. Each executor starts from an empty cache.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import pandas as pd

from singledir import sweep
from singledir.models import ConvNetConfig, MLPConfig
from singledir.train import RunConfig, TrainConfig


def timed_sweep(cfgs, an, executor: str) -> tuple[pd.DataFrame, float]:
    with tempfile.TemporaryDirectory() as d:
        os.environ["SINGLEDIR_CACHE"] = d
        if executor == "dask":
            sweep.local_client(2)  # cluster start-up is timed separately below
        t0 = time.perf_counter()
        r = sweep.run_sweep(cfgs, an, executor=executor)
        return r.runs, time.perf_counter() - t0


def main(quick: bool) -> None:
    t0 = time.perf_counter()
    sweep.local_client(2)
    print(f"# LocalCluster start-up {time.perf_counter() - t0:.1f} s", flush=True)
    n = 4 if quick else 8
    cases = [("MLP 128-128, 20 epochs", RunConfig(dataset="mnist5k", model=MLPConfig(widths=(128, 128)),
                                                   train=TrainConfig(epochs=20 if not quick else 2, eval_every=20))),
             ("conv net x1/8, 6 epochs, 1000 images", RunConfig(dataset="mnist5k", n_train=1000,
                                                                 model=ConvNetConfig(width=0.125),
                                                                 train=TrainConfig(epochs=6 if not quick else 1, eval_every=6)))]
    an = sweep.Analysis(n_curve=500, grid=21, repetitions=5 if not quick else 1)
    for name, base in cases:
        cfgs = sweep.expand(base, seed=list(range(n)))
        local, t_local = timed_sweep(cfgs, an, "local")
        dask, t_dask = timed_sweep(cfgs, an, "dask")
        same = bool((local.auc_zero - dask.auc_zero).abs().max() < 1e-6)
        print(f"SWEEP {name} x {n} runs: in-process {t_local:.1f} s ({60 * n / t_local:.1f} runs/min), "
              f"LocalCluster(2x1 thread) {t_dask:.1f} s ({60 * n / t_dask:.1f} runs/min), "
              f"ratio {t_local / t_dask:.2f}x, same AUCs: {same}", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    main(ap.parse_args().quick)
