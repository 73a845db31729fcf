"""singledir.measure.record: forward hooks that capture detached activations and never outlive the block."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from singledir.nets.models import ConvNetConfig, MLPConfig, build_model
from singledir.measure.record import activations, capture, latest


def hand_mlp():
    """2 inputs -> hidden.0 (3 units) -> hidden.1 (2 units) -> out (2 logits), weights set by hand."""
    net = build_model(MLPConfig(widths=(3, 2)), (2,), 2)
    with torch.no_grad():
        net.hidden[0][0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]))
        net.hidden[0][0].bias.copy_(torch.tensor([0.0, -1.0, 0.5]))
        net.hidden[1][0].weight.copy_(torch.tensor([[1.0, 1.0, 1.0], [-1.0, 0.0, 2.0]]))
        net.hidden[1][0].bias.copy_(torch.tensor([0.0, 0.0]))
        net.out.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        net.out.bias.copy_(torch.tensor([0.0, 1.0]))
    return net.eval()


X1 = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
X2 = torch.tensor([[-1.0, -1.0]])
# hidden.0 = relu(x W0^T + b0):
#   [1, 2] -> relu([1, 1, -0.5]) = [1, 1, 0];  [3, 0] -> relu([3, -1, 3.5]) = [3, 0, 3.5]
#   [-1, -1] -> relu([-1, -2, 0.5]) = [0, 0, 0.5]
H0 = torch.tensor([[1.0, 1.0, 0.0], [3.0, 0.0, 3.5], [0.0, 0.0, 0.5]])
# hidden.1 = relu(h0 W1^T): [1,1,0] -> [2, 0]; [3,0,3.5] -> [6.5, 4]; [0,0,0.5] -> [0.5, 1]
H1 = torch.tensor([[2.0, 0.0], [6.5, 4.0], [0.5, 1.0]])
OUT = H1 + torch.tensor([0.0, 1.0])


def all_hooks_empty(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_records_the_hand_computed_activations():
    net = hand_mlp()
    with capture(net, ["hidden.0", "hidden.1", "out"]) as rec:
        y = net(X1)
    assert torch.equal(rec["hidden.0"], H0[:2])
    assert torch.equal(rec["hidden.1"], H1[:2])
    assert torch.equal(rec["out"], OUT[:2]) and torch.equal(y, OUT[:2])
    assert list(rec.keys()) == ["hidden.0", "hidden.1", "out"]


def test_concatenates_over_forward_calls():
    net = hand_mlp()
    with capture(net, ["hidden.0", "hidden.1"]) as rec:
        net(X1)
        net(X2)
    assert torch.equal(rec["hidden.0"], H0) and torch.equal(rec["hidden.1"], H1)


def test_recorded_tensors_are_detached_copies():
    net = hand_mlp().train()
    x = X1.clone().requires_grad_(True)
    with capture(net, ["hidden.0"]) as rec:
        y = net(x)
    y.sum().backward()  # the graph of the real forward pass is untouched
    h = rec["hidden.0"]
    assert not h.requires_grad and h.grad_fn is None
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(-3.0)
        net(X1)  # outside the block: nothing is recorded, nothing changes
    assert torch.equal(rec["hidden.0"], H0[:2])


def test_inplace_change_of_the_output_after_the_hook_does_not_reach_the_copy():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Identity()

        def forward(self, x):
            h = self.a(x)
            h.mul_(0)  # a later in-place op on the very tensor the hook saw
            return h

    net = Net()
    x = torch.ones(2, 3)
    with capture(net, ["a"]) as rec:
        net(x)
    assert torch.equal(rec["a"], torch.ones(2, 3))


def test_no_hook_survives_the_block():
    net = hand_mlp()
    with capture(net, ["hidden.0", "hidden.1", "drop.0", "out"]) as rec:
        assert not all_hooks_empty(net)
        assert len(net.hidden[0]._forward_hooks) == 1
        net(X1)
    assert all_hooks_empty(net)
    net(X2)  # runs after the block are not recorded
    assert torch.equal(rec["hidden.0"], H0[:2])


def test_no_hook_survives_an_exception():
    net = hand_mlp()
    with pytest.raises(RuntimeError, match="inside the block"):
        with capture(net, ["hidden.0", "hidden.1"]):
            net(X1)
            raise RuntimeError("inside the block")
    assert all_hooks_empty(net)


def test_no_hook_survives_an_exception_in_forward():
    net = hand_mlp()
    with pytest.raises(RuntimeError):
        with capture(net, ["hidden.0"]):
            net(torch.ones(2, 5))  # wrong input size: fails inside the model
    assert all_hooks_empty(net)


def test_unknown_layer_fails_before_any_hook():
    net = hand_mlp()
    with pytest.raises(KeyError) as e:
        with capture(net, ["hidden.0", "hidden.7"]):
            pytest.fail("the block must not run")
    assert "hidden.7" in str(e.value) and "hidden.0, hidden.1" in str(e.value)
    assert all_hooks_empty(net)


def test_layer_that_did_not_run():
    net = hand_mlp()
    with capture(net, ["hidden.0"]) as rec:
        pass
    with pytest.raises(KeyError, match="has not run"):
        rec["hidden.0"]


def test_record_on_a_convnet_matches_its_stages():
    torch.manual_seed(0)
    net = build_model(ConvNetConfig(width=0.0625), (1, 8, 8), 10).eval()
    x = torch.randn(3, 1, 8, 8)
    names = [f"conv.{i}" for i in (0, 4, 10)]
    with torch.no_grad(), capture(net, names) as rec:
        net(x)
    h, manual = x, {}
    with torch.no_grad():
        for name, stage in net.stages():
            h = stage(h)
            manual[name] = h
    for n in names:
        assert torch.equal(rec[n], manual[n])
    assert rec["conv.10"].shape == (3, 32, 1, 1)
    assert all_hooks_empty(net)


# ---------------------------------------------------------------------------------------------
# activations()
# ---------------------------------------------------------------------------------------------
def test_activations_in_batches_equal_the_hand_values():
    net = hand_mlp()
    x = torch.cat([X1, X2])
    acts = activations(net, x, ["hidden.0", "hidden.1"], batch_size=2)
    assert set(acts) == {"hidden.0", "hidden.1"}
    assert torch.equal(acts["hidden.0"], H0) and torch.equal(acts["hidden.1"], H1)
    assert all_hooks_empty(net)


def test_activations_run_in_eval_mode_and_restore_the_mode():
    torch.manual_seed(0)
    net = build_model(MLPConfig(widths=(64,), dropout=0.5), (10,), 3)
    x = torch.randn(20, 10)
    net.train()
    acts = activations(net, x, ["hidden.0", "drop.0"])
    assert net.training and all(m.training for m in net.modules())
    assert torch.equal(acts["drop.0"], acts["hidden.0"])  # dropout is off in eval mode
    net.eval()
    with torch.no_grad():
        ref = net.hidden[0](net.flatten(x))
    assert torch.equal(acts["hidden.0"], ref)
    again = activations(net, x, ["hidden.0"])
    assert not net.training and torch.equal(again["hidden.0"], ref)


def test_activations_restore_the_mode_on_error():
    net = hand_mlp().train()
    with pytest.raises(RuntimeError):
        activations(net, torch.ones(2, 5), ["hidden.0"])
    assert net.training and all_hooks_empty(net)


def test_latest_keeps_only_the_last_call_and_removes_its_hooks():
    net = hand_mlp()
    with latest(net, ["hidden.0", "hidden.1"]) as store:
        net(X1)
        assert torch.equal(store["hidden.0"], H0[:2])
        net(X2)
        assert torch.equal(store.pop("hidden.0"), H0[2:]) and torch.equal(store["hidden.1"], H1[2:])
        assert "hidden.0" not in store
    assert all_hooks_empty(net)
    with pytest.raises(KeyError, match="hidden.7"):
        with latest(net, ["hidden.0", "hidden.7"]):
            pytest.fail("the block must not run")
    with pytest.raises(RuntimeError, match="inside"):
        with latest(net, ["hidden.1"]):
            raise RuntimeError("inside the block")
    assert all_hooks_empty(net)
