"""singledir.nets.solo: one network trained alone with ``torch.optim``, the reference that grouped
training reproduces (test_groups.py compares the two): an independent loop gives the same weights bit
for bit, checkpoints inside an epoch included, and a diverging run stops at the epoch it diverges."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from helpers import TINY
from singledir.nets.models import MLPConfig, build_model
from singledir.nets.runs import TrainConfig, evaluate, load_run_dataset, torch_threads
from singledir.nets.solo import fit

CPU = torch.device("cpu")


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_fit_is_an_independent_sgd_loop_bit_for_bit_with_its_checkpoints():
    """SGD with momentum and weight decay on 300 digits in batches of 64 (5 steps an epoch): the
    checkpoint 0.4 is the state after step round(0.4 * 5) = 2 of epoch 1."""
    tcfg = TrainConfig(epochs=2, batch_size=64, lr=0.05, optimizer="sgd", momentum=0.8, weight_decay=1e-3,
                       checkpoints=(0, 0.4, 2))
    cfg = TINY.with_(train=tcfg, seed=5, corruption=0.2)
    ds = load_run_dataset(cfg)
    model, history, checkpoints, diverged = fit(cfg, ds, CPU, progress=False)

    torch.manual_seed(5)
    net = build_model(cfg.model, ds.input_shape, ds.n_classes)
    init = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.8, weight_decay=1e-3)
    g = torch.Generator().manual_seed(5)
    net.train()
    with torch_threads(1):  # a small network trains on one thread (runs.SMALL_NETWORK_THREADS)
        for epoch in (1, 2):
            for step, idx in enumerate(torch.randperm(300, generator=g).split(64), 1):
                loss = F.cross_entropy(net(ds.x_train[idx]), ds.y_train[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                if (epoch, step) == (1, 2):
                    inner = {k: v.clone() for k, v in net.state_dict().items()}
    assert not diverged and not model.training
    assert state_equal(model.state_dict(), net.state_dict())
    assert sorted(checkpoints) == [0, 0.4, 2]
    assert state_equal(checkpoints[0], init) and state_equal(checkpoints[0.4], inner)
    assert state_equal(checkpoints[2], net.state_dict())
    assert [h["epoch"] for h in history] == [0, 0.4, 1, 2]
    net.eval()
    assert (history[-1]["test_loss"], history[-1]["test_acc"]) == evaluate(net, ds.x_test, ds.y_test)
    assert (history[-1]["train_loss"], history[-1]["train_acc"]) == evaluate(net, ds.x_train, ds.y_train)


def test_a_diverging_fit_stops_at_the_first_epoch_with_one_nan_row():
    cfg = TINY.with_(model=MLPConfig(widths=(32,)),
                     train=TrainConfig(epochs=3, batch_size=64, optimizer="sgd", lr=1e20))
    model, history, checkpoints, diverged = fit(cfg, load_run_dataset(cfg), CPU, progress=False)
    assert diverged and checkpoints == {}
    assert len(history) == 1 and history[0]["epoch"] == 1
    assert all(math.isnan(history[0][k]) for k in ("train_loss", "train_acc", "test_loss", "test_acc"))
