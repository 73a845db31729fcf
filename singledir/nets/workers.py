"""Worker processes that train small networks, one thread each.

A small network (an MLP or the project's conv net) trains on one CPU thread
(:data:`singledir.nets.runs.SMALL_NETWORK_THREADS`), and always in a worker process started on one
thread: the math libraries pick their kernels by the thread count a process starts with, so a
process started on two threads and switched to one rounds differently from one started on one
(measured: 1e-4 in the training loss of an MLP after two epochs). Training in a worker makes a
network's bits those of its config on any machine of the same instruction set, whatever
its core count or the process that asked for it. The pool is started once per process (a worker's
start-up, importing torch, costs about 2 s) and also serves the sweeps' ``"processes"`` executor,
which keeps all its workers busy at once.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Sequence

import torch

from ..base.progress import PHASE_SHARE_ENV, duration, note
from ..data.raw import BUILTIN
from .models import build_model
from .runs import (CPU_GROUP_SIZES, RunConfig, default_device, fixed_group_size, load_run_dataset, network_kind,
                   small_network)

WORKER_ENV = "SINGLEDIR_WORKER"  # set in a worker process
# what a worker takes from the environment of the process that hands it work
PASSED_ENV = ("SINGLEDIR_CACHE", "SINGLEDIR_RESULTS", "SINGLEDIR_PROGRESS_LOG", "SINGLEDIR_DATA")

_POOLS: dict[int, object] = {}  # n_workers -> a process pool


def in_worker() -> bool:
    """Whether this process is one of the pool's workers."""
    return os.environ.get(WORKER_ENV) == "1"


def workers_for_this_machine() -> int:
    """One worker per CPU core."""
    return os.cpu_count() or 1


def process_pool(n_workers: int | None = None):
    """A pool of ``n_workers`` (default: one per core) fresh single-thread processes (spawned: no
    state of this process, a notebook kernel's included, is copied into them), started once per
    process and reused; shut down at exit. The workers end with this process however it ends,
    SIGKILL included (:func:`end_with_parent`), and with them the pool's resource tracker."""
    from multiprocessing import get_context

    n = int(n_workers or workers_for_this_machine())
    pool = _POOLS.get(n)
    if pool is None or getattr(pool, "_broken", False):
        pool = _Pool(max_workers=n, mp_context=get_context("spawn"), initializer=_start,
                     initargs=(n, os.getpid(), False))
        _POOLS[n] = pool
        import atexit

        atexit.register(pool.shutdown)
    return pool


class _Pool(ProcessPoolExecutor):
    """A pool whose workers end with this process (:func:`end_with_parent`). A worker is started by
    whichever thread submits while none is idle, and the parent-death signal follows the thread that
    started a process: it is armed only in a worker started from the main thread (a thread of the
    worker watches its parent in every case)."""

    def _spawn_process(self):
        main = threading.current_thread() is threading.main_thread()
        self._initargs = (*self._initargs[:2], main)
        super()._spawn_process()


def passed_env() -> dict[str, str]:
    """This process's values of :data:`PASSED_ENV`, for :func:`run_in_worker`."""
    return {k: os.environ[k] for k in PASSED_ENV if k in os.environ}


def run_in_worker(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in one of the pool's workers, with this process's cache, results
    folder and progress log; its result (or its exception) comes back."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return process_pool().submit(call_with_env, passed_env(), fn, *args, **kwargs).result()
    except BrokenProcessPool:
        raise RuntimeError("a worker process died (out of memory, or killed); networks finished before it "
                           "are cached, and a rerun resumes from them") from None


def call_with_env(env: dict[str, str], fn, *args, **kwargs):
    """In a worker: take ``env`` (a pool's worker serves one caller after another), then call ``fn``."""
    for k in PASSED_ENV:
        os.environ.pop(k, None)
    os.environ.update(env)
    return fn(*args, **kwargs)


def _start(n_workers: int, parent: int | None = None, death_signal: bool = False) -> None:
    if parent is not None:
        end_with_parent(parent, death_signal)
    os.environ[WORKER_ENV] = "1"
    os.environ[PHASE_SHARE_ENV] = repr(1.0 / n_workers)  # n workers side by side share the machine
    torch.set_num_threads(1)


def end_with_parent(parent: int, death_signal: bool = True, interval: float = 0.5) -> None:
    """Make this process end when process ``parent`` ends, however it ends (SIGKILL included): a
    worker left behind keeps its memory (hundreds of MB) and the pool's resource tracker alive. On
    Linux the kernel sends SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``; only where the
    parent started this process from its main thread, as the signal follows the starting thread);
    everywhere, a daemon thread checks every ``interval`` seconds that the parent is still this
    process's parent and exits at once when it is not."""
    import signal

    if death_signal and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass  # the thread below still watches
    if os.getppid() != parent:  # died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)  # no clean-up: there is nobody left to hand a result to

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def trains_in_worker(configs: Sequence[RunConfig], datasets, device: torch.device) -> bool:
    """Whether a group is sent to a worker process (:mod:`singledir.nets.workers`): on the CPU, from
    any process but a worker, when the worker can load its data (a built-in dataset or a folder, or
    datasets handed over)."""
    if device.type != "cpu" or in_worker() or not small_network(configs[0]):
        return False
    return datasets is not None or all(loadable_by_name(c) for c in configs)


def loadable_by_name(config: RunConfig) -> bool:
    """Whether a fresh worker process can load ``config``'s data by its name."""
    return config.dataset in BUILTIN or config.dataset.startswith("folder:")


class EpochNotes:
    """An ``on_epoch`` that notes in the progress log, every 20 s or so, which epoch a group of
    ``n`` networks has reached (picklable, so a worker process can take it)."""

    def __init__(self, label: str, n: int, epochs: int):
        self.label, self.n, self.epochs = label, n, epochs
        self.t0 = self.last = time.monotonic()

    def __call__(self, epoch: int) -> None:
        if time.monotonic() - self.last >= 20 or epoch == self.epochs:
            self.last = time.monotonic()
            note(f"{self.label}training {self.n} network(s) together: epoch {epoch}/{self.epochs}, "
                 f"{duration(time.monotonic() - self.t0)}")


def default_group_size(config: RunConfig, device: torch.device | str | None = None,
                       cap: int = 16) -> int:
    """How many networks like ``config`` to train at once: a conv net's fixed group size
    (:func:`singledir.nets.runs.fixed_group_size`); for an MLP on the CPU the measured best of
    :data:`CPU_GROUP_SIZES`, on a GPU as many as fit in half its free memory by a per-member
    estimate (weights, gradients and Adam moments, and the activations of one batch kept for the
    backward pass), at most ``cap``."""
    device = torch.device(device) if device is not None else default_device()
    fixed = fixed_group_size(config, device)
    if fixed is not None:  # a conv net's, whose bits depend on it
        return fixed
    if device.type != "cuda":
        return min(cap, CPU_GROUP_SIZES[network_kind(config)])
    ds = load_run_dataset(config)
    net = build_model(config.model, ds.input_shape, ds.n_classes)
    params = sum(p.numel() for p in net.parameters())
    acts = 0
    x = ds.x_train[:1]
    with torch.no_grad():
        for _, stage in net.stages():
            x = stage(x)
            acts += x.numel()
    per_member = 4 * (4 * params + 3 * acts * config.train.batch_size)
    free, _ = torch.cuda.mem_get_info(device)
    return max(1, min(cap, int(0.5 * free // max(per_member, 1))))
