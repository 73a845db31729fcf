"""Write a registered dataset as an ImageFolder tree, the layout `folder:PATH` datasets read.

    python examples/export_folder.py --dataset mnist5k --out .cache/examples/mnist5k-png

gives ``OUT/train/<class>/<n>.png`` and ``OUT/test/<class>/<n>.png``: the layout to copy for data
of your own (any image format PIL reads; one sub-folder per class, the same classes in both).
`params/folder_example.yml` runs the book on the tree this writes (`make folder-example`).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np


def export(dataset: str, out: Path, split_seed: int = 0) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from PIL import Image

    from singledir.data.raw import DATASETS

    if dataset not in DATASETS:
        raise SystemExit(f"unknown dataset {dataset!r}; registered: {', '.join(DATASETS)}")
    xtr, ytr, xte, yte, classes = DATASETS[dataset](split_seed=split_seed, download=False)
    names = [re.sub(r"[^A-Za-z0-9_.-]+", "_", str(c)) for c in classes]
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        for name in names:
            (tmp / split / name).mkdir(parents=True, exist_ok=True)
        pixels = np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)  # loaders give [0, 1]
        for i, (img, label) in enumerate(zip(pixels, y)):
            arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
            Image.fromarray(arr).save(tmp / split / names[int(label)] / f"{i:05d}.png")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)  # the tree appears complete or not at all
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    out = export(a.dataset, Path(a.out))
    n = sum(1 for _ in out.rglob("*.png"))
    print(f"wrote {n} images under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
