"""singledir.measure.engine: the data every measure takes are checked (bad inputs refused with a
message saying what was found: never silent numbers, never a StopIteration or a KeyError from
inside), and the engine's fast evaluation equals a naive loop that perturbs the whole network."""
from __future__ import annotations

import pandas as pd
import torch
import pytest
from torch.utils.data import DataLoader, TensorDataset

from singledir.measure import ablations
from singledir.measure import perturb as perturb_mod
from singledir.measure import units

from helpers import INF, NAN, mlp_and_data



# Every entry point that takes data, as (name, call(net, data)).
CALLS = {
    "ablation_curve[engine]": lambda n, d: perturb_mod.ablation_curve(n, d, "hidden.0", grid=3, repetitions=1, method="engine"),
    "ablation_curve[naive]": lambda n, d: perturb_mod.ablation_curve(n, d, "hidden.0", grid=3, repetitions=1, method="naive"),
    "ablation_curve[mean baseline_data]": lambda n, d: perturb_mod.ablation_curve(
        n, mlp_and_data()[1:], "hidden.0", grid=3, repetitions=1, baseline="mean", baseline_data=d),
    "noise_curve": lambda n, d: perturb_mod.noise_curve(n, d, "hidden.1", scales=[0.5], repetitions=1, sd_data=d),
    "noise_curve[sd_data]": lambda n, d: perturb_mod.noise_curve(n, mlp_and_data()[1:], "hidden.1", scales=[0.5],
                                                             repetitions=1, sd_data=d),
    "unit_importance": lambda n, d: perturb_mod.unit_importance(n, d, "hidden.0"),
    "unit_stats": lambda n, d: perturb_mod.unit_stats(n, d, ["hidden.0"]),
    "unit_table": lambda n, d: units.unit_table(n, d, ["hidden.0", "hidden.1"]),
    "analyze[test_data]": lambda n, d: units.analyze(n, train_data=mlp_and_data()[1:], test_data=d,
                                                        layers=["hidden.0"], repetitions=1, grid=3),
    "class_damage": lambda n, d: ablations.class_damage(n, d, "hidden.0"),
    "ordered_ablation": lambda n, d: ablations.ordered_ablation(n, d, "hidden.0", [0.0] * 8, grid=3,
                                                                random_repetitions=1),
    "fit_ablation_constants": lambda n, d: ablations.fit_ablation_constants(n, d, "hidden.1", steps=1),
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
        perturb_mod.ablation_curve(net, (x, y), "hidden.0", grid=3, repetitions=1, method=method, chunk_size=16)
    loader = DataLoader(TensorDataset(x, y), batch_size=10)
    with pytest.raises(ValueError, match="1 example.* the first at index 23"):
        perturb_mod.ablation_curve(net, loader, "hidden.0", grid=3, repetitions=1, method=method)
    with pytest.raises(ValueError, match="the first at index 23"):
        units.unit_table(net, loader, ["hidden.0"])


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
            perturb_mod.noise_curve(net, (x, y), ["hidden.0", "hidden.1"], scales=[1.0], repetitions=1, sd_data=sd_data)
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
    a = perturb_mod.ablation_curve(net, (x, y), "hidden.0", grid=5, repetitions=2)
    b = perturb_mod.ablation_curve(net, batches, "hidden.0", grid=5, repetitions=2)
    pd.testing.assert_frame_equal(a.table, b.table)


def test_numpy_arrays_are_taken_as_tensors():
    net, x, y = mlp_and_data()
    a = perturb_mod.ablation_curve(net, (x, y), "hidden.0", grid=5, repetitions=2)
    b = perturb_mod.ablation_curve(net, (x.numpy(), y.numpy()), "hidden.0", grid=5, repetitions=2)
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
        perturb_mod.ablation_curve(net, data(x, y), "hidden.0", grid=3, repetitions=1)


# ---------------------------------------------------------------------------------------------
# The engine against a naive loop: the whole network run with forward hooks that zero the units
# ---------------------------------------------------------------------------------------------
def naive_metrics(model, x, y, ablated: dict[str, list[int]]) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on ``x, y`` with ``ablated`` units zeroed, the plainest way."""
    import torch.nn.functional as F

    from singledir.nets.models import get_layer

    def zero(units):
        def hook(module, inputs, out):
            out = out.clone()
            out[:, units] = 0.0
            return out
        return hook

    handles = [get_layer(model, name).register_forward_hook(zero(units)) for name, units in ablated.items() if units]
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    return F.cross_entropy(out, y).item(), (out.argmax(1) == y).sum().item() / len(y)


def _nets():
    from singledir.nets.models import ConvNetConfig, MLPConfig, build_model

    torch.manual_seed(0)
    mlp = build_model(MLPConfig(widths=(12, 10)), (1, 4, 4), 3).eval()
    conv = build_model(ConvNetConfig(channels=(4, 6, 8), strides=(1, 2, 1), batch_norm=True), (1, 8, 8), 3).eval()
    g = torch.Generator().manual_seed(2)
    return [(mlp, torch.randn(50, 1, 4, 4, generator=g), ["hidden.0", "hidden.1"]),
            (conv, torch.randn(50, 1, 8, 8, generator=g), ["conv.1", "conv.2"])]


@pytest.mark.parametrize("case", [0, 1], ids=["MLP", "conv net with BN"])
@pytest.mark.parametrize("n_layers", [1, 2])
def test_ablation_paths_equal_the_naive_loop(case, n_layers):
    """Cumulative ablation paths over one layer (the incremental and stacked shortcuts) and over two
    (the downstream runs): every step's loss and accuracy equal the whole network run with hooks."""
    from singledir.measure.engine import Engine, Sums

    net, x, layers = _nets()[case]
    y = torch.arange(len(x)) % 3
    layers = layers[:n_layers]
    widths = [_width(net, x, l) for l in layers]
    g = torch.Generator().manual_seed(3)
    orders = [[torch.randperm(w, generator=g) for w in widths] for _ in range(2)]
    steps = 3
    paths = [[((p, s), [o[s * len(o) // steps:(s + 1) * len(o) // steps] for o in order]) for s in range(steps)]
             for p, order in enumerate(orders)]
    sums = Sums((len(paths), steps), ["loss", "accuracy"])
    Engine(net, layers, method="engine", chunk_size=16).ablation_paths((x, y), paths, {}, sums)
    got = sums.means()
    for p, order in enumerate(orders):
        for s in range(steps):
            ablated = {l: o[:(s + 1) * len(o) // steps].tolist() for l, o in zip(layers, order)}
            loss, acc = naive_metrics(net, x, y, ablated)
            assert got["loss"][p, s] == pytest.approx(loss, rel=1e-5, abs=1e-6), (p, s)
            assert got["accuracy"][p, s] == pytest.approx(acc, abs=1e-9), (p, s)


def test_single_step_paths_equal_the_naive_loop():
    """One unit per path (unit importance): the stacked shortcut equals the naive loop."""
    from singledir.measure.engine import Engine, Sums

    net, x, layers = _nets()[1]
    y = torch.arange(len(x)) % 3
    w = _width(net, x, layers[0])
    paths = [[((u,), [torch.tensor([u])])] for u in range(w)]
    sums = Sums((w,), ["loss", "accuracy"])
    Engine(net, layers[:1], method="engine", chunk_size=64).ablation_paths((x, y), paths, {}, sums)
    got = sums.means()
    for u in range(w):
        loss, acc = naive_metrics(net, x, y, {layers[0]: [u]})
        assert got["loss"][u] == pytest.approx(loss, rel=1e-5, abs=1e-6)
        assert got["accuracy"][u] == pytest.approx(acc, abs=1e-9)


def _width(net, x, layer: str) -> int:
    from singledir.measure.record import activations

    return activations(net, x[:2], [layer])[layer].shape[1]
