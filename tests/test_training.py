"""singledir.nets.training: deterministic training and its checkpoints (the configurations themselves:
test_runs.py)."""
from __future__ import annotations

import math

import pytest
import torch

from helpers import TINY, TINY_CONV
from singledir.data import dataset as dataset_mod
from singledir.nets.models import MLPConfig, build_model
from singledir.nets.runs import RunConfig, TrainConfig, evaluate, load_run_dataset, torch_threads, training_threads
from singledir.nets.training import train_network


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def tiny_run():
    return train_network(TINY, use_cache=False, device="cpu")


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [TINY, TINY_CONV], ids=["mlp", "convnet"])
def test_same_config_same_weights_bit_for_bit(cfg):
    a = train_network(cfg, use_cache=False, device="cpu")
    b = train_network(cfg, use_cache=False, device="cpu")
    assert state_equal(a.model.state_dict(), b.model.state_dict())
    assert a.history == b.history
    assert not a.from_cache and not b.from_cache and not a.diverged
    c = train_network(cfg.with_(seed=1), use_cache=False, device="cpu")
    sa, sc = a.model.state_dict(), c.model.state_dict()
    assert sa.keys() == sc.keys()
    weights = [k for k in sa if sa[k].is_floating_point() and "running" not in k]
    assert all(not torch.equal(sa[k], sc[k]) for k in weights)


@pytest.mark.parametrize("tcfg", [
    TrainConfig(epochs=2, batch_size=64, lr=3e-3),
    TrainConfig(epochs=2, batch_size=50, lr=0.05, optimizer="sgd", momentum=0.8, weight_decay=1e-3),
], ids=["adam", "sgd"])
@pytest.mark.parametrize("seed", [0, 7])
def test_training_equals_a_naive_loop(tcfg, seed):
    """An independent implementation of the documented loop: the seed sets the initialization and
    the data order; one optimizer step per shuffled batch; the same weights bit for bit."""
    import torch.nn.functional as F

    cfg = TINY.with_(train=tcfg, seed=seed, corruption=0.2)
    ds = load_run_dataset(cfg)
    torch.manual_seed(seed)
    net = build_model(cfg.model, ds.input_shape, ds.n_classes)
    if tcfg.optimizer == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=tcfg.lr, momentum=tcfg.momentum, weight_decay=tcfg.weight_decay)
    g = torch.Generator().manual_seed(seed)
    net.train()
    with torch_threads(training_threads(cfg)):  # a small network trains on one thread (runs.SMALL_NETWORK_THREADS)
        for _ in range(tcfg.epochs):
            for idx in torch.randperm(len(ds.y_train), generator=g).split(tcfg.batch_size):
                loss = F.cross_entropy(net(ds.x_train[idx]), ds.y_train[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    assert training_threads(cfg) == 1
    run = train_network(cfg, use_cache=False, device="cpu")
    assert state_equal(run.model.state_dict(), net.state_dict())


@pytest.mark.parametrize("cfg", [TINY.with_(model=MLPConfig(widths=(32, 16), dropout=0.3)), TINY_CONV],
                         ids=["mlp-dropout", "convnet"])
def test_training_does_not_depend_on_the_global_rng(cfg):
    """Trained in this process (a callback of the caller's own keeps a group here; otherwise a small
    network trains in a worker process, which this process's generator never reaches), with
    torch's global generator in another state at the start and drawn from between the epochs:
    the same weights. Dropout draws masks and the data order is shuffled on every epoch."""
    from singledir.nets.groups import train_group

    def trained(seed: int, draws: int):
        torch.manual_seed(seed)
        return train_group([cfg], device="cpu", use_cache=False, progress=False,
                           on_epoch=lambda epoch: torch.rand(draws))[0]

    a, b = trained(123, 1), trained(456, 7)
    assert state_equal(a.model.state_dict(), b.model.state_dict()) and a.history == b.history


def test_initial_weights_are_the_seeded_build(tiny_run):
    cfg = TINY.with_(train=TrainConfig(epochs=0))
    run = train_network(cfg, use_cache=False, device="cpu")
    torch.manual_seed(0)
    ref = build_model(TINY.model, (1, 8, 8), 10)
    assert state_equal(run.model.state_dict(), ref.state_dict())
    # an untrained network's history is its evaluation at epoch 0
    from singledir.nets.runs import evaluate, load_run_dataset
    ds = load_run_dataset(cfg)
    assert [h["epoch"] for h in run.history] == [0]
    assert (run.final["test_loss"], run.final["test_acc"]) == evaluate(ref, ds.x_test, ds.y_test)
    assert not state_equal(tiny_run.model.state_dict(), ref.state_dict())  # training moved them


def test_history_is_the_evaluation_of_the_model(tiny_run):
    run = tiny_run
    assert [h["epoch"] for h in run.history] == [1, 2]
    assert set(run.history[0]) == {"epoch", "train_loss", "train_acc", "test_loss", "test_acc"}
    ds = load_run_dataset(TINY)
    tr_loss, tr_acc = evaluate(run.model, ds.x_train, ds.y_train)
    te_loss, te_acc = evaluate(run.model, ds.x_test, ds.y_test)
    assert run.final == {"epoch": 2, "train_loss": tr_loss, "train_acc": tr_acc,
                         "test_loss": te_loss, "test_acc": te_acc}
    assert run.final["train_acc"] * 300 == round(run.final["train_acc"] * 300)  # a count over 300
    assert not run.model.training  # returned in eval mode


def test_training_learns_digits():
    # seeded, hence deterministic: a small MLP on all of digits generalizes after 5 epochs
    run = train_network(RunConfig(dataset="digits", model=MLPConfig(widths=(64,)), train=TrainConfig(epochs=5, batch_size=64),
                          seed=0), use_cache=False, device="cpu")
    assert run.final["test_acc"] > 0.85
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]


def test_run_trains_on_its_corrupted_labels():
    cfg = TINY.with_(corruption=0.5, seed=3)
    ds = load_run_dataset(cfg)
    clean = dataset_mod.load_dataset("digits", n_train=300, n_test=100)
    y_ref, c_ref = dataset_mod.corrupt_labels(clean.y_train, 0.5, seed=3)
    assert torch.equal(ds.y_train, y_ref) and torch.equal(ds.corrupted, c_ref)
    run = train_network(cfg, use_cache=False, device="cpu")
    _, acc = evaluate(run.model, ds.x_train, ds.y_train)
    assert run.final["train_acc"] == acc  # measured on the labels it was trained on


def test_divergence_stops_and_is_reported():
    cfg = RunConfig(dataset="digits", n_train=300, n_test=100, model=MLPConfig(widths=(32,)),
                    train=TrainConfig(epochs=3, batch_size=64, optimizer="sgd", lr=1e20), seed=0)
    run = train_network(cfg, use_cache=False, device="cpu")
    assert run.diverged
    assert len(run.history) == 1 and run.history[0]["epoch"] == 1
    assert all(math.isnan(run.history[0][k]) for k in ("train_loss", "train_acc", "test_loss", "test_acc"))


def test_passed_dataset_is_used():
    ds = load_run_dataset(TINY)
    a = train_network(TINY, use_cache=False, device="cpu", dataset=ds)
    b = train_network(TINY, use_cache=False, device="cpu")
    assert state_equal(a.model.state_dict(), b.model.state_dict())


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------
def test_checkpoints_are_kept_and_load():
    cfg = TINY.with_(train=TrainConfig(epochs=2, batch_size=64, lr=3e-3, checkpoints=(2, 0, 1)))
    run = train_network(cfg, use_cache=False, device="cpu")
    assert sorted(run.checkpoints) == [0, 1, 2]
    torch.manual_seed(0)
    init = build_model(cfg.model, (1, 8, 8), 10)
    assert state_equal(run.checkpoints[0], init.state_dict())
    assert state_equal(run.checkpoints[2], run.model.state_dict())
    m1 = run.at_epoch(1)
    assert state_equal(m1.state_dict(), run.checkpoints[1])
    assert not m1.training and m1 is not run.model
    assert not state_equal(run.checkpoints[1], run.checkpoints[2])
    # epoch 1 of a 2-epoch run is the final state of the same run stopped after 1 epoch
    one = train_network(cfg.with_(train=TrainConfig(epochs=1, batch_size=64, lr=3e-3)), use_cache=False, device="cpu")
    assert state_equal(one.model.state_dict(), run.checkpoints[1])
    ds = load_run_dataset(cfg)
    # every checkpoint is evaluated, the initialization included
    assert [h["epoch"] for h in run.history] == [0, 1, 2]
    assert evaluate(init, ds.x_test, ds.y_test) == (run.history[0]["test_loss"], run.history[0]["test_acc"])
    assert evaluate(m1, ds.x_test, ds.y_test) == (run.history[1]["test_loss"], run.history[1]["test_acc"])
    with pytest.raises(KeyError, match=r"kept: \[0, 1, 2\]"):
        run.at_epoch(3)


def test_checkpoint_tensors_are_copies(tiny_run):
    cfg = TINY.with_(train=TrainConfig(epochs=1, batch_size=64, lr=3e-3, checkpoints=(1,)))
    run = train_network(cfg, use_cache=False, device="cpu")
    before = {k: v.clone() for k, v in run.checkpoints[1].items()}
    with torch.no_grad():
        for p in run.model.parameters():
            p.add_(1.0)
    assert state_equal(run.checkpoints[1], before)


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
def test_integral_float_epochs_and_batch_size_train_like_ints():
    cfg = TINY.with_(train=TrainConfig(epochs=2.0, batch_size=64.0, lr=3e-3))
    run = train_network(cfg, use_cache=False, device="cpu")
    ref = train_network(TINY, use_cache=False, device="cpu")
    assert state_equal(run.model.state_dict(), ref.model.state_dict())
    assert cfg.to_dict() == TINY.to_dict()  # and the same cache key


def test_train_docstring_example():
    import doctest

    (t,) = doctest.DocTestFinder().find(train_network, "train_network", globs={
        "train_network": train_network, "RunConfig": RunConfig, "TrainConfig": TrainConfig})
    result = doctest.DocTestRunner().run(t, out=lambda s: None)
    assert result.attempted == 2 and result.failed == 0
