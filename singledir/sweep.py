"""Sweeps: train and analyse many networks, in-process or on Dask, resumable, one tidy table.

A sweep is a list of :class:`~singledir.train.RunConfig` and one :class:`Analysis` applied to
each trained network. Every finished run's result is cached on disk as soon as it arrives (keyed
by the run, the analysis and the code version), so an interrupted sweep (Ctrl-C, a killed process,
a crashed worker) resumes where it stopped and loses no finished run. A run whose loss diverges is
recorded with ``diverged=True`` and NaN measurements, and the sweep goes on.

``executor="dask"`` runs the same sweep on Dask distributed: a ``LocalCluster`` on this machine,
or an existing scheduler given by ``address`` (a SLURM or Kubernetes cluster started with
dask-jobqueue or dask-kubernetes). Results come back to the calling process, which writes the
cache, so workers need no shared disk.
"""
from __future__ import annotations

import itertools
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from . import analysis as _analysis
from . import cache as _cache
from . import information, perturb, selectivity
from . import progress as _progress
from . import record as _record
from . import train as _train
from .data import random_subset
from .models import unit_layer_names


@dataclass(frozen=True)
class Analysis:
    """What to measure on each trained network of a sweep."""

    layers: tuple[str, ...] | None = None  # None: every layer with units, pooled into one order
    split: str = "train"  # data of the curves: "train" (the labels trained on) or "test"
    n_curve: int | None = None  # examples of that split used for curves (None: all)
    grid: int = 21  # ablated counts from none to all
    repetitions: int = 10  # random ablation orders
    baselines: tuple[str, ...] = ("zero",)  # "zero" and/or "mean" (per-unit training mean)
    metrics: tuple[str, ...] = ("accuracy", "loss")  # add "top5" for ImageNet-style top-5 accuracy
    noise_scales: tuple[float, ...] = ()  # noise curve scales (empty: no noise curve)
    noise_repetitions: int = 3
    checkpoints: bool = False  # also measure the curve at every kept checkpoint
    units: bool = False  # per-unit table on the test set (selectivity, MI, importance, L1)
    n_unit_data: int | None = None  # test examples for the per-unit table (seeded subset; None: all)
    n_bins: int = information.N_BINS  # equal-frequency bins of the mutual-information estimator
    seed: int = 0  # seed of ablation orders and noise

    def __post_init__(self):
        for name in ("layers", "baselines", "noise_scales", "metrics"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, tuple(v))
        if self.split not in ("train", "test"):
            raise ValueError(f"analysis split {self.split!r}: allowed 'train' or 'test'")
        bad = set(self.baselines) - {"zero", "mean"}
        if bad or not self.baselines:
            raise ValueError(f"baselines {self.baselines}: allowed 'zero' and 'mean'")


@dataclass
class SweepResult:
    """Tidy tables: ``runs`` one row per run; ``curves`` one row per run x checkpoint x baseline x
    order x ablated count; ``noise`` one row per run x order x scale; ``units`` one row per run x unit."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    noise: pd.DataFrame
    units: pd.DataFrame = field(default_factory=pd.DataFrame)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("runs", "curves", "noise", "units"):
            tmp = folder / f".{name}.parquet.partial"
            getattr(self, name).to_parquet(tmp, index=False)
            os.replace(tmp, folder / f"{name}.parquet")


def expand(base: _train.RunConfig, **axes: Sequence) -> list[_train.RunConfig]:
    """The grid of configs varying ``base`` along ``axes``; nested fields with ``__``.

    >>> expand(RunConfig(), corruption=[0, 0.5], seed=[0, 1], train__lr=[1e-3, 1e-2])  # 8 configs
    """
    names = list(axes)
    out = []
    for values in itertools.product(*(axes[n] for n in names)):
        d = base.to_dict()
        for n, v in zip(names, values):
            *path, last = n.split("__")
            target = d
            for p in path:
                if p not in target or not isinstance(target[p], dict):
                    raise ValueError(f"sweep axis {n!r}: {p!r} is not a section of a run config "
                                     f"(sections: model, train)")
                target = target[p]
            if last not in target:
                raise ValueError(f"sweep axis {n!r}: unknown parameter {last!r}; allowed: {sorted(target)}")
            target[last] = v
        out.append(_train.RunConfig.from_dict(d))
    return out


def with_and_without_bn(base: _train.RunConfig, seeds: Sequence[int],
                        train_without_bn: dict | None = None) -> list[_train.RunConfig]:
    """Conv nets with batch normalization (``base``'s schedule) and without it, per seed.

    Networks without BN learn more slowly; ``train_without_bn`` (a ``train`` section, e.g.
    ``{"epochs": 40}``) gives them their own schedule so that both kinds are compared trained.
    """
    with_bn = expand(base.with_(model=replace(base.model, batch_norm=True)), seed=seeds)
    plain = base.with_(model=replace(base.model, batch_norm=False))
    if train_without_bn:
        d = plain.to_dict()
        d["train"] = {**d["train"], **train_without_bn}
        plain = _train.RunConfig.from_dict(d)
    return with_bn + expand(plain, seed=seeds)


def code_version() -> str:
    return _cache.code_version_of(__name__)  # this module and every singledir module it imports


def _flat(config: _train.RunConfig) -> dict:
    d = config.to_dict()
    row = {k: v for k, v in d.items() if k not in ("model", "train")}
    for section in ("model", "train"):
        for k, v in d[section].items():
            row[f"{section}.{k}"] = str(v) if isinstance(v, list) else v
    return row


def _columns(rows: list[dict]) -> dict[str, list]:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return {k: [r.get(k) for r in rows] for k in keys}


def analyze_run(config: _train.RunConfig, analysis: Analysis, progress: bool | None = False) -> dict:
    """Train (or load) one network and measure it; returns the payload of tables (column lists)."""
    ds = _train.load_run_dataset(config)
    run = _train.train(config, dataset=ds, progress=progress)
    final = run.final
    row = {**_flat(config), "diverged": run.diverged, "train_seconds": run.seconds,
           **{k: final.get(k, float("nan")) for k in ("train_loss", "train_acc", "test_loss", "test_acc")}}
    curves, noise, units = [], [], []
    if run.diverged:
        row.update({f"auc_{b}": float("nan") for b in analysis.baselines})
        return {"runs": _columns([row]), "curves": {}, "noise": {}, "units": {}}
    model = run.model
    layers = list(analysis.layers or unit_layer_names(model))
    x, y = (ds.x_train, ds.y_train) if analysis.split == "train" else (ds.x_test, ds.y_test)
    x, y = random_subset(x, y, analysis.n_curve, analysis.seed)
    if _is_conv(model):
        x = x.contiguous(memory_format=torch.channels_last)
    train_data = (ds.x_train, ds.y_train)
    epochs = sorted(run.checkpoints) if analysis.checkpoints else []
    if not epochs or epochs[-1] != config.train.epochs:
        epochs.append(None)  # None: the final network
    for epoch in epochs:
        net = model if epoch is None else run.at_epoch(epoch)
        ep = config.train.epochs if epoch is None else epoch
        for b in analysis.baselines:
            c = perturb.ablation_curve(net, (x, y), layers, grid=analysis.grid, repetitions=analysis.repetitions,
                                       seed=analysis.seed, baseline=b, baseline_data=train_data,
                                       metrics=analysis.metrics)
            t = c.table.assign(epoch=ep, baseline=b)
            curves += t.to_dict("records")
            if epoch is None or ep == config.train.epochs:
                row[f"auc_{b}"] = c.auc
    if analysis.noise_scales:
        nz = perturb.noise_curve(model, (x, y), layers, scales=analysis.noise_scales,
                                 repetitions=analysis.noise_repetitions, seed=analysis.seed, sd_data=train_data,
                                 metrics=analysis.metrics)
        noise = nz.to_dict("records")
        if sum(sc > 0 for sc in analysis.noise_scales) >= 2:
            row["noise_auc"] = perturb.noise_auc(nz[nz.scale > 0])
    if analysis.units:
        xt, yt = random_subset(ds.x_test, ds.y_test, analysis.n_unit_data, analysis.seed)
        units = _analysis.unit_table(model, (xt, yt), layers, n_classes=ds.n_classes,
                                     n_bins=analysis.n_bins).to_dict("records")
    return {"runs": _columns([row]), "curves": _columns(curves), "noise": _columns(noise), "units": _columns(units)}


def _is_conv(model) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def _worker(config_dict: dict, analysis_dict: dict, cache_root: str, threads: int) -> dict:
    """Runs on a Dask worker: one thread per run unless told otherwise, the driver's cache root."""
    os.environ["SINGLEDIR_CACHE"] = cache_root
    torch.set_num_threads(threads)
    return analyze_run(_train.RunConfig.from_dict(config_dict), Analysis(**analysis_dict))


def _to_frame(payloads: list[dict], key: str, run_ids: list[int]) -> pd.DataFrame:
    frames = []
    for rid, p in zip(run_ids, payloads):
        cols = p.get(key) or {}
        if cols:
            frames.append(pd.DataFrame(cols).assign(run=rid))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run_sweep(configs: Iterable[_train.RunConfig], analysis: Analysis = Analysis(), *, executor: str = "local",
              address: str | None = None, n_workers: int = 2, threads_per_worker: int = 1,
              name: str | None = None, progress: bool | None = None) -> SweepResult:
    """Train and analyse every config; finished runs come from the cache.

    Args:
        configs: the runs (see :func:`expand`).
        analysis: what to measure on each.
        executor: ``"local"`` (in this process) or ``"dask"``.
        address: a Dask scheduler's address; None starts a ``LocalCluster`` of ``n_workers``
            processes with ``threads_per_worker`` threads each.
        name: if given, the tables are also written to ``$SINGLEDIR_CACHE/sweeps/NAME-HASH/*.parquet``,
            HASH from the configs and the analysis (``runs.attrs["tables"]`` is that folder).
        progress: a progress bar of runs done / total with the time left (default: on a terminal).

    Returns:
        a :class:`SweepResult`; ``runs.run`` numbers the configs in the order given.
    """
    configs = list(configs)
    if executor not in ("local", "dask"):
        raise ValueError(f"unknown executor {executor!r}; allowed: local, dask")
    store = _cache.Cache("sweep-runs")
    version = code_version()
    a_dict = asdict(analysis)
    threads = torch.get_num_threads() if executor == "local" else threads_per_worker  # see train(): part of the key
    keys = [_cache.config_key({"run": c.to_dict(), "analysis": a_dict, "code": version, "threads": threads})
            for c in configs]
    payloads: dict[int, dict] = {}
    for i, k in enumerate(keys):
        hit = store.get(k)
        if hit is not None:
            payloads[i] = hit
    todo = [i for i in range(len(configs)) if i not in payloads]
    bar = _progress.Progress(len(configs), f"sweep {name or 'runs'}", initial=len(payloads), unit="run", bar=progress)

    def done(i: int, payload: dict) -> None:
        store.put(keys[i], payload, meta={"config": configs[i].to_dict(), "analysis": a_dict, "code_version": version})
        payloads[i] = payload
        bar.update(1, note=f"run {i} (seed {configs[i].seed}, corruption {configs[i].corruption}) done")

    t0 = time.perf_counter()
    try:
        if executor == "local":
            for i in todo:
                done(i, analyze_run(configs[i], analysis))
        elif todo:
            _run_dask(configs, todo, a_dict, address, n_workers, threads_per_worker, done)
    finally:
        bar.close()
    order = list(range(len(configs)))
    ps = [payloads[i] for i in order]
    result = SweepResult(_to_frame(ps, "runs", order), _to_frame(ps, "curves", order),
                         _to_frame(ps, "noise", order), _to_frame(ps, "units", order))
    result.runs.attrs.update({"computed": len(todo), "cached": len(configs) - len(todo),
                              "seconds": time.perf_counter() - t0, "executor": executor})
    if name:  # one folder per sweep: a smoke run's tables never replace the full book's
        tag = _cache.config_key({"runs": [c.to_dict() for c in configs], "analysis": a_dict})[:12]
        result.save(_cache.cache_dir() / "sweeps" / f"{name}-{tag}")
        result.runs.attrs["tables"] = str(_cache.cache_dir() / "sweeps" / f"{name}-{tag}")
    return result


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


def _run_dask(configs, todo, a_dict, address, n_workers, threads_per_worker, done) -> None:
    from distributed import Client, as_completed

    client = Client(address) if address is not None else local_client(n_workers)
    try:
        root = str(_cache.cache_dir())
        futures = {client.submit(_worker, configs[i].to_dict(), a_dict, root, threads_per_worker,
                                 key=f"singledir-run-{i}-{os.getpid()}-{time.time_ns()}", pure=False): i for i in todo}
        for fut in as_completed(futures):
            done(futures[fut], fut.result())
    finally:
        if address is not None:
            client.close()


def selection_analysis(settings: pd.DataFrame, score: str = "auc_zero", target: str = "test_acc",
                       subset_size: int | None = None, n_subsets: int = 10000, tops: Sequence[int] = (1, 5, 10),
                       seed: int = 0) -> dict:
    """How well choosing the setting with the highest ``score`` picks a setting high in ``target``.

    Over ``n_subsets`` random subsets of ``subset_size`` settings (default: half), the setting with
    the highest score is picked; returned are the fraction of subsets in which it is among the
    top-k of the subset by ``target`` for each k in ``tops`` (``top1``, ``top5``, ...), and the mean
    and standard deviation of the gap ``best target in subset - target of the pick``.

    ``settings`` has one row per setting (average repeats first).
    """
    s = settings[[score, target]].dropna().to_numpy(dtype=float)
    n = len(s)
    subset_size = n // 2 if subset_size is None else int(subset_size)
    if not 1 <= subset_size <= n:
        raise ValueError(f"subset_size {subset_size} must be in [1, {n}] (settings with both values)")
    rng = np.random.default_rng(seed)
    hits = {k: 0 for k in tops}
    gaps = np.empty(n_subsets)
    for i in range(n_subsets):
        sub = s[rng.choice(n, subset_size, replace=False)]
        pick = np.argmax(sub[:, 0])
        rank = int((sub[:, 1] > sub[pick, 1]).sum())  # settings strictly better than the pick
        for k in tops:
            hits[k] += rank < k
        gaps[i] = sub[:, 1].max() - sub[pick, 1]
    return {**{f"top{k}": hits[k] / n_subsets for k in tops}, "gap_mean": float(gaps.mean()),
            "gap_sd": float(gaps.std()), "subset_size": subset_size, "n_settings": n}
