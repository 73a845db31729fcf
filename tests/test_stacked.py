"""singledir.nets.stacked: G networks as one give each member's own outputs, and the stacked optimizer
gives each member torch.optim's update with its own learning rate and weight decay."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from singledir.nets.models import MLPConfig, build_model
from singledir.nets.runs import TrainConfig
from singledir.nets.stacked import StackedMLP, StackedOptimizer, stack


def members(n: int = 3):
    out = []
    for seed in range(n):
        torch.manual_seed(seed)
        out.append(build_model(MLPConfig(widths=(7, 5)), (1, 3, 3), 4))
    return out


def test_a_stack_gives_each_member_its_own_outputs_and_state():
    nets = members()
    s = stack(nets)
    assert isinstance(s, StackedMLP) and s.G == 3
    x = torch.randn(10, 1, 3, 3)
    out = s(s.shared(x))
    for g, net in enumerate(nets):
        assert torch.allclose(out[g], net(x), atol=1e-6)
        assert all(torch.equal(v, net.state_dict()[k]) for k, v in s.member_state(g).items())


def test_stack_refuses_what_it_cannot_stack():
    with pytest.raises(TypeError, match="cannot stack Linear; groupable: MLP, ConvNet"):
        stack([torch.nn.Linear(2, 2)])


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_the_stacked_optimizer_is_torch_optim_member_by_member(optimizer):
    """Three steps with different learning rates and weight decays: each member's weights equal
    those torch.optim gives the member trained alone on the same batches."""
    cfgs = [TrainConfig(optimizer=optimizer, lr=lr, weight_decay=wd) for lr, wd in ((1e-2, 0.0), (3e-3, 1e-3), (1e-3, 0.0))]
    nets, alone = members(), members()
    s = stack(nets)
    opt = StackedOptimizer(list(s.parameters()), s.G, cfgs)
    solo = [torch.optim.Adam(n.parameters(), lr=c.lr, weight_decay=c.weight_decay) if optimizer == "adam" else
            torch.optim.SGD(n.parameters(), lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
            for n, c in zip(alone, cfgs)]
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        x, y = torch.randn(8, 1, 3, 3, generator=g), torch.randint(0, 4, (8,), generator=g)
        opt.zero_grad()
        out = s(s.shared(x))
        sum(F.cross_entropy(out[m], y) for m in range(s.G)).backward()
        opt.step()
        for net, o in zip(alone, solo):
            o.zero_grad()
            F.cross_entropy(net(x), y).backward()
            o.step()
    for m, net in enumerate(alone):
        for k, v in s.member_state(m).items():
            assert torch.allclose(v, net.state_dict()[k], atol=1e-6), (optimizer, m, k)
