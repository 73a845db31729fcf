"""Freed memory kept in the process (``singledir.base.memory``) against glibc's default, which
hands large freed blocks back to the system so that the next tensor is written into fresh pages.

The allocator's policy is a process's, so every case runs in fresh processes: ``before`` with
``SINGLEDIR_RETURN_FREED_MEMORY=1`` (the book up to this benchmark), ``after`` without it (the
book now), the faster of the repeats each, timed inside the process (start-up excluded):

    CASE: before X s, after Y s, ratio Rx, max diff D

``max diff`` is the largest difference between the values the two computed (training losses and
accuracies, curve points, per-unit measures): the policy changes where memory comes from, never a
value, so it is 0. The cases are the decisive preset's costs: training in a worker (one thread,
groups of the book's CPU sizes) and the chapter process's curves and per-unit measures (two
threads), on mnist5k as the book uses it.

    python benchmarks/bench_memory.py            # about 6 minutes
    python benchmarks/bench_memory.py --quick    # tiny sizes, for a smoke run
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPT_OUT_ENV = "SINGLEDIR_RETURN_FREED_MEMORY"  # singledir.base.memory.OPT_OUT_ENV, read before any import
N_CURVE = 500  # training images a curve is measured on (the book's n_curve)


def _conv(quick: bool, bn: bool = True, seeds=(0,), epochs: int = 1):
    from singledir.nets.models import ConvNetConfig
    from singledir.nets.runs import RunConfig, TrainConfig

    return [RunConfig(dataset="mnist5k", n_train=200 if quick else 1000, seed=s, unused_to_test=not quick,
                      model=ConvNetConfig(width=0.125, batch_norm=bn),
                      train=TrainConfig(epochs=epochs, batch_size=64, lr=0.001, eval_every=epochs)) for s in seeds]


def _train(configs, quick: bool) -> tuple[float, list]:
    """Seconds to train ``configs`` as one group on one thread, as a worker does (no cache), and
    their histories."""
    import torch

    from singledir.nets.group_run import GroupRun
    from singledir.nets.runs import load_run_dataset

    torch.set_num_threads(1)
    if quick:
        configs = [c.with_(n_train=200, train=dataclasses.replace(c.train, epochs=1, eval_every=1)) for c in configs]
    dss = [load_run_dataset(c) for c in configs]
    g = GroupRun(configs, dss, torch.device("cpu"))
    t0 = time.perf_counter()
    g.run(False, None, None)
    seconds = time.perf_counter() - t0
    return seconds, [v for h in g.history for row in h for k, v in sorted(row.items()) if k != "epoch"]


def _trained(quick: bool):
    """A conv net trained for one epoch (from the benchmark's cache after the first process) and its data."""
    from singledir.nets.runs import load_run_dataset
    from singledir.nets.training import train_network

    c = _conv(quick)[0]
    return train_network(c, progress=False).model, load_run_dataset(c)


def case_values(name: str, quick: bool) -> tuple[float, list[float]]:
    """Run case ``name`` in this process: (seconds, the values it computed)."""
    import torch

    from singledir.nets.models import MLPConfig
    from singledir.nets.runs import RunConfig, TrainConfig

    if name.startswith("training"):
        if "MLP" in name:
            cfgs = [RunConfig(dataset="mnist5k", n_train=None, seed=s, model=MLPConfig((128, 128)),
                              train=TrainConfig(epochs=3, batch_size=128, lr=0.001, eval_every=3)) for s in range(8)]
            return _train(cfgs, quick)
        return _train(_conv(quick, bn="without" not in name, seeds=(0, 1), epochs=2), quick)
    from singledir.measure import followups
    from singledir.measure import perturb

    model, ds = _trained(quick)
    torch.set_num_threads(2)
    layers = list(model.unit_layers)
    n = 300 if quick else len(ds.y_test)
    test, train = (ds.x_test[:n], ds.y_test[:n]), (ds.x_train, ds.y_train)
    curve = (ds.x_train[:N_CURVE], ds.y_train[:N_CURVE])  # the book's curves: n_curve training images
    t0 = time.perf_counter()
    if name.startswith("ablation"):
        t = perturb.ablation_curve(model, curve, layers, grid=3 if quick else 21, repetitions=1 if quick else 5).table
        values = t.accuracy.tolist() + t.loss.tolist()
    elif name.startswith("noise"):
        t = perturb.noise_curve(model, curve, layers, sd_data=train, **({"scales": [0.5, 2.0]} if quick else {}))
        values = t.accuracy.tolist() + t.loss.tolist()
    else:
        t = followups.unit_measures(model, test, train, layers[-3:], ds.n_classes)
        values = t.select_dtypes("number").to_numpy().ravel().tolist()
    return time.perf_counter() - t0, values


CASES = ["training: conv net x1/8 with batch norm, 2 as a group, 2 epochs on 1000 images, one thread",
         "training: conv net x1/8 without batch norm, 2 as a group, 2 epochs on 1000 images, one thread",
         "training: MLP 128-128, 8 as a group, 3 epochs on 4000 images, one thread",
         "ablation curve: conv net x1/8, its 11 layers, 21 points x 5 orders on 500 images, two threads",
         "noise curve: conv net x1/8, its 11 layers on 500 images, two threads",
         "unit measures: conv net x1/8, its last 3 layers on 4000 held-out images, two threads"]


def in_process(name: str, quick: bool, held: bool, cache: str) -> tuple[float, list[float]]:
    env = {**os.environ, "SINGLEDIR_CACHE": cache, "PYTHONPATH": str(ROOT)}
    env.pop(OPT_OUT_ENV, None)
    if not held:
        env[OPT_OUT_ENV] = "1"
    args = [sys.executable, __file__, "--case", name] + (["--quick"] if quick else [])
    out = subprocess.run(args, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"case {name!r} failed:\n{out.stderr[-3000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["held"] != held:
        raise RuntimeError(f"case {name!r}: the process kept freed memory: {r['held']}, expected {held}")
    return r["seconds"], r["values"]


def main(quick: bool) -> None:
    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory() as cache:
        for name in CASES:
            best = {False: float("inf"), True: float("inf")}
            values = {}
            for _ in range(repeats):  # alternate, the faster of the repeats: timings here vary by 10-20%
                for held in (False, True):
                    s, values[held] = in_process(name, quick, held, cache)
                    best[held] = min(best[held], s)
            diff = max((abs(a - b) for a, b in zip(values[False], values[True])), default=0.0)
            if len(values[False]) != len(values[True]):
                diff = float("inf")
            print(f"{name}: before {best[False]:.2f} s, after {best[True]:.2f} s, "
                  f"ratio {best[False] / best[True]:.2f}x, max diff {diff:.2g} ({len(values[True])} values)", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run whose numbers mean nothing")
    ap.add_argument("--case", help=argparse.SUPPRESS)  # run one case in this process (the benchmark's child)
    a = ap.parse_args()
    if a.case:
        sys.path.insert(0, str(ROOT))
        from singledir.base import memory

        seconds, vals = case_values(a.case, a.quick)
        print(json.dumps({"seconds": seconds, "values": vals, "held": memory.hold_freed_memory()}))
    else:
        main(a.quick)
