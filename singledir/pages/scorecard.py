"""Findings: each claim's parts, numbers, intervals and verdicts, machine-readable and glued.

A chapter computes the statistics of a claim's parts and calls :func:`report` once per claim
(E1 ... E13). The verdicts come from the rules of :mod:`singledir.decide.claims`, fixed before the chapter
runs. The finding is written as ``E<n>.json`` into ``$SINGLEDIR_RESULTS`` (the book runner sets it
to the build's results folder) and glued into the chapter, so the book's first page (the
scorecard) and its scale table can show it without anything typed by hand.

Glued names: ``E1_verdict``, ``E1_scale``, and per part ``i`` (in the claim's order)
``E1_p0_est``, ``E1_p0_lo``, ``E1_p0_hi``, ``E1_p0_mde``, ``E1_p0_verdict``, and as text for tables
``E1_p0_est_text``, ``E1_p0_ci_text`` (``"n/a"`` where too few samples gave no number); the run's
setup as ``E1_setup_data``, ``E1_setup_network``, ... .
"""
from __future__ import annotations

import csv
import glob
import io
import json
import math
import os
import re
from dataclasses import asdict
from pathlib import Path

from ..decide.claims import CLAIMS, SENSITIVITY_BAND
from ..decide.verdicts import DESCRIPTION, PartResult, claim_order, corrected_verdicts, decide, effect_of_interest, family
from ..base.cache import atomic_write, cache_dir

SETUP_KEYS = ("data", "network", "epochs", "seeds", "layers", "statistic")
CSV_COLUMNS = ("id", "part", "role", "claim", "paper", "statistic", "ours", "ci_low", "ci_high", "n", "replicates",
               "rule", "part_verdict", "route", "corrected_part_verdict", "p", "standardized", "mde", "detectable",
               "effect_of_interest", "can_decide", "n_needed", "verdict", "headline", "scale", "design",
               "pivot_center", "pivot_scale", "pivot_df", "pivot_transform")
# where each row's numbers came from: the run of its chapter (the same on every row of a chapter)
CSV_META_COLUMNS = ("chapter", "preset", "executed", "chapter_seconds", "cpu", "instruction_set",
                    "torch_cpu_capability", "torch_threads", "torch", "device", "training_code", "chapter_current")


def results_dir() -> Path:
    env = os.environ.get("SINGLEDIR_RESULTS")
    return Path(env) if env else cache_dir() / "results"


def report(claim_id: str, results: dict[str, dict], *, scale: str, setup: dict[str, str],
           glue: bool = True) -> dict:
    """Decide ``claim_id`` from its parts' ``results`` (see :func:`singledir.decide.verdicts.decide`), write the
    finding to ``results_dir()/ID.json`` atomically and glue its fields into the chapter.

    Args:
        results: ``{part name: result}``, each a :mod:`singledir.decide.stats` result (estimate, 95%
            interval, n and the pivot the verdict's p-value and detectable effect come from).
        scale: what was run, in a sentence (data, networks, seeds).
        setup: this build's side of the scale table: ``data``, ``network``, ``epochs``, ``seeds``,
            ``layers``, ``statistic`` (strings made from the run configs).
    """
    claim = CLAIMS[claim_id]
    missing = set(SETUP_KEYS) - set(setup)
    if missing:
        raise ValueError(f"setup of {claim_id} lacks {sorted(missing)}")
    verdict, parts = decide(claim_id, results)
    finding = {"id": claim_id, "claim": claim.claim, "paper": claim.paper, "section": claim.section,
               "verdict": verdict, "scale": scale, "chapter": claim.chapter, "figure": claim.figure,
               "parts": [asdict(p) for p in parts], "setup": {k: str(setup[k]) for k in SETUP_KEYS},
               "paper_setup": claim.paper_setup}
    d = results_dir()
    atomic_write(d / f"{claim_id}.json", lambda p: p.write_text(json.dumps(finding, indent=1)))
    if glue:
        import myst_nb

        myst_nb.glue(f"{claim_id}_verdict", verdict, display=False)
        myst_nb.glue(f"{claim_id}_scale", scale, display=False)
        for i, p in enumerate(parts):
            for k, v in (("est", p.estimate), ("lo", p.ci_low), ("hi", p.ci_high), ("mde", p.mde)):
                myst_nb.glue(f"{claim_id}_p{i}_{k}", float(v), display=False)
            myst_nb.glue(f"{claim_id}_p{i}_verdict", p.verdict, display=False)
            myst_nb.glue(f"{claim_id}_p{i}_route", p.route or "undecided", display=False)
            myst_nb.glue(f"{claim_id}_p{i}_est_text", estimate_text(p), display=False)
            myst_nb.glue(f"{claim_id}_p{i}_ci_text", interval_text(p), display=False)
            myst_nb.glue(f"{claim_id}_p{i}_mde_text", mde_text(p), display=False)
        for k in SETUP_KEYS:
            myst_nb.glue(f"{claim_id}_setup_{k}", str(setup[k]), display=False)
    return finding


def estimate_text(part: PartResult) -> str:
    """The part's estimate to 3 decimals, or ``n/a`` where too few samples gave none."""
    return f"{part.estimate:.3f}" if math.isfinite(part.estimate) else "n/a"


def interval_text(part: PartResult) -> str:
    """The part's 95% interval, or why there is none (``n/a: 1 settings``)."""
    if math.isfinite(part.ci_low) and math.isfinite(part.ci_high):
        return f"{part.ci_low:.3f} to {part.ci_high:.3f}"
    return f"n/a: {part.n} {part.unit}"


def mde_text(part: PartResult) -> str:
    """What an inconclusive part could have detected, as a sentence (empty for a decided part), and
    for a "no relation" band the verdict with the narrower sensitivity band."""
    sens = (f" With the band at ±{SENSITIVITY_BAND:g} instead: {part.sensitivity}."
            if part.sensitivity else "")
    if part.verdict == DESCRIPTION:
        why = ("every replicate gave the same value" if part.route.endswith("same")
               else f"n = {part.n}, too few replicates to decide")
        return f"Description only ({part.name}): {why}."
    if part.verdict != "inconclusive":
        return sens.strip()
    if math.isinf(part.mde):
        return (f"Inconclusive part ({part.name}): with 80% power this run could detect no effect within the "
                "statistic's range (too few replicates)." + sens)
    if not math.isfinite(part.mde):
        return f"Inconclusive part ({part.name}): too few samples to estimate what this run could detect." + sens
    if part.band:
        return (f"Inconclusive part ({part.name}): with 80% power this run certifies no band narrower than "
                f"±{part.mde:.3f}." + sens)
    return (f"Inconclusive part ({part.name}): with 80% power this run detects an effect of {part.mde:.3f} "
            "beyond the rule's boundary." + sens)


def route_text(part: dict) -> str:
    """A part's route as it follows its verdict word on a page: a description's route without the
    word it repeats (``"n = 2"``, not ``"description: n = 2"``)."""
    route = str(part.get("route", ""))
    return route.split(": ", 1)[1] if route.startswith(f"{DESCRIPTION}: ") else route


def _cell(t) -> str:
    return str(t).replace("|", "\\|").replace("\n", " ")


def _id_cell(finding: dict) -> str:
    return finding["id"] + (" (stale: its chapter is not current)" if finding.get("stale") else "")


def scorecard_markdown(findings: list[dict]) -> str:
    """The scorecard as MyST: one row per part of each claim, every number a glue reference into the
    chapter that computed it, each claim linked to its figure. The headline verdict is the primary
    part's after Holm's correction over the claims shown (computed here from the findings); the
    verdict over all parts and each part's own 95% verdict are glued from the chapter. A finding
    marked ``stale`` (its chapter is not current) says so beside its id."""
    if not findings:
        return "*No findings recorded yet: execute the chapters (`make book`).*\n"
    corrected = corrected_verdicts(findings)
    header = ["| id | the claim | part; the publication's result | this build (95% interval) | part verdict (95%): "
              "route; after correction | headline (Holm); over the corrected parts | figure |",
              "|---|---|---|---|---|---|---|"]
    families = list(dict.fromkeys(family(f["id"]) for f in findings))
    rows = []
    for fam in families:
        if len(families) > 1 or fam != "paper":
            rows += ["", f"**{'The paper' if fam == 'paper' else 'After the paper'}** "
                     f"({'Holm over its primary parts' if fam == 'paper' else 'later publications, chapter 8; Holm over their primary parts'})", ""]
        rows += header + _scorecard_rows([f for f in findings if family(f["id"]) == fam], corrected)
    return "\n".join(rows).lstrip("\n") + "\n"


def _scorecard_rows(findings: list[dict], corrected: dict[str, dict]) -> list[str]:
    rows = []
    for f in findings:
        doc = f"/chapters/{f['chapter']}.ipynb"
        g = lambda k, fmt: f"{{glue:text}}`{doc}::{f['id']}_{k}:{fmt}`"
        fig = f"{{numref}}`{f['figure']}`" if f.get("figure") else ""
        for i, p in enumerate(f["parts"]):
            first = i == 0
            role = "primary" if p.get("primary") else "secondary"
            c = corrected[f["id"]]
            verdicts = f"**{c['headline']}**; {c['verdict']}" if first else ""
            route = f": {_cell(route_text(p))}" if p.get("route") else ""
            rows.append(
                f"| {_id_cell(f) if first else ''} | {_cell(f['claim']) if first else ''} | "
                f"{_cell(p['name'])} ({role}); {_cell(p['paper'] or f['paper'])} | "
                f"{g(f'p{i}_est_text', 's')} ({g(f'p{i}_ci_text', 's')}) | {g(f'p{i}_verdict', 's')}{route}; "
                f"{c['parts'][i]} | {verdicts} | {fig if first else ''} |")
    return rows


def power_markdown(findings: list[dict]) -> str:
    """The power table: per part, this run's replicates, what it detects with 80% power by the
    part's own interval method (for a band, the narrowest band it certifies), the smallest effect
    that would matter, whether the run can decide it, and the replicates it would need at this
    run's spread."""
    if not findings:
        return "*No findings recorded yet.*\n"
    fmt = lambda v: "n/a" if not isinstance(v, (int, float)) or math.isnan(v) else ("none" if math.isinf(v) else f"{v:.3f}")
    rows = ["| id | part | replicates (n) | detectable at 80% power | effect of interest | can decide | "
            "n for 80% power |", "|---|---|---|---|---|---|---|"]
    for f in findings:
        claim = CLAIMS.get(f["id"])
        for p in f["parts"]:
            part = next((q for q in claim.parts if q.name == p["name"]), None) if claim else None
            why = effect_of_interest(f["id"], part)[1] if part else ""
            need = p.get("n_needed", math.nan)
            need_text = ("n/a" if not isinstance(need, (int, float)) or math.isnan(need)
                         else "more than 100000" if math.isinf(need) else f"{need:.0f}")
            band = "band ±" if p.get("band") else ""
            rows.append(f"| {f['id']} | {_cell(p['name'])}{' (primary)' if p.get('primary') else ''} | {p['n']} "
                        f"{_cell(p['unit'])} | {band}{fmt(p['mde'])} | {fmt(p.get('effect', math.nan))} ({_cell(why)}) | "
                        f"{'yes' if p.get('can_decide') else '**no**'} | {need_text} |")
    return "\n".join(rows) + "\n"


LEDGER_NAME = r"(?P<preset>.+)-(?P<date>\d{4}-\d{2}-\d{2})-(?P<design>[0-9a-f]+)(?:\.(?P<n>\d+))?\.csv"
LEDGER_COLUMNS = ("id", "role", "headline", "part_verdict", "design", "executed")  # what the ledger table reads


def ledger_files(ledger: Path, preset: str, say=None) -> dict[Path, re.Match]:
    """The ledger files of ``preset`` exactly, ``{path: its name's match}``: ``PRESET-DATE-DESIGN.csv``
    or ``PRESET-DATE-DESIGN.N.csv``. Another preset's (``default-fast-...`` beside ``default``) is not
    looked at; any other ``PRESET-*.csv`` (a stray ``default-notes.csv``) is skipped, with one line
    through ``say``."""
    out = {}
    for path in sorted(ledger.glob(f"{glob.escape(preset)}-*.csv")) if ledger.is_dir() else []:
        m = re.fullmatch(LEDGER_NAME, path.name)
        if m and m["preset"] == preset:
            out[path] = m
        elif not m and say is not None:
            say(f"ledger: skipped {path}: not a ledger entry of {preset} (named {preset}-DATE-DESIGN.csv or "
                f"{preset}-DATE-DESIGN.N.csv); move it out of {ledger}")
    return out


def read_ledger_file(path: Path, design: str):
    """A ledger file's table, or the text of what is wrong with it (empty, cut short, not a CSV, a
    column missing, another design than its name says)."""
    import pandas as pd

    try:
        t = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.ParserError as e:
        return f"it is cut short or not a CSV file ({str(e).strip().splitlines()[0][:120]})"
    except (pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as e:
        return f"it cannot be read as a CSV file ({type(e).__name__}: {str(e).strip().splitlines()[0][:120]})"
    missing = [c for c in LEDGER_COLUMNS if c not in t.columns]
    if missing:
        return f"column(s) {', '.join(missing)} missing (a scorecard.csv of the book has them)"
    if t.empty:
        return "it holds no rows (a header only)"
    cut = t[t[["id", "role", "design"]].isna().any(axis=1)]
    if len(cut):
        return f"row {cut.index[0] + 2} is incomplete (the file was cut short or edited)"
    if set(t.design) != {design}:
        return f"its rows are of design(s) {', '.join(sorted(set(t.design)))}, its name says {design}"
    return t


def ledger_markdown(ledger: Path, preset: str, design: str, say=None) -> str:
    """Per claim, the headline verdicts of the earlier builds of ``preset`` kept in the ledger
    folder (``results/PRESET-DATE-DESIGN[.N].csv``), oldest first, beside this build's design. A
    file that is damaged or not a ledger entry is left out, with one line through ``say``
    naming it and what is wrong."""
    tables, names = {}, ledger_files(ledger, preset, say)
    for path, m in names.items():
        t = read_ledger_file(path, m["design"])
        if isinstance(t, str):
            if say is not None:
                say(f"ledger: skipped {path}: {t}; restore it from git (git checkout -- {path}) or move it away")
        else:
            tables[path] = t
    if not tables:
        return f"*The ledger holds no earlier build of `{preset}`.*\n"
    cols, verdicts = [], {}
    for path in sorted(tables, key=lambda p: (names[p]["date"], str(tables[p].executed.dropna().max()))):
        t, m = tables[path], names[path]
        again = f" (build {m['n']})" if m["n"] else ""
        label = (f"{m['date']}{again}, design `{m['design']}`"
                 + (" (this design)" if m["design"] == design else ""))
        cols.append(label)
        for _, r in t[t.role == "primary"].iterrows():
            verdicts.setdefault(r.id, {})[label] = f"{r.headline} ({r.part_verdict} at 95%)"
    rows = ["| id | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for cid in sorted(verdicts, key=claim_order):
        rows.append(f"| {cid} | " + " | ".join(verdicts[cid].get(c, "") for c in cols) + " |")
    return "\n".join(rows) + "\n"


def scale_markdown(findings: list[dict]) -> str:
    """How far each experiment is from the paper's scale: the paper's setup beside this build's,
    this build's values glued from the chapter that ran it."""
    if not findings:
        return "*No findings recorded yet.*\n"
    rows = ["| id | | data | network | epochs | seeds / networks | units ablated | compared |",
            "|---|---|---|---|---|---|---|---|"]
    for f in findings:
        doc = f"/chapters/{f['chapter']}.ipynb"
        paper = f.get("paper_setup") or {}
        rows.append(f"| {f['id']} | paper | " + " | ".join(_cell(paper.get(k, "")) for k in SETUP_KEYS) + " |")
        rows.append("| | this build | " + " | ".join(f"{{glue:text}}`{doc}::{f['id']}_setup_{k}:s`"
                                                    for k in SETUP_KEYS) + " |")
    return "\n".join(rows) + "\n"


def csv_rows(findings: list[dict], design: str = "") -> list[list]:
    """One row per part (:data:`CSV_COLUMNS`): ``part_verdict`` and ``route`` at 95%,
    ``corrected_part_verdict`` after Holm and gatekeeping, ``verdict`` the claim's over its corrected
    parts, ``headline`` its primary part's after Holm (see :func:`corrected_verdicts`)."""
    corrected = corrected_verdicts(findings)
    rows = []
    for f in findings:
        c = corrected[f["id"]]
        for p, cp in zip(f["parts"], c["parts"]):
            primary = p.get("primary", False)
            rows.append([f["id"], p["name"], "primary" if primary else "secondary", f["claim"],
                         p["paper"] or f["paper"], p["statistic"], p["estimate"], p["ci_low"], p["ci_high"], p["n"],
                         p["unit"], p["rule"], p["verdict"], p.get("route", ""), cp, p.get("p", ""),
                         p.get("standardized", ""), p["mde"] if p["verdict"] == "inconclusive" else "", p["mde"],
                         p.get("effect", ""), p.get("can_decide", ""), p.get("n_needed", ""), c["verdict"],
                         c["headline"] if primary else "", f["scale"], design,
                         *(p.get("pivot", {}).get(k, "") for k in ("center", "scale", "df", "transform"))])
    return rows


def _meta_row(chapter: str, meta: dict) -> list:
    m = meta.get("machine") or {}
    values = {"chapter": chapter, "chapter_current": meta.get("current", ""), "preset": meta.get("preset", ""), "executed": meta.get("executed", ""),
              "chapter_seconds": meta.get("seconds", ""),
              **{k: m.get(k, "") for k in ("cpu", "instruction_set", "torch_cpu_capability", "torch_threads",
                                           "torch", "device", "training_code")}}
    return [values[c] for c in CSV_META_COLUMNS]


def write_csv(findings: list[dict], path: Path, metas: dict[str, dict] | None = None, design: str = "") -> None:
    """``scorecard.csv``, atomically: one row per part of each claim (columns :data:`CSV_COLUMNS`),
    then :data:`CSV_META_COLUMNS` from the executed notebook of the finding's chapter (``metas``:
    ``{chapter: metadata}``). ``headline`` is the primary part's verdict after Holm's correction
    over the claims in ``findings``; ``design`` the build's design hash. A plain CSV with one header
    line (``pandas.read_csv`` reads it)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([*CSV_COLUMNS, *CSV_META_COLUMNS])
    rows = csv_rows(findings, design)
    for f in findings:
        meta = _meta_row(f.get("chapter", ""), (metas or {}).get(f.get("chapter"), {}))
        w.writerows(row + meta for row in rows if row[0] == f["id"])
    atomic_write(path, lambda p: p.write_text(buf.getvalue()))
