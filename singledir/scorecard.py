"""Findings: each experiment's statistic, interval, scale and verdict, machine-readable.

A chapter calls :func:`record` once per experiment id (E1 ... E13, ``shared/paper/METHODS.md``).
The finding is written as ``E<n>.json`` into ``$SINGLEDIR_RESULTS`` (the book runner sets it to
``_build/results``) and glued into the chapter (``E1_ours``, ``E1_verdict``, ...), so the book's
scorecard can collect it without anything typed by hand.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .cache import cache_dir

VERDICTS = ("reproduced", "partly", "not reproduced")
COLUMNS = ("id", "claim", "paper", "ours", "ci_low", "ci_high", "scale", "verdict")


@dataclass(frozen=True)
class Finding:
    id: str  # "E1" ... "E13"
    claim: str  # the paper's claim, in this book's words
    paper: str  # the paper's number or statement
    statistic: str  # what `ours` is, e.g. "Spearman(corruption, AUC)"
    ours: float
    ci_low: float
    ci_high: float
    scale: str  # what was run: data, networks, seeds
    verdict: str
    chapter: str = ""  # chapter name, for links
    figure: str = ""  # label of the figure that shows it

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r}; allowed: {', '.join(VERDICTS)}")


def results_dir() -> Path:
    env = os.environ.get("SINGLEDIR_RESULTS")
    return Path(env) if env else cache_dir() / "results"


def direction_verdict(ours: float, ci_low: float, ci_high: float, expected_sign: int) -> str:
    """``reproduced`` when the interval lies wholly on the paper's side of 0, ``partly`` when the
    estimate does but the interval reaches 0, ``not reproduced`` otherwise (or when undefined)."""
    if not all(math.isfinite(v) for v in (ours, ci_low, ci_high)):
        return "not reproduced"
    lo, hi = sorted((ci_low, ci_high))
    if expected_sign * ours <= 0:
        return "not reproduced"
    if (expected_sign > 0 and lo > 0) or (expected_sign < 0 and hi < 0):
        return "reproduced"
    return "partly"


def combine(*verdicts: str) -> str:
    """One verdict for a claim tested on several models: all reproduced -> reproduced; none even
    partly -> not reproduced; otherwise partly."""
    if all(v == "reproduced" for v in verdicts):
        return "reproduced"
    if all(v == "not reproduced" for v in verdicts):
        return "not reproduced"
    return "partly"


def record(finding: Finding, glue: bool = True) -> Finding:
    """Write the finding to ``results_dir()/ID.json`` (atomically) and glue its fields."""
    d = results_dir()
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{finding.id}.json.partial"
    tmp.write_text(json.dumps(asdict(finding), indent=1))
    os.replace(tmp, d / f"{finding.id}.json")
    if glue:
        from myst_nb import glue as _glue

        for k in ("ours", "ci_low", "ci_high"):
            _glue(f"{finding.id}_{k}", float(getattr(finding, k)), display=False)
        for k in ("verdict", "scale", "paper", "statistic"):
            _glue(f"{finding.id}_{k}", getattr(finding, k), display=False)
    return finding


def collect(folder: Path | None = None) -> list[dict]:
    """Every recorded finding in ``folder`` (default ``results_dir()``), sorted by id number."""
    folder = folder or results_dir()
    items = [json.loads(p.read_text()) for p in folder.glob("E*.json")]
    return sorted(items, key=lambda f: int(f["id"][1:]))
