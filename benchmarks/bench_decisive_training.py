"""The largest cost of params/decisive.yml, training its networks: the code before against after.

Before (the book up to this benchmark): every sweep in the chapter's process, its networks on the
process's two threads, in groups of at most 16 MLPs and 8 batch-norm conv nets, with glibc's
default allocator policy. After: the groups on two single-thread worker processes (the sweeps'
``"processes"`` executor), a small network on one thread wherever it trains
(``singledir.nets.runs.SMALL_NETWORK_THREADS``), groups of at most 8 MLPs and 2 batch-norm conv
nets, as many groups as a multiple of the workers, in processes that keep freed memory
(``singledir.base.memory``; ``benchmarks/bench_memory.py`` measures that alone). Both run in this one
process run, on the same configs, each from an empty cache, through ``run_sweep`` as the chapters
call it (with a negligible measurement: one 2-point curve on 10 images).

Each case is one kind of network the preset trains, a sample of its networks for a few epochs:

    CASE: before X s, after Y s, ratio Rx, max diff D

``max diff`` is the largest difference of a network's final training loss between before and
after: one thread sums in another order than two, and training carries the rounding on (the
networks are not the same bits, as a network trained on another machine is not). ``same as in
this process`` checks that after's networks are, bit for bit, the ones the chapter's process trains
on one thread. Then the preset's whole training, before and after, projected from each case's
seconds per network-epoch and image and the preset's network-epochs of that kind (counted from
the preset's parameters below), with the workers' start-up once per chapter:

    decisive training (projected): before X s, after Y s, ratio Rx

and the arithmetic of that training against this machine's float32 matrix-multiply peak, measured
in the same run: the share of the peak before and after run at, and the share a 2x would need.

    python benchmarks/bench_decisive_training.py            # about 2 minutes (each case 3 times, the fastest kept)
    python benchmarks/bench_decisive_training.py --quick    # tiny networks, for a smoke run
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# before runs in this process with glibc's default allocator policy, read when singledir.base is
# imported; the workers of after are started without this variable (main), and keep freed memory
# (a spawned worker runs this file's top level too, as __mp_main__)
OPT_OUT_ENV = "SINGLEDIR_RETURN_FREED_MEMORY"
if __name__ == "__main__":
    os.environ[OPT_OUT_ENV] = "1"

from singledir.book import params as params_mod  # noqa: E402
from singledir.experiments import sweep  # noqa: E402
from singledir.nets import runs, workers  # noqa: E402
from singledir.nets.runs import RunConfig  # noqa: E402

from bench_training import matmul_peak  # noqa: E402  (this folder: the float32 matmul rate on this process's threads)
from bench_ensemble import cpu_group_sizes  # noqa: E402  (this folder)

BEFORE_GROUP_SIZES = {"mlp": 16, "convnet_bn": 8, "convnet": 1}  # the book's CPU group sizes before
MEASURE = sweep.Measurements(n_curve=10, grid=2, repetitions=1)


def decisive_values() -> dict[str, dict]:
    """Every chapter's values under params/decisive.yml: its parameters cell overlaid by the preset."""
    chapters = params_mod.chapter_paths()
    given = params_mod.load_params(ROOT / "params" / "decisive.yml", chapters)
    return {n: params_mod.effective_parameters(p, given[n]) for n, p in chapters.items()}


def workload(v: dict[str, dict]) -> dict[str, float]:
    """Network-epoch-images of each kind the preset trains (chapters 5, 6 and 8 reuse chapter 4's
    conv nets and chapter 3's networks; chapter 1's two MLPs and the ResNet are left out)."""
    c4, c5, c8 = (v[k] for k in ("04_dropout_batchnorm", "05_selectivity", "08_after_the_paper"))
    e1 = v["02_memorization"]["e1"]
    e3, e4_mlp, e4_conv, e5 = (v["03_generalization"][k] for k in ("e3", "e4_mlp", "e4_conv", "e5_grid"))
    bn_, conv_n, dropout = c4["bn"], c4["conv"]["n_train"], c4["dropout"]
    n_all = 4000  # mnist5k's training split, which n_train None means
    bn = (len(e1["corruptions"]) * len(e1["conv_seeds"]) * e1["conv_train"]["epochs"] * conv_n
          + e3["n_networks"] * e3["train"]["epochs"] * conv_n
          + len(e4_conv["seeds"]) * e4_conv["train"]["epochs"] * conv_n
          + len(bn_["seeds"]) * bn_["train"]["epochs"] * conv_n
          + len(c8["alphas"]) * len(c8["f2_conv"]["seeds"]) * c8["f2_conv"]["train"]["epochs"] * c8["f2_conv"]["n_train"])
    plain = len(bn_["seeds"]) * bn_["train"]["epochs"] * conv_n
    mlp128 = (len(e1["corruptions"]) * len(e1["mlp_seeds"]) * e1["mlp_train"]["epochs"] * n_all
              + len(c5["mlp"]["seeds"]) * c5["mlp"]["train"]["epochs"] * n_all
              + len(e5["learning_rates"]) * len(e5["batch_sizes"]) * len(e5["seeds"]) * e5["epochs"] * e5["n_train"]
              + len(c8["alphas"]) * len(c8["f2_mlp"]["seeds"]) * c8["f2_mlp"]["train"]["epochs"] * c8["f2_mlp"]["n_train"])
    mlp256 = (2 * len(dropout["rates"]) + 1) * len(dropout["seeds"]) * dropout["train"]["epochs"] * dropout["n_train"]
    mlp512 = len(e4_mlp["seeds"]) * e4_mlp["train"]["epochs"] * e4_mlp["n_train"]
    return {"mlp 128-128": mlp128, "mlp 256-256": mlp256, "mlp 512-512": mlp512,
            "conv net x1/8 with batch norm": bn, "conv net x1/8 without batch norm": plain}


def cases(quick: bool, v: dict[str, dict]) -> list[tuple[str, list[RunConfig], int]]:
    """(kind, the sample's configs, training images of each) of every case."""
    c4 = v["04_dropout_batchnorm"]

    def mlp(widths, n, batch, count, epochs):
        base = RunConfig.from_dict({"dataset": "mnist5k", "n_train": n, "model": {"kind": "mlp", "widths": widths},
                                    "train": {"epochs": epochs, "batch_size": batch, "lr": 0.001,
                                              "eval_every": epochs}})
        return sweep.expand(base, seed=range(count // 2), corruption=[0.0, 1.0])

    def conv(bn, count, epochs):
        base = RunConfig.from_dict({"dataset": "mnist5k", "n_train": c4["conv"]["n_train"], "n_pool": None,
                                    "model": {**c4["conv"]["model"], "batch_norm": bn},
                                    "train": {**c4["bn"]["train"], "epochs": epochs, "eval_every": epochs}})
        return sweep.expand(base, seed=range(count))

    if quick:
        return [("mlp 128-128", mlp([16, 16], 500, 128, 4, 1), 500),
                ("conv net x1/8 with batch norm", [c.with_(n_train=100) for c in conv(True, 2, 1)], 100)]
    return [("mlp 128-128", mlp([128, 128], None, 128, 16, 6), 4000),
            ("mlp 256-256", mlp([256, 256], 2000, 128, 16, 6), 2000),
            ("mlp 512-512", mlp([512, 512], 1000, 64, 8, 6), 1000),
            ("conv net x1/8 with batch norm", conv(True, 8, 2), 1000),
            ("conv net x1/8 without batch norm", conv(False, 4, 2), 1000)]


def train_flops_per_image(config: RunConfig) -> float:
    """Floating-point operations of one training step per image (forward and backward of the conv
    and linear layers, as torch's FlopCounterMode counts them; batch norm, ReLU and Adam not counted)."""
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from singledir.nets.models import build_model

    ds = runs.load_run_dataset(config)
    model = build_model(config.model, ds.input_shape, ds.n_classes)
    x, y = ds.x_train[:8], ds.y_train[:8]
    with FlopCounterMode(display=False) as fc:
        F.cross_entropy(model(x), y).backward()
    return fc.get_total_flops() / len(y)


def timed_sweep(configs, executor: str, group_size: int | None):
    with tempfile.TemporaryDirectory() as d:
        os.environ["SINGLEDIR_CACHE"] = d
        t0 = time.perf_counter()
        r = sweep.run_sweep(configs, MEASURE, executor=executor, group_size=group_size, progress=False)
        seconds = time.perf_counter() - t0
        nets = [runs.load_cached(c, torch.device("cpu")) for c in configs] if executor == "local" else None
        return r.runs, seconds, nets


def main(quick: bool) -> None:
    repeats = 1 if quick else 3
    v = decisive_values()
    work = workload(v)
    t0 = time.perf_counter()
    os.environ.pop(OPT_OUT_ENV)  # the workers, started now, keep freed memory
    pool = workers.process_pool()
    list(pool.map(abs, range(pool._max_workers)))  # every worker started
    startup = time.perf_counter() - t0
    from singledir.base import memory

    print(f"# {pool._max_workers} worker processes started in {startup:.1f} s (once per chapter); keep freed "
          f"memory: this process (before) {memory.hold_freed_memory()}, the workers (after) "
          f"{pool.submit(memory.hold_freed_memory).result()}", flush=True)
    before_total = after_total = flops = 0.0
    for kind, configs, n_images in cases(quick, v):
        kind_key = runs.network_kind(configs[0])
        epochs = configs[0].train.epochs
        b_s = a_s = float("inf")
        for _ in range(repeats):  # the faster of the repeats: this machine's timings vary by 10-20%
            runs.SMALL_NETWORK_THREADS = None  # before: the process's threads, in-process, the old group sizes
            with cpu_group_sizes(BEFORE_GROUP_SIZES):  # a conv net's group size is its kind's, not the sweep's
                b_runs, s, _ = timed_sweep(configs, "local", BEFORE_GROUP_SIZES[kind_key])
            b_s = min(b_s, s)
            runs.SMALL_NETWORK_THREADS = 1
            a_runs, s, _ = timed_sweep(configs, "processes", None)
            a_s = min(a_s, s)
        _, _, here = timed_sweep(configs, "local", None)  # the chapter's process on one thread
        same = all(h is not None for h in here) and a_runs.train_loss.tolist() == [h.final["train_loss"] for h in here]
        diff = float((a_runs.train_loss - b_runs.train_loss).abs().max())
        print(f"{kind}, {len(configs)} networks x {epochs} epoch(s) on {n_images} images: before {b_s:.1f} s, "
              f"after {a_s:.1f} s, ratio {b_s / a_s:.2f}x, max diff {diff:.2g} (final training loss; "
              f"same as in this process on one thread: {same})", flush=True)
        per = len(configs) * epochs * n_images
        before_total += b_s / per * work.get(kind, 0)
        after_total += a_s / per * work.get(kind, 0)
        flops += train_flops_per_image(configs[0]) * work.get(kind, 0)
    if not quick:
        after_total += startup * len(params_mod.chapter_paths())
    print(f"decisive training (projected from {len(work)} kinds, {sum(work.values()) / 1e6:.0f}M network-epoch-"
          f"images): before {before_total:.0f} s, after {after_total:.0f} s, ratio {before_total / after_total:.2f}x",
          flush=True)
    print(f"# group sizes before {BEFORE_GROUP_SIZES}, after {workers.CPU_GROUP_SIZES}", flush=True)
    peak = matmul_peak()
    floor = flops / (peak * 1e9)
    print(f"# the preset's training arithmetic: {flops / 1e12:.1f} TFLOP (conv and linear layers, forward and "
          f"backward); this machine's float32 matmul peak on {torch.get_num_threads()} threads, measured now: "
          f"{peak:.0f} GFLOP/s, so at least {floor:.0f} s; before ran at {floor / before_total:.0%} of the peak, "
          f"after at {floor / after_total:.0%}; 2x over before needs {2 * floor / before_total:.0%}", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny networks: a smoke run whose numbers mean nothing")
    main(ap.parse_args().quick)
