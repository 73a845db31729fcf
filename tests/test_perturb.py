"""The perturbation engine: exact answers on hand-built networks, equality with the naive hook
loop on random networks, and refusals of bad input."""
import math

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from helpers import mlp_and_data
from singledir.measure import perturb
from singledir.nets.models import ConvNetConfig, MLPConfig, build_model


def hooks_left(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def signal_net() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """2 inputs -> hidden.0 (4 units) -> out (2 classes). Unit 0 alone carries the class.

    x = (s, 1) with s = +1 for class 1 and -1 for class 0. hidden.0 = relu(W x): unit 0 = relu(s),
    units 1..3 = relu(1) = 1 (constant, no information). out: logit1 - logit0 = 2 * unit0 - 1, so
    class 1 iff unit 0 fires. Ablating unit 0 to zero gives logit1 - logit0 = -1: always class 0.
    """
    net = build_model(MLPConfig(widths=(4,)), (2, 1, 1), 2)
    with torch.no_grad():
        lin = net.hidden[0][0]
        lin.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]))
        lin.bias.zero_()
        net.out.weight.copy_(torch.tensor([[0.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0]]))
        net.out.bias.copy_(torch.tensor([0.0, -1.0]))
    s = torch.tensor([1.0, -1.0] * 50)
    x = torch.stack([s, torch.ones_like(s)], 1).view(-1, 2, 1, 1)
    y = (s > 0).long()
    return net.eval(), x, y


@pytest.mark.parametrize("method", ["engine", "naive"])
def test_unit_carrying_the_only_signal_drops_accuracy_to_chance(method):
    net, x, y = signal_net()
    imp = perturb.unit_importance(net, (x, y), "hidden.0", method=method).set_index("unit")
    assert imp.loc[0, "accuracy"] == 0.5  # chance on balanced binary labels
    assert imp.loc[0, "delta_accuracy"] == -0.5
    # the constant units change nothing at all
    assert (imp.loc[[1, 2, 3], "delta_accuracy"] == 0).all()
    assert np.allclose(imp.loc[[1, 2, 3], "delta_loss"], 0, atol=1e-7)
    # exact loss: intact margin +-1 -> CE = log(1 + e^-1); ablated: class 1 has margin -1 -> log(1+e)
    expected = 0.5 * math.log1p(math.e ** -1) + 0.5 * math.log1p(math.e)
    assert imp.loc[0, "loss"] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("method", ["engine", "naive"])
def test_cumulative_curve_on_hand_built_net(method):
    net, x, y = signal_net()
    curve = perturb.ablation_curve(net, (x, y), "hidden.0", grid=[0, 4], repetitions=3, method=method)
    t = curve.table.set_index(["repetition", "n_ablated"])
    assert (t.xs(0, level="n_ablated")["accuracy"] == 1.0).all()  # starts at the network's accuracy
    assert (t.xs(4, level="n_ablated")["accuracy"] == 0.5).all()  # ends at chance
    # AUC of a straight line from 1 to 0.5 over [0, 1]
    assert curve.auc == pytest.approx(0.75)


@pytest.mark.parametrize("method", ["engine", "naive"])
def test_ablating_every_unit_leaves_the_bias_only_prediction(method):
    torch.manual_seed(0)
    net = build_model(MLPConfig(widths=(16, 8)), (1, 4, 4), 5).eval()
    x, y = torch.randn(300, 1, 4, 4), torch.randint(0, 5, (300,))
    curve = perturb.ablation_curve(net, (x, y), "hidden.1", grid=[8], repetitions=2, method=method,
                                   metrics=("accuracy", "loss", "top5"))
    bias = net.out.bias.detach()
    expected_loss = nn.functional.cross_entropy(bias.expand(300, 5), y).item()
    expected_acc = (y == bias.argmax()).float().mean().item()
    top5 = 1.0  # 5 classes: every label is in the top 5
    assert np.allclose(curve.table["loss"], expected_loss, atol=1e-5)
    assert np.allclose(curve.table["accuracy"], expected_acc)
    assert np.allclose(curve.table["top5"], top5)


def test_mean_ablation_of_every_unit_uses_the_training_means():
    torch.manual_seed(1)
    net = build_model(MLPConfig(widths=(6,)), (3, 1, 1), 4).eval()
    x, y = torch.randn(200, 3, 1, 1), torch.randint(0, 4, (200,))
    xt = torch.randn(100, 3, 1, 1)
    means = torch.relu(net.hidden[0][0](xt.flatten(1))).mean(0)
    for method in ("engine", "naive"):
        curve = perturb.ablation_curve(net, (x, y), "hidden.0", grid=[6], repetitions=1, baseline="mean",
                                       baseline_data=(xt, torch.zeros(100, dtype=torch.long)), method=method)
        logits = net.out(means)
        expected = nn.functional.cross_entropy(logits.expand(200, 4), y).item()
        assert curve.table["loss"].iloc[0] == pytest.approx(expected, abs=1e-5)


def test_noise_of_scale_zero_changes_nothing():
    torch.manual_seed(2)
    net = build_model(MLPConfig(widths=(32, 32)), (1, 6, 6), 10).eval()
    x, y = torch.randn(400, 1, 6, 6), torch.randint(0, 10, (400,))
    with torch.no_grad():
        out = net(x)
    intact_acc = (out.argmax(1) == y).sum().item() / len(y)
    intact_loss = nn.functional.cross_entropy(out, y).item()
    for method in ("engine", "naive"):
        df = perturb.noise_curve(net, (x, y), ["hidden.0", "hidden.1"], scales=[0.0, 1.0], repetitions=2,
                                 sd_data=(x, y), method=method)
        zero = df[df.scale == 0.0]
        assert (zero["accuracy"] == intact_acc).all()
        assert np.allclose(zero["loss"], intact_loss, atol=1e-6)
        assert not np.allclose(df[df.scale == 1.0]["loss"], intact_loss)  # noise does something


def test_noise_sd_is_per_unit_training_sd():
    torch.manual_seed(3)
    net = build_model(MLPConfig(widths=(5,)), (2, 1, 1), 3).eval()
    x = torch.randn(500, 2, 1, 1)
    stats = perturb.unit_stats(net, (x, torch.zeros(500, dtype=torch.long)), ["hidden.0"], chunk_size=64)
    a = torch.relu(net.hidden[0][0](x.flatten(1))).detach().double()
    assert torch.allclose(stats["hidden.0"]["mean"].double(), a.mean(0), atol=1e-6)
    assert torch.allclose(stats["hidden.0"]["sd"].double(), a.std(0, unbiased=False), atol=1e-5)


def test_conv_unit_stats_mean_is_a_map_and_sd_pools_positions():
    torch.manual_seed(4)
    net = build_model(ConvNetConfig(channels=(3, 4), strides=(1, 2), batch_norm=False), (1, 6, 6), 3).eval()
    x = torch.randn(50, 1, 6, 6)
    st = perturb.unit_stats(net, (x, torch.zeros(50, dtype=torch.long)), ["conv.1"])
    with torch.no_grad():
        a = net.conv[1](net.conv[0](x)).double()
    assert st["conv.1"]["mean"].shape == (4, 3, 3)
    assert torch.allclose(st["conv.1"]["mean"].double(), a.mean(0), atol=1e-6)
    assert torch.allclose(st["conv.1"]["sd"].double(), a.transpose(0, 1).flatten(1).std(1, unbiased=False), atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Engine == naive reference on random networks
# ---------------------------------------------------------------------------------------------
def _equal(a, b, cols, atol=1e-5):
    return float((a[cols] - b[cols]).abs().to_numpy().max()) <= atol


@pytest.mark.parametrize("layers", [["hidden.0"], ["hidden.1"], ["hidden.0", "hidden.1"]])
@pytest.mark.parametrize("baseline", ["zero", "mean"])
def test_engine_equals_naive_on_random_mlp(layers, baseline):
    torch.manual_seed(5)
    net = build_model(MLPConfig(widths=(40, 24)), (1, 5, 5), 10).eval()
    x, y = torch.randn(700, 1, 5, 5), torch.randint(0, 10, (700,))
    kw = dict(grid=11, repetitions=3, seed=7, baseline=baseline, baseline_data=(x, y), chunk_size=256,
              metrics=("accuracy", "loss", "top5"))
    a = perturb.ablation_curve(net, (x, y), layers, method="engine", **kw)
    b = perturb.ablation_curve(net, (x, y), layers, method="naive", **kw)
    assert _equal(a.table, b.table, ["accuracy", "loss", "top5"])
    assert a.auc == pytest.approx(b.auc, abs=1e-4)
    assert list(a.table.columns) == list(b.table.columns)


@pytest.mark.parametrize("layers", [["conv.1"], ["conv.4"], ["conv.0", "conv.3"]])
@pytest.mark.parametrize("baseline", ["zero", "mean"])
def test_engine_equals_naive_on_random_convnet(layers, baseline):
    torch.manual_seed(6)
    cfg = ConvNetConfig(channels=(4, 6, 6, 8, 8), strides=(1, 2, 1, 2, 1), batch_norm=True)
    net = build_model(cfg, (1, 8, 8), 10)
    x, y = torch.randn(160, 1, 8, 8), torch.randint(0, 10, (160,))
    net.train()
    with torch.no_grad():
        net(x)  # non-trivial batch-norm running statistics
    net.eval()
    kw = dict(grid=4, repetitions=2, seed=1, baseline=baseline, baseline_data=(x, y), chunk_size=64)
    a = perturb.ablation_curve(net, (x, y), layers, method="engine", **kw)
    b = perturb.ablation_curve(net, (x, y), layers, method="naive", **kw)
    assert _equal(a.table, b.table, ["accuracy", "loss"])
    ia = perturb.unit_importance(net, (x, y), layers, method="engine", baseline=baseline, baseline_data=(x, y))
    ib = perturb.unit_importance(net, (x, y), layers, method="naive", baseline=baseline, baseline_data=(x, y))
    assert _equal(ia, ib, ["loss", "accuracy", "delta_loss"])


def test_engine_equals_naive_for_noise_and_importance_on_mlp():
    torch.manual_seed(8)
    net = build_model(MLPConfig(widths=(20, 20)), (1, 4, 4), 6).eval()
    x, y = torch.randn(300, 1, 4, 4), torch.randint(0, 6, (300,))
    kw = dict(scales=[0.1, 1.0, 3.0], repetitions=2, seed=3, sd_data=(x, y), chunk_size=128)
    a = perturb.noise_curve(net, (x, y), ["hidden.0", "hidden.1"], method="engine", **kw)
    b = perturb.noise_curve(net, (x, y), ["hidden.0", "hidden.1"], method="naive", **kw)
    assert _equal(a, b, ["accuracy", "loss"], atol=1e-6)
    ia = perturb.unit_importance(net, (x, y), ["hidden.0", "hidden.1"], method="engine")
    ib = perturb.unit_importance(net, (x, y), ["hidden.0", "hidden.1"], method="naive")
    assert _equal(ia, ib, ["loss", "accuracy", "delta_loss"], atol=1e-6)
    assert len(ia) == 40


def test_torchvision_resnet_engine_equals_naive_and_loader_equals_tensors():
    torch.manual_seed(9)
    net = torchvision.models.resnet18(num_classes=10)
    x, y = torch.randn(24, 3, 32, 32), torch.randint(0, 10, (24,))
    net.eval()
    kw = dict(grid=3, repetitions=1, seed=0, metrics=("accuracy", "loss", "top5"))
    a = perturb.ablation_curve(net, (x, y), "layer3.1", method="engine", **kw)
    b = perturb.ablation_curve(net, (x, y), "layer3.1", method="naive", **kw)
    assert _equal(a.table, b.table, ["accuracy", "loss", "top5"])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=10)
    c = perturb.ablation_curve(net, loader, "layer3.1", **kw)
    assert _equal(a.table, c.table, ["accuracy", "loss", "top5"])


def test_generic_module_falls_back_to_hooks():
    class Branchy(nn.Module):  # not a chain: forward adds two branches
        def __init__(self):
            super().__init__()
            self.a = nn.Sequential(nn.Linear(4, 6), nn.ReLU())
            self.b = nn.Linear(4, 6)
            self.out = nn.Linear(6, 3)

        def forward(self, x):
            return self.out(self.a(x) + self.b(x))

    torch.manual_seed(10)
    net = Branchy().eval()
    x, y = torch.randn(50, 4), torch.randint(0, 3, (50,))
    c = perturb.ablation_curve(net, (x, y), "a", grid=[0, 6], repetitions=1)
    with torch.no_grad():
        expected = (net.out(net.b(x)).argmax(1) == y).float().mean().item()
    assert c.table.set_index("n_ablated").loc[6, "accuracy"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="naive"):
        perturb.ablation_curve(net, (x, y), "a", method="engine")


def test_orders_are_fixed_per_repetition_and_seeded():
    torch.manual_seed(11)
    net = build_model(MLPConfig(widths=(30,)), (1, 3, 3), 4).eval()
    x, y = torch.randn(200, 1, 3, 3), torch.randint(0, 4, (200,))
    a = perturb.ablation_curve(net, (x, y), "hidden.0", grid=7, repetitions=3, seed=5)
    b = perturb.ablation_curve(net, (x, y), "hidden.0", grid=7, repetitions=3, seed=5)
    c = perturb.ablation_curve(net, (x, y), "hidden.0", grid=7, repetitions=3, seed=6)
    assert a.table.equals(b.table)
    assert not a.table["loss"].equals(c.table["loss"])
    # the chunking does not change the result (a fixed order, never redrawn per batch)
    d = perturb.ablation_curve(net, (x, y), "hidden.0", grid=7, repetitions=3, seed=5, chunk_size=33)
    assert _equal(a.table, d.table, ["accuracy", "loss"], atol=1e-6)


def test_auc_is_trapezoid_over_fraction():
    import pandas as pd

    t = pd.DataFrame({"fraction": [0, 0.5, 1, 0, 0.5, 1], "accuracy": [1, 0.8, 0.1, 1, 0.6, 0.1]})
    assert perturb.auc(t) == pytest.approx(0.5 * (1 + 0.7) / 2 + 0.5 * (0.7 + 0.1) / 2)


# ---------------------------------------------------------------------------------------------
# Bad input, and nothing survives a call
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def small():
    torch.manual_seed(12)
    net = build_model(MLPConfig(widths=(8, 8)), (1, 2, 2), 3)
    x, y = torch.randn(40, 1, 2, 2), torch.randint(0, 3, (40,))
    return net, x, y


def test_unknown_layer_lists_layers_with_units(small):
    net, x, y = small
    with pytest.raises(KeyError, match="hidden.0, hidden.1"):
        perturb.ablation_curve(net, (x, y), "hidden.7")


@pytest.mark.parametrize("call, match", [
    (lambda n, d: perturb.ablation_curve(n, d, "hidden.0", grid=[]), "empty grid"),
    (lambda n, d: perturb.ablation_curve(n, d, "hidden.0", grid=1), "too small"),
    (lambda n, d: perturb.ablation_curve(n, d, "hidden.0", grid=[0, 99]), r"\[0, 8\]"),
    (lambda n, d: perturb.noise_curve(n, d, "hidden.0", scales=[0.1, -1.0], sd_data=d), "-1.0"),
    (lambda n, d: perturb.noise_curve(n, d, "hidden.0", scales=[], sd_data=d), "empty"),
    (lambda n, d: perturb.noise_curve(n, d, "hidden.0"), "sd_data"),
    (lambda n, d: perturb.ablation_curve(n, d, "hidden.0", metrics=("top5",)), "at least 5 classes"),
    (lambda n, d: perturb.ablation_curve(n, d, "hidden.0", metrics=("f1",)), "unknown metric"),
    (lambda n, d: perturb.ablation_curve(n, d, "hidden.0", baseline="median"), "unknown baseline"),
    (lambda n, d: perturb.ablation_curve(n, d, "hidden.0", baseline="mean"), "baseline_data"),
    (lambda n, d: perturb.ablation_curve(n, d, "hidden.0", repetitions=0), "repetitions"),
    (lambda n, d: perturb.ablation_curve(n, d, "hidden.0", method="fast"), "unknown method"),
    (lambda n, d: perturb.ablation_curve(n, d, []), "no layer"),
])
def test_bad_input_is_refused_with_reason(small, call, match):
    net, x, y = small
    with pytest.raises(ValueError, match=match):
        call(net, (x, y))


def test_training_mode_restored_and_no_hook_or_grad_flag_survives(small):
    net, x, y = small
    net.train()
    net.hidden[1][0].weight.requires_grad_(False)
    flags = [p.requires_grad for p in net.parameters()]
    perturb.ablation_curve(net, (x, y), ["hidden.0", "hidden.1"], grid=3, repetitions=1, method="naive")
    perturb.noise_curve(net, (x, y), "hidden.1", scales=[1.0], repetitions=1, sd_data=(x, y), method="naive")
    perturb.unit_importance(net, (x, y), "hidden.0")
    assert net.training and all(m.training for m in net.modules())
    assert hooks_left(net) == 0
    assert [p.requires_grad for p in net.parameters()] == flags


def test_nothing_survives_a_call_that_raises(small):
    net, x, y = small
    net.train()

    def bad_batches():
        yield x[:10], y[:10]
        raise RuntimeError("loader broke")

    class Loader:
        def __iter__(self):
            return bad_batches()

    with pytest.raises(RuntimeError, match="loader broke"):
        perturb.ablation_curve(net, Loader(), "hidden.0", grid=3, repetitions=1, method="naive")
    with pytest.raises(RuntimeError, match="loader broke"):
        perturb.unit_stats(net, Loader(), ["hidden.0"])
    assert net.training and all(m.training for m in net.modules())
    assert hooks_left(net) == 0
    assert torch.is_grad_enabled()


@pytest.mark.parametrize("method", ["engine", "naive"])
def test_curve_over_chosen_units_ablates_only_those(method):
    """signal_net: unit 0 carries the class, units 1-3 are constant. Restricted to the constant
    units, the curve never leaves the intact accuracy; restricted to unit 0 alone, one step takes
    it to chance; every unit named gives exactly the unrestricted curve."""
    net, x, y = signal_net()
    flat = perturb.ablation_curve(net, (x, y), "hidden.0", grid=4, repetitions=2, method=method,
                                  units={"hidden.0": [1, 2, 3]})
    assert flat.table.n_ablated.max() == 3 and (flat.table.accuracy == 1.0).all()
    assert flat.normalized_auc == pytest.approx(1.0)
    one = perturb.ablation_curve(net, (x, y), "hidden.0", grid=2, repetitions=1, method=method,
                                 units={"hidden.0": [0]})
    assert one.table.set_index("n_ablated").accuracy.to_dict() == {0: 1.0, 1: 0.5}
    every = perturb.ablation_curve(net, (x, y), "hidden.0", grid=5, repetitions=3, seed=4, method=method,
                                   units={"hidden.0": range(4)})
    plain = perturb.ablation_curve(net, (x, y), "hidden.0", grid=5, repetitions=3, seed=4, method=method)
    assert every.table.equals(plain.table)


def test_curve_over_chosen_units_refuses_units_that_do_not_exist():
    net, x, y = signal_net()
    with pytest.raises(ValueError, match=r"units \[7\] of layer 'hidden.0' do not exist: it has 4 units"):
        perturb.ablation_curve(net, (x, y), "hidden.0", units={"hidden.0": [1, 7]})
    with pytest.raises(ValueError, match="not among the ablated layers"):
        perturb.ablation_curve(net, (x, y), "hidden.0", units={"out": [0]})


def test_a_network_with_nan_outputs_gives_no_curve():
    torch.manual_seed(0)
    net = build_model(MLPConfig(widths=(4, 3)), (1, 2, 2), 3).eval()
    with torch.no_grad():
        net.out.weight[0, 0] = float("nan")
    x, y = torch.rand(30, 1, 2, 2), torch.arange(30) % 3
    for method in ("engine", "naive"):
        with pytest.raises(ValueError, match="outputs hold NaN or infinite values"):
            perturb.ablation_curve(net, (x, y), ["hidden.0", "hidden.1"], grid=3, repetitions=1, method=method)


@pytest.mark.parametrize("label", [3, -1])
def test_a_label_outside_the_networks_classes_is_named(label):
    net, x, y = mlp_and_data()
    y[5] = label
    with pytest.raises(ValueError, match=rf"the data hold label {label}, outside the network's 3 classes \(0 to 2\)"):
        perturb.ablation_curve(net, (x, y), "hidden.0", grid=3, repetitions=1)
