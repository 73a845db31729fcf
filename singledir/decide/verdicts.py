"""How a claim is decided from its parts' results, by the rules of :mod:`singledir.decide.claims`.

:func:`decide` applies a claim's rules to its parts' 95% intervals (each part's verdict, p-value,
detectable effect and effect of interest); :func:`claim_verdict` combines the parts;
:func:`headline_verdicts` corrects the primary parts with Holm's procedure within each
:func:`family` (the paper's claims E1-E13, and F1-F8 after the paper); :func:`corrected_verdicts`
gatekeeps each claim's secondary parts behind its primary; :func:`rules_table` is the table chapter 1
prints.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pandas as pd

from . import stats
from .claims import ALPHA, CLAIMS, EFFECTS, MIN_REPLICATES, NO_RELATION_BAND, SENSITIVITY_BAND, Part, band


def effect_of_interest(claim_id: str, part: Part) -> tuple[float, str]:
    """The smallest effect of ``part`` that would matter, and why: for a band rule, the band
    (the run must certify it); else :data:`EFFECTS`, which names every other part."""
    if part.rule.is_band:
        return (part.rule.high - part.rule.low) / 2, "the rule's band"
    if (claim_id, part.name) not in EFFECTS:
        raise KeyError(f"{claim_id} part {part.name!r} has no effect of interest in claims.EFFECTS: write one, "
                       "with its reason, before any build decides the part")
    return EFFECTS[(claim_id, part.name)]


def claim_verdict(part_verdicts: list[str]) -> str:
    """One verdict over a claim's parts (parts that are descriptions do not count): *reproduced*
    when every part is; *partly* when at least one is reproduced and one is not; *contradicted*
    when none is reproduced and at least one is contradicted; otherwise *inconclusive*."""
    if not part_verdicts:
        raise ValueError("a claim needs at least one part")
    decided = [v for v in part_verdicts if v != DESCRIPTION]
    if decided and all(v == "reproduced" for v in decided):
        return "reproduced"
    if "reproduced" in decided:
        return "partly"
    return "contradicted" if "contradicted" in decided else "inconclusive"


PIVOT = ("center", "scale", "df", "transform")  # what sizes a later run from this one's spread (stats.with_n)
DESCRIPTION = "description"  # a part's "verdict" when it cannot decide: fewer than 3 replicates, or no spread


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
    p: float = 1.0  # the smallest alpha at which the part's interval decides it (by its deciding route)
    side: str = "inconclusive"  # what it decides at that alpha
    band: bool = False  # the rule is an equivalence band (mde is then the narrowest certifiable band)
    sensitivity: str = ""  # a band part's verdict with the band at SENSITIVITY_BAND
    effect: float = math.nan  # the smallest effect that would matter (effect_of_interest)
    can_decide: bool = False  # this run detects (or certifies) that effect with 80% power
    n_needed: float = math.nan  # replicates for 80% power at that effect, from this run's spread
    route: str = ""  # how the verdict was reached: "paper's side of 0", "opposite sign", "smaller than 0.3", ...
    standardized: float = math.nan  # a t-interval part's estimate over the SD of its replicates (NaN otherwise)
    pivot: dict = field(default_factory=dict)  # center, scale, df, transform: the interval's pivot (for sizing)


def is_description(r: dict) -> str:
    """Why a result can only describe (fewer than :data:`MIN_REPLICATES` replicates, or every
    replicate the same value), or ``""`` when it can decide."""
    n = int(r.get("n", 0))
    if n < MIN_REPLICATES:
        return f"description: n = {n}"
    lo, hi = float(r["ci_low"]), float(r["ci_high"])
    if math.isfinite(lo) and lo == hi:
        return "description: every replicate the same"
    return ""


def _part_result(claim_id: str, p: Part, r: dict) -> PartResult:
    effect = effect_of_interest(claim_id, p)[0]
    d = p.rule.decide(r, effect)
    why_not = is_description(r)
    if why_not:
        d = {"verdict": DESCRIPTION, "route": why_not, "p": 1.0, "side": "inconclusive"}
    detectable = float(p.rule.detectable(r))
    sens = ""
    if p.rule.is_band and p.rule.low == -NO_RELATION_BAND and not why_not:
        sens = band(SENSITIVITY_BAND).verdict(float(r["ci_low"]), float(r["ci_high"]))
    sd = float(r.get("sd", math.nan))
    spread = r.get("transform") == "none" and sd > 1e-12 * max(1.0, abs(float(r["estimate"])))  # not rounding noise
    std = float(r["estimate"]) / sd if spread else math.nan
    return PartResult(p.name, p.statistic, p.unit, p.rule.describe(), p.paper, float(r["estimate"]),
                      float(r["ci_low"]), float(r["ci_high"]), int(r.get("n", 0)), d["verdict"], detectable,
                      p.primary, float(d["p"]), d["side"], p.rule.is_band, sens, effect, bool(detectable <= effect),
                      stats.n_needed(r, p.rule.detectable, effect), d["route"], std,
                      {k: r.get(k, math.nan) for k in PIVOT})


def decide(claim_id: str, results: dict[str, dict]) -> tuple[str, list[PartResult]]:
    """Apply a claim's rules to its parts' results.

    Args:
        claim_id: ``"E1"`` ... ``"E13"``, ``"F1"`` ... ``"F8"``.
        results: ``{part name: result}`` for every part, each a :mod:`singledir.decide.stats` result
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
    primary parts of ``findings`` (one per claim) of the same :func:`family`, each by its deciding
    route's p-value; a part not decided after correction, or a primary that is only a description
    (not counted in the family), is *inconclusive*."""
    prim = {}
    for f in findings:
        p = next((q for q in f["parts"] if q.get("primary")), None)
        if p is not None and p.get("verdict") != DESCRIPTION:
            prim[f["id"]] = (float(p.get("p", 1.0)), p.get("side", "inconclusive"))
    rejected = {}
    for fam in {family(k) for k in prim}:
        rejected.update(holm({k: v[0] for k, v in prim.items() if family(k) == fam}, alpha))
    out = {f["id"]: "inconclusive" for f in findings if any(q.get("primary") for q in f["parts"])}
    out.update({k: (side if rejected[k] and side != "inconclusive" else "inconclusive")
                for k, (_, side) in prim.items()})
    return out


NOT_TESTED = "not tested"  # a secondary part whose claim's primary was not decided (the gate stayed shut)


def corrected_verdicts(findings: list[dict], alpha: float = ALPHA) -> dict[str, dict]:
    """Every claim's verdicts after correction, by serial gatekeeping.

    The primary parts are corrected by Holm within their family (:func:`headline_verdicts`). A
    claim's secondary parts are tested only when its primary part is decided after that correction
    (reproduced or contradicted), and then with Holm's correction among themselves at ``alpha``;
    otherwise they are *not tested* and stay descriptions. A part with too few replicates or no
    spread is a description in any case. The claim's verdict over its parts
    (:func:`claim_verdict`) uses these corrected verdicts only.

    Returns:
        ``{claim id: {"headline": str, "parts": [corrected verdict per part, in order], "verdict": str}}``.
    """
    head = headline_verdicts(findings, alpha)
    out = {}
    for f in findings:
        h = head.get(f["id"], "inconclusive")
        parts = f["parts"]
        gate = h in ("reproduced", "contradicted")
        tested = [i for i, p in enumerate(parts) if not p.get("primary") and p["verdict"] != DESCRIPTION]
        rejected = holm({i: float(parts[i].get("p", 1.0)) for i in tested}, alpha) if gate and tested else {}
        corrected = []
        for i, p in enumerate(parts):
            if p["verdict"] == DESCRIPTION:
                corrected.append(DESCRIPTION)
            elif p.get("primary"):
                corrected.append(h)
            elif not gate:
                corrected.append(NOT_TESTED)
            else:
                side = p.get("side", "inconclusive")
                corrected.append(side if rejected[i] and side != "inconclusive" else "inconclusive")
        decided = [v for v in corrected if v not in (DESCRIPTION, NOT_TESTED)]
        out[f["id"]] = {"headline": h, "parts": corrected,
                        "verdict": claim_verdict(decided) if decided else "inconclusive"}
    return out


def claim_order(claim_id: str) -> tuple[int, float]:
    """Sort key of a claim id: the paper's claims E1-E13 first, then F1-F8, each by number."""
    m = re.fullmatch(r"([A-Za-z]*)(\d+)", str(claim_id))
    if not m:
        return (2, math.inf)
    return (1 if m.group(1) == "F" else 0, int(m.group(2)))


def family(claim_id: str) -> str:
    """The claim's family for Holm's correction: ``"paper"`` (E1-E13) or ``"after the paper"`` (F1-F8)."""
    return "after the paper" if claim_id.startswith("F") else "paper"


def contradicted_when(claim_id: str, part: Part) -> str:
    """The rule's contradicting routes in a few words (see :mod:`singledir.decide.rules`)."""
    effect = effect_of_interest(claim_id, part)[0]
    if part.rule.sign:
        return f"opposite sign, or smaller than {effect:g}"
    return "wholly outside the band" if part.rule.is_band else "wholly on the other side"


def rules_table() -> pd.DataFrame:
    """Every claim's parts and rules, one row per part: the table chapter 1 prints (each effect of
    interest's reason is in the power table)."""
    return pd.DataFrame([{"id": c.id, "section": c.section, "claim": c.claim, "part": p.name,
                          "role": "primary" if p.primary else "secondary",
                          "statistic": p.statistic, "replicates": p.unit, "reproduced when": p.rule.describe(),
                          "contradicted when": contradicted_when(c.id, p),
                          "effect of interest": effect_of_interest(c.id, p)[0],
                          "paper": p.paper or c.paper}
                         for c in CLAIMS.values() for p in c.parts])
