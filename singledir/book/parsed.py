"""Each chapter's source parsed once per process: a build asks for a chapter's notebook many times
(its parameters, its key, its imports, its design, its run), and jupytext parses it the first time
only.

A parsed notebook is kept under its file's resolved path and the SHA-256 of its bytes, so an edited
file is parsed again however quickly it was rewritten (a modification time can stay the same within
a clock tick); each caller gets its own deep copy, so one that changes its notebook (the runner sets
its kernel) changes no other's.
"""
from __future__ import annotations

import copy
import functools
import hashlib
from pathlib import Path
from typing import Callable

MAX_KEPT = 128  # notebooks kept per process, the oldest dropped first: the book has 8 chapters


def parsed_once(read: Callable[[Path], object]) -> Callable[[Path], object]:
    """``read(path)`` called once per file contents; every call returns a copy of its notebook.
    ``.cache_clear()`` forgets every notebook kept."""
    kept: dict[tuple[str, str], object] = {}

    @functools.wraps(read)
    def cached(path: Path):
        path = Path(path)
        key = (str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest())
        nb = kept.get(key)
        if nb is None:
            nb = kept[key] = read(path)
            while len(kept) > MAX_KEPT:
                kept.pop(next(iter(kept)))
        return copy.deepcopy(nb)

    cached.cache_clear = kept.clear
    return cached
