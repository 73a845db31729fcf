"""The perturbation engine against the naive hook loop, same network and data, one process.

Each case prints: ``CASE: naive X s, engine Y s, ratio Rx, max diff D`` where D is the largest
absolute difference between the two implementations' curves (accuracy and loss).

Cases (issue 3's targets on the 2-core machine):
  mlp512 hidden.0 / hidden.1: MLP 784-512-512-10, 10k examples, 20 points x 10 orders (>= 5x / >= 20x)
  convnet/4 conv.10 and conv.5: the paper's 11-layer net with channels / 4, 28x28 inputs (>= 3x)
  mlp512 importance: every unit of both layers ablated alone
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from singledir.data import dataset as dataset_mod  # noqa: E402
from singledir.data import raw  # noqa: E402
from singledir.measure import perturb  # noqa: E402
from singledir.nets.models import ConvNetConfig, MLPConfig  # noqa: E402
from singledir.nets.runs import RunConfig, TrainConfig  # noqa: E402
from singledir.nets.training import train_network  # noqa: E402


def ten_thousand() -> tuple[torch.Tensor, torch.Tensor, str]:
    """10k real images: Fashion-MNIST's test set when present, else mnist5k plus shifted copies."""
    try:
        ds = dataset_mod.load_dataset("fashion_mnist")
        return ds.x_test[:10000], ds.y_test[:10000], "fashion_mnist test set"
    except raw.DataUnavailable:
        ds = dataset_mod.load_dataset("mnist5k")
        x = torch.cat([ds.x_train, ds.x_test])
        y = torch.cat([ds.y_train, ds.y_test])
        return torch.cat([x, x.roll(1, dims=3)]), torch.cat([y, y]), "mnist5k + copies shifted 1 px"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def case(name: str, naive, engine, diff) -> None:
    a, t_naive = timed(naive)
    b, t_engine = timed(engine)
    print(f"{name}: naive {t_naive:.1f} s, engine {t_engine:.1f} s, ratio {t_naive / t_engine:.1f}x, "
          f"max diff {diff(a, b):.1e}", flush=True)


def curve_diff(a, b) -> float:
    cols = ["accuracy", "loss"]
    return float((a.table[cols] - b.table[cols]).abs().to_numpy().max())


def main(quick: bool = False) -> None:
    torch.set_num_threads(2)
    x, y, source = ten_thousand()
    if quick:
        x, y = x[:500], y[:500]
    print(f"# data: {len(y)} examples ({source}); torch threads {torch.get_num_threads()}", flush=True)
    mlp = train_network(RunConfig(dataset="mnist5k", n_train=500 if quick else None, model=MLPConfig(widths=(512, 512)),
                          train=TrainConfig(epochs=10 if not quick else 1))).model
    kw = dict(grid=20 if not quick else 5, repetitions=10 if not quick else 2, seed=0, metrics=("accuracy", "loss"))
    for layer in ("hidden.0", "hidden.1"):
        case(f"mlp512 {layer} ({kw['grid']} points x {kw['repetitions']} orders)",
             lambda: perturb.ablation_curve(mlp, (x, y), layer, method="naive", **kw),
             lambda: perturb.ablation_curve(mlp, (x, y), layer, method="engine", **kw), curve_diff)
    n_imp = 2000 if not quick else 100
    case(f"mlp512 importance (1024 units, {n_imp} examples)",
         lambda: perturb.unit_importance(mlp, (x[:n_imp], y[:n_imp]), ["hidden.0", "hidden.1"], method="naive"),
         lambda: perturb.unit_importance(mlp, (x[:n_imp], y[:n_imp]), ["hidden.0", "hidden.1"], method="engine"),
         lambda a, b: float((a[["loss", "accuracy"]] - b[["loss", "accuracy"]]).abs().to_numpy().max()))
    conv = train_network(RunConfig(dataset="mnist5k", n_train=200 if quick else None, model=ConvNetConfig(width=0.25),
                           train=TrainConfig(epochs=2 if not quick else 1))).model
    n_conv = 2000 if not quick else 100
    ckw = dict(grid=11 if not quick else 3, repetitions=3 if not quick else 1, seed=0, metrics=("accuracy", "loss"))
    xc, yc = x[:n_conv].contiguous(memory_format=torch.channels_last), y[:n_conv]
    for layer in ("conv.10", "conv.5"):
        case(f"convnet/4 {layer} ({n_conv} examples, {ckw['grid']} points x {ckw['repetitions']} orders)",
             lambda: perturb.ablation_curve(conv, (xc, yc), layer, method="naive", **ckw),
             lambda: perturb.ablation_curve(conv, (xc, yc), layer, method="engine", **ckw), curve_diff)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run of every case")
    main(ap.parse_args().quick)
