"""Networks trained together against the same networks trained one after another.

Each case trains G networks that differ only in their seed (so in initialization and data order),
first one after another with the plain PyTorch loop (``singledir.nets.solo.fit``: ``nn.Module`` and
``torch.optim.Adam``), then as one group (``singledir.nets.groups.train_group``), in the same process
on the same data, on one thread as the book's worker processes train them, and prints

    ensemble CASE xG: sequential X s, together Y s, ratio Rx, max diff D

where ``max diff`` is the largest difference between a member's weights and its solo run's after
the benchmark's steps. Then the time per network at several group sizes (how the default group
size was chosen), and the effect of bfloat16 autocast on accuracy (a GPU option; measured here on
the CPU, where it is emulated and slow).

    python benchmarks/bench_ensemble.py            # all cases
    python benchmarks/bench_ensemble.py --quick    # every case at tiny sizes, for a smoke run
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from singledir.experiments import sweep  # noqa: E402
from singledir.nets import groups as groups_mod  # noqa: E402
from singledir.nets import runs as runs_mod  # noqa: E402
from singledir.nets import workers  # noqa: E402
from singledir.nets.models import ConvNetConfig, MLPConfig  # noqa: E402
from singledir.nets.runs import RunConfig, TrainConfig, load_run_dataset  # noqa: E402
from singledir.nets.solo import fit  # noqa: E402

CPU = torch.device("cpu")
MLP128 = RunConfig(dataset="mnist5k", model=MLPConfig(widths=(128, 128)),
                   train=TrainConfig(epochs=2, batch_size=128, lr=1e-3, eval_every=2))
CONV8 = RunConfig(dataset="mnist5k", n_train=1000, model=ConvNetConfig(width=0.125, batch_norm=True),
                  train=TrainConfig(epochs=2, batch_size=64, lr=1e-3, eval_every=2))


def sequential(cfgs):
    ds = [load_run_dataset(c) for c in cfgs]
    t0 = time.perf_counter()
    states = [fit(c, d, CPU, False)[0].state_dict() for c, d in zip(cfgs, ds)]
    return time.perf_counter() - t0, states


@contextlib.contextmanager
def cpu_group_sizes(sizes: dict[str, int]):
    """``singledir.nets.runs.CPU_GROUP_SIZES`` updated with ``sizes`` in the block (in this process:
    a conv net's groups have its kind's size there, ``fixed_group_size``), then restored."""
    before = dict(runs_mod.CPU_GROUP_SIZES)
    runs_mod.CPU_GROUP_SIZES.update(sizes)
    try:
        yield
    finally:
        runs_mod.CPU_GROUP_SIZES.update(before)


def one_group(cfgs):
    """``cfgs`` train as one group: a conv net's groups otherwise have its kind's fixed size, which
    this benchmark varies."""
    return cpu_group_sizes({runs_mod.network_kind(cfgs[0]): len(cfgs)})


def together(cfgs):
    ds = [load_run_dataset(c) for c in cfgs]
    t0 = time.perf_counter()
    with one_group(cfgs):
        runs = groups_mod.train_group(cfgs, datasets=ds, use_cache=False, progress=False)
    return time.perf_counter() - t0, [r.model.state_dict() for r in runs]


def max_diff(a: list[dict], b: list[dict]) -> float:
    return max((x[k].double() - y[k].double()).abs().max().item() for x, y in zip(a, b) for k in x)


def headline(name: str, base: RunConfig, G: int) -> None:
    cfgs = sweep.expand(base, seed=list(range(G)))
    together(cfgs[:2])  # warm-up: kernels, data loading
    t_seq, s_seq = sequential(cfgs)
    t_tog, s_tog = together(cfgs)
    print(f"ensemble {name} x{G}: sequential {t_seq:.2f} s, together {t_tog:.2f} s, ratio {t_seq / t_tog:.2f}x, "
          f"max diff {max_diff(s_seq, s_tog):.1e}", flush=True)


def scan(name: str, base: RunConfig, sizes: list[int]) -> None:
    """Seconds per network when trained in groups of each size (each group trained once)."""
    one = None
    for G in sizes:
        t, _ = together(sweep.expand(base, seed=list(range(G))))
        one = one or t
        print(f"group size {name} G={G}: {t / G:.3f} s per network, ratio to G=1 {one / (t / G):.2f}x", flush=True)


def precision(name: str, base: RunConfig, seeds: int, epochs: int) -> None:
    accs = {}
    for prec in ("fp32", "bf16"):
        cfgs = sweep.expand(base.with_(train=replace(base.train, epochs=epochs, eval_every=epochs, precision=prec)),
                            seed=list(range(seeds)))
        t0 = time.perf_counter()
        with one_group(cfgs):
            runs = groups_mod.train_group(cfgs, use_cache=False, progress=False)
        accs[prec] = (sum(r.final["test_acc"] for r in runs) / seeds, time.perf_counter() - t0)
    d = accs["bf16"][0] - accs["fp32"][0]
    print(f"precision {name} ({seeds} seeds, {epochs} epoch{'s' * (epochs != 1)}): "
          f"test accuracy fp32 {accs['fp32'][0]:.4f}, bf16 "
          f"{accs['bf16'][0]:.4f} (difference {d:+.4f}); time fp32 {accs['fp32'][1]:.1f} s, bf16 "
          f"{accs['bf16'][1]:.1f} s on the CPU", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every case at tiny sizes (a smoke run)")
    a = ap.parse_args(argv)
    # this benchmark measures grouping, not the worker processes: it runs as a worker does, on one
    # thread from the start, training its groups itself (bench_decisive_training.py times the workers)
    os.environ[workers.WORKER_ENV] = "1"
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}", flush=True)
    mlp, conv = MLP128, CONV8
    groups, mlp_sizes, conv_sizes, epochs = (16, 8), [1, 4, 8, 16, 32], [1, 2, 4, 8, 16], (10, 4)
    if a.quick:
        mlp, conv = MLP128.with_(n_train=300), CONV8.with_(n_train=100)
        groups, mlp_sizes, conv_sizes, epochs = (4, 2), [1, 4], [1, 2], (1, 1)
    headline("mlp128", mlp, groups[0])
    headline("conv x1/8 BN", conv, groups[1])
    headline("conv x1/8 no BN", conv.with_(model=replace(conv.model, batch_norm=False)), groups[1])
    scan("mlp128", mlp, mlp_sizes)
    scan("conv x1/8 BN", conv, conv_sizes)
    precision("mlp128", mlp if a.quick else mlp.with_(n_train=2000), seeds=2 if a.quick else 4, epochs=epochs[0])
    precision("conv x1/8 BN", conv, seeds=2, epochs=epochs[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
