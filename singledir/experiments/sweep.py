"""Sweeps: train and analyse many networks, in-process or on Dask, resumable, one tidy table.

A sweep is a list of :class:`~singledir.nets.runs.RunConfig` and one :class:`Measurements` applied to
each trained network. Every finished run's result is cached on disk as soon as it arrives (keyed
by the run, the analysis and the code version), so an interrupted sweep (Ctrl-C, a killed process,
a crashed worker) resumes where it stopped and loses no finished run. A run whose loss diverges is
recorded with ``diverged=True`` and NaN measurements, and the sweep goes on.

``executor="processes"`` trains and measures the groups in worker processes on this machine, one
per CPU core, each on one thread: the book's small networks leave two threads of one process
partly idle (``benchmarks/bench_decisive_training.py``). A network trains on one thread wherever
it trains (:data:`singledir.nets.runs.SMALL_NETWORK_THREADS`), so the workers' networks are the
in-process ones bit for bit, under the same cache keys.

``executor="dask"`` runs the same sweep on Dask distributed: a ``LocalCluster`` on this machine,
or an existing scheduler given by ``address`` (a SLURM or Kubernetes cluster started with
dask-jobqueue or dask-kubernetes). Results come back to the calling process, which writes the
cache, so workers need no shared disk.
"""
from __future__ import annotations

import itertools
import os
import time
from dataclasses import asdict, replace
from typing import Iterable, Sequence

import torch

from ..base.cache import Cache, cache_dir, code_version, config_key
from ..base.sweeplog import record_sweep
from ..base.progress import Progress, note
from ..data.dataset import fingerprint, stratified_subset
from ..measure import perturb
from ..measure.units import layer_activations, measures_fingerprint, unit_table
from ..nets.groups import form_groups, groupable, train_group
from ..nets.workers import WORKER_ENV, EpochNotes, default_group_size, workers_for_this_machine
from ..nets.models import unit_layer_names
from ..nets.runs import RunConfig, TrainConfig, TrainedRun, default_device, fixed_group_size, load_run_dataset
from ..nets.training import train_network
from .executors import run_dask, run_processes, stay_in_process
from .measurements import Measurements
from .tables import SweepResult, columns, result as tables_result


def expand(base: RunConfig, **axes: Sequence) -> list[RunConfig]:
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
            allowed = set(target) | (set(TrainConfig.__dataclass_fields__) if path == ["train"] else set())
            if last not in allowed:  # a train field left out of the dict at its default (selectivity_alpha) counts
                raise ValueError(f"sweep axis {n!r}: unknown parameter {last!r}; allowed: {sorted(allowed)}")
            target[last] = v
        out.append(RunConfig.from_dict(d))
    return out


def with_and_without_bn(base: RunConfig, seeds: Sequence[int]) -> list[RunConfig]:
    """Conv nets with batch normalization and without it, per seed, on one schedule (``base``'s):
    networks that are compared are trained alike (the paper trained every conv net 100 epochs)."""
    with_bn = expand(base.with_(model=replace(base.model, batch_norm=True)), seed=seeds)
    return with_bn + expand(base.with_(model=replace(base.model, batch_norm=False)), seed=seeds)


def _flat(config: RunConfig) -> dict:
    d = config.to_dict()
    row = {k: v for k, v in d.items() if k not in ("model", "train")}
    for section in ("model", "train"):
        for k, v in d[section].items():
            row[f"{section}.{k}"] = str(v) if isinstance(v, list) else v
    return row


def curve_layer_names(model: torch.nn.Module, spec: str | Sequence[str] = "paper") -> list[str]:
    """The layers whose units a curve ablates: ``"paper"``: every hidden layer of an MLP, the last
    three layers with units of any other network (the paper's conv nets and ResNet, Fig. 1);
    ``"all"``: every layer with units; or the names given."""
    names = list(unit_layer_names(model))
    if spec == "all":
        return names
    if spec == "paper":
        from ..nets.models import MLP

        return names if isinstance(model, MLP) else names[-3:]
    return list(spec)


def analyze_run(config: RunConfig, measurements: Measurements, progress: bool | None = False,
                run: TrainedRun | None = None, ds=None) -> dict:
    """Train (or load) one network and measure it; returns the payload of tables (column lists)."""
    ds = ds or load_run_dataset(config)
    run = run or train_network(config, dataset=ds, progress=progress)
    final = run.final
    row = {**_flat(config), "diverged": run.diverged, "train_seconds": run.seconds,
           **{k: final.get(k, float("nan")) for k in ("train_loss", "train_acc", "test_loss", "test_acc")}}
    curves, noise, units = [], [], []
    if run.diverged:
        row.update({f"auc_{b}": float("nan") for b in measurements.baselines})
        return {"runs": columns([row]), "curves": {}, "noise": {}, "units": {}}
    model = run.model
    layers = curve_layer_names(model, measurements.curve_layers)
    row["curve_layers"] = "+".join(layers)
    sets = [("paper", layers)] + ([("all", curve_layer_names(model, "all"))] if measurements.all_layers_repetitions else [])
    sets += [("live", layers)] if measurements.live_units else []
    x, y = (ds.x_train, ds.y_train) if measurements.split == "train" else (ds.x_test, ds.y_test)
    x, y = stratified_subset(x, y, measurements.n_curve, measurements.seed)
    if _is_conv(model):
        x = x.contiguous(memory_format=torch.channels_last)
    acts, _ = layer_activations(model, (x, y), layers)
    row["units_total"] = int(sum(a.shape[1] for a in acts.values()))
    live = {l: torch.nonzero(a.amax(0) > 0).flatten().tolist() for l, a in acts.items()}  # active on these data
    row["dead_units"] = row["units_total"] - sum(map(len, live.values()))
    train_data = (ds.x_train, ds.y_train)
    epochs = sorted(run.checkpoints) if measurements.checkpoints else []
    if not epochs or epochs[-1] != config.train.epochs:
        epochs.append(None)  # None: the final network
    for epoch in epochs:
        net = model if epoch is None else run.at_epoch(epoch)
        ep = config.train.epochs if epoch is None else epoch
        for set_name, set_layers in sets:
            if set_name != "paper" and epoch is not None and ep != config.train.epochs:
                continue  # the secondary curve only for the final network
            for b in measurements.baselines if set_name == "paper" else ("zero",):
                reps = measurements.all_layers_repetitions if set_name == "all" else measurements.repetitions
                if set_name == "live" and row["dead_units"] == row["units_total"]:
                    continue  # no unit fires: no live curve
                c = perturb.ablation_curve(net, (x, y), set_layers, grid=measurements.grid,
                                           repetitions=reps, seed=measurements.seed, baseline=b,
                                           baseline_data=train_data, metrics=measurements.metrics,
                                           units=live if set_name == "live" else None)
                t = c.table.assign(epoch=ep, baseline=b, units=set_name)
                curves += t.to_dict("records")
                if epoch is None or ep == config.train.epochs:
                    prefix = "auc" if set_name == "paper" else f"auc_{set_name}"
                    row[f"{prefix}_{b}"] = c.auc
                    row[f"{prefix}_norm_{b}"] = c.normalized_auc
                    if set_name == "paper" and b == measurements.baselines[0]:
                        row["intact_acc"] = float(c.table[c.table.fraction == 0]["accuracy"].mean())
    if measurements.noise_scales:
        noise = _noise(model, (x, y), layers, measurements, train_data, row)
    if measurements.units:
        xt, yt = stratified_subset(ds.x_test, ds.y_test, measurements.n_unit_data, measurements.seed)
        ulayers = list(measurements.unit_layers or unit_layer_names(model))
        units = unit_table(model, (xt, yt), ulayers, n_classes=ds.n_classes,
                                     n_bins=measurements.n_bins).to_dict("records")
    return {"runs": columns([row]), "curves": columns(curves), "noise": columns(noise), "units": columns(units)}


def _noise(model, data, layers: list[str], measurements: Measurements, train_data, row: dict) -> list[dict]:
    """The noise curve's rows; its AUC (and normalized by the intact accuracy) into ``row``."""
    nz = perturb.noise_curve(model, data, layers, scales=measurements.noise_scales,
                             repetitions=measurements.noise_repetitions, seed=measurements.seed, sd_data=train_data,
                             metrics=measurements.metrics)
    if sum(sc > 0 for sc in measurements.noise_scales) >= 2:
        row["noise_auc"] = perturb.noise_auc(nz[nz.scale > 0])
        intact = row.get("intact_acc", float("nan"))
        row["noise_auc_norm"] = row["noise_auc"] / intact if intact > 0 else float("nan")
    return nz.to_dict("records")


def _is_conv(model) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def _analyze_group(configs: list[RunConfig], measurements: "Measurements", done, label: str = "") -> None:
    """Train ``configs`` together (one group) and measure each member; ``done(j, payload)`` per member.
    While the group trains, a progress line every 20 s or so says which epoch it has reached."""
    dss = [load_run_dataset(c) for c in configs]
    if groupable(configs[0]):
        runs = train_group(configs, datasets=dss, progress=False,
                           on_epoch=EpochNotes(label, len(configs), configs[0].train.epochs))
    else:
        runs = [train_network(c, dataset=ds, progress=False) for c, ds in zip(configs, dss)]
    for j, (c, run, ds) in enumerate(zip(configs, runs, dss)):
        done(j, analyze_run(c, measurements, run=run, ds=ds))


def _worker(config_dicts: list[dict], analysis_dict: dict, cache_root: str, threads: int,
            label: str = "") -> list[dict]:
    """Runs in a worker process (Dask's or the "processes" executor's): one group, one thread
    unless told otherwise, the driver's cache root. Its networks train here (a Dask worker, a
    daemonic process, could not start workers of its own)."""
    os.environ["SINGLEDIR_CACHE"] = cache_root
    os.environ[WORKER_ENV] = "1"
    torch.set_num_threads(threads)
    out: list[dict] = [{} for _ in config_dicts]
    _analyze_group([RunConfig.from_dict(d) for d in config_dicts], Measurements(**analysis_dict),
                   lambda j, p: out.__setitem__(j, p), label)
    return out


def _groups(configs: list[RunConfig], todo: list[int], group_size: int | None) -> list[list[int]]:
    """Indices of the runs ``todo`` in groups that train together, at most ``group_size`` (or the
    measured default) at once."""
    groups = []
    for key_runs in form_groups([configs[i] for i in todo], 10 ** 9):
        members = [todo[j] for j in key_runs]
        fixed = fixed_group_size(configs[members[0]], default_device())
        if fixed is not None:  # a conv net's groups have one size (its bits depend on it): group_size is not used
            groups += [members[j:j + fixed] for j in range(0, len(members), fixed)]
            continue
        limit = group_size or default_group_size(configs[members[0]])
        if not group_size:  # an even number of groups, so that two workers share them evenly
            k = -(-len(members) // limit)
            limit = -(-len(members) // (k + k % 2))
        groups += [[members[j] for j in g] for g in form_groups([configs[i] for i in members], limit)]
    groups.sort(key=lambda g: g[0])
    return groups


EXECUTORS = ("local", "processes", "dask")


def run_sweep(configs: Iterable[RunConfig], measurements: "Measurements" = None, *, executor: str = "local",
              address: str | None = None, n_workers: int | None = None, threads_per_worker: int = 1,
              name: str | None = None, progress: bool | None = None,
              group_size: int | None = None) -> SweepResult:
    """Train and analyse every config; finished runs come from the cache.

    Runs that can train together (same architecture, data, batch size and schedule; see
    :mod:`singledir.nets.groups`) are trained in groups of at most ``group_size``, in-process, in
    worker processes or as one Dask task per group; each run is still cached, and measured, on its own.

    Args:
        configs: the runs (see :func:`expand`).
        measurements: what to measure on each.
        group_size: most MLPs trained at once (None: :func:`singledir.nets.workers.default_group_size`;
            1: one at a time); conv nets train in groups of :func:`singledir.nets.runs.fixed_group_size`.
        executor: ``"local"`` (in this process), ``"processes"`` (single-thread worker processes,
            :func:`singledir.experiments.executors.run_processes`) or ``"dask"``.
        address: a Dask scheduler's address; None starts a ``LocalCluster`` of ``n_workers``
            processes with ``threads_per_worker`` threads each.
        n_workers: worker processes (None: one per CPU core, at most one per group).
        name: if given, the tables are also written to ``$SINGLEDIR_CACHE/sweeps/NAME-HASH/*.parquet``,
            HASH from the configs and the analysis (``runs.attrs["tables"]`` is that folder).
        progress: a progress bar of runs done / total with the time left (default: on a terminal).

    Returns:
        a :class:`SweepResult`; ``runs.run`` numbers the configs in the order given.
    """
    configs = list(configs)
    measurements = measurements if measurements is not None else Measurements()
    executor = _executor(executor, configs, measurements, name)
    store = Cache("sweep-runs")
    version = code_version(__name__)
    a_dict = asdict(measurements)
    threads = torch.get_num_threads() if executor == "local" else threads_per_worker  # see train(): part of the key
    keys = _run_keys(configs, a_dict, version, threads, measurements.units)
    payloads = {i: hit for i, k in enumerate(keys) if (hit := store.get(k)) is not None}
    todo = [i for i in range(len(configs)) if i not in payloads]
    bar = Progress(len(configs), f"sweep {name or 'runs'}", initial=len(payloads), unit="run", bar=progress)

    def done(i: int, payload: dict) -> None:
        store.put(keys[i], payload, meta={"config": configs[i].to_dict(), "analysis": a_dict, "code_version": version})
        payloads[i] = payload
        bar.update(1, note=f"run {i} (seed {configs[i].seed}, corruption {configs[i].corruption}) done")

    t0 = time.perf_counter()
    try:
        _run_groups(configs, _groups(configs, todo, group_size), measurements, done, executor=executor,
                    address=address, n_workers=n_workers, threads_per_worker=threads_per_worker,
                    label=f"sweep {name or 'runs'}: ")
    finally:
        bar.close()
    result = tables_result([payloads[i] for i in range(len(configs))])
    result.runs.attrs.update({"computed": len(todo), "cached": len(configs) - len(todo),
                              "seconds": time.perf_counter() - t0, "executor": executor})
    record_sweep(name, [c.seed for c in configs], len(todo), len(configs) - len(todo))  # the book's provenance line
    if name:  # one folder per sweep: a smoke run's tables never replace the full book's
        tag = config_key({"runs": [c.to_dict() for c in configs], "analysis": a_dict})[:12]
        result.save(cache_dir() / "sweeps" / f"{name}-{tag}")
        result.runs.attrs["tables"] = str(cache_dir() / "sweeps" / f"{name}-{tag}")
    return result


def _executor(executor: str, configs: list[RunConfig], measurements: Measurements, name: str | None) -> str:
    """The executor the sweep runs on: ``executor``, or "local" where worker processes cannot help."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; allowed: {', '.join(EXECUTORS)}")
    if executor == "processes" and (why := stay_in_process(configs, measurements)):
        note(f"sweep {name or 'runs'}: in this process, not in worker processes: {why}")
        return "local"
    return executor


def _run_keys(configs: list[RunConfig], a_dict: dict, version: str, threads: int, units: bool) -> list[str]:
    """Each run's cache key: its config, the analysis, the code version, the threads it trains on,
    the per-unit measures' code (when measured) and its data's fingerprint."""
    extra = {"measures": fp} if units and (fp := measures_fingerprint()) else {}
    return [config_key({"run": c.to_dict(), "analysis": a_dict, "code": version, "threads": threads,
                        **extra, **({"data": d} if (d := fingerprint(c.dataset)) else {})})
            for c in configs]


def _run_groups(configs: list[RunConfig], groups: list[list[int]], measurements: Measurements, done, *,
                executor: str, address: str | None, n_workers: int | None, threads_per_worker: int,
                label: str) -> None:
    """Train and measure the ``groups`` of runs where ``executor`` says; ``done(i, payload)`` per run."""
    if not groups:
        return
    a_dict = asdict(measurements)
    if executor == "local":
        for grp in groups:
            _analyze_group([configs[i] for i in grp], measurements, lambda j, p, _g=grp: done(_g[j], p), label=label)
    elif executor == "processes":
        run_processes(_worker, configs, groups, a_dict, min(n_workers or workers_for_this_machine(), len(groups)),
                      done, label)
    else:
        run_dask(_worker, configs, groups, a_dict, address, n_workers or 2, threads_per_worker, done)
