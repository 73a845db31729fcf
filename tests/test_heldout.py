"""singledir.heldout: a run's held-out set split into the unused training images (validation) and
the dataset's test split (test)."""
from __future__ import annotations

import pytest
import torch

from singledir.nets.heldout import heldout_parts
from singledir.nets.runs import RunConfig, load_run_dataset


def rows(x: torch.Tensor) -> list[bytes]:
    """Each image as bytes, sorted: a multiset of images."""
    return sorted(r.numpy().tobytes() for r in x.flatten(1))


@pytest.mark.parametrize("config", [
    RunConfig(dataset="mnist5k", n_train=1000, unused_to_test=True),
    RunConfig(dataset="mnist5k", n_train=200, n_pool=600, n_test=150, unused_to_test=True, corruption=0.5, seed=2),
], ids=["whole-pool", "n_pool-n_test-corrupted"])
def test_validation_and_test_are_the_held_out_set_split_by_source(config):
    (xv, yv), (xt, yt) = heldout_parts(config)
    ds = load_run_dataset(config)
    assert len(yv) == ds.meta["pool"] - config.n_train and len(yv) + len(yt) == len(ds.y_test)
    assert len(yt) == len(load_run_dataset(config.with_(unused_to_test=False)).y_test)
    val, test, train = set(rows(xv)), set(rows(xt)), set(rows(ds.x_train))
    assert len(val) == len(yv) and len(test) == len(yt)  # no duplicate images: sets are fair here
    assert not val & test and not val & train  # disjoint, and never trained on
    assert rows(torch.cat([xv, xt])) == rows(ds.x_test)  # together: the run's held-out set
    # the labels travel with their images (true labels: held-out labels are never corrupted)
    key = {r.numpy().tobytes(): int(y) for r, y in zip(ds.x_test.flatten(1), ds.y_test)}
    assert all(key[r.numpy().tobytes()] == int(y) for r, y in zip(xv.flatten(1), yv))
    assert all(key[r.numpy().tobytes()] == int(y) for r, y in zip(xt.flatten(1), yt))
    again = heldout_parts(config)  # deterministic
    assert torch.equal(again[0][0], xv) and torch.equal(again[1][1], yt)


def test_a_run_without_held_out_training_images_is_refused():
    with pytest.raises(ValueError, match=r"unused_to_test=False: .* use a RunConfig with unused_to_test=True"):
        heldout_parts(RunConfig(dataset="digits", n_train=300))
    with pytest.raises(ValueError, match=r"n_train=None leaves none of the \d+ training images out"):
        heldout_parts(RunConfig(dataset="digits", unused_to_test=True))
