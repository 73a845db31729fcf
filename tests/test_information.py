"""singledir.measure.information: equal-frequency bins and the mutual information of a unit's
activation with the class, in bits (a hand-computed table, and sklearn on the same bins)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

from singledir.measure import information as information_mod


def test_mutual_information_matches_sklearn_on_the_same_bins():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (2000,), generator=g)
    acts = torch.relu(torch.randn(2000, 6, generator=g))
    acts[:, 1] += 0.5 * y  # informative unit
    acts[:, 2] = 0.0  # dead unit
    acts[:, 3] = (y == 3).float()  # a binary unit: many ties
    mi = information_mod.mutual_information(acts, y, n_bins=8)
    for u in range(6):
        codes = information_mod.equal_frequency_bins(acts[:, u].numpy(), 8)
        ref = mutual_info_score(y.numpy(), codes) / math.log(2)
        assert mi[u].item() == pytest.approx(ref, abs=1e-10)
    assert mi[2] == 0.0
    assert mi[1] > 1.0 > mi[0]
    # the binary unit: I = H(1{y=3}) exactly, since its value is a function of the class
    p = (y == 3).sum().item() / len(y)
    assert mi[3].item() == pytest.approx(-(p * math.log2(p) + (1 - p) * math.log2(1 - p)), abs=1e-9)


def test_equal_frequency_bins_are_equal_and_ties_share_a_bin():
    v = np.arange(100.0)
    codes = information_mod.equal_frequency_bins(v, 10)
    assert np.bincount(codes).tolist() == [10] * 10
    tied = np.r_[np.zeros(60), np.arange(1.0, 41.0)]
    codes = information_mod.equal_frequency_bins(tied, 10)
    assert len(set(codes[:60])) == 1  # all zeros in one bin
    assert codes.max() + 1 <= 10
    with pytest.raises(ValueError, match="n_bins"):
        information_mod.equal_frequency_bins(v, 1)


def test_mutual_information_bits_of_a_hand_built_table():
    """Four examples (code, label): (0, 0), (0, 0), (0, 1), (1, 1). Joint p = [[1/2, 1/4], [0, 1/4]],
    codes 3/4 and 1/4, labels 1/2 and 1/2: I = 1/2 log2(4/3) + 1/4 log2(2/3) + 1/4 log2(2)
    = 3/2 - 3/4 log2(3) bits (0.3113)."""
    codes, labels = np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1])
    assert information_mod.mutual_information_bits(codes, labels) == pytest.approx(1.5 - 0.75 * math.log2(3), abs=1e-12)
    # the names of codes and labels do not matter, only the table
    assert information_mod.mutual_information_bits(codes * 7 + 3, np.array(["b", "b", "a", "a"])) == pytest.approx(
        1.5 - 0.75 * math.log2(3), abs=1e-12)
    assert information_mod.mutual_information_bits(labels, labels) == pytest.approx(1.0, abs=1e-12)  # H = 1 bit
    assert information_mod.mutual_information_bits(np.zeros(4), labels) == 0.0  # a constant carries nothing
