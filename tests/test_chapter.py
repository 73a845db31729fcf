"""singledir.pages.chapter: what the chapters share, built from a chapter's parameters."""
from __future__ import annotations

import pytest

from singledir.pages.chapter import MEASUREMENT_PARAMETERS, Setup, measurements, network_name
from singledir.experiments.sweep import Measurements
from singledir.nets.models import MLPConfig


def test_setup_runs_on_the_chapters_data_draw_from_its_n_train():
    """A chapter on 400 training images: its 100-image networks draw from those 400; a run on other
    data (chapter 5's ResNet on a folder) is not restricted by them."""
    s = Setup(dataset="digits", conv_dataset="mnist5k", n_train=400, n_test=100)
    mlp, conv, train = {"kind": "mlp", "widths": [8]}, {"kind": "convnet", "width": 0.125}, {"epochs": 1}
    assert (s.run(mlp, train, n_train=100).n_pool, s.run(mlp, train).n_pool) == (400, 400)
    assert s.run(conv, train, n_train=100).n_pool is None  # the conv nets' own data
    assert s.run(mlp, train, data="mnist5k").n_pool is None
    assert Setup(dataset="digits").run(mlp, train, n_train=100).n_pool is None


def test_a_setup_takes_from_the_parameters_the_fields_it_has():
    params = {"dataset": "digits", "n_train": 400, "n_test": 100, "executor": "local", "corruption": 0.4, "seed": 1}
    assert Setup.from_params(params) == Setup(dataset="digits", n_train=400, n_test=100)
    assert Setup.from_params(params).data_text({"kind": "mlp"}, None, " training images") == "digits (all training images)"
    assert Setup(dataset="digits", conv_dataset="mnist5k").data_text({"kind": "convnet"}, 200) == "mnist5k (200)"


def test_measurements_take_the_shared_parameters_and_the_chapters_fields_over_them():
    params = {"grid": 7, "n_curve": 300, "curve_seed": 3, "noise_scales": [0.1, 1.0], "repetitions": 9, "dataset": "x"}
    m = measurements(params, repetitions=2, grid=5)
    assert m == Measurements(grid=5, n_curve=300, seed=3, noise_scales=(0.1, 1.0), repetitions=2)
    assert set(MEASUREMENT_PARAMETERS.values()) <= set(Measurements.__dataclass_fields__)
    with pytest.raises(TypeError):
        measurements({}, no_such_field=1)


def test_a_networks_name_is_its_description():
    assert network_name({"kind": "mlp", "widths": [16, 16]}) == network_name(MLPConfig(widths=(16, 16)))
