"""Checks of parameter values beyond their kind, and of ``chapters/shared.yml`` itself, made when
the book starts, before any network trains.

A parameter's kind is its default's (:func:`singledir.book.params._check_type`); a parameter whose
default is null declares its kind in :data:`NULL_DEFAULT_KINDS`. Some parameters have rules of their
own (:func:`value_problem`): a group size is a whole number from 1, an executor one of three, a seed
list is not empty, a Dask address has a port.
"""
from __future__ import annotations

import difflib
import json
import os
import re

# the kind of each parameter whose default is null ("null" keeps its meaning: all, automatic, none)
NULL_DEFAULT_KINDS = {
    "n_train": "a number", "n_test": "a number", "image_size": "a number", "conv_dataset": "text",
    "address": "text", "group_size": "a number",
    "resnet_dataset": "text", "resnet_image_size": "a number", "resnet_layers": "a list",  # chapter 5
    "layers": "a list",  # chapter 7
}
# whole numbers from 1 (or null)
WHOLE_NUMBERS = {
    "n_train": "null for all", "n_test": "null for all", "image_size": "null keeps the images' size",
    "resnet_image_size": "null: image_size", "group_size": "null for the measured best on this device",
}
EXECUTORS = ("processes", "local", "dask")
ADDRESS = re.compile(r"(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9a-fA-F:]+\]|[^:/\s]+):(?P<port>\d{1,5})")


# chapters that measure the networks another chapter trains (its trained networks come from the cache)
MEASURES_NETWORKS_OF = {"05_selectivity": ("04_dropout_batchnorm",), "06_ablation_value": ("04_dropout_batchnorm",),
                        "08_after_the_paper": ("02_memorization", "03_generalization", "04_dropout_batchnorm",
                                               "05_selectivity")}
# shared values that change how networks are measured or where they train, not which networks train
NOT_OF_THE_NETWORKS = {"executor", "address", "group_size", "grid", "repetitions", "conv_repetitions",
                       "all_layers_repetitions", "n_curve", "curve_seed", "n_unit_data", "n_bins",
                       "overfit_repetitions", "conv_overfit_repetitions", "grid_repetitions"}


def same_networks_problem(effective: dict[str, dict], reads: dict[str, set[str]]) -> str | None:
    """Where a chapter that measures another chapter's networks would get other networks: the first
    shared value that makes the networks (read by both chapters) and differs between them.
    ``effective``: each chapter's values; ``reads``: the shared names each chapter reads."""
    for chapter, producers in MEASURES_NETWORKS_OF.items():
        for producer in producers:
            if chapter not in effective or producer not in effective:
                continue
            for key in sorted((reads[chapter] & reads[producer]) - NOT_OF_THE_NETWORKS):
                mine, theirs = effective[chapter].get(key), effective[producer].get(key)
                if mine != theirs:
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
    """The declared kind of a parameter whose default is null."""
    return NULL_DEFAULT_KINDS.get(key)


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
