"""Sizing a design from the spread of recorded builds, never from their verdicts.

A registered design fixes its counts before its networks exist. They come from the builds the
ledger (``results/``) already holds: each part's interval there gives its pivot (the spread of its
replicates), and :func:`singledir.decide.stats.n_needed` finds how many replicates bring what
the part can detect down to its effect of interest at the wanted power. For a claim of direction
the same count serves both routes (see :meth:`singledir.decide.rules.Rule.detectable`).
Only the interval, ``n`` and the pivot columns of a row are read; its verdict columns are not.

``python -m singledir.decide.sizing results/default-*.csv results/decisive-*.csv --power 0.9``
prints, per part, the replicates each build's spread asks for and the largest of them.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as _st

from . import stats
from .claims import CLAIMS
from .verdicts import effect_of_interest


def pivot_of(row: pd.Series) -> dict:
    """A :mod:`.stats` result (estimate, interval, n and pivot) from one ledger row: its pivot
    columns where the ledger has them, else rebuilt from the 95% interval (a t pivot when the
    interval is symmetric about the estimate, Fisher's z otherwise); NaN scale where neither can
    be told (an interval clipped at the statistic's range, or none)."""
    n, est, lo, hi = int(row["n"]), float(row["ours"]), float(row["ci_low"]), float(row["ci_high"])
    out = {"estimate": est, "ci_low": lo, "ci_high": hi, "n": n, "center": math.nan, "scale": math.nan,
           "df": math.nan, "transform": "none"}
    if str(row.get("pivot_transform", "")) in ("none", "fisher") and np.isfinite(row.get("pivot_scale", np.nan)):
        return {**out, "center": float(row["pivot_center"]), "scale": float(row["pivot_scale"]),
                "df": float(row["pivot_df"]), "transform": row["pivot_transform"]}
    if not (np.isfinite(lo) and np.isfinite(hi) and n >= 3) or lo == hi:
        return out
    if math.isclose((lo + hi) / 2, est, rel_tol=1e-6, abs_tol=1e-9):
        scale = (hi - lo) / (2 * _st.t.ppf(0.975, n - 1))
        return {**out, "center": est, "scale": scale, "df": float(n - 1)}
    if -1 < lo < hi < 1:
        z_lo, z_hi = np.arctanh(lo), np.arctanh(hi)
        return {**out, "center": float((z_lo + z_hi) / 2), "scale": float((z_hi - z_lo) / (2 * _st.norm.ppf(0.975))),
                "df": math.inf, "transform": "fisher"}
    return out


def power_at(result: dict, detectable, effect: float, n: int) -> float:
    """The power with which ``n`` replicates of ``result``'s spread detect ``effect``: the power at
    which ``detectable(result_at_n, power=...)`` (a rule's :meth:`~singledir.decide.rules.Rule.detectable`)
    equals ``effect``, found by bisection on (0.05, 0.9999) and clipped there (below 0.05 a test at 95% has no
    noncentrality to solve for); NaN without a spread."""
    if not (np.isfinite(result.get("scale", np.nan)) and result.get("scale", 0) > 0 and n >= 3):
        return float("nan")
    at_n = stats.with_n(result, n)
    lo, hi = 0.05, 0.9999
    if detectable(at_n, power=hi) <= effect:
        return hi
    if detectable(at_n, power=lo) >= effect:
        return lo
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if detectable(at_n, power=mid) <= effect else (lo, mid)
    return (lo + hi) / 2


def sizes(ledgers: list[Path], power: float = stats.POWER, primary_only: bool = True) -> pd.DataFrame:
    """Per part (and per build): the replicates its spread needs for ``power`` at its effect of
    interest; one row per part with ``n_<build>`` columns and ``n_needed``, the largest."""
    rows = []
    for path in ledgers:
        table = pd.read_csv(path, comment="#")
        for _, r in table.iterrows():
            if primary_only and r["role"] != "primary":
                continue
            part = next((p for p in CLAIMS[r["id"]].parts if p.name == r["part"]), None) if r["id"] in CLAIMS else None
            if part is None:
                continue
            effect = effect_of_interest(r["id"], part)[0]
            need = stats.n_needed(pivot_of(r), lambda x: part.rule.detectable(x, power=power), effect)
            rows.append({"id": r["id"], "part": r["part"], "effect": effect, "build": Path(path).stem,
                         "n": int(r["n"]), "needed": need})
    if not rows:
        return pd.DataFrame(columns=["id", "part", "effect", "n_needed"])
    t = pd.DataFrame(rows)
    wide = t.pivot_table(index=["id", "part", "effect"], columns="build", values="needed", aggfunc="max")
    wide.columns = [f"n_{c}" for c in wide.columns]
    wide["n_needed"] = wide.max(axis=1)
    return wide.reset_index()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ledgers", nargs="+", type=Path, help="ledger CSVs (results/PRESET-DATE-DESIGN.csv)")
    ap.add_argument("--power", type=float, default=stats.POWER, help="wanted power (default 0.8)")
    ap.add_argument("--all", action="store_true", help="every part, not only the primary ones")
    a = ap.parse_args(argv)
    print(sizes(a.ledgers, a.power, primary_only=not a.all).to_string(index=False))


if __name__ == "__main__":
    main()
