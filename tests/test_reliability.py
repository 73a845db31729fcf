"""Reliability of the measures on data and networks they were not built around: bad inputs are
refused with a message saying what was found (never silent numbers, never a StopIteration or a
KeyError from inside), networks that are not ReLU networks are measured without a selectivity
index where it is undefined, and many classes with few examples each."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from singledir import analysis, perturb, selectivity
from singledir.data import stratified_subset
from singledir.models import MLPConfig, build_model, unit_layer_names

NAN, INF = float("nan"), float("inf")


def mlp_and_data(n: int = 40):
    torch.manual_seed(0)
    net = build_model(MLPConfig(widths=(8, 8)), (1, 2, 2), 3).eval()
    g = torch.Generator().manual_seed(1)
    return net, torch.randn(n, 1, 2, 2, generator=g), torch.arange(n) % 3


# Every entry point that takes data, as (name, call(net, data)).
CALLS = {
    "ablation_curve[engine]": lambda n, d: perturb.ablation_curve(n, d, "hidden.0", grid=3, repetitions=1, method="engine"),
    "ablation_curve[naive]": lambda n, d: perturb.ablation_curve(n, d, "hidden.0", grid=3, repetitions=1, method="naive"),
    "ablation_curve[mean baseline_data]": lambda n, d: perturb.ablation_curve(
        n, mlp_and_data()[1:], "hidden.0", grid=3, repetitions=1, baseline="mean", baseline_data=d),
    "noise_curve": lambda n, d: perturb.noise_curve(n, d, "hidden.1", scales=[0.5], repetitions=1, sd_data=d),
    "noise_curve[sd_data]": lambda n, d: perturb.noise_curve(n, mlp_and_data()[1:], "hidden.1", scales=[0.5],
                                                             repetitions=1, sd_data=d),
    "unit_importance": lambda n, d: perturb.unit_importance(n, d, "hidden.0"),
    "unit_stats": lambda n, d: perturb.unit_stats(n, d, ["hidden.0"]),
    "unit_table": lambda n, d: analysis.unit_table(n, d, ["hidden.0", "hidden.1"]),
    "analyze[test_data]": lambda n, d: analysis.analyze(n, train_data=mlp_and_data()[1:], test_data=d,
                                                        layers=["hidden.0"], repetitions=1, grid=3),
}


# ---------------------------------------------------------------------------------------------
# NaN and infinite inputs
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [NAN, INF, -INF])
@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_nan_or_infinite_inputs_are_refused_naming_the_example(call, value):
    net, x, y = mlp_and_data()
    x[7, 0, 1, 0] = value
    with pytest.raises(ValueError, match=r"inputs hold NaN or infinite values \(1 example\(s\) in this chunk, "
                                         r"the first at index 7\)"):
        call(net, (x, y))


@pytest.mark.parametrize("method", ["engine", "naive"])
def test_nan_in_a_later_chunk_or_batch_names_its_index_in_the_data(method):
    net, x, y = mlp_and_data()
    x[[23, 30]] = NAN
    with pytest.raises(ValueError, match="2 example.* the first at index 23"):
        perturb.ablation_curve(net, (x, y), "hidden.0", grid=3, repetitions=1, method=method, chunk_size=16)
    loader = DataLoader(TensorDataset(x, y), batch_size=10)
    with pytest.raises(ValueError, match="1 example.* the first at index 23"):
        perturb.ablation_curve(net, loader, "hidden.0", grid=3, repetitions=1, method=method)
    with pytest.raises(ValueError, match="the first at index 23"):
        analysis.unit_table(net, loader, ["hidden.0"])


# ---------------------------------------------------------------------------------------------
# Empty data: a ValueError, never a StopIteration (which a surrounding map() would swallow)
# ---------------------------------------------------------------------------------------------
def empty_tensors():
    _, x, y = mlp_and_data()
    return x[:0], y[:0]


def empty_loader():
    return DataLoader(TensorDataset(*empty_tensors()), batch_size=4)


@pytest.mark.parametrize("make, match", [(empty_tensors, r"the data are empty \(0 examples"),
                                         (empty_loader, r"\(DataLoader\) gave no batch"),
                                         (lambda: [], r"\(list\) gave no batch")], ids=["tensors", "DataLoader", "list"])
@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_empty_data_are_refused(call, make, match):
    net, _, _ = mlp_and_data()
    with pytest.raises(ValueError, match=match):
        call(net, make())
    # inside map(): a StopIteration would end the map silently and give [] instead of an error
    with pytest.raises(ValueError, match=match):
        list(map(lambda d: call(net, d), [make()]))


def test_noise_curve_with_empty_sd_data_says_the_data_are_empty_not_keyerror():
    net, x, y = mlp_and_data()
    for sd_data in (empty_tensors(), empty_loader()):
        with pytest.raises(ValueError, match="empty|gave no batch") as e:
            perturb.noise_curve(net, (x, y), ["hidden.0", "hidden.1"], scales=[1.0], repetitions=1, sd_data=sd_data)
        assert "hidden.0" not in str(e.value)


# ---------------------------------------------------------------------------------------------
# Data of the wrong kind
# ---------------------------------------------------------------------------------------------
def test_one_shot_iterators_are_refused():
    # the measures pass over the data several times: a generator would lose batches silently
    net, x, y = mlp_and_data()
    for make in (lambda: ((x[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10)),
                 lambda: iter(DataLoader(TensorDataset(x, y), batch_size=10)),
                 lambda: zip(x.split(10), y.split(10))):
        for call in (CALLS["ablation_curve[engine]"], CALLS["unit_table"], CALLS["noise_curve"]):
            with pytest.raises(ValueError, match="one-shot iterator"):
                call(net, make())


def test_a_list_of_batches_gives_the_same_numbers_as_the_tensors():
    net, x, y = mlp_and_data()
    batches = list(zip(x.split(10), y.split(10)))
    a = perturb.ablation_curve(net, (x, y), "hidden.0", grid=5, repetitions=2)
    b = perturb.ablation_curve(net, batches, "hidden.0", grid=5, repetitions=2)
    pd.testing.assert_frame_equal(a.table, b.table)


def test_numpy_arrays_are_taken_as_tensors():
    net, x, y = mlp_and_data()
    a = perturb.ablation_curve(net, (x, y), "hidden.0", grid=5, repetitions=2)
    b = perturb.ablation_curve(net, (x.numpy(), y.numpy()), "hidden.0", grid=5, repetitions=2)
    pd.testing.assert_frame_equal(a.table, b.table)


@pytest.mark.parametrize("data, match", [
    (lambda x, y: x, "a tensor of inputs alone"),
    (lambda x, y: [{"image": x, "label": y}], r"batch 0 is a dict"),
    (lambda x, y: [(x, y[:-1])], r"batch 0 holds 40 inputs and 39 labels"),
    (lambda x, y: (x, y[:-1]), r"inputs \(40\) and labels \(39\) differ"),
], ids=["x only", "dict batches", "batch lengths", "tensor lengths"])
def test_data_of_the_wrong_shape_are_refused_with_reason(data, match):
    net, x, y = mlp_and_data()
    with pytest.raises((ValueError, TypeError), match=match):
        perturb.ablation_curve(net, data(x, y), "hidden.0", grid=3, repetitions=1)
