"""singledir.regularize and TrainConfig.selectivity_alpha: the class-selectivity regularizer
(Leavitt & Morcos 2021).

* its value on a hand-built batch is the hand computation, and on a batch the book's own index
  (singledir.measure.selectivity) gives the same number;
* a run with alpha 0 keeps the cache key it had before the option existed;
* grouped training with alpha != 0 equals the solo torch loop to float tolerance, in fp32 and bf16;
* alpha > 0 makes the hidden units more selective on test images, alpha < 0 less.
"""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from singledir.base import cache
from singledir.measure.selectivity import selectivity_index
from singledir.nets import groups, regularize, runs, training
from singledir.nets.models import ConvNetConfig, MLPConfig
from singledir.nets.runs import RunConfig, TrainConfig, load_run_dataset
from singledir.nets.solo import fit

CPU = torch.device("cpu")
MLP = RunConfig(dataset="digits", n_train=300, n_test=100, model=MLPConfig(widths=(32, 16)),
                train=TrainConfig(epochs=2, batch_size=64, lr=3e-3, selectivity_alpha=0.5), seed=0)
CONV = RunConfig(dataset="digits", n_train=200, n_test=100, model=ConvNetConfig(channels=(4, 4, 8), strides=(1, 2, 1)),
                 train=TrainConfig(epochs=2, batch_size=64, lr=3e-3, selectivity_alpha=0.5), seed=0)


def max_diff(a: dict, b: dict) -> float:
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


# ---------------------------------------------------------------------------------------------
# The regularizer's value
# ---------------------------------------------------------------------------------------------
def test_regularizer_on_a_hand_built_batch():
    """Three classes present of four; an MLP layer (a selective unit, a flat one, a dead one) and a
    conv layer (averaged over its two positions)."""
    labels = torch.tensor([0, 0, 1, 2, 2])
    mlp = torch.tensor([[2.0, 1, 0], [4, 1, 0], [1, 1, 0], [0, 1, 0], [0, 1, 0]])
    # class means: unit 0 (3, 1, 0) -> (3 - 0.5) / (3 + 0.5); unit 1 flat -> 0; unit 2 dead -> 0
    conv = torch.tensor([[[[0.0, 2]], [[0, 0]]], [[[2, 2]], [[0, 0]]], [[[6, 2]], [[1, 1]]],
                         [[[1, 1]], [[1, 1]]], [[[3, 3]], [[1, 1]]]])  # [5, 2, 1, 2]
    # channel 0: per-example means (1, 2, 4, 1, 3), class means (1.5, 4, 2) -> (4 - 1.75) / (4 + 1.75)
    # channel 1: class means (0, 1, 1) -> (1 - 0.5) / (1 + 0.5)
    hand = ((2.5 / 3.5 + 0 + 0) / 3 + (2.25 / 5.75 + 0.5 / 1.5) / 2) / 2
    value = regularize.selectivity_regularizer([mlp, conv], labels, 4)
    assert value.dtype == torch.float32 and value.dim() == 0
    assert value.item() == pytest.approx(hand, rel=1e-6)
    # the book's index on the live units gives the same numbers
    book = selectivity_index(conv, labels, 4).mean().item()
    assert regularize.selectivity_regularizer([conv], labels, 4).item() == pytest.approx(book, rel=1e-6)


def test_regularizer_is_differentiable_and_zero_without_two_classes():
    acts = torch.rand(8, 5, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    regularize.selectivity_regularizer([acts], labels, 3).backward()
    assert acts.grad is not None and torch.isfinite(acts.grad).all() and acts.grad.abs().sum() > 0
    one = regularize.selectivity_regularizer([torch.rand(4, 5)], torch.zeros(4, dtype=torch.long), 3)
    assert one.item() == 0.0


# ---------------------------------------------------------------------------------------------
# The option
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [math.nan, math.inf, "0.5", True])
def test_alpha_must_be_a_finite_number(bad):
    with pytest.raises(ValueError, match=r"selectivity_alpha .* must be a finite number"):
        TrainConfig(selectivity_alpha=bad)


def test_parameter_files_give_alpha_and_alpha_zero_keeps_the_old_cache_keys(monkeypatch):
    """Keys computed with main's code before the option existed (code version and data fingerprint
    fixed, so that only the config counts)."""
    cfg = RunConfig.from_dict({"train": {"epochs": 30, "lr": 0.001, "selectivity_alpha": 0.5}})
    assert cfg.train.selectivity_alpha == 0.5 and cfg.to_dict()["train"]["selectivity_alpha"] == 0.5
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    monkeypatch.setattr(runs, "code_version", lambda module: "fixed")
    monkeypatch.setattr(runs, "fingerprint", lambda name: None)
    old = {
        "81583428dceeb8910c8e334c": RunConfig(),
        "21be7bd02dc5c8fd16b2fb30": RunConfig(dataset="digits", n_train=300, model=MLPConfig(widths=(32, 16)),
                                              train=TrainConfig(epochs=2, batch_size=64, lr=3e-3,
                                                                checkpoints=(0, 0.5, 1)), seed=3, corruption=0.2),
        # a conv net's key also holds its fixed group size (runs.fixed_group_size) since that was added
        "14cc0738bb64c5e1e27d1a1b": RunConfig(model=ConvNetConfig(width=0.125), n_train=1000, unused_to_test=True,
                                              train=TrainConfig(precision="bf16", weight_decay=1e-4)),
    }
    gpu = torch.device("cuda")  # no thread count in the key
    for key, c in old.items():
        assert runs.network_key(c, gpu) == key
        assert runs.network_key(c.with_(train=replace(c.train, selectivity_alpha=0.0)), gpu) == key
        assert runs.network_key(c.with_(train=replace(c.train, selectivity_alpha=0.5)), gpu) != key
    assert "selectivity_alpha" not in RunConfig().to_dict()["train"]
    assert cache.config_key({"run": RunConfig().to_dict()}) == "01f3982583c06237f804a299"


# ---------------------------------------------------------------------------------------------
# Grouped training equals solo training
# ---------------------------------------------------------------------------------------------
def members(base: RunConfig) -> list[RunConfig]:
    return [base.with_(seed=3), base.with_(seed=4, corruption=0.5),
            base.with_(seed=5, train=replace(base.train, lr=base.train.lr / 3, weight_decay=1e-3))]


@pytest.mark.parametrize("base, tol", [(MLP, 1e-6), (CONV, 1e-5),
                                       (CONV.with_(train=replace(CONV.train, precision="bf16")), 1e-4),
                                       (MLP.with_(train=replace(MLP.train, precision="bf16")), 1e-4),
                                       (MLP.with_(train=replace(MLP.train, selectivity_alpha=-1.0)), 1e-6)],
                         ids=["mlp", "conv-bn", "conv-bf16", "mlp-bf16", "mlp-negative"])
def test_grouped_training_with_alpha_equals_the_solo_torch_loop(base, tol):
    cfgs = members(base)
    together = groups.train_group(cfgs, use_cache=False, progress=False)
    for cfg, run in zip(cfgs, together):
        model, history, _, diverged = fit(cfg, load_run_dataset(cfg), CPU, False)
        assert not run.diverged and not diverged and math.isfinite(run.final["train_loss"])
        assert max_diff(run.model.state_dict(), model.state_dict()) <= tol, cfg
        assert run.final["test_loss"] == pytest.approx(history[-1]["test_loss"], rel=1e-3)
    plain = groups.train_group([cfgs[0].with_(train=replace(base.train, selectivity_alpha=0.0))],
                                 use_cache=False, progress=False)[0]
    assert max_diff(plain.model.state_dict(), together[0].model.state_dict()) > 1e-3  # the term acts


# ---------------------------------------------------------------------------------------------
# Alpha moves selectivity
# ---------------------------------------------------------------------------------------------
def mean_test_si(run: runs.TrainedRun, ds) -> float:
    _, acts = regularize.forward_with_units(run.model.eval(), ds.x_test)
    with torch.no_grad():
        si = torch.cat([selectivity_index(a, ds.y_test, ds.n_classes) for a in acts])
    return si.nanmean().item()


def test_alpha_moves_the_selectivity_of_the_hidden_units():
    """MLP 64-64 on 1000 mnist5k images, 5 epochs: SI on the test images, alpha -1 < 0 < +1."""
    base = RunConfig(dataset="mnist5k", n_train=1000, model=MLPConfig(widths=(64, 64)),
                     train=TrainConfig(epochs=5, batch_size=64))
    ds = load_run_dataset(base)
    si = {a: mean_test_si(training.train_network(base.with_(train=replace(base.train, selectivity_alpha=a)),
                                      use_cache=False, device=CPU, dataset=ds), ds) for a in (-1.0, 0.0, 1.0)}
    assert si[-1.0] < si[0.0] < si[1.0], si


def test_the_conv_layers_mean_has_the_right_gradient_in_the_layers_memory_format():
    """The gradient the regularizer sends back into a channels-last conv layer stays channels last
    (autograd's mean would make it contiguous and slow the ReLU's backward)."""
    a = torch.rand(3, 4, 5, 6, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(regularize._SpatialMean.apply, (a,))
    last = torch.rand(3, 4, 5, 6).to(memory_format=torch.channels_last).requires_grad_()
    labels = torch.tensor([0, 1, 1])
    regularize.selectivity_regularizer([last], labels, 2).backward()
    assert last.grad.is_contiguous(memory_format=torch.channels_last)
    plain = last.detach().clone().requires_grad_()
    manual = regularize.member_selectivity([plain.mean((2, 3)).unsqueeze(0)], labels.unsqueeze(0), 2)[0]
    manual.backward()
    assert torch.allclose(plain.grad, last.grad)
