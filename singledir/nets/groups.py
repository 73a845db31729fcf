"""Many networks trained as one computation: seeds and settings of one architecture, together.

Networks that share their architecture, data, batch size and schedule, and differ only in their
seed, label corruption, learning rate, weight decay or dropout, are trained as a *group*. Their
weights are stacked along a member dimension: an MLP's layers become ``[G, out, in]`` tensors
applied with batched matrix products, a conv net's layers become grouped convolutions over the
members' concatenated channels (each member keeps its own batch-norm statistics, since batch norm
is per channel), and one optimizer step updates every member. On two CPU cores this keeps the
matrix units busy where one small network leaves them idle (``benchmarks/bench_ensemble.py``).
This module decides which networks train together (:func:`form_groups`), where (a worker process
or this one) and in groups of which size, and caches each member; the loop of one group is
:class:`singledir.nets.group_run.GroupRun`.

Each member stays the network it would be alone:

* it is initialized by building it from its own seed exactly as a solo run does, and its weights
  are copied into the stack;
* it draws its own data order (a generator seeded with its seed, one permutation per epoch) and
  its own dropout masks (a generator that continues the global random stream right after its
  initialization, as a solo run's dropout does);
* its loss is the mean cross-entropy over its own batch, and the group's loss is the sum of the
  members' losses, so each member's gradient is its own;
* the optimizer (Adam or SGD with momentum, as in ``torch.optim``) is elementwise, with each
  member's learning rate and weight decay;
* it is evaluated, checkpointed and given a history exactly when a solo run would be, and cached
  as its own run under the same key as :func:`singledir.nets.training.train_network`, so sweeps resume run by run
  and every analysis loads it like any other run;
* a member whose loss becomes NaN or infinite is recorded as diverged at that step (its weights
  as they were before the step, its history ending with a NaN row, as a solo run) and frozen;
  the others go on.

What is identical. A group of one runs the very operations of a network trained alone
(``F.linear``, a convolution with one group, batch norm, ``torch.optim``'s update), so it equals
the plain PyTorch loop of :func:`singledir.nets.solo.fit` bit for bit. In a larger group an MLP
member computes its products member by member in the same orientation and equals its solo run bit
for bit (measured on this book's AVX2 and AVX-512 machines; tested to 1e-6 elsewhere). A conv-net
member equals its solo run to float tolerance only: oneDNN vectorizes grouped convolutions, batch
norm and pooling across all the members' channels, which rounds a member's sums differently
(measured: 1e-7 after 8 Adam steps), and so differently in groups of different sizes, though
never differently for other group-mates or another position among them (measured). So that a
network's bits depend on its config only, never on what it happened to train beside or on what the
cache held, :func:`singledir.nets.runs.fixed_group_size` fixes the size of a conv net's groups for
each kind and device, :func:`train_group` keeps to it (filling a last group with copies of its
members), and the cache key says which size. A group interrupted between
epochs resumes from its last snapshot and ends bit-identical to an uninterrupted run.
"""
from __future__ import annotations

import json
import math
import time
from typing import Callable, Sequence

import torch

from ..base.cache import Cache, config_key
from ..base.progress import timed
from ..data.dataset import Dataset
from .group_run import GroupRun
from .runs import (RunConfig, TrainedRun, default_device, fixed_group_size, load_cached, load_run_dataset,
                   network_key, store_run, torch_threads, training_threads)
from .workers import EpochNotes, loadable_by_name, run_in_worker, trains_in_worker
from .models import ConvNetConfig, MLPConfig, build_model, describe

GROUPABLE = (MLPConfig, ConvNetConfig)
# what members may differ in: everything else of a run config must be shared
MEMBER_FIELDS = {"seed", "corruption"}
MEMBER_TRAIN_FIELDS = {"lr", "weight_decay"}
MEMBER_MODEL_FIELDS = {"dropout"}


def groupable(config: RunConfig) -> bool:
    """Whether ``config`` can be trained in a group (the project's MLPs and conv nets)."""
    return isinstance(config.model, GROUPABLE)


def group_key(config: RunConfig) -> str | None:
    """What a run shares with the other members of its group (None: it trains alone)."""
    if not groupable(config):
        return None
    d = config.to_dict()
    for k in MEMBER_FIELDS:
        d.pop(k)
    for k in MEMBER_TRAIN_FIELDS:
        d["train"].pop(k)
    for k in MEMBER_MODEL_FIELDS:
        d["model"].pop(k, None)
    return json.dumps(d, sort_keys=True)


def form_groups(configs: Sequence[RunConfig], max_size: int) -> list[list[int]]:
    """Indices of ``configs`` in groups of at most ``max_size`` that can train together, in order
    of first appearance (deterministic): as few groups as the limit allows, of nearly equal size
    (18 runs with a limit of 16 train as 9 and 9). A config that cannot be grouped is a group of one."""
    if int(max_size) < 1:
        raise ValueError(f"group size {max_size} must be at least 1")
    by_key: dict[str, list[int]] = {}
    groups: list[list[int]] = []
    for i, c in enumerate(configs):
        k = group_key(c)
        if k is None:
            groups.append([i])
            continue
        members = by_key.setdefault(k, [])
        members.append(i)
    for members in by_key.values():  # as few groups as the limit allows, of nearly equal sizes
        k = math.ceil(len(members) / int(max_size))
        bounds = [round(j * len(members) / k) for j in range(k + 1)]
        groups += [members[bounds[j]:bounds[j + 1]] for j in range(k)]
    return sorted(groups, key=lambda g: g[0])


# ---------------------------------------------------------------------------------------------
# Training groups: from the cache, in a worker, in groups of a fixed size (the loop: group_run)
# ---------------------------------------------------------------------------------------------
def _check_group(configs: Sequence[RunConfig]) -> None:
    if not configs:
        raise ValueError("an empty group: give at least one run config")
    keys = {group_key(c) for c in configs}
    if None in keys:
        bad = [c for c in configs if not groupable(c)][0]
        raise ValueError(f"{describe(bad.model)} cannot be trained in a group; groupable: "
                         "MLPs and the project's conv nets (train it with singledir.nets.training.train_network)")
    if len(keys) > 1:
        raise ValueError("runs of one group must share everything but seed, corruption, lr, weight_decay "
                         "and dropout; form groups with singledir.nets.groups.form_groups")


def _group_cache_key(keys: Sequence[str]) -> str:
    return config_key({"group": list(keys)})


@timed("training")
def train_group(configs: Sequence[RunConfig], *, device: torch.device | str | None = None,
                progress: bool | None = None, use_cache: bool = True,
                datasets: Sequence[Dataset] | None = None, snapshot_every: float = 120.0,
                on_epoch: Callable[[int], None] | None = None) -> list[TrainedRun]:
    """Train ``configs`` as one group (or load them from the cache); one :class:`TrainedRun` each.

    Members already cached are loaded; the others train together (conv nets in groups of their
    kind's fixed size, :func:`singledir.nets.runs.fixed_group_size`, the last filled with copies)
    and are each cached as their own run under the key :func:`singledir.nets.training.train_network` uses. While training, the group's whole state
    is written to the cache every ``snapshot_every`` seconds (at the end of an epoch; 0: every
    epoch), so an interrupted group resumes from its last snapshot with the same result.

    Args:
        configs: runs that share everything but seed, corruption, learning rate, weight decay and
            dropout (see :func:`form_groups`).
        device: defaults to the GPU when one is present.
        datasets: the runs' datasets if already loaded (``load_run_dataset(config)`` each).
        on_epoch: called after each epoch (and its snapshot) with the epoch number. Small networks
            on the CPU train in a worker process (:mod:`singledir.nets.workers`); a callback other
            than :class:`EpochNotes` cannot go there, so with one the group trains in this process.

    Example:
        >>> runs = train_group(expand(RunConfig(dataset="digits"), seed=range(8)))
    """
    configs = list(configs)
    _check_group(configs)
    device = torch.device(device) if device is not None else default_device()
    runs: dict[int, TrainedRun] = {}
    if use_cache:
        for i, c in enumerate(configs):
            hit = load_cached(c, device, datasets[i] if datasets else None)
            if hit is not None:
                runs[i] = hit
    todo = [i for i in range(len(configs)) if i not in runs]
    # a callback of the caller's own runs here, and so does the group it follows; EpochNotes travels
    if todo and trains_in_worker(configs, datasets, device) and (on_epoch is None or isinstance(on_epoch, EpochNotes)):
        notes = on_epoch
        # the worker loads the data itself when it can: standardizing images is a sum whose last bits
        # depend on the threads of the process that computes it, as training does
        handed = None if all(loadable_by_name(c) for c in configs) else datasets
        runs.update(run_in_worker(_train_todo, configs, todo, {}, handed, device, False, use_cache,
                                  snapshot_every, notes))
    elif todo:
        with torch_threads(training_threads(configs[0]) if device.type == "cpu" else torch.get_num_threads()):
            _train_todo(configs, todo, runs, datasets, device, progress, use_cache, snapshot_every, on_epoch)
    return [runs[i] for i in range(len(configs))]


def _train_todo(configs, todo, runs, datasets, device, progress, use_cache, snapshot_every, on_epoch) -> dict:
    """Train the members ``todo`` of ``configs`` as one group, or, for a network whose groups have
    a fixed size (:func:`singledir.nets.runs.fixed_group_size`), in groups of that size, the last
    filled with copies of its members; their runs go into ``runs``, returned."""
    n = fixed_group_size(configs[todo[0]], device)
    if n is not None and len(todo) > n:
        for j in range(0, len(todo), n):
            _train_todo(configs, todo[j:j + n], runs, datasets, device, progress, use_cache, snapshot_every,
                        on_epoch)
        return runs
    cfgs = [configs[i] for i in todo]
    dss = [datasets[i] if datasets else load_run_dataset(configs[i]) for i in todo]
    n_copies = (n or len(todo)) - len(todo)  # copies train as their original does; only the originals are kept
    cfgs += [cfgs[j % len(todo)] for j in range(n_copies)]
    dss += [dss[j % len(todo)] for j in range(n_copies)]
    x0 = dss[0].x_train
    if any(d.x_train.shape != x0.shape for d in dss):
        raise ValueError("members of a group must train on the same images")
    group = GroupRun(cfgs, dss, device)
    store = Cache("groups")
    gkey = _group_cache_key([network_key(c, device) for c in cfgs])
    if use_cache:
        snap = store.get(gkey)
        if snap is not None:
            group.restore(snap)
    last = [time.monotonic()]

    def snapshot(gr: GroupRun) -> None:
        if use_cache and gr.epoch < gr.cfg.epochs and time.monotonic() - last[0] >= snapshot_every:
            store.put(gkey, gr.snapshot(), meta={"configs": [c.to_dict() for c in cfgs]})
            last[0] = time.monotonic()

    group.run(progress, snapshot, on_epoch)
    for j, i in enumerate(todo):
        c, ds = cfgs[j], dss[j]
        model = build_model(c.model, ds.input_shape, ds.n_classes)
        model.load_state_dict(group.state(j))
        if not isinstance(c.model, MLPConfig):
            model = model.to(memory_format=torch.channels_last)
        run = TrainedRun(c, model.to(device).eval(), group.history[j], group.checkpoints[j],
                                diverged=not group.live[j], from_cache=False, seconds=group.seconds / len(todo))
        if use_cache:
            store_run(run, device, meta={"group_size": len(cfgs)})
        runs[i] = run
    if use_cache:
        store.remove(gkey)
    return runs

