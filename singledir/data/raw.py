"""Raw arrays and the registry of their loaders, beneath every dataset.

A loader returns :data:`Raw`: ``(x_train, y_train, x_test, y_test, classes)``, images as float
arrays ``[N, C, H, W]`` with values in [0, 1], integer labels and the class names. :data:`DATASETS`
maps a name to its loader; the built-in loaders (:mod:`singledir.data.loaders`) enter it with
:func:`builtin_dataset`, a user's with :func:`singledir.data.dataset.register_dataset`.
:func:`stratified_split` is the one stratified sampler (train/test splits and every subset).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]

DATASETS: dict[str, Callable[..., Raw]] = {}  # name -> loader(split_seed=..., download=..., **_)
BUILTIN: set[str] = set()  # the names the package's own loaders registered: never replaced


def builtin_dataset(name: str) -> Callable[[Callable[..., Raw]], Callable[..., Raw]]:
    """Register the decorated function as the built-in loader of dataset ``name``."""
    def register(loader: Callable[..., Raw]) -> Callable[..., Raw]:
        DATASETS[name] = loader
        BUILTIN.add(name)
        return loader
    return register


class DataUnavailable(RuntimeError):
    """A registered dataset whose files are not on this machine and cannot be downloaded."""


def data_root() -> Path:
    """Folder for downloaded or unpacked datasets: ``$SINGLEDIR_DATA`` or ``~/.cache/singledir/data``."""
    env = os.environ.get("SINGLEDIR_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "singledir" / "data"


def stratified_split(y: np.ndarray, test_size: float | int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices (train, test), each class split in the same proportion; seeded.

    ``test_size`` is a fraction (float) or an exact count (int). Per-class test counts are the
    class's share of the total, rounded by largest remainder so that they add up exactly.
    """
    y = np.asarray(y)
    n = len(y)
    n_test = int(test_size) if isinstance(test_size, (int, np.integer)) else int(round(float(test_size) * n))
    if not 0 < n_test < n:
        raise ValueError(f"test_size {test_size} leaves an empty side for {n} examples")
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * n_test / n
    per_class = np.floor(exact).astype(int)
    order = np.argsort(-(exact - per_class), kind="stable")
    per_class[order[: n_test - per_class.sum()]] += 1
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, per_class)])
    mask = np.zeros(n, dtype=bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def stratified_indices(y: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a seeded, class-stratified subset of ``n`` of the labels ``y`` (all of them
    when n is None or >= N): the test side of :func:`stratified_split` with ``n`` examples."""
    if n is None or n >= len(y):
        return np.arange(len(y))
    if int(n) < 1:
        raise ValueError(f"subset size {n} must be at least 1 (or None for all)")
    return stratified_split(y, int(n), seed)[1]
