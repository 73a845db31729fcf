"""The orders in which units are ablated: seeded random permutations of a layer's units (or of
several layers' units pooled), explicit orders checked to be permutations, the grid of ablated
counts, and the cumulative ablation paths the engine (:mod:`singledir.measure.engine`) walks.
Units are ``(layer position, unit)`` pairs."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def count_grid(n_units: int, grid: int | Sequence[int]) -> np.ndarray:
    """Ablated counts: ``grid`` evenly spaced points from 0 to ``n_units``, or the counts given."""
    if isinstance(grid, (int, np.integer)):
        if grid < 2:
            raise ValueError(f"grid of {grid} point(s) is too small: at least 2 (none and all ablated)")
        return np.unique(np.round(np.linspace(0, n_units, int(grid))).astype(int))
    counts = np.asarray(list(grid), dtype=int)
    if counts.size == 0:
        raise ValueError("empty grid: give a number of points (e.g. 21) or a list of ablated counts")
    if counts.min() < 0 or counts.max() > n_units:
        raise ValueError(f"grid counts must lie in [0, {n_units}] (the number of units); got "
                         f"{counts.min()}..{counts.max()}")
    return np.unique(counts)


def random_orders(layers: list[str], n_units: dict[str, int], repetitions: int, seed: int,
            units: dict[str, Sequence[int]] | None = None) -> list[list[tuple[int, int]]]:
    """One fixed random permutation of the (layer position, unit) pairs per repetition: every unit
    of ``layers``, or only ``units[layer]`` where given."""
    pairs = [(li, int(u)) for li, l in enumerate(layers)
             for u in (range(n_units[l]) if units is None or l not in units else units[l])]
    g = torch.Generator().manual_seed(int(seed))
    return [[pairs[i] for i in torch.randperm(len(pairs), generator=g).tolist()] for _ in range(repetitions)]


def explicit_orders(orders, layers: list[str], n_units: dict[str, int],
                     units: dict[str, Sequence[int]] | None) -> list[list[tuple[int, int]]]:
    """``orders`` (unit indices of the one layer, or ``(layer, unit)`` pairs) as (layer position,
    unit) pairs, each checked to be a permutation of the eligible units."""
    eligible = sorted(p for p in random_orders(layers, n_units, 1, 0, units)[0])
    if isinstance(orders, (str, bytes)) or len(orders) == 0:
        raise ValueError(f"orders {orders!r}: give a non-empty list of unit orders, e.g. [[2, 0, 1]]")
    out = []
    for i, order in enumerate(orders):
        pairs = []
        for v in order.tolist() if hasattr(order, "tolist") else order:  # a tensor or array: its numbers
            if isinstance(v, (tuple, list)) and len(v) == 2 and v[0] in layers:
                pairs.append((layers.index(v[0]), int(v[1])))
            elif isinstance(v, (int, np.integer)) and len(layers) == 1:
                pairs.append((0, int(v)))
            else:
                raise ValueError(f"order {i} holds {v!r}: give unit indices of the layer (one layer) or "
                                 f"(layer, unit) pairs with a layer among {layers}")
        if sorted(pairs) != eligible:
            extra = sorted(set(pairs) - set(eligible))[:5]
            missing = sorted(set(eligible) - set(pairs))[:5]
            twice = sorted({p for p in pairs if pairs.count(p) > 1})[:5]
            named = lambda ps: [(layers[li], u) if len(layers) > 1 else u for li, u in ps]  # noqa: E731
            raise ValueError(f"order {i} is not a permutation of the {len(eligible)} eligible units: not eligible "
                             f"{named(extra)}, missing {named(missing)}, repeated {named(twice)}; give every "
                             "eligible unit (all of the layer's, or those in `units`) exactly once")
        out.append(pairs)
    return out


def by_layer(pairs: list[tuple[int, int]], n_layers: int) -> list[torch.Tensor]:
    by = [[] for _ in range(n_layers)]
    for li, u in pairs:
        by[li].append(u)
    return [torch.tensor(b, dtype=torch.long) for b in by]


def cumulative_paths(orders: list[list[tuple[int, int]]], counts: np.ndarray, n_layers: int) -> list:
    """One ablation path per order (:data:`singledir.measure.engine.Path`): at step ``k_i`` the units
    ``order[counts[k_i - 1]:counts[k_i]]`` join the ablated set, by layer; the step's metrics go to
    ``(order's position, k_i)``."""
    paths = []
    for r, order in enumerate(orders):
        steps, prev = [], 0
        for k_i, k in enumerate(counts):
            steps.append(((r, k_i), by_layer(order[prev:k], n_layers)))
            prev = k
        paths.append(steps)
    return paths
