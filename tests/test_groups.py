"""singledir.nets.groups: networks trained together equal networks trained alone.

What is identical (the module docstring states it; these tests check it):
* a group of one is the plain ``torch.nn``/``torch.optim`` loop bit for bit (MLPs with Adam, SGD
  with momentum and weight decay, dropout; conv nets with and without batch norm);
* a member of a larger group equals its group of one: MLPs to 1e-6 (bit for bit on AVX2 and
  AVX-512), conv nets to 1e-5 after 8 Adam steps, whatever its group-mates' seeds, labels,
  learning rates or dropout;
* a network's bits do not depend on what it trained beside: a conv net always trains in groups of
  its kind's fixed size (a batch-norm conv net trained on its own beside a copy of itself), so it
  equals the same config handed over in any group, first or last, beside any group-mates;
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
from singledir.nets import groups, runs, workers
from singledir.nets.group_run import GroupRun
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


def group_of_one(cfg: RunConfig):
    """``cfg`` trained as a group of one (what :func:`groups.train_group` does for a network of a
    kind that trains alone, and not for a batch-norm conv net on the CPU): its final state and history."""
    with runs.torch_threads(runs.training_threads(cfg)):  # the threads train_group and fit train on
        g = GroupRun([cfg], [load_run_dataset(cfg)], CPU)
        g.run(False, None, None)
    return g.state(0), g.history[0]


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
    state, hist = group_of_one(cfg)
    assert state_equal(state, model.state_dict())
    assert hist == history
    if not bn:  # a conv net without batch norm trains alone on the CPU: train_group is the torch loop
        run = solo(cfg)
        assert state_equal(run.model.state_dict(), model.state_dict()) and run.history == history


@pytest.mark.parametrize("base, tol", [(MLP, 1e-6), (CONV, 1e-5)], ids=["mlp", "conv-bn"])
def test_members_equal_their_groups_of_one(base, tol):
    """8 steps of Adam (2 epochs of 4 batches for the conv nets, 5 for the MLPs)."""
    cfgs = mixed(base.with_(train=replace(base.train, checkpoints=(0.5, 2))))
    together = groups.train_group(cfgs, use_cache=False, progress=False)
    for cfg, run in zip(cfgs, together):
        with runs.torch_threads(runs.training_threads(cfg)):
            g = GroupRun([cfg], [load_run_dataset(cfg)], CPU)
            g.run(False, None, None)
        assert max_diff(run.model.state_dict(), g.state(0)) <= tol, cfg
        assert all(max_diff(run.checkpoints[k], g.checkpoints[0][k]) <= tol for k in (0.5, 2))
        assert [h["epoch"] for h in run.history] == [h["epoch"] for h in g.history[0]] == [0.5, 1, 2]
        for a, b in zip(run.history, g.history[0]):
            assert a["train_acc"] == pytest.approx(b["train_acc"], abs=0.01)
            assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-4)


@pytest.mark.parametrize("base", [MLP, CONV, CONV.with_(model=replace(CONV.model, batch_norm=False))],
                         ids=["mlp", "conv-bn", "conv-no-bn"])
def test_a_network_is_the_same_whatever_it_trained_beside(base):
    """Whatever the group a config is handed over in (alone, first or last, beside any
    group-mates), its weights and history are the same bits: the cache may keep any of them."""
    cfgs = mixed(base)
    alone = solo(cfgs[0])
    for together in (cfgs[:2], cfgs[::-1], [cfgs[0], cfgs[2]]):
        run = groups.train_group(together, use_cache=False, progress=False)[together.index(cfgs[0])]
        assert state_equal(run.model.state_dict(), alone.model.state_dict())
        assert run.history == alone.history


def test_how_each_kind_of_network_trains(monkeypatch):
    bn, plain = CONV, CONV.with_(model=replace(CONV.model, batch_norm=False))
    assert runs.fixed_group_size(MLP, "cpu") is None  # any size gives an MLP the same bits
    assert runs.fixed_group_size(bn, "cpu") == runs.CPU_GROUP_SIZES["convnet_bn"] == 2
    assert runs.fixed_group_size(plain, "cpu") == runs.CPU_GROUP_SIZES["convnet"] == 1
    assert runs.fixed_group_size(MLP.with_(model=ResNetConfig()), "cpu") == 1
    assert runs.fixed_group_size(plain, "cuda") == runs.GPU_CONV_GROUP_SIZE
    # a batch-norm conv net's own state differs from its group of one by rounding only
    state, _ = group_of_one(bn)
    paired = solo(bn).model.state_dict()
    assert not state_equal(state, paired) and max_diff(state, paired) <= 1e-5
    # the group's size rounds differently (4 members of 4 channels fill one AVX-512 vector of 16):
    # which is why it is fixed per kind, and why the key holds it (trained here, where the patched
    # size holds, not in a worker process)
    monkeypatch.setenv(workers.WORKER_ENV, "1")
    in_two = solo(bn).model.state_dict()
    monkeypatch.setitem(runs.CPU_GROUP_SIZES, "convnet_bn", 4)
    in_four = solo(bn).model.state_dict()
    assert not state_equal(in_four, in_two) and max_diff(in_four, in_two) <= 1e-5
    keys = {n: runs.network_key(bn, CPU) for n in (4, 2) if not monkeypatch.setitem(runs.CPU_GROUP_SIZES, "convnet_bn", n)}
    assert keys[4] != keys[2]
    mlp_key = runs.network_key(MLP, CPU)
    monkeypatch.setitem(runs.CPU_GROUP_SIZES, "mlp", 3)
    assert runs.network_key(MLP, CPU) == mlp_key
    monkeypatch.undo()
    # a sweep hands conv nets over in groups of their fixed size, whatever group size it is given
    cfgs = [plain.with_(seed=s) for s in range(3)] + [bn.with_(seed=s) for s in range(3)] + [MLP.with_(seed=s) for s in range(3)]
    assert sweep._groups(cfgs, list(range(9)), 4) == [[0], [1], [2], [3, 4], [5], [6, 7, 8]]


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
def test_bf16_group_members_equal_their_bf16_groups_of_one(base, tol):
    """A group in bf16 autocast (on the CPU) trains, and each member is its bf16 group of one: the
    stacked layers' batched products are cast as autocast casts a solo network's ``F.linear``."""
    cfgs = mixed(base.with_(train=replace(base.train, precision="bf16")))
    together = groups.train_group(cfgs, use_cache=False, progress=False)
    for cfg, run in zip(cfgs, together):
        state, history = group_of_one(cfg)
        assert not run.diverged and math.isfinite(run.final["train_loss"]), cfg
        assert max_diff(run.model.state_dict(), state) <= tol, cfg
        assert run.final["train_loss"] == pytest.approx(history[-1]["train_loss"], rel=1e-4)
