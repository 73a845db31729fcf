"""The follow-up literature's ablation measures: exact answers on hand-built networks, equality
with a naive loop (a forward hook that sets the unit(s), a full forward pass), refusals of bad input."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from helpers import trapezoid_area
from singledir.measure import ablations, perturb
from singledir.nets.models import ConvNetConfig, MLPConfig, build_model, get_layer
from test_perturb import signal_net


def naive_outputs(net, x, layer, setter):
    """Logits of a full forward pass with ``setter`` replacing ``layer``'s output."""
    h = get_layer(net, layer).register_forward_hook(lambda m, i, o: setter(o.clone()))
    try:
        with torch.no_grad():
            return net.eval()(x)
    finally:
        h.remove()


def set_units(units, value=0.0):
    """A setter clamping ``units`` to ``value``: a number, or a tensor [U] (one constant per unit) or [U, ...]."""
    def setter(a):
        if isinstance(value, torch.Tensor):
            v = value[list(units)]
            a[:, list(units)] = v.view(len(v), *([1] * (a.dim() - 2))) if v.dim() == 1 else v
        else:
            a[:, list(units)] = value
        return a
    return setter


def random_convnet(seed=6):
    torch.manual_seed(seed)
    net = build_model(ConvNetConfig(channels=(4, 6, 5), strides=(1, 2, 1), batch_norm=True), (1, 6, 6), 4)
    x, y = torch.randn(90, 1, 6, 6), torch.randint(0, 4, (90,))
    net.train()
    with torch.no_grad():
        net(x)  # non-trivial batch-norm running statistics
    return net.eval(), x, y


# ---------------------------------------------------------------------------------------------
# Per-class damage
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["engine", "naive"])
def test_class_damage_on_hand_built_net(method):
    """signal_net: ablating unit 0 sends every example to class 0, so class 1 loses all its
    accuracy and class 0 none; the constant units damage nothing."""
    net, x, y = signal_net()
    t = ablations.class_damage(net, (x, y), "hidden.0", method=method).set_index(["unit", "class"])
    assert t.loc[(0, 1), ["accuracy", "intact", "drop"]].tolist() == [0.0, 1.0, 1.0]
    assert t.loc[(0, 0), ["accuracy", "intact", "drop"]].tolist() == [1.0, 1.0, 0.0]
    assert (t["n"] == 50).all() and (t.loc[[1, 2, 3], "drop"] == 0).all()
    s = ablations.class_damage_summary(t.reset_index()).set_index("unit")
    assert s.loc[0].to_dict() == {"layer": "hidden.0", "max_drop": 1.0, "max_drop_class": 1, "mean_drop": 0.5,
                                  "overall_drop": 0.5}
    assert (s.loc[[1, 2, 3], "max_drop"] == 0).all() and (s.loc[[1, 2, 3], "max_drop_class"] == 0).all()


def naive_class_damage(net, x, y, layer, n_units, n_classes, baseline=None):
    rows = []
    intact = naive_outputs(net, x, layer, lambda a: a).argmax(1)
    for u in range(n_units):
        pred = naive_outputs(net, x, layer, set_units([u], 0.0 if baseline is None else baseline)).argmax(1)
        for c in range(n_classes):
            m = y == c
            acc = (pred[m] == c).float().mean().item() if m.any() else math.nan
            ok = (intact[m] == c).float().mean().item() if m.any() else math.nan
            rows.append({"layer": layer, "unit": u, "class": c, "accuracy": acc, "intact": ok})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("method", ["engine", "naive"])
@pytest.mark.parametrize("baseline", ["zero", "mean"])
def test_class_damage_equals_naive_loop_on_random_networks(method, baseline):
    torch.manual_seed(1)
    mlp = build_model(MLPConfig(widths=(12, 7)), (1, 3, 3), 5).eval()
    xm, ym = torch.randn(260, 1, 3, 3), torch.randint(0, 4, (260,))  # class 4 has no examples
    conv, xc, yc = random_convnet()
    for net, x, y, layers in [(mlp, xm, ym, ["hidden.0", "hidden.1"]), (conv, xc, yc, ["conv.1", "conv.2"])]:
        t = ablations.class_damage(net, (x, y), layers, method=method, baseline=baseline, baseline_data=(x, y),
                                   chunk_size=64)
        stats = perturb.unit_stats(net, (x, y), layers)
        for l in layers:
            n_units, n_classes = int(t[t.layer == l].unit.max()) + 1, net.out.out_features
            ref = naive_class_damage(net, x, y, l, n_units, n_classes,
                                     None if baseline == "zero" else stats[l]["mean"])
            got = t[t.layer == l].reset_index(drop=True)
            assert np.allclose(got[["accuracy", "intact"]], ref[["accuracy", "intact"]], equal_nan=True)
            assert np.allclose(got["drop"], ref["intact"] - ref["accuracy"], equal_nan=True)
    assert t.accuracy.notna().all()
    mlp_t = ablations.class_damage(mlp, (xm, ym), "hidden.1", method=method)
    assert mlp_t[mlp_t["class"] == 4].accuracy.isna().all() and (mlp_t[mlp_t["class"] == 4].n == 0).all()
    s = ablations.class_damage_summary(mlp_t)
    # the overall drop is the change in overall accuracy that unit_importance reports
    imp = perturb.unit_importance(mlp, (xm, ym), "hidden.1", method=method)
    assert np.allclose(s.overall_drop, -imp.delta_accuracy)
    assert (s.max_drop_class < 4).all()


def test_class_damage_refuses_bad_input():
    net, x, y = signal_net()
    with pytest.raises(ValueError, match="'hidden.9' does not exist.*hidden.0"):
        ablations.class_damage(net, (x, y), "hidden.9")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['n'\]"):
        ablations.class_damage_summary(pd.DataFrame({"layer": [], "unit": [], "class": [], "drop": []}))


# ---------------------------------------------------------------------------------------------
# Ordered ablation
# ---------------------------------------------------------------------------------------------
def test_score_orders_rank_nan_lowest_and_break_ties_by_index():
    s = [0.5, math.nan, 2.0, 0.5, math.nan, -1.0]
    o = ablations._score_orders(s, range(6))
    assert o["descending"] == [2, 0, 3, 5, 1, 4]
    assert o["ascending"] == [1, 4, 5, 0, 3, 2]
    assert ablations._score_orders(s, [0, 1, 2])["descending"] == [2, 0, 1]


@pytest.mark.parametrize("method", ["engine", "naive"])
def test_ordered_ablation_on_hand_built_net(method):
    """signal_net: unit 0 carries the class. Scored highest, it goes first in descending order (to
    chance after one unit) and last in ascending order (intact until every unit is gone)."""
    net, x, y = signal_net()
    t = ablations.ordered_ablation(net, (x, y), "hidden.0", [1.0, 0.0, math.nan, 0.5], grid=5,
                                   random_repetitions=2, method=method)
    acc = lambda o: t[t.order == o].accuracy.tolist()  # noqa: E731
    assert acc("descending") == [1.0, 0.5, 0.5, 0.5, 0.5]
    assert acc("ascending") == [1.0, 1.0, 1.0, 1.0, 0.5]
    assert list(t.columns) == ["layer", "order", "repetition", "n_ablated", "fraction", "accuracy", "loss"]
    assert sorted(t[t.order == "random"].repetition.unique()) == [0, 1]
    a = ablations.ordered_aucs(t)
    assert a["descending"] == pytest.approx(0.25 * 0.75 + 0.75 * 0.5)
    assert a["ascending"] == pytest.approx(0.75 + 0.25 * 0.75)
    assert a["random"] == pytest.approx(trapezoid_area(t[t.order == "random"]), abs=1e-12)


@pytest.mark.parametrize("method", ["engine", "naive"])
def test_ordered_ablation_equals_naive_loop(method):
    torch.manual_seed(2)
    net = build_model(MLPConfig(widths=(10, 9)), (1, 3, 3), 4).eval()
    x, y = torch.randn(150, 1, 3, 3), torch.randint(0, 4, (150,))
    scores = torch.randn(9)
    scores[4] = math.nan
    live = [0, 1, 2, 4, 5, 7, 8]
    t = ablations.ordered_ablation(net, (x, y), "hidden.1", scores, grid=[0, 2, 5, 7], units=live,
                                   random_repetitions=3, seed=4, method=method, chunk_size=40)
    orders = ablations._score_orders(scores.numpy(), live)
    for name, order in orders.items():
        for k, row in zip([0, 2, 5, 7], t[t.order == name].itertuples()):
            out = naive_outputs(net, x, "hidden.1", set_units(order[:k]))
            assert row.n_ablated == k and row.fraction == k / 7
            assert row.accuracy == pytest.approx((out.argmax(1) == y).float().mean().item())
            assert row.loss == pytest.approx(F.cross_entropy(out, y).item(), abs=1e-5)
    rand = perturb.ablation_curve(net, (x, y), "hidden.1", grid=[0, 2, 5, 7], repetitions=3, seed=4,
                                  units={"hidden.1": live}, method=method, chunk_size=40).table
    assert np.allclose(t[t.order == "random"][["accuracy", "loss"]], rand[["accuracy", "loss"]])


def test_explicit_orders_of_pairs_over_two_layers_equal_naive_loop():
    torch.manual_seed(3)
    net = build_model(MLPConfig(widths=(3, 2)), (1, 2, 2), 3).eval()
    x, y = torch.randn(80, 1, 2, 2), torch.randint(0, 3, (80,))
    order = [("hidden.1", 1), ("hidden.0", 2), ("hidden.0", 0), ("hidden.1", 0), ("hidden.0", 1)]
    c = perturb.ablation_curve(net, (x, y), ["hidden.0", "hidden.1"], grid=[0, 1, 3, 5], orders=[order])
    h = [get_layer(net, "hidden.1").register_forward_hook(lambda m, i, o: set_units([1])(o.clone())),
         get_layer(net, "hidden.0").register_forward_hook(lambda m, i, o: set_units([2, 0])(o.clone()))]
    with torch.no_grad():
        out = net(x)
    for handle in h:
        handle.remove()
    row = c.table.set_index("n_ablated").loc[3]
    assert row.loss == pytest.approx(F.cross_entropy(out, y).item(), abs=1e-6)
    assert c.table.repetition.unique().tolist() == [0]
    # one layer: a tensor or an array of unit indices is an order too
    plain = perturb.ablation_curve(net, (x, y), "hidden.0", grid=4, orders=[[2, 0, 1], [1, 2, 0]]).table
    for given in ([torch.tensor([2, 0, 1]), np.array([1, 2, 0])], torch.tensor([[2, 0, 1], [1, 2, 0]])):
        assert perturb.ablation_curve(net, (x, y), "hidden.0", grid=4, orders=given).table.equals(plain)


@pytest.mark.parametrize("orders, match", [
    ([[0, 1, 2]], r"order 0 is not a permutation of the 4 eligible units: not eligible \[\], missing \[3\]"),
    ([[0, 1, 2, 3], [0, 1, 1, 3]], r"order 1 .* missing \[2\], repeated \[1\]"),
    ([[0, 1, 2, 7]], r"not eligible \[7\]"),
    ([[0, 1, "a", 3]], r"order 0 holds 'a'"),
    ([], "non-empty list"),
])
def test_explicit_orders_are_refused_unless_permutations(orders, match):
    net, x, y = signal_net()
    with pytest.raises(ValueError, match=match):
        perturb.ablation_curve(net, (x, y), "hidden.0", orders=orders)


@pytest.mark.parametrize("kw, match", [
    (dict(layer="hidden.0", scores=[1.0, 2.0]), r"2 scores for layer 'hidden.0', which has 4 units"),
    (dict(layer=["hidden.0"], scores=[0.0] * 4), "one layer; give its name"),
    (dict(layer="hidden.5", scores=[0.0] * 4), "'hidden.5' does not exist"),
    (dict(layer="hidden.0", scores=[0.0] * 4, random_repetitions=0), "random_repetitions 0"),
    (dict(layer="hidden.0", scores=[0.0] * 4, units=[0, 9]), r"units \[9\]"),
])
def test_ordered_ablation_refuses_bad_input(kw, match):
    net, x, y = signal_net()
    with pytest.raises(ValueError, match=match):
        ablations.ordered_ablation(net, (x, y), **kw)


# ---------------------------------------------------------------------------------------------
# A constant per unit as the baseline, also for conv channels
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["engine", "naive"])
def test_per_unit_constant_baseline_works_for_conv_channels(method):
    """A baseline [U] sets a conv channel to one constant at every position: the same as a [U, H, W]
    map filled with it, and as the naive loop (conv.1: the next layer is a conv; conv.2: pooling and
    the output layer follow)."""
    net, x, y = random_convnet()
    for layer, shape in [("conv.1", (6, 3, 3)), ("conv.2", (5, 3, 3))]:
        c = torch.linspace(-0.5, 1.5, shape[0])
        a = perturb.unit_importance(net, (x, y), layer, baseline={layer: c}, method=method)
        b = perturb.unit_importance(net, (x, y), layer, baseline={layer: c[:, None, None].expand(shape)}, method=method)
        assert np.allclose(a[["loss", "accuracy"]], b[["loss", "accuracy"]], atol=1e-6)
        for u in range(shape[0]):
            out = naive_outputs(net, x, layer, set_units([u], c))
            assert a.loss[u] == pytest.approx(F.cross_entropy(out, y).item(), abs=1e-5)
