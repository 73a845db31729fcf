"""Execute the book's chapters with papermill and render them with Jupyter Book 1.

``python -m singledir.book --params params/default.yml`` is what ``make book`` runs:

1. Every chapter ``chapters/NN_name.md`` (a jupytext MyST notebook with a ``parameters`` cell) is
   executed with its parameters from the parameter file into ``_build/exec/NN_name.ipynb``. A
   chapter whose source, parameters and package code are unchanged since its last successful run
   is not executed again. A notebook is written to a temporary name and only renamed into place
   when every cell succeeded: a failed chapter leaves no output that a later build could take for
   a result, the build stops with a non-zero exit, and the failing cell is printed.
2. The executed notebooks and the book's pages are staged in ``_build/src`` and Jupyter Book
   renders them into ``_build/html`` (notebooks are not executed again there).

A parameter file has two sections: ``defaults`` (given to every chapter that declares the name)
and ``chapters`` (one mapping per chapter name). Every key must be declared in the chapter's
``parameters`` cell.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(__file__).resolve().parent
BOOK_FILES = ("_config.yml", "_toc.yml", "index.md")
STATIC = "book_static"
EXTENSIONS = "book_ext"  # local Sphinx extensions named in _config.yml


class BookError(RuntimeError):
    """A chapter or parameter file that cannot be run; the message says what to fix."""


def chapter_paths(root: Path = ROOT) -> dict[str, Path]:
    """``{name: path}`` of every chapter source, in book order."""
    return {p.stem: p for p in sorted((root / "chapters").glob("[0-9][0-9]_*.md"))}


def read_chapter(path: Path):
    import jupytext

    return jupytext.read(path)


def declared_parameters(nb) -> dict[str, object]:
    """Names assigned in the cell tagged ``parameters``, with their literal default values."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise BookError(f"a chapter needs exactly one cell tagged 'parameters', found {len(cells)}")
    out = {}
    for node in ast.parse(cells[0].source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            if isinstance(t, ast.Name):
                try:
                    out[t.id] = ast.literal_eval(node.value)
                except ValueError:
                    out[t.id] = None
    return out


SECTIONS = ("description", "extends", "defaults", "chapters")


def read_params_file(path: Path, _seen: tuple[Path, ...] = ()) -> dict:
    """A parameter file with its ``extends`` chain resolved.

    ``extends: default.yml`` (a path relative to the file) starts from that file: this file's
    ``defaults`` replace its defaults key by key, and each chapter's mapping replaces that
    chapter's keys one by one.
    """
    path = Path(path).resolve()
    if path in _seen:
        raise BookError(f"parameter files extend each other in a loop: {' -> '.join(str(p) for p in (*_seen, path))}")
    if not path.exists():
        raise BookError(f"parameter file {path} (extended by {_seen[-1]}) does not exist" if _seen else
                        f"parameter file {path} does not exist")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise BookError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise BookError(f"{path}: a parameter file is a mapping with sections {', '.join(SECTIONS)}")
    unknown = set(doc) - set(SECTIONS)
    if unknown:
        raise BookError(f"{path}: unknown section(s) {sorted(unknown)}; allowed: {', '.join(SECTIONS)}")
    for section in ("defaults", "chapters"):
        if not isinstance(doc.get(section) or {}, dict):
            raise BookError(f"{path}: section {section!r} must be a mapping")
    for name, values in (doc.get("chapters") or {}).items():
        if values is not None and not isinstance(values, dict):
            raise BookError(
                f"{path}: chapter {name} is given {type(values).__name__} {values!r}, but a chapter's section "
                f"is a mapping of its parameter names to values; write it as\n  chapters:\n    {name}:\n"
                f"      seed: 1        # one 'name: value' line per parameter")
    if not doc.get("extends"):
        return doc
    parent = read_params_file(path.parent / str(doc["extends"]), (*_seen, path))
    chapters = {k: dict(v or {}) for k, v in (parent.get("chapters") or {}).items()}
    for name, values in (doc.get("chapters") or {}).items():
        chapters[name] = {**chapters.get(name, {}), **(values or {})}
    return {"description": doc.get("description", parent.get("description")),
            "defaults": {**(parent.get("defaults") or {}), **(doc.get("defaults") or {})},
            "chapters": chapters}


def load_params(path: Path, chapters: dict[str, Path]) -> dict[str, dict]:
    """Per-chapter parameters from a parameter file, checked against each chapter's declarations."""
    path = Path(path)
    if not path.exists():
        raise BookError(f"parameter file {path} does not exist; presets: "
                        f"{', '.join(str(p.relative_to(ROOT)) for p in sorted((ROOT / 'params').glob('*.yml')))}")
    doc = read_params_file(path)
    defaults = doc.get("defaults") or {}
    per = doc.get("chapters") or {}
    bad = set(per) - set(chapters)
    if bad:
        raise BookError(f"{path}: unknown chapter(s) {sorted(bad)}; chapters: {', '.join(chapters)}")
    out, used_defaults = {}, set()
    for name, src in chapters.items():
        declared = declared_parameters(read_chapter(src))
        mine = per.get(name) or {}
        undeclared = set(mine) - set(declared)
        if undeclared:
            raise BookError(f"{path}: chapter {name} has no parameter(s) {sorted(undeclared)}; "
                            f"it declares: {', '.join(declared)}")
        shared = {k: v for k, v in defaults.items() if k in declared}
        used_defaults |= set(shared)
        out[name] = {**shared, **mine}
    unused = set(defaults) - used_defaults
    if unused:
        raise BookError(f"{path}: default(s) {sorted(unused)} are declared by no chapter")
    return out


def package_version() -> str:
    """Hash of the package code chapters run (this runner, which they never import, is left out)."""
    h = hashlib.sha256()
    for p in sorted(PACKAGE.glob("*.py")):
        if p.name == "book.py":
            continue
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()[:16]


def _named_files(value) -> list[Path]:
    """Files a parameter value names: a path (``$VARS`` and ``~`` expanded, relative to the repo
    root), or the file of a ``path/to/file.py:Name`` model spec. ``folder:`` datasets are not hashed."""
    if isinstance(value, dict):
        return [f for v in value.values() for f in _named_files(v)]
    if isinstance(value, (list, tuple)):
        return [f for v in value for f in _named_files(v)]
    if not isinstance(value, str) or value.startswith("folder:") or not value.strip():
        return []
    text = os.path.expanduser(os.path.expandvars(value))
    out = []
    for cand in (text, text.rpartition(":")[0] if ":" in text else None):
        if cand:
            path = ROOT / cand  # an absolute cand replaces ROOT
            if path.is_file():
                out.append(path)
    return out


def effective_parameters(source: Path, params: dict) -> dict:
    """The values a chapter runs with: its ``parameters`` cell's literal defaults, overlaid by
    ``params`` (what the parameter file gives it)."""
    return {**declared_parameters(read_chapter(source)), **params}


def run_key(source: Path, params: dict) -> str:
    """What a chapter's result depends on: its source, its parameters, the package code and the
    contents of any file a parameter names (weights, a model's source file), whether the parameter
    file or the chapter's own ``parameters`` cell names it."""
    h = hashlib.sha256(source.read_bytes())
    h.update(json.dumps(params, sort_keys=True).encode())
    h.update(package_version().encode())
    for path in sorted(set(_named_files(effective_parameters(source, params)))):
        h.update(str(path).encode())
        with open(path, "rb") as fh:
            h.update(hashlib.file_digest(fh, "sha256").digest())
    return h.hexdigest()[:24]


def executed_key(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())["metadata"]["singledir"]["key"]
    except (ValueError, KeyError):
        return None


def execute_chapter(name: str, source: Path, params: dict, exec_dir: Path, progress: bool = True) -> float:
    """Run one chapter with papermill into ``exec_dir/name.ipynb``; returns seconds taken."""
    import logging

    import papermill as pm

    logging.getLogger("papermill").setLevel(logging.ERROR)  # parameters are checked by load_params
    exec_dir.mkdir(parents=True, exist_ok=True)
    final = exec_dir / f"{name}.ipynb"
    partial = exec_dir / f".{name}.partial.ipynb"
    failed = exec_dir / "failed" / f"{name}.ipynb"
    final.unlink(missing_ok=True)  # the old result no longer matches: never leave it as current
    nb = read_chapter(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    key = run_key(source, params)  # before running: an edit made meanwhile must not look executed
    t0 = time.perf_counter()
    try:
        out = pm.execute_notebook(nb, str(partial), parameters=params, kernel_name="python3",
                                  progress_bar=progress, cwd=str(ROOT), log_output=False)
    except pm.PapermillExecutionError as e:
        failed.parent.mkdir(exist_ok=True)
        os.replace(partial, failed)
        trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(e.traceback[-3:]) if e.traceback else "")
        raise BookError(f"chapter {name} failed in cell {e.exec_count}: {e.ename}: {e.evalue}\n{trace}\n"
                        f"the executed notebook up to the failure is in {failed}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    seconds = time.perf_counter() - t0
    out.metadata["singledir"] = {"key": key, "params": params, "seconds": round(seconds, 2)}
    import nbformat

    nbformat.write(out, str(partial))
    os.replace(partial, final)
    return seconds


def _copy_if_changed(src: Path, dst: Path) -> bool:
    if dst.exists() and dst.read_bytes() == src.read_bytes():
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    return True


SCORECARD_PAGE = "scorecard_table.md"  # written at staging, included by index.md


def scorecard_table(findings: list[dict]) -> str:
    """The scorecard as MyST: text from each chapter's recorded finding, every number a glue
    reference into the chapter that computed it, each row linked to its figure."""
    if not findings:
        return "*No findings recorded yet: execute the chapters (`make book`).*\n"
    rows = ["| id | the paper's claim | paper | this build | 95% interval | scale | verdict | figure |",
            "|---|---|---|---|---|---|---|---|"]
    for f in findings:
        doc = f"/chapters/{f['chapter']}.ipynb"
        g = lambda k, fmt: f"{{glue:text}}`{doc}::{f['id']}_{k}:{fmt}`"
        fig = f"{{numref}}`{f['figure']}`" if f.get("figure") else ""
        cell = lambda t: str(t).replace("|", "\\|")
        rows.append(f"| {f['id']} | {cell(f['claim'])} | {cell(f['paper'])} | {cell(f['statistic'])}: "
                    f"{g('ours', '.3f')} | {g('ci_low', '.3f')} to {g('ci_high', '.3f')} | {cell(f['scale'])} | "
                    f"**{{glue:text}}`{doc}::{f['id']}_verdict:s`** | {fig} |")
    return "\n".join(rows) + "\n"


def write_scorecard_csv(findings: list[dict], path: Path) -> None:
    """``scorecard.csv`` (id, claim, paper, ours, ci_low, ci_high, scale, verdict), atomically."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "claim", "paper", "ours", "ci_low", "ci_high", "scale", "verdict"])
        for f in findings:
            w.writerow([f["id"], f["claim"], f["paper"], f["ours"], f["ci_low"], f["ci_high"], f["scale"], f["verdict"]])
    os.replace(tmp, path)


def stage(exec_dir: Path, src_dir: Path, names: list[str], findings: list[dict] | None = None) -> bool:
    """Copy the book's pages and executed chapters into ``src_dir``; True if anything changed."""
    changed = False
    table = src_dir / SCORECARD_PAGE
    text = scorecard_table([f for f in (findings or []) if f.get("chapter") in names])
    if not table.exists() or table.read_text() != text:
        src_dir.mkdir(parents=True, exist_ok=True)
        table.write_text(text)
        changed = True
    for f in BOOK_FILES:
        changed |= _copy_if_changed(ROOT / f, src_dir / f)
    for folder in (STATIC, EXTENSIONS):
        for p in sorted((ROOT / folder).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                changed |= _copy_if_changed(p, src_dir / folder / p.relative_to(ROOT / folder))
    for name in names:
        changed |= _copy_if_changed(exec_dir / f"{name}.ipynb", src_dir / "chapters" / f"{name}.ipynb")
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


def build(params_path: Path, build_dir: Path = ROOT / "_build", only: list[str] | None = None,
          html: bool = True, progress: bool = True, force: bool = False) -> dict[str, float | None]:
    """Execute what changed, then render. Returns ``{chapter: seconds or None if up to date}``."""
    chapters = chapter_paths()
    params = load_params(params_path, chapters)
    names = list(chapters) if not only else only
    missing = set(names) - set(chapters)
    if missing:
        raise BookError(f"unknown chapter(s) {sorted(missing)}; chapters: {', '.join(chapters)}")
    exec_dir = build_dir / "exec"
    os.environ["SINGLEDIR_RESULTS"] = str(build_dir / "results")  # where chapters record findings
    from .cache import cache_dir

    os.environ.setdefault("SINGLEDIR_CACHE", str(cache_dir()))  # "$SINGLEDIR_CACHE/..." in parameters
    times: dict[str, float | None] = {}
    t0 = time.perf_counter()
    for name in names:
        key = run_key(chapters[name], params[name])
        if not force and executed_key(exec_dir / f"{name}.ipynb") == key:
            times[name] = None
            print(f"[book] {name}: up to date", flush=True)
            continue
        print(f"[book] {name}: executing with {json.dumps(params[name])}", flush=True)
        times[name] = execute_chapter(name, chapters[name], params[name], exec_dir, progress)
        print(f"[book] {name}: {times[name]:.1f} s", flush=True)
    ran = sum(t for t in times.values() if t)
    print(f"[book] chapters executed in {ran:.1f} s ({sum(t is not None for t in times.values())} run, "
          f"{sum(t is None for t in times.values())} up to date)", flush=True)
    from .scorecard import collect

    findings = collect(build_dir / "results") if (build_dir / "results").exists() else []
    write_scorecard_csv(findings, build_dir / "scorecard.csv")
    if html:
        src_dir = build_dir / "src"
        changed = stage(exec_dir, src_dir, list(chapters) if not only else names, findings)
        if changed or not (build_dir / "html" / "index.html").exists():
            r0 = time.perf_counter()
            render(src_dir, build_dir, full=True)
            print(f"[book] HTML rendered into {build_dir / 'html'} in {time.perf_counter() - r0:.1f} s", flush=True)
        else:
            print(f"[book] HTML in {build_dir / 'html'} is up to date", flush=True)
    print(f"[book] total {time.perf_counter() - t0:.1f} s", flush=True)
    return times


def default_build_dir(params_path: Path) -> Path:
    """``_build`` for the default preset; ``_build/NAME`` for any other parameter file, so that
    books for different parameters do not overwrite each other's executed chapters."""
    name = Path(params_path).stem
    return ROOT / "_build" if name == "default" else ROOT / "_build" / name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m singledir.book", description=__doc__.split("\n")[0])
    ap.add_argument("--params", default=str(ROOT / "params" / "default.yml"), help="parameter file")
    ap.add_argument("--build-dir", help="default: _build for params/default.yml, _build/NAME for params/NAME.yml")
    ap.add_argument("--only", nargs="*", help="chapter names to execute (default: all)")
    ap.add_argument("--no-html", action="store_true", help="execute only, do not render")
    ap.add_argument("--force", action="store_true", help="execute even chapters that are up to date")
    a = ap.parse_args(argv)
    try:
        build(Path(a.params), Path(a.build_dir) if a.build_dir else default_build_dir(Path(a.params)), a.only,
              html=not a.no_html, force=a.force)
    except BookError as e:
        print(f"[book] ERROR: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
