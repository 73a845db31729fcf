"""singledir.nets.runs: the run and training configurations (their errors, their dictionaries, the
cache key), evaluation, and checkpoints a run cannot keep."""
from __future__ import annotations

import math

import pytest
import torch

from helpers import TINY, TINY_CONV
from singledir.nets.models import MLPConfig
from singledir.nets.runs import RunConfig, TrainConfig, evaluate


def test_evaluate_known_answer():
    net = torch.nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.eye(2))
        net.bias.zero_()
    x = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0], [0.0, 0.0]])
    y = torch.tensor([0, 1, 0, 1])
    loss, acc = evaluate(net, x, y, batch_size=3)
    # argmax [0, 1, 1, 0 (tie goes to the first)] -> 2 of 4 right
    assert acc == 0.5
    lse = math.log(math.exp(2) + 1)
    expected = ((lse - 2) + (lse - 2) + lse + math.log(2)) / 4
    assert loss == pytest.approx(expected, rel=1e-6)
    net.train()
    evaluate(net, x, y)
    assert net.training  # mode restored


@pytest.mark.parametrize("bad", [(3,), (-1,), (0, 5)])
def test_checkpoints_outside_the_run_raise(bad):
    with pytest.raises(ValueError, match=r"outside \[0, epochs=2\]"):
        TrainConfig(epochs=2, checkpoints=bad)


@pytest.mark.parametrize("kwargs,words", [
    ({"optimizer": "rmsprop"}, ["'rmsprop'", "adam, sgd"]),
    ({"epochs": -1}, ["epochs", "-1"]),
    ({"epochs": 2.5}, ["epochs", "2.5"]),
    ({"batch_size": 0}, ["batch_size", "0"]),
    ({"lr": 0.0}, ["lr", "positive"]),
    ({"weight_decay": -1e-4}, ["weight_decay", "-0.0001"]),
])
def test_train_config_errors(kwargs, words):
    with pytest.raises(ValueError) as e:
        TrainConfig(**kwargs)
    for w in words:
        assert w in str(e.value)


def test_run_config_corruption_range():
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            RunConfig(corruption=bad)


def test_run_config_n_train_within_its_pool():
    assert RunConfig(n_train=100, n_pool=400).n_pool == 400
    with pytest.raises(ValueError, match="n_train 500 is larger than n_pool 400"):
        RunConfig(n_train=500, n_pool=400)


def test_run_config_dict_round_trip():
    for cfg in (TINY, TINY_CONV.with_(corruption=0.25, train=TrainConfig(epochs=3, checkpoints=(0, 3))),
                RunConfig()):
        d = cfg.to_dict()
        assert RunConfig.from_dict(d) == cfg
    d = TINY.to_dict()
    assert d["model"] == {"kind": "mlp", "widths": [32, 16], "dropout": 0.0}
    assert d["train"]["checkpoints"] == [] and d["dataset"] == "digits" and d["n_train"] == 300


def test_unknown_train_parameter():
    with pytest.raises(ValueError) as e:
        RunConfig.from_dict({"train": {"epochz": 3}})
    msg = str(e.value)
    assert "epochz" in msg and "train parameter" in msg
    for allowed in ("epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "checkpoints"):
        assert allowed in msg


def test_unknown_run_parameter():
    with pytest.raises(ValueError) as e:
        RunConfig.from_dict({"sed": 1})
    assert "sed" in str(e.value) and "seed" in str(e.value) and "corruption" in str(e.value)


def test_unknown_model_kind_in_a_run():
    with pytest.raises(ValueError, match=r"unknown model kind 'vit'; allowed: mlp, convnet\b"):
        RunConfig.from_dict({"model": {"kind": "vit"}})


def test_cache_key_depends_on_every_field():
    from singledir.base.cache import code_version, config_key
    from singledir.nets.runs import TRAINING_MODULE

    def key(c):
        return config_key({"run": c.to_dict(), "code": code_version(TRAINING_MODULE)})

    variants = [TINY, TINY.with_(seed=1), TINY.with_(corruption=0.1), TINY.with_(n_train=200),
                TINY.with_(model=MLPConfig(widths=(32, 17))), TINY.with_(train=TrainConfig(epochs=3)),
                TINY.with_(dataset="mnist5k")]
    assert len({key(v) for v in variants}) == len(variants)
    assert key(TINY) == key(RunConfig.from_dict(TINY.to_dict()))


def test_a_small_network_trains_on_one_thread_and_its_key_says_so():
    """MLPs and the project's conv nets train on SMALL_NETWORK_THREADS (1) threads whatever the
    process's count, so the key of such a network is the same on a machine with any number of cores,
    and training gives the process its thread count back; other networks keep the process's count."""
    from singledir.nets.models import ResNetConfig
    from singledir.nets.runs import network_key, torch_threads, training_threads
    from singledir.nets.training import train_network

    mlp = RunConfig(dataset="digits", n_train=100, train=TrainConfig(epochs=1, batch_size=50))
    resnet = mlp.with_(model=ResNetConfig())
    keys = {}
    for n in (1, 2):
        with torch_threads(n):
            assert training_threads(mlp) == 1 and training_threads(resnet) == n
            keys[n] = (network_key(mlp, torch.device("cpu")), network_key(resnet, torch.device("cpu")))
            train_network(mlp, use_cache=False, device="cpu")
            assert torch.get_num_threads() == n
    assert keys[1][0] == keys[2][0] and keys[1][1] != keys[2][1]
