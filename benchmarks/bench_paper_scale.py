"""What params/paper.yml would cost: training time per epoch of the paper's networks, measured.

Times training steps (Adam, the preset's batch size, channels_last for the conv net) of the three
network shapes the paper preset trains, on random data of the paper's shapes (MNIST 60000 x 784,
CIFAR-10 50000 x 3 x 32 x 32), on the chosen device, with the same steps on this machine's CPU as
the baseline measured in the same run. Then multiplies by the number of epochs each shape is
trained for under params/paper.yml (counted below, per chapter) and prints the estimate.

    python benchmarks/bench_paper_scale.py                  # CPU only (a few steps each)
    python benchmarks/bench_paper_scale.py --device cuda    # GPU, with the CPU baseline
    python benchmarks/bench_paper_scale.py --quick          # one tiny step each, for a smoke run
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from singledir.nets.models import ConvNetConfig, MLPConfig, build_model  # noqa: E402

MNIST, CIFAR = ((1, 28, 28), 60000), ((3, 32, 32), 50000)


def epoch_counts(params: dict) -> dict[str, int]:
    """Network-epochs of each shape that params/paper.yml trains (chapters 5, 6 and 8 reuse chapter
    4's conv nets, chapter 8 chapter 3's; the 128-wide MLPs of chapters 5 and 8 and the ResNet (not
    trained) are left out)."""
    c = params["chapters"]
    d = params["defaults"]  # the shared groups (chapters 2, 3 and 8 share E1, E3, E4 and E5's through them)
    c1, c4, c8 = c["01_approach"], c["04_dropout_batchnorm"]["dropout"], {**d, **c["08_after_the_paper"]}
    e1, e3, e4_mlp, e4_conv, e5, bn = (d[k] for k in ("e1", "e3", "e4_mlp", "e4_conv", "e5_grid", "bn"))
    mlp512 = (c1["train"]["epochs"] + c1["corrupted_epochs"]
              + len(e1["corruptions"]) * len(e1["mlp_seeds"]) * e1["mlp_train"]["epochs"])
    conv = (len(e1["corruptions"]) * len(e1["conv_seeds"]) * e1["conv_train"]["epochs"]       # E1, E2
            + e3["n_networks"] * e3["train"]["epochs"]                                         # E3
            + len(e4_conv["seeds"]) * e4_conv["train"]["epochs"]                               # E4 (b)
            + len(e5["learning_rates"]) * len(e5["batch_sizes"]) * len(e5["seeds"]) * e5["epochs"]  # E5
            + len(bn["seeds"]) * 2 * bn["train"]["epochs"]                                     # E7: with and without BN
            + len(c8["alphas"]) * len(c8["f2_conv"]["seeds"]) * c8["f2_conv"]["train"]["epochs"])  # F2
    mlp2048 = (len(e4_mlp["seeds"]) * e4_mlp["train"]["epochs"]                                 # E4 (a)
               # E6: true labels at each rate, corrupted labels at each rate and without dropout
               + (2 * len(c4["rates"]) + 1) * len(c4["seeds"]) * c4["train"]["epochs"])
    return {"mlp 512-512 (MNIST)": mlp512, "conv net x1 (CIFAR-10)": conv, "mlp 2048-2048 (MNIST)": mlp2048}


def step_seconds(model_cfg, shape, device: str, batch: int, steps: int, warmup: int = 3) -> float:
    torch.manual_seed(0)
    net = build_model(model_cfg, shape, 10).to(device)
    conv = isinstance(model_cfg, ConvNetConfig)
    if conv:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(batch, *shape, device=device)
    if conv:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    for _ in range(warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def group_step_seconds(model_cfg, shape, device: str, batch: int, steps: int, G: int, warmup: int = 2,
                       precision: str = "fp32") -> float:
    """Seconds per training step of G networks trained as one group (singledir.nets.groups), each on
    its own random batch: the grouped path the sweeps use."""
    from singledir.nets import stacked
    from singledir.nets.runs import TrainConfig, autocast

    members = []
    for s in range(G):
        torch.manual_seed(s)
        m = build_model(model_cfg, shape, 10)
        members.append(m.to(memory_format=torch.channels_last) if isinstance(model_cfg, ConvNetConfig) else m)
    net = stacked.stack(members).to(device)
    tcfg = TrainConfig(lr=1e-3, batch_size=batch, precision=precision)
    opt = stacked.StackedOptimizer(list(net.parameters()), G, [tcfg] * G)
    conv = isinstance(model_cfg, ConvNetConfig)
    n = 4 * batch
    x = torch.randn(n, *shape[1:], shape[0], device=device) if conv else torch.randn(n, *shape, device=device)
    y = torch.randint(0, 10, (G, n), device=device)
    idx = torch.stack([torch.randperm(n, device=device)[:batch] for _ in range(G)])

    def step():
        xb = net.batch(x, idx)
        with autocast(tcfg, torch.device(device)):
            out = net(xb)
        loss = F.cross_entropy(out.float().reshape(G * batch, -1), y.gather(1, idx).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per network on --device (50 on a GPU, 5 on the CPU)")
    ap.add_argument("--cpu-steps", type=int, default=5, help="timed steps per network for the CPU baseline")
    ap.add_argument("--params", default=str(ROOT / "params" / "paper.yml"))
    ap.add_argument("--groups", default="16,4,8", help="group sizes for the three shapes (MLP 512, conv net, MLP 2048)")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="of the grouped steps")
    ap.add_argument("--quick", action="store_true",
                    help="one step of batch 8 each, in groups of 2, without warm-up "
                         "(a smoke run; the figures mean nothing)")
    a = ap.parse_args(argv)
    if a.quick:
        a.steps, a.cpu_steps, a.groups = 1, 1, "2,2,2"
    from singledir.book.params import read_params_file

    params = read_params_file(Path(a.params))
    steps = a.steps or (5 if a.device == "cpu" else 50)
    batch = 8 if a.quick else params["defaults"]["e1"]["conv_train"]["batch_size"]
    warmup = 0 if a.quick else 2
    counts = epoch_counts(params)
    shapes = {"mlp 512-512 (MNIST)": (MLPConfig(widths=(512, 512)), MNIST),
              "conv net x1 (CIFAR-10)": (ConvNetConfig(width=1.0), CIFAR),
              "mlp 2048-2048 (MNIST)": (MLPConfig(widths=(2048, 2048)), MNIST)}
    name = torch.cuda.get_device_name() if a.device == "cuda" else f"cpu ({torch.backends.cpu.get_cpu_capability()})"
    groups = [int(g) for g in a.groups.split(",")]
    print(f"torch {torch.__version__}, device {name}, {torch.get_num_threads()} CPU threads, batch {batch}"
          + ("" if a.device == "cuda" else "; no GPU: these are CPU figures")
          + ("; --quick: one step each, the figures mean nothing" if a.quick else ""))
    total = total_grouped = 0.0
    for (label, (cfg, (shape, n))), G in zip(shapes.items(), groups):
        per_epoch_steps = math.ceil(n / batch)
        t_dev = step_seconds(cfg, shape, a.device, batch, steps, warmup + 1) * per_epoch_steps
        t_cpu = t_dev if a.device == "cpu" else \
            step_seconds(cfg, shape, "cpu", batch, a.cpu_steps, warmup + 1) * per_epoch_steps
        t_grp = group_step_seconds(cfg, shape, a.device, batch, max(1 if a.quick else 2, steps // 2), G,
                                   warmup, precision=a.precision) * per_epoch_steps / G
        hours, hours_grp = counts[label] * t_dev / 3600, counts[label] * t_grp / 3600
        total += hours
        total_grouped += hours_grp
        print(f"{label}: {a.device} {t_dev:.2f} s/epoch alone, {t_grp:.2f} s/epoch per network in groups of {G} "
              f"(ratio {t_dev / t_grp:.2f}x), cpu alone {t_cpu:.1f} s/epoch; {counts[label]} network-epochs in "
              f"paper.yml -> {hours:.1f} h alone, {hours_grp:.1f} h grouped on {a.device}")
    print(f"training in params/paper.yml: about {total:.1f} h alone, {total_grouped:.1f} h grouped ({a.precision}) on "
          f"{name} (batch-{batch} steps; the E5 grid's other batch sizes, evaluation and the analyses come on top)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
