"""Training throughput: examples per second and the share of this machine's matrix-multiply peak.

The peak is measured in the same run (a float32 2048x2048 matmul). A training step costs about
three forward passes (forward, and backward for inputs and weights), so

    achieved GFLOP/s = 3 * forward FLOPs per example * examples per second

Also compared, each as ``CASE: baseline X s, variant Y s, ratio Rx``: the conv net in
``channels_last`` against the default memory format, the in-memory index batches used by
``singledir.nets.solo`` against a torch ``DataLoader``, and 2 threads against 1.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from singledir.data import dataset  # noqa: E402
from singledir.nets.models import ConvNetConfig, MLPConfig, build_model  # noqa: E402


def matmul_peak(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def forward_flops(model: nn.Module, x: torch.Tensor) -> float:
    """Multiply-adds x 2 of the conv and linear layers for one example."""
    total = 0.0
    hooks = []

    def conv_hook(m, i, o):
        nonlocal total
        total += 2 * m.in_channels // m.groups * m.out_channels * m.kernel_size[0] * m.kernel_size[1] * o.shape[2] * o.shape[3]

    def lin_hook(m, i, o):
        nonlocal total
        total += 2 * m.in_features * m.out_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    try:
        with torch.no_grad():
            model.eval()(x[:1])
    finally:
        for h in hooks:
            h.remove()
    return total


def train_epoch(model, x, y, batch_size: int, loader: bool = False, seconds: float = 0.0) -> float:
    """Seconds for one epoch of Adam steps (the same loop as singledir.nets.solo)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    g = torch.Generator().manual_seed(0)
    if loader:
        it = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size,
                                         shuffle=True, generator=g)
    else:
        it = ((x[i], y[i]) for i in dataset.batches(len(y), batch_size, g))
    t0 = time.perf_counter()
    for xb, yb in it:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main(quick: bool) -> None:
    torch.set_num_threads(2)
    ds = dataset.load_dataset("mnist5k")
    x, y = ds.x_train, ds.y_train
    if quick:
        x, y = x[:256], y[:256]
    peak = matmul_peak(512 if quick else 2048)
    print(f"# matmul peak {peak:.1f} GFLOP/s (float32, 2 threads); {len(y)} training examples", flush=True)
    cases = [("MLP 784-512-512-10", MLPConfig(widths=(512, 512)), 128),
             ("conv net x1/4", ConvNetConfig(width=0.25), 64),
             ("conv net x1/8", ConvNetConfig(width=0.125), 64)]
    for name, cfg, bs in cases:
        torch.manual_seed(0)
        model = build_model(cfg, ds.input_shape, 10)
        xx = x
        if isinstance(cfg, ConvNetConfig):
            model = model.to(memory_format=torch.channels_last)
            xx = x.contiguous(memory_format=torch.channels_last)
        train_epoch(model, xx[:bs * 2], y[:bs * 2], bs)  # warm-up
        t = train_epoch(model, xx, y, bs)
        eps = len(y) / t
        gflops = 3 * forward_flops(model, xx) * eps / 1e9
        print(f"TRAIN {name} (batch {bs}): {eps:.0f} examples/s, {gflops:.1f} GFLOP/s, "
              f"{100 * gflops / peak:.0f}% of matmul peak", flush=True)

    torch.manual_seed(0)
    cfg = ConvNetConfig(width=0.125)
    n = min(len(y), 1000)
    base = build_model(cfg, ds.input_shape, 10)
    t_default = train_epoch(base, x[:n], y[:n], 64)
    torch.manual_seed(0)
    cl = build_model(cfg, ds.input_shape, 10).to(memory_format=torch.channels_last)
    t_cl = train_epoch(cl, x[:n].contiguous(memory_format=torch.channels_last), y[:n], 64)
    print(f"conv net x1/8 memory format: contiguous {t_default:.2f} s, channels_last {t_cl:.2f} s, "
          f"ratio {t_default / t_cl:.2f}x", flush=True)

    torch.manual_seed(0)
    mlp = build_model(MLPConfig(widths=(512, 512)), ds.input_shape, 10)
    t_loader = train_epoch(mlp, x, y, 128, loader=True)
    torch.manual_seed(0)
    mlp = build_model(MLPConfig(widths=(512, 512)), ds.input_shape, 10)
    t_index = train_epoch(mlp, x, y, 128)
    print(f"MLP batches: DataLoader {t_loader:.2f} s, in-memory index batches {t_index:.2f} s, "
          f"ratio {t_loader / t_index:.2f}x", flush=True)

    for threads in (1, 2):
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        mlp = build_model(MLPConfig(widths=(512, 512)), ds.input_shape, 10)
        t = train_epoch(mlp, x, y, 128)
        if threads == 1:
            t1 = t
    print(f"MLP threads: 1 thread {t1:.2f} s, 2 threads {t:.2f} s, ratio {t1 / t:.2f}x "
          f"(two single-thread runs side by side use both cores without sharing one run)", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run of every case")
    main(ap.parse_args().quick)
