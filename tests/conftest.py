"""Shared fixtures: every test gets its own result cache, data roots never leak between tests, and
no process the session starts outlives it."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import NamedTuple

import pytest

from helpers import SESSION_ENV, describe, end_processes, processes_marked
from singledir.data import dataset

ROOT = Path(__file__).resolve().parents[1]

# Every process this session starts (workers, kernels, scripts, and what they start) inherits this
# mark, so that one whose parent died, adopted by PID 1, is still found as this session's; other
# sessions running beside this one on the machine have marks of their own.
SESSION = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
os.environ[SESSION_ENV] = SESSION
# how long processes may take to exit once the session's pools are closed (seconds)
LEFTOVER_GRACE_S = float(os.environ.get("SINGLEDIR_TEST_LEFTOVER_GRACE", "20"))


def _lives_until_exit() -> set[int]:
    """This process's helpers that end only when it exits: multiprocessing's resource tracker and
    fork server (when started)."""
    from multiprocessing import forkserver, resource_tracker

    pids = {getattr(resource_tracker._resource_tracker, "_pid", None),
            getattr(forkserver._forkserver, "_forkserver_pid", None)}
    return {p for p in pids if p}


def session_processes() -> list:
    """Processes this session started that are still running: descendants of this process, and
    processes anywhere that carry this session's mark (zombies, already ended, are left out)."""
    import psutil

    found = {}
    try:
        found.update((p.pid, p) for p in psutil.Process().children(recursive=True))
    except psutil.Error:
        pass
    found.update((p.pid, p) for p in processes_marked(SESSION_ENV, SESSION))
    keep = _lives_until_exit()
    out = []
    for pid, p in sorted(found.items()):
        try:
            if pid not in keep and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:  # ended meanwhile
            continue
    return out


def _close_the_packages_pools() -> None:
    """Close now what the package closes at exit (atexit, which runs after this check): its worker
    process pools (singledir.nets.workers) and its Dask clusters (singledir.experiments.executors),
    found as every live ProcessPoolExecutor and Dask client of this process, however the package
    keeps them."""
    import gc
    from concurrent.futures import ProcessPoolExecutor

    client_type = getattr(sys.modules.get("distributed"), "Client", None) or ProcessPoolExecutor
    with warnings.catch_warnings():  # isinstance on some of torch's objects warns of deprecations
        warnings.simplefilter("ignore")
        objects = gc.get_objects()
        pools = [o for o in objects if isinstance(o, ProcessPoolExecutor)]
        clients = [o for o in objects if isinstance(o, client_type) and not isinstance(o, ProcessPoolExecutor)]
        del objects
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)
    for client in clients:
        try:
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
        except Exception:  # already closed
            pass


@pytest.fixture(scope="session", autouse=True)
def _no_process_outlives_the_session():
    """After the last test (this fixture is set up first, so torn down last): the package's pools
    are closed, processes get LEFTOVER_GRACE_S to exit, and any process of this session still
    running then is ended and fails the run, named by pid and command line."""
    yield
    _close_the_packages_pools()
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    left = session_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.25)
        left = session_processes()
    if left:
        names = "\n".join(describe(p) for p in left)
        end_processes(left)
        pytest.fail(f"{len(left)} process(es) started by this test session outlived it by {LEFTOVER_GRACE_S:.0f} s "
                    f"(now ended):\n{names}", pytrace=False)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Point ``$SINGLEDIR_CACHE`` at a fresh folder so no test reads or pollutes a shared cache."""
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def fresh_raw():
    """Clear the raw-dataset memo before and after a test that changes where data is looked for."""
    dataset._raw.cache_clear()
    yield
    dataset._raw.cache_clear()


@pytest.fixture(scope="session")
def digits():
    """sklearn's digits, 300 train / 100 test: the suite's small real dataset."""
    return dataset.load_dataset("digits", n_train=300, n_test=100)


@pytest.fixture(scope="session")
def digits_full():
    return dataset.load_dataset("digits")


@pytest.fixture(scope="session")
def mnist5k():
    return dataset.load_dataset("mnist5k")



class SmokeBuild(NamedTuple):
    build_dir: Path
    times: dict
    chapters: dict
    cache: Path


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory):
    """Every chapter executed once with params/smoke.yml (no HTML), in a cache of its own that
    also holds the example network of chapter 7, trained for one epoch."""
    from singledir.book import cli
    from singledir.book import params as params_mod

    root = tmp_path_factory.mktemp("smoke")
    build_dir, cache = root / "_build", root / "cache"
    weights = cache / "examples" / "lenet-mnist5k.pt"
    subprocess.run([sys.executable, "examples/lenet.py", "--epochs", "1", "--out", str(weights)], cwd=ROOT,
                   check=True, capture_output=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SINGLEDIR_CACHE", str(cache))
        times = cli.build(ROOT / "params" / "smoke.yml", build_dir=build_dir, html=False, progress=False)
    return SmokeBuild(build_dir, times, params_mod.chapter_paths(), cache)
