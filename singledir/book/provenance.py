"""Where each figure came from: the line under every figure of the book, and its data beside the page.

A chapter run records its commit (:func:`git_commit`) and what its sweeps took from the cache
(:mod:`singledir.base.sweeplog`) in the executed notebook's metadata; each figure it glued wrote its
data to ``figures/NAME.csv`` in the run's results folder (:mod:`singledir.pages.figures`). Staging
copies those CSVs into ``figure_data/chapters/CHAPTER/`` (Sphinx's ``html_extra_path``: they land
beside the chapter's page) and writes :data:`PROVENANCE_FILE`, from which the Sphinx extension
``book_ext/figure_provenance.py`` puts a line under every figure:

    preset · design · commit · seeds · networks trained / from the cache · the command that re-makes it · data
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from .params import ROOT

PROVENANCE_FILE = "figure_provenance.json"  # in the staged book: {page: {"line": ..., "figures": {label: csv}}}
FIGURE_DATA = "figure_data"  # in the staged book, Sphinx's html_extra_path: copied into the HTML as it is
LAST_BUILD = "last-execution.json"  # in a build folder: the chapters the last build that executed any executed
GLUED_FIGURE = re.compile(r"```\{glue:figure\}\s+(\S+)\s*\n:name:\s*(\S+)")


def git_commit(root: Path = ROOT) -> str:
    """The checked-out commit (12 hex digits), ``+changes`` when tracked files differ from it;
    ``unknown`` outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20,
                              check=True).stdout.strip()
    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+changes" if dirty else "")


def run_provenance(results: Path, commit: str, since: float) -> dict:
    """What a chapter run records for its figures' line: its ``commit`` (taken at its start), its
    sweeps' seeds and cache use (from its results folder) and the networks it trained since ``since``."""
    from ..base.sweeplog import sweep_counts

    return {"commit": commit, "sweeps": sweep_counts(results), "networks_trained": networks_trained_since(since)}


def remake_command(preset: str, chapter: str | None = None) -> str:
    """``make book ONLY=CHAPTER PARAMS=PRESET`` (PARAMS left out for the default preset)."""
    parts = ["make book"] + ([f"ONLY={chapter}"] if chapter else [])
    return " ".join(parts + ([f"PARAMS={preset}"] if preset and preset != "params/default.yml" else []))


def seeds_text(seeds: list[int]) -> str:
    """``0, 1, 100-107`` (runs of three or more as a range) or ``none recorded``."""
    if not seeds:
        return "none recorded"
    runs: list[list[int]] = []
    for s in sorted(set(seeds)):
        if runs and s == runs[-1][-1] + 1:
            runs[-1].append(s)
        else:
            runs.append([s])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def networks_trained_since(since: float) -> int:
    """Trained networks written to the cache (``$SINGLEDIR_CACHE/runs``) since ``since`` (epoch s):
    those a chapter run trained, when no other build shares the cache meanwhile."""
    from ..base.cache import cache_dir

    n = 0
    for p in (cache_dir() / "runs").glob("*.json"):
        try:
            n += p.stat().st_mtime >= since
        except OSError:
            pass
    return n


def networks_text(trained: int | None, sweeps: dict) -> str:
    """``3 trained in its run; of its 40 sweep runs, 37 from the cache`` (a sweep run: one network
    trained or loaded, then measured)."""
    parts = [f"{trained} trained in its run" if trained is not None else "trained in its run: not recorded"]
    if sweeps.get("sweeps"):
        total = sweeps["computed"] + sweeps["cached"]
        parts.append(f"of its {total} sweep runs, {sweeps['cached']} from the cache")
    return "; ".join(parts)


def chapter_line(name: str, meta: dict, design: str, executed_now: bool | None, current: bool) -> dict:
    """The fields of the line under a chapter's figures, from its executed notebook's ``meta``."""
    sweeps = meta.get("sweeps") or {}
    when = str(meta.get("executed", "?")).replace("T", " ")[:16]
    run = ("executed in this build" if executed_now else "kept from an earlier build") if executed_now is not None \
        else "its last run"
    return {"preset": meta.get("preset", "?"), "design": design + ("" if current else " (stale: the chapter's "
            "code, parameters or package changed since it ran)"), "commit": meta.get("commit") or "not recorded",
            "run": f"{when}, {run}", "seeds": seeds_text(sweeps.get("seeds", [])),
            "networks": networks_text(meta.get("networks_trained"), sweeps),
            "command": remake_command(meta.get("preset", ""), name)}


def last_execution(build_dir: Path) -> list[str] | None:
    """The chapters executed by the last build that executed any (None: not recorded)."""
    path = Path(build_dir) / LAST_BUILD
    try:
        return list(json.loads(path.read_text())["executed"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_execution(build_dir: Path, executed: list[str]) -> None:
    """Remember which chapters this build executed (nothing when it executed none: the previous
    record still describes the pages, which are then not rendered again)."""
    if executed:
        (Path(build_dir) / LAST_BUILD).write_text(json.dumps({"executed": executed}) + "\n")


def figure_labels(nb) -> dict[str, str]:
    """``{figure label: glue key}`` of a chapter's ``{glue:figure}`` directives."""
    return {label: key for cell in nb.cells if cell.cell_type == "markdown"
            for key, label in GLUED_FIGURE.findall(cell.source)}


def stage_figures(build_dir: Path, src_dir: Path, metas: dict[str, dict], design: str,
                  fresh: dict[str, bool], forest: dict | None = None) -> dict:
    """Copy each chapter run's figure CSVs into ``src_dir/figure_data/chapters/NAME/`` and return
    the provenance record ``{page: {"line": fields, "figures": {label: CSV path from the page}}}``;
    ``forest``: the first page's forest plot line (``{"line": ..., "figures": ...}``)."""
    import nbformat

    executed = last_execution(build_dir)
    record: dict[str, dict] = {}
    for name, meta in metas.items():
        folder = Path(build_dir) / "results" / name / str(meta.get("run", "")) / "figures"
        nb = nbformat.read(str(Path(build_dir) / "exec" / f"{name}.ipynb"), as_version=4)
        figures = {}
        for label, key in figure_labels(nb).items():
            csv = folder / f"{key}.csv"
            if csv.is_file():
                dest = Path(src_dir) / FIGURE_DATA / "chapters" / name / csv.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                if not dest.exists() or dest.read_bytes() != csv.read_bytes():
                    dest.write_bytes(csv.read_bytes())
                figures[label] = f"{name}/{csv.name}"
        line = chapter_line(name, meta, design, None if executed is None else name in executed, fresh.get(name, True))
        record[f"chapters/{name}"] = {"line": line, "figures": figures}
    if forest:
        record["index"] = forest
    return record


def forest_line(metas: dict[str, dict], design: str, preset: str) -> dict:
    """The line under the first page's forest plot: the whole build (every chapter's run)."""
    sweeps = [m.get("sweeps") or {} for m in metas.values()]
    commit = ", ".join(dict.fromkeys(str(m.get("commit") or "not recorded") for m in metas.values())) or "none"
    seeds = sorted({s for sw in sweeps for s in sw.get("seeds", [])})
    trained = [m.get("networks_trained") for m in metas.values()]
    total = {"sweeps": sum(sw.get("sweeps", 0) for sw in sweeps), "computed": sum(sw.get("computed", 0) for sw in sweeps),
             "cached": sum(sw.get("cached", 0) for sw in sweeps)}
    return {"preset": preset, "design": design, "commit": commit, "run": "every chapter's last run",
            "seeds": seeds_text(seeds), "networks": networks_text(
                sum(trained) if trained and None not in trained else None, total)
            .replace("in its run", "in the chapters' runs").replace("of its", "of the chapters'"),
            "command": remake_command(preset)}
