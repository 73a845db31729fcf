"""Training a network: :func:`train_network` returns the cached run of a config or trains it with
the group trainer (:mod:`singledir.nets.groups`; in the group :func:`singledir.nets.runs.grouping`
fixes for its kind) when it can be grouped, alone (:mod:`singledir.nets.solo`) otherwise. Its import closure is the code version of every trained
network (:data:`singledir.nets.runs.TRAINING_MODULE`)."""
from __future__ import annotations

import time

import torch

from ..base.progress import timed
from ..data.dataset import Dataset
from .groups import groupable, train_group
from .runs import RunConfig, TrainedRun, default_device, load_cached, load_run_dataset, store_run
from .solo import fit


@timed("training")
def train_network(config: RunConfig, *, use_cache: bool = True, device: torch.device | str | None = None,
                  progress: bool | None = None, dataset: Dataset | None = None) -> TrainedRun:
    """Train the network ``config`` describes, or load it from the cache.

    Training is deterministic on the CPU: same config, same weights bit for bit. A run whose loss
    becomes NaN or infinite stops and is returned with ``diverged=True`` (and cached as such).

    Args:
        config: the run.
        use_cache: read and write the result cache (``$SINGLEDIR_CACHE``).
        device: defaults to the GPU when one is present.
        progress: a progress bar over epochs (default: when stderr is a terminal).
        dataset: the run's dataset if already loaded (must be ``load_run_dataset(config)``).

    Example:
        >>> run = train_network(RunConfig(dataset="digits", train=TrainConfig(epochs=5)))
        >>> run.final["test_acc"] > 0.8
        True
    """
    device = torch.device(device) if device is not None else default_device()
    if use_cache:
        hit = load_cached(config, device, dataset)
        if hit is not None:
            return hit
    if groupable(config):  # one code path for a network alone and in a group
        return train_group([config], device=device, progress=progress, use_cache=use_cache,
                           datasets=[dataset] if dataset is not None else None)[0]
    ds = dataset or load_run_dataset(config)
    t0 = time.perf_counter()
    model, history, checkpoints, diverged = fit(config, ds, device, progress)
    run = TrainedRun(config, model, history, checkpoints, diverged, from_cache=False,
                     seconds=time.perf_counter() - t0)
    if use_cache:
        store_run(run, device)
    return run
