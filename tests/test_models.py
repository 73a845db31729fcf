"""singledir.nets.models: the paper's MLP and 11-layer conv net as chains of named stages."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from singledir.nets import models
from singledir.nets.models import (PAPER_CHANNELS, PAPER_STRIDES, ConvNetConfig, MLPConfig, build_model,
                              get_layer, model_config_from_dict, model_config_to_dict, model_stages,
                              unit_layer_names)

SHAPES = [(1, 28, 28), (3, 32, 32)]


def compose(stages, x):
    for _, s in stages:
        x = s(x)
    return x


# ---------------------------------------------------------------------------------------------
# MLP
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
def test_mlp_shapes_and_names(shape):
    torch.manual_seed(0)
    net = build_model(MLPConfig(widths=(32, 16)), shape, 10).eval()
    x = torch.randn(5, *shape)
    assert net(x).shape == (5, 10)
    assert net.unit_layers == ("hidden.0", "hidden.1")
    assert unit_layer_names(net) == ("hidden.0", "hidden.1")
    assert [n for n, _ in net.stages()] == ["flatten", "hidden.0", "drop.0", "hidden.1", "drop.1", "out"]
    assert torch.equal(net(x), compose(net.stages(), x))
    n_in = shape[0] * shape[1] * shape[2]
    assert net.hidden[0][0].in_features == n_in
    assert compose(net.stages()[:2], x).shape == (5, 32)  # hidden.0's units
    assert compose(net.stages()[:4], x).shape == (5, 16)


def test_mlp_parameter_count_of_the_papers_mnist_net():
    net = build_model(MLPConfig(widths=(128, 128)), (1, 28, 28), 10)
    # 784*128+128 + 128*128+128 + 128*10+10
    assert sum(p.numel() for p in net.parameters()) == 118_282


def test_mlp_hidden_layer_is_linear_then_relu():
    net = build_model(MLPConfig(widths=(3,)), (2,), 2).eval()
    with torch.no_grad():
        net.hidden[0][0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0], [1.0, 1.0]]))
        net.hidden[0][0].bias.copy_(torch.tensor([0.0, 0.0, -1.0]))
        net.out.weight.copy_(torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 2.0]]))
        net.out.bias.copy_(torch.tensor([0.5, -0.5]))
    x = torch.tensor([[2.0, 3.0]])
    # hidden = relu([2, -3, 4]) = [2, 0, 4]; out = [6.5, 7.5]
    assert torch.equal(get_layer(net, "hidden.0")(net.flatten(x)), torch.tensor([[2.0, 0.0, 4.0]]))
    assert torch.equal(net(x), torch.tensor([[6.5, 7.5]]))


def test_mlp_dropout_is_active_only_in_training():
    torch.manual_seed(0)
    net = build_model(MLPConfig(widths=(64,), dropout=0.5), (10,), 3)
    x = torch.randn(8, 10)
    h = compose(net.stages()[:2], x)
    net.train()
    dropped = net.drop[0](h)
    assert ((dropped == 0) | torch.isclose(dropped, 2 * h)).all()  # zeroed or scaled by 1 / (1 - p)
    assert (dropped[h > 0] == 0).any()
    net.eval()
    assert torch.equal(net.drop[0](h), h)


@pytest.mark.parametrize("kwargs,words", [
    ({"widths": (-1, 8)}, ["widths", "(-1, 8)", "positive integers"]),
    ({"widths": ()}, ["widths", "positive integers"]),
    ({"dropout": 1.0}, ["dropout", "1.0", "[0, 1)"]),
    ({"dropout": -0.1}, ["dropout", "-0.1", "[0, 1)"]),
])
def test_mlp_config_errors(kwargs, words):
    with pytest.raises(ValueError) as e:
        MLPConfig(**kwargs)
    for w in words:
        assert w in str(e.value)


# ---------------------------------------------------------------------------------------------
# Conv net
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_convnet_structure_and_shapes(shape, batch_norm):
    torch.manual_seed(0)
    cfg = ConvNetConfig(width=0.125, batch_norm=batch_norm)
    net = build_model(cfg, shape, 10).eval()
    assert cfg.layer_channels == (8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64)
    assert len(net.conv) == 11
    assert net.unit_layers == tuple(f"conv.{i}" for i in range(11))
    convs = [b[0] for b in net.conv]
    assert all(isinstance(c, nn.Conv2d) and c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert tuple(c.stride[0] for c in convs) == PAPER_STRIDES
    assert tuple(c.out_channels for c in convs) == cfg.layer_channels
    assert convs[0].in_channels == shape[0]
    for b in net.conv:
        assert isinstance(b[-1], nn.ReLU)
        assert isinstance(b[1], nn.BatchNorm2d) == batch_norm
        assert (b[0].bias is None) == batch_norm  # no conv bias in front of batch norm
        assert len(b) == (3 if batch_norm else 2)
    x = torch.randn(2, *shape)
    assert net(x).shape == (2, 10)
    assert torch.equal(net(x), compose(net.stages(), x))
    assert [n for n, _ in net.stages()] == [*net.unit_layers, "pool", "flatten", "out"]
    # spatial size halves (rounding up) at each stride-2 layer
    side = shape[1]
    h = x
    for (name, stage), s, c in zip(net.stages(), PAPER_STRIDES, cfg.layer_channels):
        h = stage(h)
        side = (side + 1) // 2 if s == 2 else side
        assert h.shape == (2, c, side, side), name
        assert (h >= 0).all()  # after the ReLU


def test_convnet_at_full_width_matches_the_paper():
    assert ConvNetConfig().layer_channels == PAPER_CHANNELS == (64, 64, 128, 128, 128, 256, 256, 256, 512, 512, 512)
    assert PAPER_STRIDES == (1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1)
    assert ConvNetConfig(width=0.01).layer_channels == (1, 1, 1, 1, 1, 3, 3, 3, 5, 5, 5)  # at least 1


@pytest.mark.parametrize("kwargs,match", [
    ({"strides": (1, 2)}, "one stride per layer"),
    ({"width": 0}, "width"),
    ({"channels": (4, 4), "strides": (1, 3)}, "1 or 2"),
])
def test_convnet_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvNetConfig(**kwargs)


def test_build_model_rejects_unknown_config():
    with pytest.raises(TypeError) as e:
        build_model({"kind": "mlp"}, (1, 8, 8), 10)
    assert "MLPConfig" in str(e.value) and "ConvNetConfig" in str(e.value)


# ---------------------------------------------------------------------------------------------
# Config dictionaries
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [MLPConfig(widths=(7, 5), dropout=0.2),
                                 ConvNetConfig(width=0.25, batch_norm=False)])
def test_config_dict_round_trip(cfg):
    d = model_config_to_dict(cfg)
    assert d["kind"] == ("mlp" if isinstance(cfg, MLPConfig) else "convnet")
    assert model_config_from_dict(d) == cfg


def test_config_to_dict_exact():
    assert model_config_to_dict(MLPConfig(widths=(7, 5))) == {"kind": "mlp", "widths": [7, 5], "dropout": 0.0}


def test_unknown_model_kind():
    with pytest.raises(ValueError) as e:
        model_config_from_dict({"kind": "vit"})
    msg = str(e.value)
    assert "unknown model kind 'vit'" in msg
    allowed = msg.split("allowed:")[1]
    assert "mlp" in allowed and "convnet" in allowed


def test_unknown_model_parameter():
    with pytest.raises(ValueError) as e:
        model_config_from_dict({"kind": "mlp", "widths": [4], "depth": 3})
    assert "depth" in str(e.value) and "widths" in str(e.value) and "dropout" in str(e.value)


# ---------------------------------------------------------------------------------------------
# Layers of any network
# ---------------------------------------------------------------------------------------------
def test_get_layer():
    net = build_model(MLPConfig(widths=(4, 4)), (1, 8, 8), 10)
    assert get_layer(net, "hidden.1") is net.hidden[1]
    assert get_layer(net, "out") is net.out
    for bad in ["hidden.2", "conv.0", ""]:
        with pytest.raises(KeyError) as e:
            get_layer(net, bad)
        assert repr(bad) in str(e.value) and "hidden.0, hidden.1" in str(e.value)


def test_get_layer_on_convnet_lists_its_units():
    net = build_model(ConvNetConfig(width=0.0625), (1, 8, 8), 10)
    with pytest.raises(KeyError) as e:
        get_layer(net, "hidden.0")
    assert "conv.0, conv.1" in str(e.value) and "conv.10" in str(e.value)


def test_resnet18_stages_compose_to_its_forward():
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=10).eval()
    stages = model_stages(net)
    assert [n for n, _ in stages] == ["conv1", "bn1", "relu", "maxpool", "layer1.0", "layer1.1", "layer2.0",
                                      "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1", "avgpool",
                                      "flatten", "fc"]
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(compose(stages, x), net(x), atol=1e-5)
    assert unit_layer_names(net) == ("relu", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0",
                                     "layer3.1", "layer4.0", "layer4.1")
    assert get_layer(net, "layer3.1") is net.layer3[1]
    with pytest.raises(KeyError, match="layer1.0"):
        get_layer(net, "layer5.0")


def test_model_stages_of_other_modules():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert [n for n, _ in model_stages(seq)] == ["0", "1", "2"]
    x = torch.randn(3, 3)
    assert torch.equal(compose(model_stages(seq), x), seq(x))
    assert model_stages(nn.Linear(2, 2)) is None
    net = build_model(MLPConfig(widths=(4,)), (2,), 2)
    assert [n for n, _ in model_stages(net)] == [n for n, _ in net.stages()]
    # a module that declares nothing: its activation modules, or every named submodule
    assert unit_layer_names(seq) == ("1",)
    assert unit_layer_names(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))) == ("0", "1")


def test_build_model_docstring_example():
    import doctest

    (t,) = doctest.DocTestFinder().find(models.build_model, "build_model",
                                        globs={"build_model": build_model, "MLPConfig": MLPConfig})
    result = doctest.DocTestRunner().run(t, out=lambda s: None)
    assert result.attempted == 2 and result.failed == 0
