"""singledir.measure.plan: the network as a chain of stages run from the first perturbed layer on,
and the incremental update of the linear layer after an ablated one, each equal to the full
computation."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import mlp_and_data
from singledir.measure.engine import ablation_setters
from singledir.measure.plan import Incremental, Plan
from singledir.nets.models import ConvNetConfig, build_model


def conv_and_data(n: int = 12):
    torch.manual_seed(0)
    net = build_model(ConvNetConfig(width=0.0625), (1, 8, 8), 10).eval()
    return net, torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("case, layer", [("mlp", "hidden.0"), ("mlp", "hidden.1"), ("conv", "conv.3"),
                                         ("conv", "conv.10")])
def test_upstream_then_downstream_is_the_forward_pass(case, layer):
    net, x = mlp_and_data()[:2] if case == "mlp" else conv_and_data()
    plan = Plan(net, [layer])
    assert plan.ok
    with torch.no_grad():
        assert torch.equal(plan.downstream(plan.upstream(x), {}), net(x))


@pytest.mark.parametrize("case, layer", [("mlp", "hidden.0"), ("mlp", "hidden.1"), ("conv", "conv.10")])
@pytest.mark.parametrize("with_baseline", [False, True])
def test_incremental_updates_equal_recomputing_the_ablated_network(case, layer, with_baseline):
    net, x = mlp_and_data()[:2] if case == "mlp" else conv_and_data()
    plan = Plan(net, [layer])
    inc = plan.linear_after(layer)
    assert isinstance(inc, Incremental)
    with torch.no_grad():
        a = plan.upstream(x)
        baseline = a.mean(0) + 0.5 if with_baseline else None
        z = inc.start(a, baseline)
        ablated = []
        for idx in (torch.tensor([2, 0]), torch.tensor([1])):
            inc.add(z, idx)
            ablated.append(idx)
            units = torch.cat(ablated)
            full = plan.downstream(a, ablation_setters({layer: units}, {layer: baseline}))
            assert torch.allclose(inc.finish(z.clone()), full, atol=1e-5)


def test_a_network_that_is_no_chain_of_stages_has_no_plan():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x):
            return self.a(x) + self.b(x)

    assert not Plan(Branchy(), ["a"]).ok
    assert not Plan(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), ["missing"]).ok


def test_no_incremental_update_where_a_nonlinear_stage_comes_first():
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Softmax(1), nn.Linear(4, 2))
    plan = Plan(net, ["0"])
    assert plan.ok and plan.linear_after("0") is None  # ReLU before the next linear map
    assert Plan(net, ["1"]).linear_after("1") is None  # Softmax
    assert isinstance(Plan(net, ["2"]).linear_after("2"), Incremental)
    assert Plan(net, ["3"]).linear_after("3") is None  # nothing after the last layer
