"""A sweep's results as tidy tables: what each run's measurements return (column lists, the form a
worker sends back and the cache keeps) and the :class:`SweepResult` they are assembled into."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..base.cache import atomic_write


@dataclass
class SweepResult:
    """Tidy tables: ``runs`` one row per run; ``curves`` one row per run x checkpoint x baseline x
    order x ablated count; ``noise`` one row per run x order x scale; ``units`` one row per run x unit."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    noise: pd.DataFrame
    units: pd.DataFrame = field(default_factory=pd.DataFrame)

    def save(self, folder: Path) -> None:
        for name in ("runs", "curves", "noise", "units"):
            atomic_write(folder / f"{name}.parquet", lambda p, _t=getattr(self, name): _t.to_parquet(p, index=False))


def columns(rows: list[dict]) -> dict[str, list]:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return {k: [r.get(k) for r in rows] for k in keys}


def to_frame(payloads: list[dict], key: str, run_ids: list[int]) -> pd.DataFrame:
    frames = []
    for rid, p in zip(run_ids, payloads):
        cols = p.get(key) or {}
        if cols:
            frames.append(pd.DataFrame(cols).assign(run=rid))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def result(payloads: list[dict]) -> SweepResult:
    """The tidy tables of the runs' payloads, numbered in the order given."""
    order = list(range(len(payloads)))
    return SweepResult(*(to_frame(payloads, key, order) for key in ("runs", "curves", "noise", "units")))
