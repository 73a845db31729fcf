"""What each sweep of a chapter run took from the cache, for the provenance line under its figures.

In a book chapter (``$SINGLEDIR_RESULTS`` set) every finished sweep appends one line to the run's
:data:`SWEEPS_FILE`: its name, its seeds, how many of its runs (one trained and measured network
each) were computed in this run and how many came from the cache. Elsewhere nothing is recorded.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

SWEEPS_FILE = "sweeps.jsonl"  # in a chapter run's results folder ($SINGLEDIR_RESULTS): one line per sweep


def record_sweep(name: str | None, seeds, computed: int, cached: int) -> None:
    """Append one sweep's line to the chapter run's :data:`SWEEPS_FILE` (nothing outside a chapter)."""
    folder = os.environ.get("SINGLEDIR_RESULTS")
    if not folder:
        return
    line = {"name": name or "", "seeds": sorted({int(s) for s in seeds}), "computed": int(computed),
            "cached": int(cached)}
    try:
        with open(Path(folder) / SWEEPS_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
    except OSError:  # a record is never worth failing a computation for
        pass


def sweep_counts(folder: Path) -> dict:
    """The sweeps recorded in ``folder/SWEEPS_FILE`` summed: ``{"sweeps", "computed", "cached",
    "seeds"}`` (seeds: every seed of any sweep, sorted)."""
    out = {"sweeps": 0, "computed": 0, "cached": 0, "seeds": []}
    path = Path(folder) / SWEEPS_FILE
    seeds: set[int] = set()
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
                computed, cached = int(rec["computed"]), int(rec["cached"])
                seeds.update(int(s) for s in rec.get("seeds", []))
            except (ValueError, KeyError, TypeError):  # a line cut short by a killed kernel
                continue
            out["sweeps"] += 1
            out["computed"] += computed
            out["cached"] += cached
    out["seeds"] = sorted(seeds)
    return out
