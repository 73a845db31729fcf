"""singledir.nets.groups: networks trained together equal networks trained alone.

What is identical (the module docstring states it; these tests check it):
* a group of one is the plain ``torch.nn``/``torch.optim`` loop bit for bit (MLPs with Adam, SGD
  with momentum and weight decay, dropout; conv nets with and without batch norm);
* a member of a larger group equals its solo run: MLPs to 1e-6 (bit for bit on AVX2), conv nets
  to 1e-5 after 8 Adam steps, whatever its group-mates' seeds, labels, learning rates or dropout;
* the same in bf16 autocast on the CPU (the stacked layers cast as autocast casts ``F.linear``);
* a diverging member is recorded as diverged at the step a solo run would stop, and the others
  are untouched; an interrupted group resumes bit-identically.
"""
from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest
import torch

from singledir.experiments import sweep
from singledir.nets import groups
from singledir.nets.models import ConvNetConfig, MLPConfig, ResNetConfig
from singledir.nets.runs import RunConfig, TrainConfig, load_run_dataset
from singledir.nets.solo import fit
from singledir.nets.training import train_network

MLP = RunConfig(dataset="digits", n_train=300, n_test=100, model=MLPConfig(widths=(32, 16)),
                train=TrainConfig(epochs=2, batch_size=64, lr=3e-3), seed=0)
CONV = RunConfig(dataset="digits", n_train=200, n_test=100, model=ConvNetConfig(channels=(4, 4, 8), strides=(1, 2, 1)),
                 train=TrainConfig(epochs=2, batch_size=64, lr=3e-3), seed=0)
CPU = torch.device("cpu")


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def max_diff(a: dict, b: dict) -> float:
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def mixed(base: RunConfig) -> list[RunConfig]:
    """Four members that differ in everything a member may differ in."""
    out = [base.with_(seed=3),
           base.with_(seed=4, corruption=0.5),
           base.with_(seed=5, train=replace(base.train, lr=base.train.lr / 3, weight_decay=1e-3))]
    if isinstance(base.model, MLPConfig):
        out.append(base.with_(seed=6, model=replace(base.model, dropout=0.25)))
    else:
        out.append(base.with_(seed=6, corruption=1.0))
    return out


def solo(cfg: RunConfig):
    return groups.train_group([cfg], use_cache=False, progress=False)[0]


# ---------------------------------------------------------------------------------------------
# Identity with solo training
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tcfg", [
    TrainConfig(epochs=2, batch_size=64, lr=3e-3, checkpoints=(0, 0.5, 1)),
    TrainConfig(epochs=2, batch_size=50, lr=0.05, optimizer="sgd", momentum=0.8, weight_decay=1e-3),
], ids=["adam", "sgd"])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_group_of_one_mlp_is_the_torch_loop_bit_for_bit(tcfg, dropout):
    cfg = MLP.with_(train=tcfg, corruption=0.2, model=MLPConfig(widths=(32, 16), dropout=dropout))
    model, history, checkpoints, diverged = fit(cfg, load_run_dataset(cfg), CPU, False)
    run = solo(cfg)
    assert state_equal(run.model.state_dict(), model.state_dict())
    assert run.history == history and not diverged and not run.diverged
    assert checkpoints.keys() == run.checkpoints.keys()
    assert all(state_equal(run.checkpoints[k], checkpoints[k]) for k in checkpoints)


@pytest.mark.parametrize("bn", [True, False], ids=["bn", "no-bn"])
def test_group_of_one_conv_net_is_the_torch_loop_bit_for_bit(bn):
    cfg = CONV.with_(model=replace(CONV.model, batch_norm=bn), corruption=0.3)
    model, history, _, _ = fit(cfg, load_run_dataset(cfg), CPU, False)
    run = solo(cfg)
    assert state_equal(run.model.state_dict(), model.state_dict())
    assert run.history == history


@pytest.mark.parametrize("base, tol", [(MLP, 1e-6), (CONV, 1e-5),
                                       (CONV.with_(model=replace(CONV.model, batch_norm=False)), 1e-5)],
                         ids=["mlp", "conv-bn", "conv-no-bn"])
def test_members_equal_their_solo_runs(base, tol):
    """8 steps of Adam (2 epochs of 4 batches for the conv nets, 5 for the MLPs)."""
    cfgs = mixed(base.with_(train=replace(base.train, checkpoints=(0.5, 2))))
    together = groups.train_group(cfgs, use_cache=False, progress=False)
    for cfg, run in zip(cfgs, together):
        alone = solo(cfg)
        assert max_diff(run.model.state_dict(), alone.model.state_dict()) <= tol, cfg
        assert all(max_diff(run.checkpoints[k], alone.checkpoints[k]) <= tol for k in (0.5, 2))
        assert [h["epoch"] for h in run.history] == [h["epoch"] for h in alone.history] == [0.5, 1, 2]
        for a, b in zip(run.history, alone.history):
            assert a["train_acc"] == pytest.approx(b["train_acc"], abs=0.01)
            assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-4)


def test_members_learn_different_things():
    runs = groups.train_group(mixed(MLP), use_cache=False, progress=False)
    w = [r.model.state_dict()["hidden.0.0.weight"] for r in runs]
    assert all(not torch.equal(w[0], x) for x in w[1:])
    assert runs[1].final["train_acc"] < runs[0].final["train_acc"]  # half its labels are shuffled


# ---------------------------------------------------------------------------------------------
# Divergence, resumption, caching
# ---------------------------------------------------------------------------------------------
def test_a_diverging_member_is_recorded_and_the_others_go_on():
    sgd = TrainConfig(epochs=3, batch_size=64, lr=0.01, optimizer="sgd")
    good = [MLP.with_(seed=s, train=sgd) for s in (0, 1)]
    bad = MLP.with_(seed=2, train=replace(sgd, lr=1e8))
    runs = groups.train_group([good[0], bad, good[1]], use_cache=False, progress=False)
    assert runs[1].diverged and math.isnan(runs[1].history[-1]["train_loss"])
    assert not runs[0].diverged and not runs[2].diverged and len(runs[0].history) == 3
    alone = solo(bad)
    assert alone.diverged and len(alone.history) == len(runs[1].history)
    assert state_equal(runs[1].model.state_dict(), alone.model.state_dict())
    for cfg, run in zip(good, (runs[0], runs[2])):
        assert state_equal(run.model.state_dict(), solo(cfg).model.state_dict())


def test_an_interrupted_group_resumes_bit_identically(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path))
    cfgs = mixed(MLP.with_(train=replace(MLP.train, epochs=4)))

    def stop_at_2(epoch):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        groups.train_group(cfgs, progress=False, snapshot_every=0, on_epoch=stop_at_2)
    assert list((tmp_path / "groups").glob("*.json")), "a snapshot was kept"
    epochs_run = []
    resumed = groups.train_group(cfgs, progress=False, on_epoch=epochs_run.append)
    assert epochs_run == [3, 4]  # it went on from the snapshot after epoch 2
    assert not list((tmp_path / "groups").glob("*.json")), "the snapshot is removed once members are cached"
    fresh = groups.train_group(cfgs, use_cache=False, progress=False)
    assert [r.history[-1]["epoch"] for r in fresh] == [4] * 4
    for a, b in zip(resumed, fresh):
        assert state_equal(a.model.state_dict(), b.model.state_dict()) and a.history == b.history
    # each member is cached as its own run, where train_network() finds it
    for cfg, run in zip(cfgs, resumed):
        hit = train_network(cfg, device="cpu")
        assert hit.from_cache and state_equal(hit.model.state_dict(), run.model.state_dict())


def test_cached_members_are_not_retrained(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path))
    cfgs = mixed(MLP)
    first = train_network(cfgs[1], device="cpu")
    runs = groups.train_group(cfgs, progress=False)
    assert runs[1].from_cache and not runs[0].from_cache
    assert state_equal(runs[1].model.state_dict(), first.model.state_dict())


# ---------------------------------------------------------------------------------------------
# Forming groups
# ---------------------------------------------------------------------------------------------
def test_form_groups_by_what_members_must_share():
    a = MLP.with_(seed=1)
    b = MLP.with_(seed=2, corruption=0.4, train=replace(MLP.train, lr=1e-2))
    c = MLP.with_(train=replace(MLP.train, batch_size=32))  # another batch size: another group
    d = MLP.with_(model=MLPConfig(widths=(32, 32)))  # another shape
    e = MLP.with_(train=replace(MLP.train, epochs=5))  # another schedule
    r = MLP.with_(model=ResNetConfig())  # not groupable: alone
    assert groups.form_groups([a, c, b, d, e, r, a], 16) == [[0, 2, 6], [1], [3], [4], [5]]
    assert groups.form_groups([a, b, a, b, a], 2) == [[0, 1], [2], [3, 4]]
    assert [len(g) for g in groups.form_groups([a] * 18, 16)] == [9, 9]  # balanced
    with pytest.raises(ValueError, match="share everything but seed"):
        groups.train_group([a, c], use_cache=False)
    with pytest.raises(ValueError, match="cannot be trained in a group"):
        groups.train_group([r], use_cache=False)
    with pytest.raises(ValueError, match="group size 0"):
        groups.form_groups([a], 0)


def test_sweep_results_do_not_depend_on_the_group_size(tmp_path, monkeypatch):
    an = sweep.Measurements(grid=5, repetitions=2)
    cfgs = sweep.expand(MLP, seed=[0, 1, 2], corruption=[0.0, 1.0])
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "a"))
    grouped = sweep.run_sweep(cfgs, an, group_size=4)
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "b"))
    alone = sweep.run_sweep(cfgs, an, group_size=1)
    cols = ["run", "seed", "corruption", "train_acc", "test_acc", "auc_zero"]
    pd.testing.assert_frame_equal(grouped.runs[cols], alone.runs[cols], atol=1e-6)
    pd.testing.assert_frame_equal(grouped.curves, alone.curves, atol=1e-6)


def test_bf16_precision_trains_and_differs_from_fp32():
    cfg = MLP.with_(train=replace(MLP.train, epochs=10, precision="bf16"))
    half, full = solo(cfg), solo(MLP.with_(train=replace(MLP.train, epochs=10)))
    assert half.final["train_acc"] == pytest.approx(full.final["train_acc"], abs=0.05)
    assert not state_equal(half.model.state_dict(), full.model.state_dict())
    model, history, _, _ = fit(cfg, load_run_dataset(cfg), CPU, False)
    assert state_equal(half.model.state_dict(), model.state_dict()) and half.history == history
    with pytest.raises(ValueError, match="unknown precision"):
        TrainConfig(precision="fp8")


@pytest.mark.parametrize("base, tol", [(MLP, 1e-6), (CONV, 1e-4)], ids=["mlp", "conv-bn"])
def test_bf16_group_members_equal_their_solo_bf16_runs(base, tol):
    """A group in bf16 autocast (on the CPU) trains, and each member is its solo bf16 run: the
    stacked layers' batched products are cast as autocast casts a solo network's ``F.linear``."""
    cfgs = mixed(base.with_(train=replace(base.train, precision="bf16")))
    together = groups.train_group(cfgs, use_cache=False, progress=False)
    for cfg, run in zip(cfgs, together):
        alone = solo(cfg)
        assert not run.diverged and math.isfinite(run.final["train_loss"]), cfg
        assert max_diff(run.model.state_dict(), alone.model.state_dict()) <= tol, cfg
        assert run.final["train_loss"] == pytest.approx(alone.final["train_loss"], rel=1e-4)
