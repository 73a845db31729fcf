"""singledir.data.raw: the stratified split (largest remainders, seeded, never an empty side)."""
from __future__ import annotations

import numpy as np
import pytest

from singledir.data.raw import stratified_split


def test_stratified_split_known_counts():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    tr, te = stratified_split(y, 0.2, seed=0)
    assert np.bincount(y[te]).tolist() == [10, 6, 4]
    assert np.bincount(y[tr]).tolist() == [40, 24, 16]


def test_stratified_split_largest_remainder():
    # 3 of 10 examples from classes of 5, 3, 2: exact shares 1.5, 0.9, 0.6 -> floors 1, 0, 0, and the
    # two remaining slots go to the largest remainders (0.9 then 0.6): 1, 1, 1.
    y = np.repeat([0, 1, 2], [5, 3, 2])
    _, te = stratified_split(y, 3, seed=0)
    assert np.bincount(y[te], minlength=3).tolist() == [1, 1, 1]
    # 7 of 10: shares 3.5, 2.1, 1.4 -> 3, 2, 1 plus one slot for the largest remainder (0.5): 4, 2, 1
    _, te = stratified_split(y, 7, seed=0)
    assert np.bincount(y[te], minlength=3).tolist() == [4, 2, 1]


@pytest.mark.parametrize("test_size", [0.2, 0.25, 37, 449])
def test_stratified_split_partitions_sorted_indices(test_size):
    y = np.random.default_rng(0).integers(0, 10, size=1000)
    tr, te = stratified_split(y, test_size, seed=4)
    n_test = test_size if isinstance(test_size, int) else round(test_size * 1000)
    assert len(te) == n_test and len(tr) == 1000 - n_test
    assert np.intersect1d(tr, te).size == 0
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(1000))
    assert np.all(np.diff(tr) > 0) and np.all(np.diff(te) > 0)
    counts = np.bincount(y, minlength=10)
    share = counts * n_test / 1000
    got = np.bincount(y[te], minlength=10)
    assert np.all((got == np.floor(share)) | (got == np.ceil(share)))


def test_stratified_split_is_seeded():
    y = np.arange(500) % 10
    a = stratified_split(y, 0.2, seed=0)
    b = stratified_split(y, 0.2, seed=0)
    c = stratified_split(y, 0.2, seed=1)
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("test_size", [0, 0.0, 10, 1.0])
def test_stratified_split_rejects_an_empty_side(test_size):
    with pytest.raises(ValueError, match="empty side"):
        stratified_split(np.arange(10) % 2, test_size, seed=0)
