"""Datasets as in-memory tensors, label corruption, and a fast batch iterator.

Section 2.1 of the paper trains on datasets in which a fraction ``p`` of the training labels is
shuffled among the chosen examples (Zhang et al., 2017): the label histogram is unchanged, the true
pattern is broken for those examples, and the test labels are never touched.

Every dataset is addressed by name through :func:`load_dataset`; :data:`singledir.data.raw.DATASETS` is
the registry (the built-in loaders are in :mod:`singledir.data.loaders`).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from ..base.cache import source_hash
from .loaders import load_folder
from .raw import BUILTIN, DATASETS, Raw, stratified_indices


@dataclass(frozen=True)
class Dataset:
    """Train and test tensors of one dataset; images are ``[N, C, H, W]`` float32, standardized
    per channel with the training set's mean and standard deviation.

    ``y_train`` holds the labels the network is trained on (corrupted where ``corrupted`` is True);
    ``y_train_true`` the original labels.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    y_train_true: torch.Tensor
    corrupted: torch.Tensor  # [N_train] bool: the examples whose labels were shuffled
    corruption: float = 0.0
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:  # tensors are long; show what matters
        return (f"Dataset({self.name!r}, train={tuple(self.x_train.shape)}, "
                f"test={tuple(self.x_test.shape)}, classes={self.n_classes}, "
                f"corruption={self.corruption})")


def dataset_names() -> list[str]:
    return [*DATASETS, "folder:PATH"]


def register_dataset(name: str, loader: Callable[..., Raw], *, replace: bool = False) -> None:
    """Add a dataset to the registry, so that every chapter and run config can name it.

    ``loader(split_seed=..., download=..., **_)`` returns ``(x_train, y_train, x_test, y_test,
    classes)``: images as float arrays ``[N, C, H, W]`` with values in [0, 1], integer labels, and the
    class names; ``split_seed`` is for data that ship no split. A run's cache key holds a hash of the
    loader's source, so editing the loader retrains what depends on it.

    Example:
        >>> register_dataset("my_digits", lambda split_seed, **_: my_arrays())   # doctest: +SKIP
        >>> load_dataset("my_digits", n_train=1000)                               # doctest: +SKIP
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"dataset name {name!r} must be a non-empty string without ':' (folder:PATH is taken)")
    if name in BUILTIN or (name in DATASETS and not replace):
        raise ValueError(f"dataset {name!r} is already registered; choose another name"
                         + ("" if name in BUILTIN else " or pass replace=True"))
    if not callable(loader):
        raise TypeError(f"the loader of {name!r} must be callable, got {type(loader).__name__}")
    DATASETS[name] = loader
    _raw.cache_clear()


def fingerprint(name: str) -> str:
    """What a run's cache key must know of a dataset beyond its name: nothing for the built-in ones
    (their code is part of the code version), the loader's source for a registered one, and the
    files' names, sizes and modification times for a ``folder:`` tree."""
    import hashlib

    if name in BUILTIN:
        return ""
    if not name.startswith("folder:"):
        return source_hash({name: DATASETS[name]}) if name in DATASETS else hashlib.sha256().hexdigest()[:16]
    h = hashlib.sha256()
    root = Path(os.path.expandvars(name[len("folder:"):])).expanduser()
    for p in sorted(root.rglob("*")) if root.is_dir() else []:
        if p.is_file():
            st = p.stat()
            h.update(f"{p.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def _raw(name: str, split_seed: int, download: bool, image_size: int | None) -> Raw:
    if name.startswith("folder:"):
        raw = load_folder(name[len("folder:"):], image_size=image_size)
    elif name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; registered datasets: {', '.join(dataset_names())}")
    else:
        raw = DATASETS[name](split_seed=split_seed, download=download)
    for split, x in (("train", raw[0]), ("test", raw[2])):
        _check_finite_images(name, split, x)
    return raw


def _check_finite_images(name: str, split: str, x: np.ndarray, block: int = 4096) -> None:
    """Refuse images holding NaN or infinite values: they would give NaN losses and silently wrong
    measures. Checked in blocks, so memory stays bounded on large datasets."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        return
    bad = [s + np.flatnonzero(~np.isfinite(x[s:s + block].reshape(len(x[s:s + block]), -1)).all(1))
           for s in range(0, len(x), block)]
    bad = np.concatenate(bad) if bad else np.zeros(0, dtype=int)
    if len(bad):
        raise ValueError(
            f"dataset {name!r}, {split} split: {len(bad)} of {len(x)} images hold NaN or infinite pixel values "
            f"(the first at index {int(bad[0])} of the {split} split); training and every measure would give NaN or "
            f"silently wrong numbers. Clean or drop those images in the dataset's loader, or choose another "
            f"dataset (`dataset:` in the parameter file).")


def corrupt_labels(y: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle the labels of a random ``fraction`` of examples among themselves.

    Exactly ``round(fraction * N)`` examples are chosen; their labels are permuted, so the label
    histogram is unchanged. Some chosen examples keep their own label by chance (about 1 in the
    number of classes); ``corrupted`` marks every chosen example.

    Args:
        y: ``[N]`` int64 labels.
        fraction: share of examples to corrupt, in [0, 1].
        seed: seed of the choice and of the permutation.

    Returns:
        ``(y_new [N], corrupted [N] bool)``.
    """
    fraction = float(fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"corruption fraction {fraction} is outside [0, 1]; use 0 for true labels "
                         "and 1 for fully shuffled labels")
    n = len(y)
    k = int(round(fraction * n))
    g = torch.Generator().manual_seed(int(seed))
    chosen = torch.randperm(n, generator=g)[:k]
    y_new = y.clone()
    y_new[chosen] = y[chosen[torch.randperm(k, generator=g)]]
    corrupted = torch.zeros(n, dtype=torch.bool)
    corrupted[chosen] = True
    return y_new, corrupted


def load_dataset(name: str = "mnist5k", *, corruption: float = 0.0, corruption_seed: int = 0,
                 split_seed: int = 0, n_train: int | None = None, n_test: int | None = None,
                 download: bool = False, image_size: int | None = None, unused_to_test: bool = False,
                 n_pool: int | None = None) -> Dataset:
    """Load a registered dataset as in-memory tensors, optionally with corrupted training labels.

    Args:
        name: one of :func:`dataset_names` (``"folder:PATH"`` for an ImageFolder tree).
        corruption: fraction of training labels shuffled (0 = true labels). Test labels never change.
        corruption_seed: seed of the corruption (one per trained network in the chapters).
        split_seed: seed of the stratified train/test split for datasets that ship no split.
        n_train, n_test: keep a stratified subset of this many examples (None keeps all); taken
            before corruption, so the corrupted fraction is exact on what is kept.
        download: let torchvision download ``mnist``, ``cifar10`` or ``fashion_mnist``.
        image_size: resize ``folder:`` images to this square size.
        unused_to_test: add the training images that ``n_train`` leaves out of the pool to the test
            set (a larger held-out set for networks trained on a subset).
        n_pool: the training images the data has before ``n_train`` is drawn: a stratified subset
            of this many training images (None = the whole training split). ``n_train`` is a
            stratified subset of the pool, and ``unused_to_test`` adds only the pool's other images.
            A book whose data is 4000 images of a 60000-image split trains its 1000-image networks
            on 1000 of those 4000 and holds out the other 3000 (not 59000).

    Example:
        >>> ds = load_dataset("mnist5k", corruption=0.4, corruption_seed=1)
        >>> ds.x_train.shape, int(ds.corrupted.sum())
        (torch.Size([4000, 1, 28, 28]), 1600)
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {name!r}")
    xtr, ytr, xte, yte, classes = _raw(name, int(split_seed), bool(download), image_size)
    pool, tr, te, rest = _splits(name, ytr, yte, n_train, n_test, n_pool, split_seed, unused_to_test)
    xte, yte = np.concatenate([xte[te], xtr[rest]]), np.concatenate([yte[te], ytr[rest]])
    xtr, ytr = xtr[tr], ytr[tr]
    x_train, x_test = _standardized(name, torch.from_numpy(xtr).float(), torch.from_numpy(xte).float())
    y_true = torch.from_numpy(ytr).long()
    y_train, corrupted = corrupt_labels(y_true, corruption, corruption_seed)
    return Dataset(
        name=name,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=torch.from_numpy(yte).long(),
        classes=tuple(classes),
        y_train_true=y_true,
        corrupted=corrupted,
        corruption=float(corruption),
        meta={"split_seed": split_seed, "corruption_seed": corruption_seed, "unused_to_test": int(len(rest)),
              "pool": int(len(pool))},
    )


def _splits(name: str, ytr: np.ndarray, yte: np.ndarray, n_train: int | None, n_test: int | None,
            n_pool: int | None, split_seed: int, unused_to_test: bool) -> tuple[np.ndarray, ...]:
    """Indices of the pool, of the training images drawn from it, of the test images kept, and of
    the pool's images left to the test set (``unused_to_test``; else none); see :func:`load_dataset`."""
    pool = _subset(ytr, n_pool, split_seed)
    if n_train is not None and n_pool is not None and int(n_train) > len(pool):
        raise ValueError(f"n_train {n_train} is larger than the pool of {len(pool)} training images it is drawn "
                         f"from (n_pool {n_pool}); use n_train <= n_pool, or a larger n_pool (None = all "
                         f"{len(ytr)} images of {name!r})")
    tr = pool[_subset(ytr[pool], n_train, split_seed)]
    te = _subset(yte, n_test, split_seed)
    rest = np.setdiff1d(pool, tr) if unused_to_test else np.zeros(0, dtype=int)
    return pool, tr, te, rest


def _standardized(name: str, x_train: torch.Tensor, x_test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both splits standardized per channel by the training images' mean and standard deviation."""
    mean = x_train.mean(dim=(0, 2, 3), keepdim=True)
    std = x_train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    if not (torch.isfinite(mean).all() and torch.isfinite(std).all()):
        raise ValueError(f"dataset {name!r}, train split: the per-channel mean or standard deviation of the images "
                         f"is not finite (pixel values too large for float32?); scale the images to [0, 1] in "
                         "the dataset's loader")
    return ((x_train - mean) / std).contiguous(), ((x_test - mean) / std).contiguous()


def _subset(y: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """:func:`~singledir.data.raw.stratified_indices`, refusing fewer examples than classes."""
    if n is not None and n < len(y) and int(n) < len(np.unique(y)):
        raise ValueError(f"subset size {n} is smaller than the number of classes "
                         f"({len(np.unique(y))}); use at least one example per class or None for all")
    return stratified_indices(y, n, seed)


def stratified_subset(x: torch.Tensor, y: torch.Tensor, n: int | None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded, class-stratified subset of ``n`` examples, kept in their original order (all when
    n is None or >= N): the examples an analysis is measured on. Each class gets its share of
    ``n`` (largest remainder), so no class present in the data is left out when n >= the number of
    classes, however many classes there are."""
    if n is None or n >= len(y):
        return x, y
    keep = torch.from_numpy(stratified_indices(y.cpu().numpy(), n, seed))
    return x[keep], y[keep]


def batches(n: int, batch_size: int, generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Index tensors covering ``range(n)`` in batches; shuffled when a generator is given."""
    if batch_size <= 0:
        raise ValueError(f"batch_size {batch_size} must be a positive integer")
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    yield from order.split(batch_size)
