"""The registration record of a preset (``results/PRESET-registration.json``), written once, in the
commit that registers the preset, before any of its networks exist.

``python -m singledir.book.register params/confirmatory.yml --reference results/default-....csv
--spread results/A.csv results/B.csv`` writes it: the design hash the preset's build must carry, its
seeds, the count that sets each primary part's replicates, and the power each part then has at its
effect of interest, from the spread of each recorded build named by ``--spread`` (their intervals
and counts, never their verdicts: :mod:`singledir.decide.sizing`).
"""
from __future__ import annotations

import argparse
import json
import math
from datetime import date
from pathlib import Path

import pandas as pd

from ..decide import stats
from ..decide.claims import CLAIMS
from ..decide.sizing import pivot_of, power_at
from ..decide.verdicts import effect_of_interest
from .registration import DRIVERS, _effective, driver_count, expected_replicates, preset_seeds


def _ranges(seeds: set[int]) -> list[list[int]]:
    """Sorted seeds as [first, last] runs."""
    out: list[list[int]] = []
    for s in sorted(seeds):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


def part_powers(expected: dict[str, int], spread: list[Path]) -> list[dict]:
    """Per primary part: its effect of interest and reason, registered replicates, and its power
    there from each spread build (``None`` where a build cannot tell a spread)."""
    tables = {Path(p).stem: pd.read_csv(p, comment="#") for p in spread}
    out = []
    for cid, n in expected.items():
        part = next(p for p in CLAIMS[cid].parts if p.primary)
        effect, reason = effect_of_interest(cid, part)
        powers = {}
        for build, t in tables.items():
            row = t[(t.id == cid) & (t.part == part.name)]
            power = power_at(pivot_of(row.iloc[0]), part.rule.detectable, effect, n) if len(row) else math.nan
            powers[build] = None if math.isnan(power) else round(power, 3)
        known = [v for v in powers.values() if v is not None]
        out.append({"id": cid, "part": part.name, "effect_of_interest": effect, "reason": reason,
                    "replicates": n, "power_lowest": min(known) if known else None, "power_by_build": powers})
    return out


def record(params_path: Path, reference: Path, reference_params: Path, spread: list[Path]) -> dict:
    """The registration record of ``params_path``."""
    from .keys import design_hash
    from .params import chapter_paths, load_params

    chapters = chapter_paths()
    effective = _effective(params_path)
    expected = expected_replicates(params_path, reference, reference_params)
    return {
        "preset": Path(params_path).stem,
        "registered": date.today().isoformat(),
        "design": design_hash(list(chapters.values()), load_params(Path(params_path), chapters)),
        "seeds": _ranges(preset_seeds(params_path)),
        "counts": {cid: {"chapter": ch, "parameter": spec, "value": driver_count(effective[ch], spec)}
                   for cid, (ch, spec) in DRIVERS.items()},
        "power_target": 0.9,
        "alpha": 1 - stats.CONFIDENCE,
        "sized_from": {"reference": Path(reference).name, "spread": [Path(p).name for p in spread]},
        "parts": part_powers(expected, spread),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("params", type=Path)
    ap.add_argument("--reference", type=Path, required=True, help="the ledger scorecard whose n the counts scale")
    ap.add_argument("--reference-params", type=Path, default=Path("params/default.yml"))
    ap.add_argument("--spread", type=Path, nargs="+", required=True, help="ledger scorecards whose spread sizes")
    ap.add_argument("--out", type=Path, default=None, help="default: results/PRESET-registration.json")
    a = ap.parse_args(argv)
    rec = record(a.params, a.reference, a.reference_params, a.spread)
    out = a.out or Path("results") / f"{rec['preset']}-registration.json"
    if out.exists():
        raise SystemExit(f"{out} exists: a registration is written once; a changed design is a new preset "
                         "with new seeds")
    out.write_text(json.dumps(rec, indent=1) + "\n")
    for p in rec["parts"]:
        print(f"{p['id']:>4} {p['part'][:34]:34} n={p['replicates']:4d} effect={p['effect_of_interest']:<5g} "
              f"power (lowest over spread builds) {p['power_lowest']}")
    print(f"design {rec['design']} -> {out}")


if __name__ == "__main__":
    main()
