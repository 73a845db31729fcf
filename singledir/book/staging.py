"""Staging the executed chapters and the first page's tables, and rendering them with Jupyter Book 1."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .params import ROOT, BookError


BOOK_FILES = ("_config.yml", "_toc.yml", "index.md", "build.md")


STATIC = "book_static"


EXTENSIONS = "book_ext"  # local Sphinx extensions named in _config.yml


def _copy_if_changed(src: Path, dst: Path) -> bool:
    if dst.exists() and dst.read_bytes() == src.read_bytes():
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    return True


SCORECARD_PAGE = "scorecard_table.md"  # written at staging, included by index.md


SCALE_PAGE = "scale_table.md"  # the paper's scale beside this build's, included by index.md


def write_scorecard_csv(findings: list[dict], path: Path, metas: dict[str, dict] | None = None,
                        design: str = "") -> None:
    """``scorecard.csv``: one row per part of each claim, then where its chapter ran (see
    :func:`singledir.pages.scorecard.write_csv`; ``metas``: ``{chapter: executed notebook's metadata}``)."""
    from ..pages.scorecard import write_csv

    write_csv(findings, path, metas, design)


BUILD_INFO_PAGE = "build_info.md"  # written at staging, included by index.md


LEDGER_PAGE = "ledger_table.md"  # the ledger's earlier verdicts, included by index.md


POWER_PAGE = "power_table.md"  # what this build could detect per part, included by index.md
REGISTERED_PAGE = "registered.md"  # the registered builds' verdicts in numbers, in index.md
GRID_PAGE = "verdict_grid.md"  # every claim's headline at a glance, included at the top of index.md
FOREST_FIGURE, FOREST_DATA = "forest.png", "forest.csv"  # every primary part against its rule, in index.md


def _machine_text(m: dict) -> str:
    if not m:
        return "not recorded"
    cap = f" (torch's CPU kernels: {m['torch_cpu_capability']})" if m.get("torch_cpu_capability") else ""
    cores = f"{m['cores']} cores, " if m.get("cores") else ""
    return (f"{m.get('cpu', '?')}, {cores}{m.get('instruction_set', '?')}{cap}; {m.get('torch_threads', '?')} torch "
            f"threads; torch {m.get('torch', '?')}; device {m.get('device', '?')}; Python {m.get('python', '?')}"
            + (f"; networks trained by code version `{m['training_code']}`" if m.get("training_code") else ""))


def time_split(meta: dict) -> dict[str, float] | None:
    """A chapter's seconds split into training, ablation and noise curves, unit measures and the
    rest (analysis: statistics, figures, kernel start), from its run's record; None if not recorded."""
    phases, total = meta.get("phases"), meta.get("seconds")
    if phases is None or total is None:
        return None
    split = {"training": phases.get("training", 0.0), "curves": phases.get("curves", 0.0),
             "unit measures": phases.get("units", 0.0)}
    split["analysis"] = max(float(total) - sum(split.values()), 0.0)
    return split


def split_text(meta: dict) -> str:
    """``training 120 s, curves 60 s, unit measures 0 s, analysis 30 s`` (empty if not recorded)."""
    split = time_split(meta)
    return ", ".join(f"{k} {v:.0f} s" for k, v in split.items()) if split else ""


def build_info(preset: str, description: str | None, chapters: list[str], metas: dict[str, dict],
               current: dict[str, bool], command: str | None, executed: list[str] | None = None) -> str:
    """What the build did, as MyST: the preset, and per chapter whether the build executed it or kept
    it (``executed``: the chapters the last build that executed any executed; None: not recorded),
    when and on what machine it ran and for how long. Built from records only (no clock), so an
    unchanged book stages the same text and is not rendered again."""
    built = [n for n in chapters if n in metas]
    about = " ".join(str(description or "").split()).rstrip(".")
    lines = [f"Parameter file (preset): `{preset}`." + (f" {about}." if about else ""), ""]
    if built:
        total = sum(float(metas[n].get("seconds") or 0) for n in built)
        machines = list(dict.fromkeys(_machine_text(metas[n].get("machine") or {}) for n in built))
        if executed is not None:
            now = [n for n in built if n in executed]
            lines += [f"The build that made these pages executed {len(now)} of the {len(built)} chapters "
                      f"({sum(float(metas[n].get('seconds') or 0) for n in now):.0f} s)"
                      + (" and kept the others' earlier runs." if len(now) < len(built) else "."), ""]
        lines += [f"Chapters executed in {total:.0f} s in all (their last runs); each chapter's seconds are split "
                  "into training, ablation and noise curves, unit measures (selectivity, information, single-unit "
                  "importance) and the rest, analysis (statistics, figures, the kernel's start). Rendering the "
                  "HTML comes on top (the build prints its time).", ""]
        head = ("| chapter | this build | ran at | seconds | training | curves | unit measures | analysis | state |"
                + (" machine |" if len(machines) > 1 else ""))
        lines += [head, "|---" * (head.count("|") - 1) + "|"]
        for n in built:
            meta = metas[n]
            state = "current" if current.get(n) else "stale: its source, parameters or code changed since"
            split = time_split(meta)
            cells = " | ".join(f"{v:.0f}" for v in split.values()) if split else " | ".join(["n/a"] * 4)
            did = "not recorded" if executed is None else "executed" if n in executed else "kept"
            row = (f"| {{doc}}`/chapters/{n}` | {did} | {str(meta.get('executed', '?')).replace('T', ' ')} | "
                   f"{float(meta.get('seconds') or 0):.1f} | {cells} | {state} |")
            if len(machines) > 1:
                row += f" M{machines.index(_machine_text(meta.get('machine') or {})) + 1} |"
            lines.append(row)
        lines.append("")
        if len(machines) == 1:
            lines.append(f"Machine: {machines[0]}.")
        else:
            lines += [f"- M{k}: {m}" for k, m in enumerate(machines, 1)]
    missing = [n for n in chapters if n not in metas]
    if missing:
        lines += ["", f"Not built yet with this preset: {', '.join(missing)}. Build them with", "",
                  "```bash", command or "", "```"]
    return "\n".join(lines) + "\n"


def _toc_with(chapters: list[str], toc: dict) -> dict:
    """``toc`` (a Jupyter Book ``_toc.yml``) without entries for chapters not in ``chapters``."""
    def keep(entry) -> bool:
        f = entry.get("file") if isinstance(entry, dict) else None
        return not (f and str(f).startswith("chapters/") and Path(str(f)).stem not in chapters)

    def walk(node):
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k in ("chapters", "sections", "parts") and isinstance(v, list):
                    v = [walk(e) for e in v if keep(e)]
                    if not v:
                        continue
                out[k] = v
            return out
        return node

    return walk(toc)


def _write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def stage(exec_dir: Path, src_dir: Path, names: list[str], findings: list[dict] | None = None,
          info: str = "", ledger: str = "", design: str = "", figures: dict | None = None,
          registered: list[dict] | None = None) -> bool:
    """Stage the book in ``src_dir`` with the executed chapters ``names`` (the table of contents
    lists only those); True if anything changed. ``figures``: the line under each figure and its
    data file, per page (:func:`singledir.book.provenance.stage_figures`, which copied the files).
    ``registered``: the registered builds (:func:`singledir.book.registration.registered_builds`),
    shown on the first page and in each verdict box beside this build."""
    from .provenance import FIGURE_DATA, PROVENANCE_FILE

    from ..pages.scorecard import power_markdown, scale_markdown, scorecard_markdown
    from ..pages.grid import VERDICT_DIR, grid_markdown, registered_columns, registered_markdown, verdict_box
    from ..decide.claims import CLAIMS

    shown = [f for f in (findings or []) if f.get("chapter") in names]
    changed = _write_if_changed(src_dir / SCORECARD_PAGE, scorecard_markdown(shown))
    changed |= _write_if_changed(src_dir / SCALE_PAGE, scale_markdown(shown))
    changed |= _write_if_changed(src_dir / POWER_PAGE, power_markdown(shown))
    registered = registered or []
    changed |= _write_forest(src_dir, shown, registered)
    changed |= _copy_if_changed(src_dir / FOREST_DATA, src_dir / FIGURE_DATA / FOREST_DATA)  # beside index.html
    changed |= _write_if_changed(src_dir / PROVENANCE_FILE, json.dumps(figures or {}, indent=1, sort_keys=True) + "\n")
    changed |= _write_if_changed(src_dir / GRID_PAGE, grid_markdown(shown, registered_columns(registered)))
    changed |= _write_if_changed(src_dir / REGISTERED_PAGE, registered_markdown(registered))
    for cid in CLAIMS:  # each chapter's closing box for a claim, the first page's headline in it
        changed |= _write_if_changed(src_dir / VERDICT_DIR / f"{cid}.md", verdict_box(cid, shown, registered))
    changed |= _write_if_changed(src_dir / BUILD_INFO_PAGE, info)
    changed |= _write_if_changed(src_dir / LEDGER_PAGE, (f"This build's design: `{design}`.\n\n" if design else "")
                                 + (ledger or "*No ledger.*\n"))
    toc = _toc_with(names, yaml.safe_load((ROOT / "_toc.yml").read_text()))
    changed |= _write_if_changed(src_dir / "_toc.yml", yaml.safe_dump(toc, sort_keys=False))
    for f in BOOK_FILES:
        if f != "_toc.yml":
            changed |= _copy_if_changed(ROOT / f, src_dir / f)
    for folder in (STATIC, EXTENSIONS):
        for p in sorted((ROOT / folder).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                changed |= _copy_if_changed(p, src_dir / folder / p.relative_to(ROOT / folder))
    for name in names:
        changed |= _copy_if_changed(exec_dir / f"{name}.ipynb", src_dir / "chapters" / f"{name}.ipynb")
    return changed


def _write_forest(src_dir: Path, findings: list[dict], registered: list[dict]) -> bool:
    """The forest plot of ``findings``' primary parts and its numbers, beside the first page, with
    the registered builds' (those built) above this build's."""
    import tempfile

    import pandas as pd

    from ..pages.forest import forest_figure, forest_table, ledger_forest_table

    tables = [ledger_forest_table(b["card"], b["label"]) for b in registered if b["card"] is not None]
    table = pd.concat([*tables, forest_table(findings)], ignore_index=True) if tables else forest_table(findings)
    changed = _write_if_changed(src_dir / FOREST_DATA, table.to_csv(index=False))
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / FOREST_FIGURE
        forest_figure(table, png)
        changed |= _copy_if_changed(png, src_dir / FOREST_FIGURE)
    return changed


def render(src_dir: Path, build_dir: Path, full: bool) -> None:
    """Jupyter Book 1 into ``build_dir/html``; warnings are errors (a broken glue fails the build)."""
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(src_dir), "--path-output", str(build_dir / "jb"),
           "--warningiserror", "--keep-going", "--quiet"]
    if full:
        cmd.append("--all")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BookError(f"Jupyter Book failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    html = build_dir / "html"
    if html.is_symlink() or html.exists():
        html.unlink() if html.is_symlink() else shutil.rmtree(html)
    html.symlink_to(Path("jb") / "_build" / "html")
