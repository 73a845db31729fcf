"""The held-out images of a run trained on a subset, split into validation and test parts.

A run with ``unused_to_test=True`` (see :func:`singledir.data.dataset.load_dataset`) is evaluated on a
held-out set made of the dataset's own test split followed by the training images that ``n_train``
leaves out of the pool (never trained on). :func:`heldout_parts` gives the two parts separately, so
that a decision (an early-stopping epoch, a setting) can be made on the validation part and judged
on the test part.
"""
from __future__ import annotations

import torch

from .runs import RunConfig, load_run_dataset

Data = tuple[torch.Tensor, torch.Tensor]  # (images [N, C, H, W], labels [N])


def heldout_parts(config: RunConfig) -> tuple[Data, Data]:
    """``(validation, test)``: the held-out set of ``config`` split into its two sources.

    ``validation`` holds the pool's training images that ``n_train`` leaves out (the ones the
    ``unused_to_test`` option adds to the test set; never trained on), in the order of their index
    in the dataset's training split. ``test`` holds the dataset's own test split (its stratified
    ``n_test`` subset where ``n_test`` is set), in the order :func:`singledir.data.dataset.load_dataset`
    keeps. Both are standardized as the run's data are (with its training set's mean and standard
    deviation), with their true labels; together they are ``load_run_dataset(config)``'s test set,
    test part first.

    Args:
        config: a run with ``unused_to_test=True`` and an ``n_train`` that leaves images out.

    Returns:
        ``((x_val, y_val), (x_test, y_test))``.

    Raises:
        ValueError: ``config.unused_to_test`` is False, or ``n_train`` leaves no image out.
    """
    if not config.unused_to_test:
        raise ValueError(f"unused_to_test={config.unused_to_test!r}: the run holds no training images out, so "
                         "there is no validation part; use a RunConfig with unused_to_test=True and an n_train "
                         "smaller than the training images")
    ds = load_run_dataset(config)
    n_val = int(ds.meta["unused_to_test"])
    if n_val == 0:
        raise ValueError(f"n_train={config.n_train!r} leaves none of the {ds.meta['pool']} training images out, so "
                         "the validation part is empty; use an n_train smaller than the pool (n_pool, or the "
                         "whole training split)")
    n_test = len(ds.y_test) - n_val
    return (ds.x_test[n_test:], ds.y_test[n_test:]), (ds.x_test[:n_test], ds.y_test[:n_test])
