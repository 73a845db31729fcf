"""Where a sweep's groups run besides this process: worker processes on this machine, or Dask.

:func:`singledir.experiments.sweep.run_sweep` hands each executor its groups and a ``worker``
function (one group in, its measured runs out) and takes the results as groups finish.
"""
from __future__ import annotations

import os
import time

from ..base.cache import cache_dir
from ..measure.units import measures_fingerprint
from ..nets.runs import RunConfig, default_device
from ..nets.workers import call_with_env, loadable_by_name, passed_env, process_pool


def stay_in_process(configs: list[RunConfig], measurements) -> str | None:
    """Why a "processes" sweep runs in this process instead (None: it need not): a fresh worker
    knows only the built-in datasets and per-unit measures, and on a GPU groups are the parallelism."""
    if default_device().type != "cpu":
        return "on a GPU, networks train in groups in this process"
    own = sorted({c.dataset for c in configs if not loadable_by_name(c)})
    if own:
        return f"dataset(s) {', '.join(own)} are registered in this process only"
    if measurements.units and measures_fingerprint():
        return "per-unit measures registered in this process are unknown to a fresh worker"
    return None


def run_processes(worker, configs, groups, a_dict, n_workers: int, done, label: str) -> None:
    """The "processes" executor (in this process instead on a GPU, or when a dataset or per-unit
    measure registered in this process would be missing from the workers: :func:`stay_in_process`).
    Each group on one of ``n_workers`` worker processes (:func:`singledir.nets.workers.process_pool`);
    results arrive as groups finish. Phase seconds a worker records count ``1 / n_workers`` each, so
    a chapter's time split stays a split of its wall-clock seconds. A worker that dies (out of
    memory, killed) stops the sweep with an error; the groups finished before it stay cached."""
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    pool = process_pool(n_workers)
    futures = {pool.submit(call_with_env, passed_env(), worker, [configs[i].to_dict() for i in grp], a_dict,
                           str(cache_dir()), 1, label): grp for grp in groups}
    try:
        for fut in as_completed(futures):
            for i, payload in zip(futures[fut], fut.result()):
                done(i, payload)
    except BrokenProcessPool:
        raise RuntimeError("a worker process of the sweep died (out of memory, or killed); the runs finished "
                           "before it are cached and a rerun resumes from them. To run in this process "
                           "instead: executor 'local'") from None


_LOCAL_CLUSTERS: dict[int, object] = {}


def local_client(n_workers: int = 2):
    """A Dask client on a ``LocalCluster`` of ``n_workers`` single-threaded processes, started once
    per process and reused by later sweeps (closed when the process exits)."""
    from distributed import Client, LocalCluster

    client = _LOCAL_CLUSTERS.get(n_workers)
    if client is None or client.status != "running":
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)
        _LOCAL_CLUSTERS[n_workers] = client
        import atexit

        atexit.register(lambda c=client: (c.close(), c.cluster.close()))
    return client


def run_dask(worker, configs, groups, a_dict, address, n_workers, threads_per_worker, done) -> None:
    from distributed import Client, as_completed

    client = Client(address) if address is not None else local_client(n_workers)
    try:
        root = str(cache_dir())
        futures = {client.submit(worker, [configs[i].to_dict() for i in grp], a_dict, root, threads_per_worker,
                                 key=f"singledir-group-{grp[0]}-{os.getpid()}-{time.time_ns()}", pure=False): grp
                   for grp in groups}
        for fut in as_completed(futures):
            for i, payload in zip(futures[fut], fut.result()):
                done(i, payload)
    finally:
        if address is not None:
            client.close()
