"""singledir.nets.workers: small networks train on one thread in worker processes, with the same
bits whichever process asks; group sizes; progress notes that can travel to a worker."""
from __future__ import annotations

import os
import pickle

import torch

from singledir.base.progress import PHASE_SHARE_ENV
from singledir.data.raw import DATASETS
from singledir.nets import workers
from singledir.nets.models import MLPConfig, ResNetConfig
from singledir.nets.runs import RunConfig, TrainConfig

CPU = torch.device("cpu")
MLP = RunConfig(dataset="digits", n_train=200, model=MLPConfig(widths=(16,)), train=TrainConfig(epochs=1, batch_size=50))


def test_which_groups_go_to_a_worker(monkeypatch):
    assert workers.trains_in_worker([MLP], None, CPU)
    assert not workers.trains_in_worker([MLP.with_(model=ResNetConfig())], None, CPU)  # not a small network
    assert not workers.trains_in_worker([MLP], None, torch.device("meta"))  # not the CPU
    monkeypatch.setitem(DATASETS, "mine", DATASETS["digits"])
    assert not workers.trains_in_worker([MLP.with_(dataset="mine")], None, CPU)  # a worker could not load it
    assert workers.trains_in_worker([MLP.with_(dataset="mine")], ["handed over"], CPU)
    assert workers.loadable_by_name(MLP.with_(dataset="folder:/data")) and not workers.loadable_by_name(
        MLP.with_(dataset="mine"))
    monkeypatch.setenv(workers.WORKER_ENV, "1")  # a worker trains its groups itself
    assert workers.in_worker() and not workers.trains_in_worker([MLP], None, CPU)


def _worker_state() -> tuple:
    return (os.environ.get(workers.WORKER_ENV), os.environ.get(PHASE_SHARE_ENV), torch.get_num_threads(),
            os.environ.get("SINGLEDIR_CACHE"))


def test_a_worker_runs_on_one_thread_with_the_callers_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path))
    flag, share, threads, cache = workers.run_in_worker(_worker_state)
    n = workers.workers_for_this_machine()
    assert flag == "1" and float(share) == 1 / n and threads == 1 and cache == str(tmp_path)


def test_a_network_asked_for_here_is_the_one_a_worker_trains(tmp_path, monkeypatch):
    """train_network in this process sends a small network to a worker, which loads the data itself:
    the same bits as a worker of the sweeps' processes executor gives, cached under one key."""
    from singledir.nets.runs import load_cached
    from singledir.nets.training import train_network

    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path))
    here = train_network(MLP)
    assert not here.from_cache and load_cached(MLP, CPU) is not None
    there = workers.run_in_worker(train_network, MLP, use_cache=False)
    assert all(torch.equal(a, b) for a, b in zip(here.model.state_dict().values(), there.model.state_dict().values()))


def test_epoch_notes_travel_and_note_every_20_s_and_the_last_epoch(tmp_path, monkeypatch):
    """On a clock the test moves: no note before 20 s have passed since the last one, a note at
    20 s, and the last epoch always; the clock's start travels with the pickled notes."""
    import types

    now = [500.0]
    monkeypatch.setattr(workers, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    log = tmp_path / "progress.log"
    monkeypatch.setenv("SINGLEDIR_PROGRESS_LOG", str(log))
    notes = pickle.loads(pickle.dumps(workers.EpochNotes("sweep x: ", 4, 5)))
    now[0] += 19.0
    notes(1)  # 19 s: nothing yet
    assert not log.exists()
    now[0] += 6.0
    notes(2)  # 25 s since the start
    now[0] += 10.0
    notes(3)  # 10 s since the last note
    now[0] += 62.0
    notes(5)  # the last epoch
    assert log.read_text().splitlines() == ["sweep x: training 4 network(s) together: epoch 2/5, 25s",
                                            "sweep x: training 4 network(s) together: epoch 5/5, 1:37"]


def test_group_sizes_on_the_cpu_are_the_measured_ones():
    from singledir.nets.models import ConvNetConfig

    conv = MLP.with_(model=ConvNetConfig(width=0.125))
    assert workers.default_group_size(MLP, "cpu") == workers.CPU_GROUP_SIZES["mlp"] == 8
    assert workers.default_group_size(conv, "cpu") == 2
    assert workers.default_group_size(conv.with_(model=ConvNetConfig(width=0.125, batch_norm=False)), "cpu") == 1
