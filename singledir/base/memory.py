"""Freed memory kept in the process for the next tensor, not handed back to the system at each free.

glibc's ``malloc`` serves a block of 128 KiB or more (a limit it raises as it goes, up to 32 MiB)
with a fresh ``mmap`` and unmaps it when it is freed, and trims the top of its heap once 128 KiB
there are free. A tensor operation allocates its output, so with that policy it often writes into
pages the system has just handed over: every 4 KiB page is a page fault and is zeroed first. The
book's tensors are such blocks: a conv net's activations of one training batch are 3 MB, those of
one chunk of a curve 200 MB. Measured on this book's 2-core machine (``benchmarks/bench_memory.py``):
a batch-norm conv net's training step spent 1.6 ms in a batch norm that takes 0.24 ms when its
output lands in pages already mapped (training 1.3-1.4x), and its per-unit measures on 4000 images
ran 1.2-1.3x faster; its ablation curve on 4000 images ran 2.6x faster, on the book's 500 only
1.05-1.2x.

:func:`hold_freed_memory` tells glibc to serve every block from its heap (``M_MMAP_MAX = 0``) and
to keep up to :data:`HELD_BYTES` of freed memory there (``M_TRIM_THRESHOLD``), as the allocators
PyTorch's CPU performance guide recommends (jemalloc, tcmalloc) do by design. It changes where
memory comes from, never a computed value: results are the same bits (``tests/test_memory.py``).
The cost is that a process keeps up to 1 GiB it no longer uses until it exits.

Importing :mod:`singledir.base` calls it once for the process. Training, measuring and sweeping
all import that floor, so every chapter, worker process and script that trains or measures gets it;
``SINGLEDIR_RETURN_FREED_MEMORY=1`` in the environment keeps glibc's default. Elsewhere than Linux
with glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_MAX = -4
HELD_BYTES = 1 << 30  # freed memory kept at the top of the heap before it is given back
OPT_OUT_ENV = "SINGLEDIR_RETURN_FREED_MEMORY"  # "1": keep glibc's default policy

_held: bool | None = None  # what the first call did, for the process


def hold_freed_memory() -> bool:
    """Keep freed memory in this process (see the module's text); True when glibc took the
    settings, False when it is not glibc or :data:`OPT_OUT_ENV` is ``"1"``. Once per process:
    later calls return the first call's answer."""
    global _held
    if _held is not None:
        return _held
    _held = False
    if not sys.platform.startswith("linux") or os.environ.get(OPT_OUT_ENV) == "1":
        return _held
    try:
        libc = ctypes.CDLL(None)  # the C library this process runs on
        libc.gnu_get_libc_version  # only glibc has it: musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return _held
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _held = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, HELD_BYTES))
    return _held
