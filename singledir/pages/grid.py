"""The first page's verdict grid: every claim in one row, its short name and its headline verdict.

A reader coming from the paper takes in the answer on the first screen: E1-E13 (the paper's
claims) beside F1-F8 (later work tested on the same networks), each row a short name that links to
the claim's figure in its chapter and a verdict mark per build that has one (this build's; the
registered builds' where the ledger holds them). The mark carries the verdict's word as well as
its colour.
"""
from __future__ import annotations

from ..decide.claims import CLAIMS
from ..decide.verdicts import claim_order, corrected_verdicts
from .scorecard import route_text as _route_text

SHORT_NAMES = {
    "E1": "corrupted labels: ablation curves fall faster", "E2": "corrupted labels: more sensitive to noise",
    "E3": "better generalizers rely less on single directions", "E4": "reliance grows as the network overfits",
    "E5": "the AUC picks good hyperparameters", "E6": "dropout: flat to its rate, then corrupted fall",
    "E7": "batch norm: more robust to ablation", "E8": "batch norm: less selective, more informative",
    "E9": "selectivity predicts importance poorly", "E10": "the mean ablates worse than zero",
    "E11": "selectivity rises with depth", "E12": "selectivity vs the filter's L1 norm",
    "E13": "information predicts importance poorly",
    "F1": "selectivity predicts per-class damage", "F2": "lowering selectivity costs nothing",
    "F3": "the optimal constant ablates less harm", "F4": "selective units first hurt more, within a layer",
    "F5": "the AUC's choices hold on a validation split", "F6": "selectivity peaks early in training",
    "F7": "memorization sits in a few units", "F8": "seed disagreement predicts as well as the AUC",
}


def mark(verdict: str) -> str:
    """A verdict as a coloured mark that says its word (inline HTML for MyST)."""
    return f'<span class="verdict-mark {verdict.replace(" ", "-")}">{verdict}</span>'


def grid_markdown(findings: list[dict], columns: dict[str, dict[str, str]] | None = None) -> str:
    """The grid as MyST: the paper's claims and the later ones side by side, one row per claim.

    Args:
        findings: this build's findings (each claim's headline after Holm, see
            :func:`singledir.decide.verdicts.corrected_verdicts`).
        columns: more builds to show beside this one, ``{label: {claim id: headline}}`` (the
            registered builds), oldest first.
    """
    head = {k: v["headline"] for k, v in corrected_verdicts(findings).items()}
    builds = {**(columns or {}), "this build": head}
    figure = {f["id"]: f.get("figure", "") for f in findings}

    def cells(cid: str | None) -> list[str]:
        if cid is None:
            return [""] * (2 + len(builds))
        name = SHORT_NAMES.get(cid, CLAIMS[cid].claim if cid in CLAIMS else cid)
        link = f"{{ref}}`{name} <{figure[cid]}>`" if figure.get(cid) else name
        return [cid, link, *(mark(b[cid]) if cid in b else "" for b in builds.values())]

    paper = sorted((c for c in CLAIMS if c.startswith("E")), key=claim_order)
    after = sorted((c for c in CLAIMS if not c.startswith("E")), key=claim_order)
    half = ["id", "the claim", *builds]
    rows = ["| " + " | ".join(half + half) + " |", "|" + "---|" * (2 * len(half))]
    for i in range(max(len(paper), len(after))):
        left = cells(paper[i] if i < len(paper) else None)
        right = cells(after[i] if i < len(after) else None)
        rows.append("| " + " | ".join(left + right) + " |")
    return "\n".join(rows) + "\n"


VERDICT_DIR = "verdicts"  # one box per claim, written at staging, included where the chapter decides it


def verdict_box(claim_id: str, findings: list[dict]) -> str:
    """A claim's closing box (MyST): the same headline as the first page's grid and a small table
    of its parts (estimate, 95% interval, rule, verdict at 95% with its route, verdict after
    Holm and gatekeeping). ``findings`` are every finding the first page shows, since the headline
    is corrected over the claim's family."""
    f = next((x for x in findings if x["id"] == claim_id), None)
    if f is None:
        return (f":::{{admonition}} {claim_id}: not decided in this build\n:class: verdict\n\n"
                f"Its chapter has not run in this build.\n:::\n")
    c = corrected_verdicts(findings)[claim_id]
    num = lambda v: f"{v:.3f}" if v == v else "n/a"
    rows = ["| part | estimate (95% interval) | rule | at 95% | after correction |", "|---|---|---|---|---|"]
    for p, after in zip(f["parts"], c["parts"]):
        role = " (primary)" if p.get("primary") else ""
        route = f": {_route_text(p)}" if p.get("route") else ""
        rows.append(f"| {p['name']}{role} | {num(p['estimate'])} ({num(p['ci_low'])} to {num(p['ci_high'])}), "
                    f"n {p['n']} | {p['rule']} | {p['verdict']}{route} | {mark(after)} |")
    return (f":::{{admonition}} {claim_id}: {c['headline']}\n:class: verdict {c['headline']}\n\n"
            f"Headline {mark(c['headline'])} (the primary part after Holm's correction, as on the first page); "
            f"over the corrected parts: {c['verdict']}.\n\n" + "\n".join(rows) + "\n:::\n")
