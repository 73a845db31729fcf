"""How a claim is decided from its parts' results, by the rules of :mod:`singledir.experiments.claims`.

:func:`decide` applies a claim's rules to its parts' 95% intervals (each part's verdict, p-value,
detectable effect and effect of interest); :func:`claim_verdict` combines the parts;
:func:`headline_verdicts` corrects the primary parts with Holm's procedure within each
:func:`family` (the paper's claims E1-E13, and F1-F5 after the paper); :func:`rules_table` is the
table chapter 1 prints.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from . import stats
from .claims import (ALPHA, CLAIMS, CORRELATION_OF_INTEREST, DIFFERENCE_OF_INTEREST, EFFECTS, NO_RELATION_BAND,
                     SENSITIVITY_BAND, Part, band)


def effect_of_interest(claim_id: str, part: Part) -> tuple[float, str]:
    """The smallest effect of ``part`` that would matter, and why: for a band rule, the band
    (the run must certify it); else :data:`EFFECTS` or the default for its kind of statistic."""
    if (claim_id, part.name) in EFFECTS:
        return EFFECTS[(claim_id, part.name)]
    if part.rule.is_band:
        return (part.rule.high - part.rule.low) / 2, "the rule's band"
    if "Spearman" in part.statistic:
        return CORRELATION_OF_INTEREST, "default |rho|"
    return DIFFERENCE_OF_INTEREST, "default difference"


def claim_verdict(part_verdicts: list[str]) -> str:
    """One verdict over a claim's parts: *reproduced* when every part is; *partly* when at least
    one is reproduced and one is not; *contradicted* when none is reproduced and at least one is
    contradicted; otherwise *inconclusive*."""
    if not part_verdicts:
        raise ValueError("a claim needs at least one part")
    if all(v == "reproduced" for v in part_verdicts):
        return "reproduced"
    if "reproduced" in part_verdicts:
        return "partly"
    return "contradicted" if "contradicted" in part_verdicts else "inconclusive"


@dataclass
class PartResult:
    name: str
    statistic: str
    unit: str
    rule: str
    paper: str
    estimate: float
    ci_low: float
    ci_high: float
    n: int
    verdict: str
    mde: float  # what the run could detect (80% power): beyond the boundary, or the narrowest band
    primary: bool = False
    p: float = 1.0  # the smallest alpha at which the part's interval decides it
    side: str = "inconclusive"  # what it decides at that alpha
    band: bool = False  # the rule is an equivalence band (mde is then the narrowest certifiable band)
    sensitivity: str = ""  # a band part's verdict with the band at SENSITIVITY_BAND
    effect: float = math.nan  # the smallest effect that would matter (effect_of_interest)
    can_decide: bool = False  # this run detects (or certifies) that effect with 80% power
    n_needed: float = math.nan  # replicates for 80% power at that effect, from this run's spread


def _part_result(claim_id: str, p: Part, r: dict) -> PartResult:
    v = p.rule.verdict(float(r["ci_low"]), float(r["ci_high"]))
    effect = effect_of_interest(claim_id, p)[0]
    detectable = float(p.rule.detectable(r))
    pv, side = p.rule.p_value(r)
    sens = ""
    if p.rule.is_band and p.rule.low == -NO_RELATION_BAND:
        sens = band(SENSITIVITY_BAND).verdict(float(r["ci_low"]), float(r["ci_high"]))
    return PartResult(p.name, p.statistic, p.unit, p.rule.describe(), p.paper, float(r["estimate"]),
                      float(r["ci_low"]), float(r["ci_high"]), int(r.get("n", 0)), v, detectable,
                      p.primary, float(pv), side, p.rule.is_band, sens, effect, bool(detectable <= effect),
                      stats.n_needed(r, p.rule.detectable, effect))


def decide(claim_id: str, results: dict[str, dict]) -> tuple[str, list[PartResult]]:
    """Apply a claim's rules to its parts' results.

    Args:
        claim_id: ``"E1"`` ... ``"E13"``, ``"F1"`` ... ``"F5"``.
        results: ``{part name: result}`` for every part, each a :mod:`singledir.experiments.stats` result
            (``estimate``, ``ci_low``, ``ci_high``, ``n`` and its pivot).

    Returns:
        ``(verdict over all parts, [PartResult per part])``.
    """
    claim = CLAIMS[claim_id]
    names = [p.name for p in claim.parts]
    if set(results) != set(names):
        raise ValueError(f"{claim_id} has parts {names}; results were given for {sorted(results)}")
    parts = [_part_result(claim_id, p, results[p.name]) for p in claim.parts]
    return claim_verdict([p.verdict for p in parts]), parts


def holm(p_values: dict[str, float], alpha: float = ALPHA) -> dict[str, bool]:
    """Holm's step-down procedure: which hypotheses are rejected at family-wise error ``alpha``."""
    order = sorted(p_values, key=lambda k: p_values[k])
    m, out, going = len(order), {}, True
    for i, k in enumerate(order):
        going = going and p_values[k] <= alpha / (m - i)
        out[k] = going
    return out


def headline_verdicts(findings: list[dict], alpha: float = ALPHA) -> dict[str, str]:
    """Each claim's headline verdict: its primary part decided with Holm's correction over the
    primary parts of ``findings`` (one per claim) of the same :func:`family`; a part not decided
    after correction is *inconclusive*."""
    prim = {}
    for f in findings:
        p = next((q for q in f["parts"] if q.get("primary")), None)
        if p is not None:
            prim[f["id"]] = (float(p.get("p", 1.0)), p.get("side", "inconclusive"))
    rejected = {}
    for fam in {family(k) for k in prim}:
        rejected.update(holm({k: v[0] for k, v in prim.items() if family(k) == fam}, alpha))
    return {k: (side if rejected[k] and side != "inconclusive" else "inconclusive") for k, (_, side) in prim.items()}


def claim_order(claim_id: str) -> tuple[int, float]:
    """Sort key of a claim id: the paper's claims E1-E13 first, then F1-F5, each by number."""
    m = re.fullmatch(r"([A-Za-z]*)(\d+)", str(claim_id))
    if not m:
        return (2, math.inf)
    return (1 if m.group(1) == "F" else 0, int(m.group(2)))


def family(claim_id: str) -> str:
    """The claim's family for Holm's correction: ``"paper"`` (E1-E13) or ``"after the paper"`` (F1-F5)."""
    return "after the paper" if claim_id.startswith("F") else "paper"


def rules_table() -> pd.DataFrame:
    """Every claim's parts and rules, one row per part: the table chapter 1 prints."""
    return pd.DataFrame([{"id": c.id, "section": c.section, "claim": c.claim, "part": p.name,
                          "role": "primary" if p.primary else "secondary",
                          "statistic": p.statistic, "replicates": p.unit, "reproduced when": p.rule.describe(),
                          "paper": p.paper or c.paper}
                         for c in CLAIMS.values() for p in c.parts])
