"""The first page's forest plot: every primary part's 95% interval against its rule, on one scale.

Parts measure different things (a rank correlation, a difference of normalized AUCs, a share of
maps), so each is drawn in units of its own smallest effect of interest, turned so that the
paper's side is to the right:

* a claim of direction (the paper's side of 0, effect of interest ``E``): ``x = sign * value / E``;
  it is reproduced when its interval lies wholly right of 0 and reaches 1, contradicted when it
  lies wholly left of 1 ("smaller than" the effect, or of opposite sign);
* a band of half-width ``h`` (no relation, alike): ``x = value / h``; reproduced inside (-1, 1);
* a margin (at most ``m`` worse, effect of interest ``E`` beyond it): ``x = (value + m) / E``;
  reproduced right of 0.

The paper's own value is marked where a part states one as a number. :func:`forest_table` gives
the numbers (also written beside the figure as a CSV file), :func:`forest_figure` draws them.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from ..decide.claims import CLAIMS
from ..decide.verdicts import corrected_verdicts, effect_of_interest

KINDS = {"sign": "paper's side right of 0, effect of interest at 1",
         "band": "the band is (-1, 1)", "margin": "the margin at 0, paper's side right of it"}
COLOURS = {"reproduced": "#1a7f37", "contradicted": "#cf222e", "inconclusive": "#8c959f"}
X_RANGE = (-3.0, 4.0)


def _paper_value(text: str) -> float:
    """The first number a part's paper text states (``"-0.728 (over all checkpoints)"``), else NaN."""
    m = re.match(r"\s*([-+]?\d*\.\d+|[-+]?\d+)(?![\d.%/])", text or "")
    return float(m.group(1)) if m else math.nan


def _scaler(claim_id: str, part) -> tuple[str, callable]:
    rule = part.rule
    effect = effect_of_interest(claim_id, part)[0]
    if rule.sign:
        return "sign", lambda v: rule.sign * v / effect
    if rule.is_band:
        half = (rule.high - rule.low) / 2
        return "band", lambda v: (v - (rule.high + rule.low) / 2) / half
    edge = rule.low if math.isfinite(rule.low) else rule.high
    side = 1 if math.isfinite(rule.low) else -1
    return "margin", lambda v: side * (v - edge) / effect


COLUMNS = ["id", "part", "kind", "x", "lo", "hi", "paper", "headline", "route", "build"]


def _row(claim_id: str, part, est: float, lo: float, hi: float, headline: str, route: str, label: str) -> dict:
    """One forest row: a primary part's estimate and interval in units of its effect of interest."""
    kind, scale = _scaler(claim_id, part)
    lo, hi = sorted((scale(lo), scale(hi))) if math.isfinite(lo) and math.isfinite(hi) else (math.nan,) * 2
    return {"id": claim_id, "part": part.name, "kind": kind, "x": scale(est), "lo": lo, "hi": hi,
            "paper": scale(_paper_value(part.paper)), "headline": headline, "route": route, "build": label}


def _part(claim_id: str, name: str):
    """The claim's part of that name, or None."""
    claim = CLAIMS.get(claim_id)
    return next((q for q in claim.parts if q.name == name), None) if claim else None


def forest_table(findings: list[dict], label: str = "this build") -> pd.DataFrame:
    """One row per primary part of ``findings``: ``id, part, kind, x, lo, hi, paper, headline,
    build`` (``x, lo, hi, paper`` in units of the part's effect of interest, see the module)."""
    corrected = corrected_verdicts(findings)
    rows = []
    for f in findings:
        p = next((q for q in f["parts"] if q.get("primary")), None)
        part = _part(f["id"], p["name"]) if p is not None else None
        if part is not None:
            rows.append(_row(f["id"], part, p["estimate"], p["ci_low"], p["ci_high"], corrected[f["id"]]["headline"],
                             p.get("route", ""), label))
    return pd.DataFrame(rows, columns=COLUMNS)


SHORT = {"reproduced": "repr.", "contradicted": "contr.", "inconclusive": "incon.", "description": "descr."}
MARKERS = "osD^v"  # one per build, in the legend's order


def forest_figure(table: pd.DataFrame, path: Path) -> None:
    """Draw :func:`forest_table` rows into ``path`` (PNG): one row per primary part, its interval
    coloured and labelled by its headline verdict (the word is written beside it: colour is never
    the only signal); an arrow at the axis' edge where an interval goes on past it. Several builds
    (``build`` differs: the registered builds and this one) share each row, one thin line each with
    its own marker, named in a legend, and the verdict words stand side by side in the legend's
    order, shortened; the figure is as tall as for one build. Column-wide, its text at the
    page's smallest legible size (:mod:`singledir.pages.figures`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import COLUMN_INCHES, DPI, MIN_FONT_PT

    ids, builds = list(dict.fromkeys(table.id)), list(dict.fromkeys(table.build))
    # as tall as for one build: a legend takes its place from the rows
    fig, ax = plt.subplots(figsize=(COLUMN_INCHES, 0.19 * max(len(ids), 1) + 1.0), dpi=DPI)
    if not ids:
        ax.text(0.5, 0.5, "No findings yet: execute the chapters (make book).", ha="center", va="center")
        ax.set_axis_off()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return
    for i, cid in enumerate(ids):  # each rule's region: where an interval reproduces the claim
        kind = table[table.id == cid].kind.iloc[0]
        left, right = (-1.0, 1.0) if kind == "band" else (0.0, X_RANGE[1])
        ax.fill_between([left, right], i - 0.45, i + 0.45, color="#dafbe1", lw=0, zorder=0)
    ax.axvline(0, color="black", lw=0.8)
    ax.axvline(1, color="black", lw=0.8, ls="--")
    for j, build in enumerate(builds):
        _draw_build(ax, table[table.build == build], ids, j, builds)
    if len(builds) > 1:
        handles = [plt.Line2D([], [], color="#444", marker=MARKERS[j % len(MARKERS)], ls="", ms=4, label=b)
                   for j, b in enumerate(builds)]
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(builds), frameon=False,
                  fontsize=MIN_FONT_PT, handletextpad=0.2, columnspacing=0.8, borderaxespad=0.2)
    ax.set_yticks(range(len(ids)), ids, fontsize=MIN_FONT_PT)
    ax.tick_params(axis="x", labelsize=MIN_FONT_PT)
    ax.set_ylim(len(ids) - 0.5, -0.5)
    ax.set_xlim(*X_RANGE)
    ax.set_xlabel("estimate and 95% interval, in units of the effect of interest", fontsize=MIN_FONT_PT)
    ax.grid(False)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _draw_build(ax, rows: pd.DataFrame, ids: list[str], j: int, builds: list[str]) -> None:
    """One build's intervals in each row (offset by its place among ``builds``) and its verdict
    words at the right: the whole word for one build, shortened and side by side for several."""
    from .figures import MIN_FONT_PT

    several = len(builds) > 1
    off = (j - (len(builds) - 1) / 2) * (0.6 / len(builds) if several else 0)
    for _, r in rows.iterrows():
        y, c = ids.index(r.id) + off, COLOURS.get(r.headline, "#8c959f")
        if math.isfinite(r.lo):
            lo, hi = max(r.lo, X_RANGE[0]), min(r.hi, X_RANGE[1])
            ax.plot([lo, hi], [y, y], color=c, lw=1.4 if several else 2.2, solid_capstyle="butt")
            ax.plot([min(max(r.x, X_RANGE[0]), X_RANGE[1])], [y], MARKERS[j % len(MARKERS)] if several else "o",
                    color=c, ms=3.5 if several else 4)
            for edge, beyond, marker in ((X_RANGE[0], r.lo < X_RANGE[0], "<"), (X_RANGE[1], r.hi > X_RANGE[1], ">")):
                if beyond:  # the interval goes on past the axis
                    ax.plot([edge], [y], marker, color=c, ms=5 if several else 6, clip_on=False)
        if math.isfinite(r.paper) and j == len(builds) - 1:
            ax.plot([min(max(r.paper, X_RANGE[0]), X_RANGE[1])], [ids.index(r.id)], "x", color="black", ms=5)
        word = SHORT.get(r.headline, r.headline) if several else r.headline
        ax.text(X_RANGE[1] + 0.1 + (0.85 * j if several else 0), ids.index(r.id), word, va="center",
                fontsize=MIN_FONT_PT, color=c)


def ledger_forest_table(card: pd.DataFrame, label: str) -> pd.DataFrame:
    """:func:`forest_table`'s rows for a build recorded in the ledger (its scorecard CSV, read as
    text), labelled ``label``: the primary parts' estimates and intervals as that build wrote them."""
    rows = []
    for _, r in card[card.role == "primary"].iterrows():
        part = _part(r["id"], r["part"])
        if part is not None:
            est, lo, hi = (float(r[c]) if isinstance(r[c], str) and r[c] else math.nan for c in ("ours", "ci_low", "ci_high"))
            route = r.get("route", "")
            rows.append(_row(r["id"], part, est, lo, hi, r["headline"], route if isinstance(route, str) else "", label))
    return pd.DataFrame(rows, columns=COLUMNS)
