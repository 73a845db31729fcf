"""singledir.pages.chapter: what the chapters share, built from a chapter's parameters."""
from __future__ import annotations

import pytest

from singledir.pages import chapter
from singledir.pages.chapter import Setup, network_name, scale_line
from singledir.experiments.measurements import Measurements
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


def test_a_setup_is_the_chapters_data_and_compute_groups():
    data = {"dataset": "digits", "n_train": 400, "n_test": 100, "image_size": None, "conv_dataset": None,
            "unused_to_test": True}
    compute = {"executor": "local", "address": None, "group_size": None}
    s = Setup(**data, **compute)
    assert s == Setup(dataset="digits", n_train=400, n_test=100, unused_to_test=True)
    assert s.data_text({"kind": "mlp"}, None, " training images") == "digits (all training images)"
    assert Setup(dataset="digits", conv_dataset="mnist5k").data_text({"kind": "convnet"}, 200) == "mnist5k (200)"
    # held-out images of the unused training images only where a run asks for them
    assert s.run({"kind": "mlp", "widths": [8]}, {"epochs": 1}).unused_to_test is False


def test_measurements_take_the_curves_group_and_the_chapters_fields_over_it():
    curves = {"grid": 7, "n_curve": 300, "seed": 3, "repetitions": 9, "conv_repetitions": 5, "all_layers_repetitions": 1}
    m = Measurements.from_curves(curves, repetitions=2, grid=5, noise_scales=[0.1, 1.0])
    assert m == Measurements(grid=5, n_curve=300, seed=3, noise_scales=(0.1, 1.0), repetitions=2)
    assert m.all_layers_repetitions == 0  # only what is given: the group's other members are not read
    with pytest.raises(TypeError):
        Measurements.from_curves(curves, no_such_field=1)


def test_a_reports_scale_line_is_made_from_its_setup(monkeypatch):
    setup = {"data": "mnist5k (1000)", "network": "conv net", "epochs": 8, "seeds": 28, "layers": "c9+c10+c11",
             "statistic": "Spearman"}
    assert scale_line(setup) == "data mnist5k (1000); network conv net; seeds 28; epochs 8"
    seen = {}
    monkeypatch.setattr(chapter.scorecard, "report", lambda cid, results, scale, setup: seen.update(scale=scale))
    chapter.report("E3", {}, **setup)
    assert seen["scale"] == scale_line(setup)
    with pytest.raises(TypeError):  # the scale line is not written by hand
        chapter.report("E3", {}, scale="28 conv nets", **setup)


def test_a_networks_name_is_its_description():
    assert network_name({"kind": "mlp", "widths": [16, 16]}) == network_name(MLPConfig(widths=(16, 16)))
