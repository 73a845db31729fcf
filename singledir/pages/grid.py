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
    "E3": "generalizers rely less on single directions", "E4": "reliance grows as the network overfits",
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
        return [f'<span class="claim-id">{cid}</span>', link, *(mark(b[cid]) if cid in b else "" for b in builds.values())]

    paper = sorted((c for c in CLAIMS if c.startswith("E")), key=claim_order)
    after = sorted((c for c in CLAIMS if not c.startswith("E")), key=claim_order)
    half = ["id", "the claim", *(b.replace("-", "\u2011") for b in builds)]  # "Fashion-MNIST" breaks after its comma only
    rows = ["| " + " | ".join(half + half) + " |", "|" + "---|" * (2 * len(half))]
    for i in range(max(len(paper), len(after))):
        left = cells(paper[i] if i < len(paper) else None)
        right = cells(after[i] if i < len(after) else None)
        rows.append("| " + " | ".join(left + right) + " |")
    return "\n".join(rows) + "\n"


VERDICT_DIR = "verdicts"  # one box per claim, written at staging, included where the chapter decides it


def verdict_box(claim_id: str, findings: list[dict], registered: list[dict] | None = None) -> str:
    """A claim's closing box (MyST): the same headline as the first page's grid and a small table
    of its parts (estimate, 95% interval, rule, verdict at 95% with its route, verdict after
    Holm and gatekeeping). ``findings`` are every finding the first page shows, since the headline
    is corrected over the claim's family. ``registered``: the registered builds
    (:func:`singledir.book.registration.registered_builds`), whose verdicts open the box, each
    labelled as registered, before this build's."""
    reg = "".join(f"- {b['label']} (design `{b['design']}`): " + registered_text(r) + "\n"
                  for b in registered or [] if b["card"] is not None and (r := primary_row(b["card"], claim_id)) is not None)
    reg = f"Registered confirmatory verdicts:\n\n{reg}\nThis build:\n\n" if reg else ""
    f = next((x for x in findings if x["id"] == claim_id), None)
    if f is None:
        return (f":::{{admonition}} {claim_id}: not decided in this build\n:class: verdict\n\n{reg}"
                f"Its chapter has not run in this build.\n:::\n")
    c = corrected_verdicts(findings)[claim_id]
    rows = ["| part | estimate (95% interval) | rule | at 95% | after correction |", "|---|---|---|---|---|"]
    for p, after in zip(f["parts"], c["parts"]):
        role = " (primary)" if p.get("primary") else ""
        route = f": {_route_text(p)}" if p.get("route") else ""
        rows.append(f"| {p['name']}{role} | {_num(p['estimate'])} ({_num(p['ci_low'])} to {_num(p['ci_high'])}), "
                    f"n {p['n']} | {p['rule']} | {p['verdict']}{route} | {mark(after)} |")
    return (f":::{{admonition}} {claim_id}: {c['headline']} in this build\n:class: verdict {c['headline']}\n\n{reg}"
            f"Headline {mark(c['headline'])} (the primary part after Holm's correction, as on the first page); "
            f"over the corrected parts: {c['verdict']}.\n\n" + "\n".join(rows) + "\n:::\n")


def _num(text) -> str:
    """A number (or a scorecard's text of one) to three decimals; "n/a" for NaN or no number."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        return "n/a"
    return f"{v:.3f}" if v == v else "n/a"


def primary_row(card, claim_id: str):
    """A recorded build's primary row of ``claim_id`` (its scorecard read as text), or None."""
    rows = card[(card.id == claim_id) & (card.role == "primary")]
    return rows.iloc[0] if len(rows) else None


def registered_text(row) -> str:
    """A registered build's answer to one claim: its headline, the primary part's estimate and 95%
    interval, its effect of interest and the route its verdict took."""
    route = row.get("route", "")
    route = f"; {route}" if isinstance(route, str) and route else ""
    return (f"{mark(row['headline'])} {row['part']}: {_num(row['ours'])} ({_num(row['ci_low'])} to "
            f"{_num(row['ci_high'])}), n {row['n']}; effect of interest {_num(row['effect_of_interest'])}{route}")


def registered_columns(builds: list[dict]) -> dict[str, dict[str, str]]:
    """:func:`grid_markdown`'s ``columns`` for the registered builds the ledger holds."""
    return {b["label"]: dict(zip(b["card"][b["card"].role == "primary"].id, b["card"][b["card"].role == "primary"].headline))
            for b in builds if b["card"] is not None}


def _power_text(build: dict, claim_id: str) -> str:
    """The power its registration gave the claim's primary part (the lowest over the builds whose
    spread sized it), or nothing where the record has none."""
    power = next((p.get("power_lowest") for p in (build.get("record") or {}).get("parts", []) if p["id"] == claim_id), None)
    return f"; power {power:.2f} when registered" if isinstance(power, (int, float)) else ""


def registered_markdown(builds: list[dict]) -> str:
    """The first page's registered verdicts in numbers: per claim and registered build, its
    headline, primary estimate and interval, effect of interest and route; the builds not yet run."""
    if not builds:
        return "*No design is registered in the ledger.*\n"
    built = [b for b in builds if b["card"] is not None]
    lines = [f"- **{b['label']}**: preset `{b['preset']}`, design `{b['design']}`, registered {b['registered']}, "
             + (f"built and recorded as `{b['file'].name}`." if b["card"] is not None else "not built yet.")
             for b in builds]
    if not built:
        return "\n".join(lines) + "\n"
    rows = ["| id | " + " | ".join(b["label"] for b in built) + " |", "|---" * (len(built) + 1) + "|"]
    for cid in sorted(CLAIMS, key=claim_order):
        cells = [(registered_text(r) + _power_text(b, cid) if (r := primary_row(b["card"], cid)) is not None else "")
                 for b in built]
        rows.append(f"| {cid} | " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n\n" + "\n".join(rows) + "\n"
