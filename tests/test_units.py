"""singledir.measure.units on networks it was not built around: a layer that gives NaN activations or
runs twice is refused with its name, networks that are not ReLU networks are measured without a
selectivity index where it is undefined, and many classes with few examples each."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from singledir.measure import perturb as perturb_mod
from singledir.measure import selectivity
from singledir.measure import units
from singledir.data.dataset import stratified_subset
from singledir.nets.models import MLPConfig, build_model, unit_layer_names

from helpers import NAN, mlp_and_data


def test_nan_activations_of_a_finite_input_name_the_layer():
    net, x, y = mlp_and_data()
    with torch.no_grad():
        net.hidden[1][0].weight[2, 0] = NAN  # a diverged network: finite inputs, NaN activations
    with pytest.raises(ValueError, match=r"layer 'hidden.1' gave NaN or infinite activations for 40 of 40 examples"):
        units.unit_table(net, (x, y), ["hidden.0", "hidden.1"])


class SharedReLU(nn.Module):
    """One nn.ReLU applied after two layers: the name 'relu' has no activations of its own."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.out, self.relu = nn.Linear(4, 6), nn.Linear(6, 6), nn.Linear(6, 3), nn.ReLU()

    def forward(self, x):
        return self.out(self.relu(self.fc2(self.relu(self.fc1(x.flatten(1))))))


def test_a_module_used_twice_is_refused_by_the_unit_table():
    _, x, y = mlp_and_data()
    torch.manual_seed(0)
    with pytest.raises(ValueError, match=r"layer 'relu' ran 2 times in one forward pass of SharedReLU"):
        units.unit_table(SharedReLU(), (x, y), ["relu"])
    with pytest.raises(ValueError, match="ran 2 times"):  # before any curve is measured
        units.analyze(SharedReLU(), train_data=(x, y), test_data=(x, y), layers=["relu"])


# ---------------------------------------------------------------------------------------------
# Networks that are not ReLU networks
# ---------------------------------------------------------------------------------------------
def act_mlp(act: type[nn.Module], seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 6), act(), nn.Linear(6, 6), act(), nn.Linear(6, 3)).eval()


def gelu_convnet() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.GELU(), nn.Conv2d(4, 5, 3, padding=1), nn.GELU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3)).eval()


def image_data(n: int = 30, size: int = 8, seed: int = 2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.arange(n) % 3


def assert_measured(report: units.Report) -> None:
    """Curves, noise and the unit table all hold numbers (no NaN where a measure is defined)."""
    assert np.isfinite(report.curve.table[["accuracy", "loss"]].to_numpy()).all() and math.isfinite(report.auc)
    assert np.isfinite(report.noise[["accuracy", "loss"]].to_numpy()).all()
    u = report.units
    cols = ["mutual_info", "mutual_info_shuffled", "mutual_info_corrected", "delta_loss", "delta_accuracy"]
    assert np.isfinite(u[cols].to_numpy()).all()
    assert (u.si_status == "ok").eq(u.selectivity.notna()).all()  # a number exactly where the status is ok


@pytest.mark.parametrize("act", [nn.Tanh, nn.GELU, nn.ELU, nn.LeakyReLU, nn.SiLU, nn.Hardswish, nn.Mish])
def test_signed_activations_have_no_selectivity_and_everything_else(act):
    net = act_mlp(act)
    _, x, y = mlp_and_data(60)
    assert unit_layer_names(net) == ("2", "4")  # the activation modules
    t = units.unit_table(net, (x, y), ["2", "4"])
    assert len(t) == 12
    assert (t.si_status == "negative").all() and t.selectivity.isna().all() and not t.dead.any()
    report = units.analyze(net, train_data=(x, y), test_data=(x, y), layers=["2", "4"], repetitions=2, grid=5)
    assert_measured(report)
    assert (report.units.si_status == "negative").all()


@pytest.mark.parametrize("act", [nn.Sigmoid, nn.Softplus, nn.ReLU])
def test_non_negative_activations_keep_their_index(act):
    _, x, y = mlp_and_data(60)
    t = units.unit_table(act_mlp(act), (x, y), ["2", "4"])
    ok = t[t.si_status == "ok"]
    assert set(t.si_status) <= {"ok", "dead"} and len(ok) >= 6
    assert ok.selectivity.between(0, 1).all()


def test_a_tanh_unit_whose_class_means_are_positive_is_still_negative():
    # unit 0 of the first tanh layer is driven by a large bias: tanh ~ 1 on every example, so
    # all its class means (and all its activations) are > 0 and the formula would give a number;
    # its layer is signed, so the table gives no index for any of its units (see selectivity's
    # docstring: a layer is rectified or signed, never a mixture)
    net = act_mlp(nn.Tanh)
    with torch.no_grad():
        net[1].weight[0] *= 0.01
        net[1].bias[0] = 5.0
    _, x, y = mlp_and_data(60)
    acts, labels = units.layer_activations(net, (x, y), ["2"])
    assert (acts["2"][:, 0] > 0).all() and (acts["2"][:, 1:] < 0).any()
    assert math.isfinite(selectivity.selectivity_index(acts["2"], labels)[0])  # the formula alone: defined
    assert selectivity.selectivity_status(acts["2"], labels, signed=True) == ["negative"] * 6
    t = units.unit_table(net, (x, y), ["2"]).set_index("unit")
    assert t.loc[0, "si_status"] == "negative" and math.isnan(t.loc[0, "selectivity"])
    assert math.isfinite(t.loc[0, "mutual_info"]) and math.isfinite(t.loc[0, "delta_loss"])


def test_gelu_conv_maps_are_signed_even_when_their_spatial_means_are_positive():
    net = gelu_convnet()
    x, y = image_data()
    acts, _ = units.layer_activations(net, (x, y), ["1", "3"])
    t = units.unit_table(net, (x, y), ["1", "3"])
    assert (t.si_status == "negative").all() and t.selectivity.isna().all()
    assert np.isfinite(t[["mutual_info", "delta_loss"]].to_numpy()).all()
    # the engine (a chain of stages) and the hook loop agree on a GELU network
    kw = dict(grid=5, repetitions=2, baseline="mean", baseline_data=(x, y))
    pd.testing.assert_frame_equal(perturb_mod.ablation_curve(net, (x, y), ["1", "3"], method="engine", **kw).table,
                                  perturb_mod.ablation_curve(net, (x, y), ["1", "3"], method="naive", **kw).table,
                                  atol=1e-5, rtol=0)
    nkw = dict(scales=[0.1, 1.0], repetitions=2, sd_data=(x, y))
    pd.testing.assert_frame_equal(perturb_mod.noise_curve(net, (x, y), "3", method="engine", **nkw),
                                  perturb_mod.noise_curve(net, (x, y), "3", method="naive", **nkw), atol=1e-5, rtol=0)
    assert_measured(units.analyze(net, train_data=(x, y), test_data=(x, y), layers=["1", "3"],
                                     repetitions=2, grid=5))


def test_torchvision_mobilenet_with_hardswish_and_relu_layers():
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.mobilenet_v3_small(num_classes=10).eval()
    names = unit_layer_names(net)
    modules = dict(net.named_modules())
    kinds = {type(modules[n]) for n in names}
    assert kinds == {nn.Hardswish, nn.ReLU}  # its activation modules, and nothing else
    assert names == tuple(n for n, m in net.named_modules() if isinstance(m, (nn.Hardswish, nn.ReLU)))
    assert not any(isinstance(modules[n], nn.Hardsigmoid) for n in names)  # squeeze-excitation gates are no units
    hs, relu, se = "features.0.2", "features.1.block.0.2", "features.1.block.1.activation"
    assert (type(modules[hs]), type(modules[relu]), type(modules[se])) == (nn.Hardswish, nn.ReLU, nn.ReLU)
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(20, 3, 16, 16, generator=g), torch.arange(20) % 10  # tiny images: 1x1 maps at the end
    report = units.analyze(net, train_data=(x, y), test_data=(x, y), layers=[hs, se], repetitions=2, grid=3)
    assert_measured(report)
    u = pd.concat([report.units, units.unit_table(net, (x, y), [relu], importance=False)])
    assert len(u) == 16 + 8 + 16
    assert (u[u.layer == hs].si_status == "negative").all()
    for layer in (relu, se):  # rectified: an index, or dead
        assert set(u[u.layer == layer].si_status) <= {"ok", "dead"}
        assert u[(u.layer == layer) & (u.si_status == "ok")].selectivity.between(0, 1).all()
    assert (u.si_status == "ok").sum() > 0


# ---------------------------------------------------------------------------------------------
# Many classes, few examples each
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, n_present", [(1500, 1000), (600, 600)])
def test_unit_table_on_1000_classes_of_1_to_3_examples_measured_on_a_stratified_subset(n, n_present):
    g = torch.Generator().manual_seed(0)
    counts = torch.arange(1000) % 3 + 1  # classes of 1, 2, 3 examples: 1999 in all
    y_all = torch.repeat_interleave(torch.arange(1000), counts)
    x_all = torch.randn(len(y_all), 1, 4, 4, generator=g)
    x, y = stratified_subset(x_all, y_all, n, seed=0)
    present = torch.unique(y)
    # 1500 examples keep every class (1 to 3 examples each); 600 leave 400 classes without any
    assert len(y) == n and len(present) == n_present and torch.bincount(y).max() <= 3
    torch.manual_seed(0)
    net = build_model(MLPConfig(widths=(12, 12)), (1, 4, 4), 1000).eval()
    t = units.unit_table(net, (x, y), ["hidden.0", "hidden.1"], n_classes=1000)
    assert len(t) == 24 and set(t.si_status) <= {"ok", "dead"} and (t.si_status == "ok").sum() >= 12
    ok = t[t.si_status == "ok"]
    assert ok.selectivity.between(0, 1).all()
    assert np.isfinite(t[["mutual_info", "mutual_info_corrected", "delta_loss", "delta_accuracy"]].to_numpy()).all()
    # the index is the formula over the classes present only (an absent class is not a class mean of 0)
    acts, labels = units.layer_activations(net, (x, y), ["hidden.1"])
    a = acts["hidden.1"].double()
    mu = torch.stack([a[labels == c].mean(0) for c in present])
    mu_max = mu.max(0).values
    mu_rest = (mu.sum(0) - mu_max) / (len(present) - 1)
    ref = ((mu_max - mu_rest) / (mu_max + mu_rest)).numpy()
    got = t[t.layer == "hidden.1"].sort_values("unit")
    live = (got.si_status == "ok").to_numpy()
    np.testing.assert_allclose(got.selectivity.to_numpy()[live], ref[live], rtol=1e-12)
    # the preferred class is one of the classes present
    pref = selectivity.preferred_class(a, labels, n_classes=1000)
    assert all(int(p) in set(present.tolist()) for p in pref[pref >= 0])
