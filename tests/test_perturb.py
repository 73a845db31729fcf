"""The perturbation engine: exact answers on hand-built networks; both methods (the engine and the
package's naive hook loop) equal to a reference written here, with its own hooks, orders and
metrics, on random networks; the noise's size against its distribution; refusals of bad input."""
import math

import numpy as np
import pandas as pd
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
# Both methods against a reference written here (forward hooks, one full pass per point, its own
# orders and grid), on random networks
# ---------------------------------------------------------------------------------------------
def _module(net: nn.Module, name: str) -> nn.Module:
    return dict(net.named_modules())[name]


def _reference_outputs(net: nn.Module, x: torch.Tensor, clamp: dict[str, dict[int, object]]) -> torch.Tensor:
    """Logits of one full pass with ``clamp[layer][unit]`` (0.0, or a mean map) written over that
    unit's output."""
    def hook(values):
        def set_units(module, inputs, out):
            out = out.clone()
            for u, v in values.items():
                out[:, u] = v
            return out
        return set_units

    handles = [_module(net, name).register_forward_hook(hook(values)) for name, values in clamp.items()]
    try:
        with torch.no_grad():
            return net(x)
    finally:
        for h in handles:
            h.remove()


def _reference_metrics(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    logits = logits.double()
    top = logits.topk(min(5, logits.shape[1]), dim=1).indices
    return {"accuracy": (logits.argmax(1) == y).double().mean().item(),
            "loss": nn.functional.cross_entropy(logits, y).item(),
            "top5": (top == y[:, None]).any(1).double().mean().item()}


def _reference_means(net: nn.Module, x: torch.Tensor, layers) -> dict[str, torch.Tensor]:
    """Each unit's mean output over ``x`` (per element of a feature map)."""
    seen = {}
    handles = [_module(net, l).register_forward_hook(lambda m, i, o, l=l: seen.__setitem__(l, o.double()))
               for l in layers]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return {l: seen[l].mean(0).float() for l in layers}


def _reference_curve(net, x, y, orders, counts, means=None) -> pd.DataFrame:
    """The cumulative curve: for order r and count k, the first k (layer, unit) pairs of order r
    clamped to 0 (or to ``means``), one full pass each."""
    rows = []
    for r, order in enumerate(orders):
        for k in counts:
            clamp: dict[str, dict[int, object]] = {}
            for layer, u in order[:k]:
                clamp.setdefault(layer, {})[u] = 0.0 if means is None else means[layer][u]
            rows.append({"repetition": r, "n_ablated": k, **_reference_metrics(_reference_outputs(net, x, clamp), y)})
    return pd.DataFrame(rows)


def _reference_importance(net, x, y, layers, n_units, means=None) -> pd.DataFrame:
    intact = _reference_metrics(_reference_outputs(net, x, {}), y)
    rows = []
    for l in layers:
        for u in range(n_units[l]):
            m = _reference_metrics(_reference_outputs(net, x, {l: {u: 0.0 if means is None else means[l][u]}}), y)
            rows.append({"layer": l, "unit": u, "loss": m["loss"], "accuracy": m["accuracy"],
                         "delta_loss": m["loss"] - intact["loss"]})
    return pd.DataFrame(rows)


def _random_orders(layers, n_units, repetitions, seed):
    """Orders of the (layer, unit) pairs drawn here with numpy."""
    pairs = [(l, u) for l in layers for u in range(n_units[l])]
    rng = np.random.default_rng(seed)
    return [[pairs[i] for i in rng.permutation(len(pairs))] for _ in range(repetitions)]


def _equal(a, b, cols, atol=1e-5):
    return float((a[cols] - b[cols]).abs().to_numpy().max()) <= atol


def _as_package_orders(orders, layers):
    return [[u for _, u in o] for o in orders] if len(layers) == 1 else [[list(p) for p in o] for o in orders]


def _close(package: pd.DataFrame, reference: pd.DataFrame, cols, atol=1e-5) -> None:
    keys = [c for c in ("repetition", "n_ablated", "layer", "unit") if c in reference]
    got = package.set_index(keys).loc[reference.set_index(keys).index, cols].to_numpy(dtype=float)
    diff = np.abs(got - reference[cols].to_numpy(dtype=float)).max()
    assert diff <= atol, f"largest difference from the reference {diff:.2e}"


def _check_curves_against_the_reference(net, x, y, layers, baseline, counts, repetitions, seed, metrics, **kw):
    n_units = {l: int(_reference_means(net, x[:2], [l])[l].shape[0]) for l in layers}
    means = _reference_means(net, x, layers) if baseline == "mean" else None
    orders = _random_orders(layers, n_units, repetitions, seed)
    ref = _reference_curve(net, x, y, orders, counts, means)
    total = sum(n_units.values())
    for method in ("engine", "naive"):
        c = perturb.ablation_curve(net, (x, y), layers, grid=counts, orders=_as_package_orders(orders, layers),
                                   baseline=baseline, baseline_data=(x, y), method=method, metrics=metrics, **kw)
        assert list(c.table.fraction) == [k / total for _ in orders for k in counts]
        _close(c.table, ref, list(metrics))
    return n_units, means


@pytest.mark.parametrize("layers", [["hidden.0"], ["hidden.1"], ["hidden.0", "hidden.1"]])
@pytest.mark.parametrize("baseline", ["zero", "mean"])
def test_both_methods_equal_the_reference_on_random_mlp(layers, baseline):
    torch.manual_seed(5)
    net = build_model(MLPConfig(widths=(40, 24)), (1, 5, 5), 10).eval()
    x, y = torch.randn(700, 1, 5, 5), torch.randint(0, 10, (700,))
    total = 40 * ("hidden.0" in layers) + 24 * ("hidden.1" in layers)
    counts = sorted({0, 1, 2, total // 3, total // 2, total - 1, total})
    _check_curves_against_the_reference(net, x, y, layers, baseline, counts, 3, 7, ("accuracy", "loss", "top5"),
                                        chunk_size=256)


@pytest.mark.parametrize("layers", [["conv.1"], ["conv.4"], ["conv.0", "conv.3"]])
@pytest.mark.parametrize("baseline", ["zero", "mean"])
def test_both_methods_equal_the_reference_on_random_convnet(layers, baseline):
    """Feature maps clamped whole (to 0 or to their mean map); importance of each map alone."""
    torch.manual_seed(6)
    cfg = ConvNetConfig(channels=(4, 6, 6, 8, 8), strides=(1, 2, 1, 2, 1), batch_norm=True)
    net = build_model(cfg, (1, 8, 8), 10)
    x, y = torch.randn(160, 1, 8, 8), torch.randint(0, 10, (160,))
    net.train()
    with torch.no_grad():
        net(x)  # non-trivial batch-norm running statistics
        net.out.weight.mul_(100)  # pooled random maps vary little: larger logits make each unit's ablation show
    net.eval()
    n_units, means = _check_curves_against_the_reference(net, x, y, layers, baseline, [0, 1, 3, 5], 2, 1,
                                                          ("accuracy", "loss"), chunk_size=64)
    ref = _reference_importance(net, x, y, layers, n_units, means)
    for method in ("engine", "naive"):
        imp = perturb.unit_importance(net, (x, y), layers, method=method, baseline=baseline, baseline_data=(x, y))
        _close(imp, ref, ["loss", "accuracy", "delta_loss"])


def test_both_methods_equal_the_reference_for_importance_on_mlp():
    torch.manual_seed(8)
    net = build_model(MLPConfig(widths=(20, 20)), (1, 4, 4), 6).eval()
    x, y = torch.randn(300, 1, 4, 4), torch.randint(0, 6, (300,))
    ref = _reference_importance(net, x, y, ["hidden.0", "hidden.1"], {"hidden.0": 20, "hidden.1": 20})
    for method in ("engine", "naive"):
        imp = perturb.unit_importance(net, (x, y), ["hidden.0", "hidden.1"], method=method)
        assert len(imp) == 40
        _close(imp, ref, ["loss", "accuracy", "delta_loss"], atol=1e-6)


def test_engine_equals_naive_for_noise_on_mlp():
    """The two methods draw the same noise (the noise's size is checked on its own below)."""
    torch.manual_seed(8)
    net = build_model(MLPConfig(widths=(20, 20)), (1, 4, 4), 6).eval()
    x, y = torch.randn(300, 1, 4, 4), torch.randint(0, 6, (300,))
    kw = dict(scales=[0.1, 1.0, 3.0], repetitions=2, seed=3, sd_data=(x, y), chunk_size=128)
    a = perturb.noise_curve(net, (x, y), ["hidden.0", "hidden.1"], method="engine", **kw)
    b = perturb.noise_curve(net, (x, y), ["hidden.0", "hidden.1"], method="naive", **kw)
    assert float((a[["accuracy", "loss"]] - b[["accuracy", "loss"]]).abs().to_numpy().max()) <= 1e-6


def test_seeded_orders_are_torch_permutations_of_the_units_and_the_grid_is_rounded():
    """Without explicit orders: repetition r ablates the units in the order of the r-th
    ``torch.randperm`` of a generator seeded with ``seed`` over the (layer, unit) pairs, layer by
    layer; an integer grid is that many evenly spaced counts, rounded half to even. The book's curves are these
    draws, so a change of them changes its numbers."""
    torch.manual_seed(5)
    net = build_model(MLPConfig(widths=(10, 7)), (1, 3, 3), 4).eval()
    x, y = torch.randn(200, 1, 3, 3), torch.randint(0, 4, (200,))
    layers = ["hidden.0", "hidden.1"]
    pairs = [(l, u) for l in layers for u in range(10 if l == "hidden.0" else 7)]
    g = torch.Generator().manual_seed(11)
    orders = [[pairs[i] for i in torch.randperm(17, generator=g).tolist()] for _ in range(3)]
    counts = [0, 2, 4, 6, 8, 11, 13, 15, 17]  # linspace(0, 17, 9): 0, 2.125, 4.25, ..., 8.5 (to even: 8), ... 17
    ref = _reference_curve(net, x, y, orders, counts)
    for method in ("engine", "naive"):
        c = perturb.ablation_curve(net, (x, y), layers, grid=9, repetitions=3, seed=11, method=method)
        assert sorted(set(c.table.n_ablated)) == counts
        _close(c.table, ref, ["accuracy", "loss"])


def test_torchvision_resnet_equals_the_reference_and_loader_equals_tensors():
    torch.manual_seed(9)
    net = torchvision.models.resnet18(num_classes=10)
    x, y = torch.randn(24, 3, 32, 32), torch.randint(0, 10, (24,))
    net.eval()
    orders = _random_orders(["layer3.1"], {"layer3.1": 256}, 1, 0)
    ref = _reference_curve(net, x, y, orders, [0, 128, 256])
    kw = dict(grid=[0, 128, 256], orders=_as_package_orders(orders, ["layer3.1"]), metrics=("accuracy", "loss", "top5"))
    for method in ("engine", "naive"):
        _close(perturb.ablation_curve(net, (x, y), "layer3.1", method=method, **kw).table, ref,
               ["accuracy", "loss", "top5"])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=10)
    _close(perturb.ablation_curve(net, loader, "layer3.1", **kw).table, ref, ["accuracy", "loss", "top5"])


# ---------------------------------------------------------------------------------------------
# The noise's size: scale x the unit's training standard deviation, independent per unit
# ---------------------------------------------------------------------------------------------
def _normal_cdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


@pytest.mark.parametrize("method", ["engine", "naive"])
def test_noise_has_the_size_scale_times_each_units_training_sd(method):
    """Two hidden units read the input, out's logit margin is u0 + 3 u1 - 2.5. On the training data
    (sd_data) u0 has SD 2 and u1 SD 0.5 (computed here); on the evaluated data both are exactly 1,
    so the margin is 1.5 + e0 + 3 e1 with e_i ~ N(0, (scale sd_i)^2): accuracy (all labels class 1)
    is Phi(1.5 / (scale sqrt(sd0^2 + 9 sd1^2))) and the loss the mean of log(1 + exp(-margin)),
    integrated here by Gauss-Hermite quadrature, each within 5 standard errors of 20000 examples x
    2 repetitions (observed: within 1.5). A noise of the wrong size (variance for SD, the units' SDs
    swapped, one SD for all, 10% too large) misses by far more."""
    net = build_model(MLPConfig(widths=(2,)), (2, 1, 1), 2).eval()
    with torch.no_grad():
        net.hidden[0][0].weight.copy_(torch.eye(2))
        net.hidden[0][0].bias.zero_()
        net.out.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 3.0]]))
        net.out.bias.copy_(torch.tensor([0.0, -2.5]))
    g = torch.Generator().manual_seed(0)
    train = torch.stack([1.0 + 2.0 * torch.randn(50000, generator=g), 1.0 + 0.5 * torch.randn(50000, generator=g)], 1)
    train = train.abs().view(-1, 2, 1, 1)  # positive: the ReLU passes them unchanged
    sd = train.view(-1, 2).double().std(0, unbiased=False)  # population SD, as the package's
    n = 20000
    x, y = torch.ones(n, 2, 1, 1), torch.ones(n, dtype=torch.long)
    scales = [0.5, 1.0, 2.0]
    df = perturb.noise_curve(net, (x, y), "hidden.0", scales=scales, repetitions=2, seed=1,
                             sd_data=(train, torch.zeros(len(train), dtype=torch.long)), method=method, chunk_size=8192)
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    mean_of = lambda f: float(np.sum(weights * f) / math.sqrt(2 * math.pi))  # noqa: E731  E f(Z), Z ~ N(0, 1)
    for scale in scales:
        s = scale * math.sqrt(sd[0] ** 2 + 9 * sd[1] ** 2)
        acc = _normal_cdf(1.5 / s)
        per_example = np.logaddexp(0.0, -(1.5 + s * nodes))
        loss = mean_of(per_example)
        se_loss = math.sqrt((mean_of(per_example ** 2) - loss ** 2) / (2 * n))
        got = df[df.scale == scale]
        se_acc = math.sqrt(acc * (1 - acc) / (2 * n))
        assert got.accuracy.mean() == pytest.approx(acc, abs=5 * se_acc), scale
        assert got.loss.mean() == pytest.approx(loss, abs=5 * se_loss), scale


@pytest.mark.parametrize("method", ["engine", "naive"])
def test_conv_noise_is_per_unit_gaussian_with_one_sample_per_repetition(method):
    """The perturbed feature maps of conv.1 as the next stage receives them: minus the clean maps,
    each unit's noise has mean 0 and SD scale x its training SD (pooled over examples and
    positions, computed here), units draw independently, and one sample per repetition serves
    every scale (the noise at scale 2 is twice that at scale 1)."""
    torch.manual_seed(4)
    net = build_model(ConvNetConfig(channels=(3, 4), strides=(1, 1), batch_norm=False), (1, 6, 6), 3).eval()
    x = torch.randn(3000, 1, 6, 6)
    y = torch.zeros(3000, dtype=torch.long)
    with torch.no_grad():
        clean = net.conv[1](net.conv[0](x)).double()
    sd = clean.transpose(0, 1).flatten(1).std(1, unbiased=False)  # [4]
    seen = []
    handle = net.pool.register_forward_pre_hook(lambda m, inputs: seen.append(inputs[0].detach().double()))
    try:
        perturb.noise_curve(net, (x, y), "conv.1", scales=[1.0, 2.0], repetitions=2, seed=0, sd_data=(x, y),
                            method=method, chunk_size=4096)
    finally:
        handle.remove()
    # the last 4 passes (before them: the clean passes that count the units and measure their SDs):
    # one chunk, repetition 0 at scales 1 and 2, then repetition 1 at scales 1 and 2
    assert len(seen) >= 4 and all(s.shape == clean.shape for s in seen[-4:])
    noise = [s - clean for s in seen[-4:]]
    assert torch.allclose(noise[1], 2 * noise[0], atol=1e-5) and torch.allclose(noise[3], 2 * noise[2], atol=1e-5)
    assert not torch.allclose(noise[0], noise[2])  # repetitions draw anew
    for e in (noise[0], noise[2]):
        per_unit = e.transpose(0, 1).flatten(1)  # [4, 3000 x 36]
        m = per_unit.shape[1]
        assert (per_unit.mean(1).abs() <= 5 * sd / math.sqrt(m)).all()
        assert torch.allclose(per_unit.std(1), sd, rtol=5 / math.sqrt(2 * m))  # the SD's standard error: sd / sqrt(2m)
        corr = torch.corrcoef(per_unit)
        assert (corr - torch.eye(4, dtype=corr.dtype)).abs().max() <= 5 / math.sqrt(m)


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
