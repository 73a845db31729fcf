"""singledir.measure.orders: the ablation orders (seeded torch permutations, explicit orders checked),
the grid of ablated counts and the cumulative paths built from them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from singledir.measure import orders


def test_random_orders_are_seeded_torch_permutations_of_the_layer_unit_pairs():
    got = orders.random_orders(["a", "b"], {"a": 3, "b": 2}, 2, seed=7)
    pairs = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    g = torch.Generator().manual_seed(7)
    assert got == [[pairs[i] for i in torch.randperm(5, generator=g).tolist()] for _ in range(2)]
    assert got[0] != got[1]  # one order per repetition, each drawn once
    only = orders.random_orders(["a", "b"], {"a": 3, "b": 2}, 1, seed=0, units={"a": [2]})
    assert sorted(only[0]) == [(0, 2), (1, 0), (1, 1)]  # a layer not named in units: all its units


def test_explicit_orders_take_indices_or_pairs_and_refuse_what_is_not_a_permutation():
    assert orders.explicit_orders([[2, 0, 1]], ["a"], {"a": 3}, None) == [[(0, 2), (0, 0), (0, 1)]]
    assert orders.explicit_orders([np.array([1, 0])], ["a"], {"a": 2}, None) == [[(0, 1), (0, 0)]]
    two = orders.explicit_orders([[("b", 0), ("a", 0)]], ["a", "b"], {"a": 1, "b": 1}, None)
    assert two == [[(1, 0), (0, 0)]]
    with pytest.raises(ValueError, match="non-empty list"):
        orders.explicit_orders([], ["a"], {"a": 2}, None)
    with pytest.raises(ValueError, match=r"missing \[1\], repeated \[0\]"):
        orders.explicit_orders([[0, 0]], ["a"], {"a": 2}, None)
    with pytest.raises(ValueError, match=r"not eligible \[1\]"):
        orders.explicit_orders([[0, 1]], ["a"], {"a": 2}, {"a": [0]})
    with pytest.raises(ValueError, match="holds 0"):
        orders.explicit_orders([[0]], ["a", "b"], {"a": 1, "b": 1}, None)  # two layers: pairs needed


def test_count_grid_is_rounded_evenly_spaced_or_the_counts_given():
    assert orders.count_grid(17, 9).tolist() == [0, 2, 4, 6, 8, 11, 13, 15, 17]  # half to even
    assert orders.count_grid(3, 21).tolist() == [0, 1, 2, 3]  # duplicates dropped
    assert orders.count_grid(5, [4, 0, 4]).tolist() == [0, 4]
    for grid, match in [(1, "too small"), ([], "empty grid"), ([0, 6], r"must lie in \[0, 5\]")]:
        with pytest.raises(ValueError, match=match):
            orders.count_grid(5, grid)


def test_cumulative_paths_add_each_steps_units_by_layer():
    order = [(0, 2), (1, 0), (0, 1)]
    (path,) = orders.cumulative_paths([order], np.array([0, 2, 3]), 2)
    assert [at for at, _ in path] == [(0, 0), (0, 1), (0, 2)]
    assert [[u.tolist() for u in adds] for _, adds in path] == [[[], []], [[2], [0]], [[1], []]]
    assert all(u.dtype == torch.long for _, adds in path for u in adds)
