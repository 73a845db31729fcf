"""A network of "your own" for chapter 7: LeNet-5 for 28x28 grey images, in plain PyTorch.

It stands for a model trained outside this project: the chapter gets only this file's class
(``examples/lenet.py:LeNet``) and a weights file, and knows nothing else about it. Train it with

    python examples/lenet.py --out .cache/examples/lenet-mnist5k.pt

(``make book`` does this when the file is missing). The weights are a plain ``state_dict``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class LeNet(nn.Module):
    """LeNet-5 with ReLUs and max pooling: 6 and 16 feature maps, then 120 and 84 hidden units."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train the example LeNet and save its state_dict.")
    ap.add_argument("--out", required=True, help="weights file to write")
    ap.add_argument("--dataset", default="mnist5k", help="a singledir dataset name (default: mnist5k)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from singledir.data.dataset import load_dataset

    torch.manual_seed(a.seed)
    ds = load_dataset(a.dataset)  # the same standardized tensors the book's chapters use
    net = LeNet(num_classes=ds.n_classes, in_channels=ds.x_train.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    g = torch.Generator().manual_seed(a.seed)
    for epoch in range(1, a.epochs + 1):
        net.train()
        for idx in torch.randperm(len(ds.y_train), generator=g).split(128):
            opt.zero_grad()
            F.cross_entropy(net(ds.x_train[idx]), ds.y_train[idx]).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            acc = (net(ds.x_test).argmax(1) == ds.y_test).float().mean().item()
        print(f"epoch {epoch}/{a.epochs}: test accuracy {acc:.3f}", flush=True)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    torch.save(net.state_dict(), tmp)
    os.replace(tmp, out)  # never a half-written weights file under the final name
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
