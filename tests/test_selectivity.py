"""singledir.measure.selectivity: class selectivity, filter norms and Spearman, exact values and
cross-checks against independent implementations (mutual information: test_information.py)."""
import math

import pytest
import torch

from singledir.measure import selectivity as selectivity_mod
from singledir.measure.units import unit_table
from singledir.nets.models import ConvNetConfig, MLPConfig, build_model


def test_unit_firing_for_one_class_only_has_selectivity_one():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    acts = torch.tensor([
        [3.0, 1.0, 0.0, 2.0],
        [5.0, 1.0, 0.0, 2.0],
        [0.0, 1.0, 0.0, 4.0],
        [0.0, 1.0, 0.0, 4.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
    ])
    si = selectivity_mod.selectivity_index(acts, labels)
    assert si[0] == 1.0  # only class 0 drives unit 0
    assert si[1] == 0.0  # identical for every class
    assert math.isnan(si[2])  # never fires: dead, not 0 or 1
    # unit 3: class means (2, 4, 0): mu_max 4, mu_rest 1 -> 3/5
    assert si[3] == pytest.approx(0.6)
    assert selectivity_mod.preferred_class(acts, labels).tolist() == [0, 0, -1, 1]


def test_conv_maps_are_averaged_over_space_first():
    acts = torch.zeros(4, 2, 3, 3)
    acts[0, 0, 0, 0] = 9.0  # class 0: map mean 1 for unit 0
    acts[1, 0] = 1.0  # class 0 again: mean 1
    acts[2:, 1] = 2.0  # unit 1 fires for class 1 only
    labels = torch.tensor([0, 0, 1, 1])
    mu = selectivity_mod.class_means(acts, labels)
    assert torch.allclose(mu, torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64))
    assert selectivity_mod.selectivity_index(acts, labels).tolist() == [1.0, 1.0]


def test_selectivity_is_undefined_for_negative_units_and_skips_absent_classes():
    # unit 0 has a negative class mean (tanh-like), unit 1 never fires, unit 2 is fine
    acts = torch.tensor([[-1.0, 0.0, 3.0], [1.0, 0.0, 1.0]])
    si = selectivity_mod.selectivity_index(acts, torch.tensor([0, 1]))
    assert math.isnan(si[0]) and math.isnan(si[1]) and si[2] == pytest.approx(0.5)
    assert selectivity_mod.selectivity_status(acts, torch.tensor([0, 1])) == ["negative", "dead", "ok"]
    # class 1 of three has no example: the index uses the two classes present
    si = selectivity_mod.selectivity_index(torch.tensor([[1.0], [3.0]]), torch.tensor([0, 2]), n_classes=3)
    assert si.tolist() == [pytest.approx(0.5)]
    assert selectivity_mod.preferred_class(torch.tensor([[1.0], [3.0]]), torch.tensor([0, 2]), n_classes=3).tolist() == [2]
    with pytest.raises(ValueError, match="at least 2 classes"):
        selectivity_mod.selectivity_index(torch.tensor([[1.0], [3.0]]), torch.tensor([0, 0]))


def test_filter_l1_norms():
    net = build_model(ConvNetConfig(channels=(2, 3), strides=(1, 1), batch_norm=True), (1, 4, 4), 2)
    with torch.no_grad():
        net.conv[1][0].weight.copy_(torch.arange(3 * 2 * 9, dtype=torch.float32).view(3, 2, 3, 3) - 20)
    # filter i holds 18 i - 20, ..., 18 i - 3: |-20| + ... + |-3| = 207; |-2| + |-1| + 0 + 1 + ... + 15 = 123;
    # 16 + ... + 33 = 441 (the batch norm after it and the conv's missing bias do not count)
    assert selectivity_mod.filter_l1_norms(net, "conv.1").tolist() == [207.0, 123.0, 441.0]
    assert selectivity_mod.filter_l1_norms(net, "conv.1.0").tolist() == [207.0, 123.0, 441.0]  # the conv itself
    mlp = build_model(MLPConfig(widths=(3,)), (1, 2, 2), 2)
    with pytest.raises(ValueError, match="no convolution"):
        selectivity_mod.filter_l1_norms(mlp, "hidden.0")


def test_unit_table_keeps_dead_units():
    torch.manual_seed(0)
    net = build_model(MLPConfig(widths=(6,)), (1, 2, 2), 3).eval()
    with torch.no_grad():
        net.hidden[0][0].bias[2] = -100.0  # unit 2 never fires
    x, y = torch.randn(90, 1, 2, 2), torch.arange(90) % 3
    t = unit_table(net, (x, y), ["hidden.0"])
    assert len(t) == 6
    assert t.set_index("unit").loc[2, "dead"] and math.isnan(t.set_index("unit").loc[2, "selectivity"])
    assert t["dead"].sum() == 1
    assert {"mutual_info", "delta_loss", "depth"} <= set(t.columns)
