"""singledir.measure.optimal_ablation: the fitted constant is the closed-form optimum where there is
one and a fine grid's minimum where the loss is convex, its importance at most zero and mean
ablation's, the engine and the naive loop fit the same constants; bad input is refused."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from singledir.measure import ablations, optimal_ablation, perturb
from singledir.nets.models import MLPConfig, build_model
from test_ablations import naive_outputs, random_convnet, set_units
from test_perturb import signal_net


def naive_loss(net, x, y, layer, unit, c):
    return F.cross_entropy(naive_outputs(net, x, layer, set_units([unit], float(c))), y).item()


@pytest.mark.parametrize("method", ["engine", "naive"])
def test_fitted_constant_is_the_closed_form_optimum(method):
    """signal_net with 3/4 of the examples in class 1: with unit 0 set to c every example gets the
    margin logit1 - logit0 = 2c - 1, so the loss is 3/4 log(1 + e^-(2c-1)) + 1/4 log(1 + e^(2c-1)),
    smallest where sigmoid(2c - 1) = 3/4: c = (1 + ln 3) / 2, the loss then the entropy H(3/4).
    The unit's mean (3/4) and zero are worse; the constant units' loss does not depend on c, so
    they keep 0 (the first candidate)."""
    net, _, _ = signal_net()
    s = torch.tensor([1.0] * 75 + [-1.0] * 25)
    x, y = torch.stack([s, torch.ones_like(s)], 1).view(-1, 2, 1, 1), (s > 0).long()
    fit = optimal_ablation.fit_ablation_constants(net, (x, y), "hidden.0", method=method)
    c = fit["hidden.0"]
    assert c[0].item() == pytest.approx((1 + math.log(3)) / 2, abs=1e-4)
    assert c[1:].tolist() == [0.0, 0.0, 0.0]
    imp = {b: perturb.unit_importance(net, (x, y), "hidden.0", baseline=b, baseline_data=(x, y)).set_index("unit")
           for b in ("zero", "mean")}
    fitted = perturb.unit_importance(net, (x, y), "hidden.0", baseline=fit).set_index("unit")
    assert fitted.loc[0, "loss"] == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)), abs=1e-6)
    assert fitted.loc[0, "delta_loss"] < imp["mean"].loc[0, "delta_loss"] - 0.01 < imp["zero"].loc[0, "delta_loss"]


def trained_mlp():
    torch.manual_seed(7)
    net = build_model(MLPConfig(widths=(6, 5)), (1, 2, 2), 3)
    x = torch.randn(240, 1, 2, 2)
    y = (x.flatten(1)[:, 0] > 0).long() + (x.flatten(1)[:, 1] > 0.5).long()
    opt = torch.optim.Adam(net.parameters(), 0.05)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(net.train()(x), y).backward()
        opt.step()
    return net.eval(), x, y


@pytest.mark.parametrize("method", ["engine", "naive"])
def test_fitted_constants_reach_a_fine_grids_minimum_where_the_loss_is_convex(method):
    """Where only linear maps follow the layer (an MLP's last hidden layer; a conv net's last conv
    layer, then pooling and the output layer), the loss is convex in the constant: the fit reaches
    the minimum of a fine naive grid (a hook, a full pass per point; steps of 0.05 on [-3, 6], then
    of 0.0005 around the best) to 1e-4."""
    net, x, y = trained_mlp()
    conv, xc, yc = random_convnet()
    for model, data, layer in [(net, (x, y), "hidden.1"), (conv, (xc, yc), "conv.2")]:
        c = optimal_ablation.fit_ablation_constants(model, data, layer, method=method, chunk_size=100)[layer]
        for u in range(len(c)):
            coarse = np.linspace(-3, 6, 181)
            best = coarse[np.argmin([naive_loss(model, *data, layer, u, v) for v in coarse])]
            grid = min(naive_loss(model, *data, layer, u, v) for v in np.linspace(best - 0.05, best + 0.05, 201))
            assert naive_loss(model, *data, layer, u, c[u]) <= grid + 1e-4


def test_fitted_importance_is_at_most_zero_and_mean_importance():
    """On the fitting data, on every layer (also where the loss is not convex in the constant)."""
    net, x, y = trained_mlp()
    conv, xc, yc = random_convnet()
    for model, data, layers in [(net, (x, y), ["hidden.0", "hidden.1"]), (conv, (xc, yc), ["conv.0", "conv.1"])]:
        c = optimal_ablation.fit_ablation_constants(model, data, layers, steps=2)
        for l in layers:
            fitted = perturb.unit_importance(model, data, l, baseline=c).delta_loss
            for b in ("zero", "mean"):
                other = perturb.unit_importance(model, data, l, baseline=b, baseline_data=data).delta_loss
                assert (fitted <= other + 1e-6).all()
            assert (fitted < perturb.unit_importance(model, data, l).delta_loss - 1e-4).any()


def test_fit_ablation_constants_refuses_bad_input():
    net, x, y = signal_net()
    with pytest.raises(ValueError, match="steps 0 must be an integer of at least 1"):
        optimal_ablation.fit_ablation_constants(net, (x, y), "hidden.0", steps=0)
    with pytest.raises(ValueError, match="'hidden.3' does not exist.*hidden.0"):
        optimal_ablation.fit_ablation_constants(net, (x, y), "hidden.3")
    with pytest.raises(ValueError, match="labels outside the network's 2 classes"):
        optimal_ablation.fit_ablation_constants(net, (x, y + 1), "hidden.0")


@pytest.mark.parametrize("method", ["engine", "naive"])
def test_per_unit_constant_baseline_where_a_nonlinear_stage_follows(method):
    """A chain whose next stage after the layer is max pooling (evaluated by stacking copies of the
    chunk, not by the incremental update): a baseline [U] equals the naive loop there too."""
    torch.manual_seed(4)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 3)).eval()
    x, y = torch.randn(40, 1, 4, 4), torch.randint(0, 3, (40,))
    c = torch.tensor([0.3, -0.2, 0.8])
    imp = perturb.unit_importance(net, (x, y), "1", baseline={"1": c}, method=method)
    for u in range(3):
        out = naive_outputs(net, x, "1", set_units([u], c))
        assert imp.loss[u] == pytest.approx(F.cross_entropy(out, y).item(), abs=1e-6)


def test_fitted_constants_of_engine_and_naive_loop_agree():
    """The engine (cached upstream; the next linear layer, dense or conv, updated for the one unit)
    and the naive loop (hooks, full passes) evaluate the same losses, so they fit the same constants."""
    net, x, y = trained_mlp()
    conv, xc, yc = random_convnet()
    for model, data, layers in [(net, (x, y), ["hidden.0"]), (conv, (xc, yc), ["conv.0", "conv.1"])]:
        a = optimal_ablation.fit_ablation_constants(model, data, layers, method="engine", chunk_size=50)
        b = optimal_ablation.fit_ablation_constants(model, data, layers, method="naive")
        for l in layers:
            assert torch.allclose(a[l], b[l], atol=1e-4)


def test_the_ablation_measures_module_still_offers_the_fit():
    assert ablations.fit_ablation_constants is optimal_ablation.fit_ablation_constants

