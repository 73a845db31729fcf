"""Checks of parameter values beyond their kind, and of ``chapters/shared.yml`` itself, made when
the book starts, before any network trains.

A parameter's kind is its default's (:func:`singledir.book.params._check_type`); a parameter whose
default is null declares its kind in :data:`NULL_DEFAULT_KINDS`. Some parameters have rules of their
own (:func:`value_problem`): a group size is a whole number from 1, an executor one of three, a seed
list is not empty, a Dask address has a port. A group's member is checked by its own name
(``data.n_train`` as ``n_train``). Here too: which parameters are groups a chapter declares itself
(:data:`CHAPTER_GROUPS`), how a file's group is merged over a default (:func:`merge_groups`), and
where each key of the flat layout went (:data:`MOVED`).
"""
from __future__ import annotations

import difflib
import json
import os
import re

# the kind of each parameter (or group member, by its own name) whose default is null ("null" keeps
# its meaning: all, automatic, none)
NULL_DEFAULT_KINDS = {
    "n_train": "a number", "n_test": "a number", "image_size": "a number", "conv_dataset": "text",
    "address": "text", "group_size": "a number", "n_data": "a number",
    "dataset": "text", "layers": "a list",  # chapter 5's resnet group, chapter 7
}
# whole numbers from 1 (or null)
WHOLE_NUMBERS = {
    "n_train": "null for all", "n_test": "null for all", "image_size": "null keeps the images' size",
    "group_size": "null for the measured best on this device",
}
EXECUTORS = ("processes", "local", "dask")
ADDRESS = re.compile(r"(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9a-fA-F:]+\]|[^:/\s]+):(?P<port>\d{1,5})")


# chapters that measure the networks another chapter trains (its trained networks come from the cache)
MEASURES_NETWORKS_OF = {"05_selectivity": ("04_dropout_batchnorm",), "06_ablation_value": ("04_dropout_batchnorm",),
                        "08_after_the_paper": ("02_memorization", "03_generalization", "04_dropout_batchnorm",
                                               "05_selectivity")}
# shared groups, and members of groups, that change how networks are measured or where they train,
# not which networks train
NOT_OF_THE_NETWORKS = {"compute", "curves", "units", "e4_mlp.repetitions", "e4_conv.repetitions",
                       "e5_grid.repetitions"}

# parameters that are groups: every name of chapters/shared.yml, and the groups a chapter declares as
# literals. A parameter file's mapping for a group replaces the members it names and keeps the others.
CHAPTER_GROUPS = {"noise", "dropout", "resnet", "f2_mlp", "f2_conv", "f3_fit", "f4_orders", "f7_units"}

# where the parameters of the flat layout (before groups) went: an old parameter file is told
MOVED = {
    **{k: f"data.{k}" for k in ("dataset", "n_train", "n_test", "image_size", "conv_dataset", "unused_to_test")},
    **{k: f"compute.{k}" for k in ("executor", "address", "group_size")},
    **{k: f"curves.{k}" for k in ("grid", "n_curve", "repetitions", "conv_repetitions", "all_layers_repetitions")},
    "curve_seed": "curves.seed", "n_unit_data": "units.n_data", "n_bins": "units.n_bins",
    "conv_n_train": "conv.n_train", "bn_train": "bn.train", "bn_seeds": "bn.seeds",
    "corruptions": "e1.corruptions", "e1_mlp": "e1.mlp", "e1_mlp_train": "e1.mlp_train",
    "e1_mlp_seeds": "e1.mlp_seeds", "e1_conv_train": "e1.conv_train", "e1_conv_seeds": "e1.conv_seeds",
    "e3_train": "e3.train", "e3_first_seed": "e3.first_seed", "n_networks": "e3.n_networks",
    "mlp_train": "mlp.train", "mlp_seeds": "mlp.seeds",
    **{f"overfit_{k}": f"e4_mlp.{k}" for k in ("model", "train", "n_train", "checkpoints", "seeds", "repetitions")},
    "patience": "e4_mlp.patience", "conv_overfit_train": "e4_conv.train", "conv_checkpoints": "e4_conv.checkpoints",
    "conv_overfit_seeds": "e4_conv.seeds", "conv_overfit_repetitions": "e4_conv.repetitions",
    "grid_model": "e5_grid.model", "grid_epochs": "e5_grid.epochs", "grid_n_train": "e5_grid.n_train",
    "learning_rates": "e5_grid.learning_rates", "batch_sizes": "e5_grid.batch_sizes", "grid_seeds": "e5_grid.seeds",
    "grid_repetitions": "e5_grid.repetitions",
    "noise_scales": "noise.scales", "noise_repetitions": "noise.repetitions",  # chapter 2
    "dropouts": "dropout.rates", "dropout_corruption": "dropout.corruption", "dropout_n_train": "dropout.n_train",
    "mlp_widths": "dropout.widths", "dropout_train": "dropout.train", "dropout_seeds": "dropout.seeds",  # chapter 4
    **{f"resnet_{k}": f"resnet.{k}" for k in ("dataset", "image_size", "train", "n_train", "seed", "repetitions",
                                              "layers", "n_unit_data", "metrics")},  # chapter 5
    # chapter 8's own
    "n_fit_data": "f3_fit.n_data", "fit_steps": "f3_fit.steps", "order_grid": "f4_orders.grid",
    "order_repetitions": "f4_orders.repetitions", "f7_n_select": "f7_units.n_select",
    "f7_repetitions": "f7_units.repetitions",
    "f2_mlp_train": "f2_mlp.train", "f2_n_train": "f2_mlp.n_train", "f2_mlp_seeds": "f2_mlp.seeds",
    **{f"f2_conv_{k}": f"f2_conv.{k}" for k in ("train", "n_train", "seeds")},
}


def moved_problem(key: str, value) -> str | None:
    """``"`overfit_seeds` is now `e4_mlp.seeds`"`` for a parameter of the flat layout, or None."""
    if key in MOVED:
        group, _, member = MOVED[key].partition(".")
        return (f"`{key}` is now `{MOVED[key]}`: parameters are grouped by experiment (chapters/shared.yml); "
                f"write it as\n  {group}:\n    {member}: {json.dumps(value)}")
    return None


def merge_groups(base: dict, over: dict, groups) -> dict:
    """``over``'s values replacing ``base``'s, key by key; for a group (a name in ``groups``, given as
    a mapping on both sides) member by member, so that a preset can change one member of a group."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if key in groups and isinstance(old, dict) and isinstance(value, dict):
            out[key] = {**old, **value}
        else:
            out[key] = value
    return out


def _network_values(key: str, value) -> dict:
    """``{name: value}`` of what in a shared value makes networks: a group's members one by one (as
    ``group.member``), without those of :data:`NOT_OF_THE_NETWORKS`."""
    if key in NOT_OF_THE_NETWORKS:
        return {}
    if isinstance(value, dict):
        return {f"{key}.{k}": v for k, v in value.items() if f"{key}.{k}" not in NOT_OF_THE_NETWORKS}
    return {key: value}


def same_networks_problem(effective: dict[str, dict], reads: dict[str, set[str]]) -> str | None:
    """Where a chapter that measures another chapter's networks would get other networks: the first
    shared value (a group's member) that makes the networks (read by both chapters) and differs
    between them. ``effective``: each chapter's values; ``reads``: the shared names each chapter reads."""
    for chapter, producers in MEASURES_NETWORKS_OF.items():
        for producer in producers:
            if chapter not in effective or producer not in effective:
                continue
            for name in sorted(reads[chapter] & reads[producer]):
                mine_all = _network_values(name, effective[chapter].get(name))
                theirs_all = _network_values(name, effective[producer].get(name))
                for key in sorted(set(mine_all) | set(theirs_all)):
                    mine, theirs = mine_all.get(key), theirs_all.get(key)
                    if mine == theirs:
                        continue
                    return (f"chapter {chapter} measures the networks of chapter {producer}, but they are given "
                            f"different {key}: {producer} {json.dumps(theirs)}, {chapter} {json.dumps(mine)}, so "
                            f"{chapter} would measure other networks than its page says. Give {key} once in the "
                            f"file's defaults (for every chapter), or the same value in both chapters' sections")
    return None


def closest(name: str, names) -> str:
    """``"; did you mean 'x'?"`` for the declared name closest to ``name``, or ``""``."""
    match = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def _is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def value_problem(key: str, value) -> str | None:
    """What is wrong with ``value`` for parameter ``key`` (a dotted name for a mapping's key), and
    what to write instead; None if nothing."""
    name = key.rpartition(".")[2]
    if name in WHOLE_NUMBERS and value is not None and not (_is_whole(value) and value >= 1):
        return f"{value!r} is not a whole number from 1; write one (e.g. {name}: 2), or null ({WHOLE_NUMBERS[name]})"
    if name == "executor" and value not in EXECUTORS:
        return (f"{value!r} is not an executor; write processes (worker processes on this machine), local (in "
                f"the chapter's process) or dask (a Dask cluster, see address)")
    if name == "address" and value is not None:
        if not isinstance(value, str) or not ADDRESS.fullmatch(value.strip()):
            return (f"{value!r} is not a Dask scheduler address; write it as tcp://HOST:PORT (e.g. "
                    f"tcp://10.0.0.5:8786), or null for a local cluster")
    if name.endswith("seeds") and isinstance(value, list):
        if not value:
            return f"an empty list trains no network; give at least one seed, e.g. {name}: [0, 1, 2]"
        if not all(_is_whole(s) for s in value):
            return f"{value!r}: seeds are whole numbers, e.g. {name}: [0, 1, 2]"
    return None


def null_default_kind(key: str) -> str | None:
    """The declared kind of a parameter (or a group's member, ``group.member``) whose default is null."""
    return NULL_DEFAULT_KINDS.get(key.rpartition(".")[2])


def dask_address_problem(address: str, timeout: float = 5.0) -> str | None:
    """Whether a Dask scheduler answers at ``address`` (a TCP connection within ``timeout`` s)."""
    import socket

    m = ADDRESS.fullmatch(address.strip())
    if m is None:
        return "it is not of the form tcp://HOST:PORT"
    if m["scheme"] not in (None, "tcp", "tls"):
        return None  # another transport (ucx, ws, ...): left to Dask
    try:
        with socket.create_connection((m["host"].strip("[]"), int(m["port"])), timeout=timeout):
            return None
    except OSError as e:
        return f"no scheduler answers there within {timeout:.0f} s ({e.strerror or e})"


def cache_folder_problem() -> str | None:
    """Whether the cache folder (``$SINGLEDIR_CACHE``), where every trained network is kept, can be
    written; checked before any network trains."""
    import tempfile

    from ..base.cache import cache_dir

    root = cache_dir()
    var = (f"SINGLEDIR_CACHE={os.environ['SINGLEDIR_CACHE']}" if os.environ.get("SINGLEDIR_CACHE")
           else "SINGLEDIR_CACHE is not set")
    if root.exists() and not root.is_dir():
        return (f"the cache folder {root} ({var}) is a file, not a folder: set SINGLEDIR_CACHE to a folder (make book "
                f"uses .cache in the repository), or move the file away")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-test-"):
            pass
    except OSError as e:
        return (f"the cache folder {root} ({var}) cannot be written ({e.strerror or e}), and every trained network "
                f"is kept there: make it writable (chmod -R u+w {root}), or set SINGLEDIR_CACHE to a folder you "
                f"can write")
    return None
