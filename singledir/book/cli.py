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
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from ..pages.scorecard import ledger_markdown
from .checks import cache_folder_problem
from .keys import chapter_key, design_hash, executed_key, executed_meta
from .lock import BuildFolderBusy, build_lock
from .provenance import forest_line, last_execution, record_execution, stage_figures
from .registration import registered_builds
from .params import ROOT, BookError, chapter_paths, check_dask_addresses, load_params, read_params_file
from .results import chapter_findings, clean_leftovers, findings_problem
from .runner import execute_chapter, say
from .staging import build_info, render, split_text, stage, time_split, write_scorecard_csv

LEDGER = ROOT / "results"  # the verdict ledger: the scorecard of every build a closing note reports


def record_build(csv_path: Path, ledger: Path, preset: str, design: str, complete: bool, behind: str = "") -> Path:
    """Copy a build's ``scorecard.csv`` into the ledger as ``PRESET-DATE-DESIGN.csv`` (or, when a
    build of that design was recorded the same day, ``PRESET-DATE-DESIGN.N.csv``: an entry is never
    overwritten); refused unless every chapter of the build is current (a ledger entry describes one
    design)."""
    import datetime
    import shutil

    if not complete:
        raise BookError("not recorded in the ledger: not every chapter is current with this design"
                        + (f" ({behind})" if behind else "") + "; build every chapter first (without --only)")
    ledger.mkdir(parents=True, exist_ok=True)
    stem = f"{preset}-{datetime.date.today().isoformat()}-{design}"
    dest, n = ledger / f"{stem}.csv", 1
    while dest.exists():  # a build recorded before keeps its file: this one is STEM.2.csv, STEM.3.csv, ...
        n += 1
        dest = ledger / f"{stem}.{n}.csv"
    shutil.copyfile(csv_path, dest)
    say(f"scorecard recorded in the ledger: {_display_path(dest)}")
    return dest


class BuildInterrupted(KeyboardInterrupt):
    """Ctrl-C during a build; the message says what was kept."""


def _display_path(path: Path) -> str:
    """``path`` relative to the repository root when inside it (commands are run from there)."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def rebuild_command(params_path: Path, build_dir: Path, names: list[str]) -> str:
    """The command that executes ``names`` with this parameter file into this build folder."""
    import shlex

    exe = Path(sys.executable)
    python = str(exe.relative_to(ROOT)) if exe.is_relative_to(ROOT) else str(exe)
    parts = [python, "-m", "singledir.book", "--params", _display_path(params_path)]
    if Path(build_dir).resolve() != default_build_dir(params_path).resolve():
        parts += ["--build-dir", str(build_dir)]
    if names:
        parts += ["--only", *names]
    cmd = " ".join(shlex.quote(p) for p in parts)
    return cmd if Path.cwd().resolve() == ROOT else f"cd {shlex.quote(str(ROOT))} && {cmd}"


def _new_cache_entries(since: float) -> int:
    """Cache entries (trained networks, finished sweep runs) written since ``since`` (epoch s)."""
    from ..base.cache import cache_dir

    root = cache_dir()
    n = 0
    for p in root.rglob("*.json") if root.is_dir() else []:
        try:
            n += p.stat().st_mtime >= since
        except OSError:
            pass
    return n


def _interrupted(current: str | None, had_result: bool, finished: list[str], since: float) -> str:
    """The one line printed on Ctrl-C: what was kept."""
    from ..base.cache import cache_dir

    parts = [f"interrupted during {current}" if current else "interrupted"]
    parts.append(f"kept the chapter(s) finished in this run: {', '.join(finished)}" if finished
                 else "no chapter finished in this run")
    if current:
        parts.append(f"{current} keeps its previous result" if had_result else f"{current} has no result yet")
    n = _new_cache_entries(since)
    if n:
        parts.append(f"{n} trained network(s) or sweep run(s) finished meanwhile are kept in {cache_dir()}")
    return "; ".join(parts) + ". Run the same command to go on from there."


def build(params_path: Path, build_dir: Path = ROOT / "_build", only: list[str] | None = None,
          html: bool = True, progress: bool = True, force: bool = False,
          record: Path | None = None) -> dict[str, float | None]:
    """Execute what changed, then render. Returns ``{chapter: seconds or None if up to date}``.

    ``only``: execute just these chapters. The rendered book and ``scorecard.csv`` still hold every
    chapter executed earlier with this preset (their last successful runs); chapters never executed
    are left out of the book, and their names and the command that executes them are printed.
    Ctrl-C raises :class:`BuildInterrupted`, whose message says what was kept.

    ``record``: a ledger folder (the repository's ``results/``); the build's ``scorecard.csv`` is
    copied there as ``PRESET-DATE-DESIGN.csv`` when every chapter is current.
    """
    chapters = chapter_paths()
    params = load_params(params_path, chapters)
    if only is not None and not only:
        raise BookError(f"--only needs the names of the chapters to execute, e.g. --only {next(iter(chapters))}; "
                        f"chapters: {', '.join(chapters)} (leave --only out to execute every chapter)")
    names = list(chapters) if only is None else list(dict.fromkeys(only))
    missing = set(names) - set(chapters)
    if missing:
        raise BookError(f"unknown chapter(s) {sorted(missing)}; chapters: {', '.join(chapters)}")
    check_dask_addresses(params_path, chapters, params, names)
    if (problem := cache_folder_problem()) is not None:
        raise BookError(problem)
    build_dir = Path(build_dir).absolute()  # the kernels run in ROOT: paths given to them are absolute
    try:
        with build_lock(build_dir, _display_path(params_path), say):
            claim_build_dir(build_dir, params_path)
            return _execute(params_path, build_dir, chapters, params, names, html, progress, force, record)
    except BuildFolderBusy as e:
        raise BookError(str(e)) from None


def _execute(params_path: Path, build_dir: Path, chapters: dict[str, Path], params: dict, names: list[str],
             html: bool, progress: bool, force: bool, record: Path | None) -> dict[str, float | None]:
    """:func:`build`'s work once the build folder is locked and claimed."""
    exec_dir = build_dir / "exec"
    say(f"building {_display_path(params_path)} into {_display_path(build_dir)}")
    from ..base.cache import cache_dir

    os.environ.setdefault("SINGLEDIR_CACHE", str(cache_dir()))  # "$SINGLEDIR_CACHE/..." in parameters
    preset = _display_path(params_path)
    times: dict[str, float | None] = {}
    splits: list[dict[str, float]] = []  # where the time of each chapter executed now went
    t0, wall0 = time.perf_counter(), time.time()
    current = None
    try:
        for name in names:
            if not force and _is_current(build_dir, name, chapters[name], params[name], "executing it again"):
                times[name] = None
                say(f"{name}: up to date")
                continue
            say(f"{name}: executing with {json.dumps(params[name])}")
            current = name
            times[name] = execute_chapter(name, chapters[name], params[name], exec_dir, progress, preset=preset)
            current = None
            meta = executed_meta(exec_dir / f"{name}.ipynb") or {}
            split = time_split(meta)
            if split:
                splits.append(split)
            say(f"{name}: {times[name]:.1f} s" + (f" ({split_text(meta)})" if split else ""))
        record_execution(build_dir, [n for n, t in times.items() if t is not None])
        ran = sum(t for t in times.values() if t)
        say(f"chapters executed in {ran:.1f} s ({sum(t is not None for t in times.values())} run, "
            f"{sum(t is None for t in times.values())} up to date)")
        if splits:
            say("where the time went: " + ", ".join(f"{k} {sum(sp[k] for sp in splits):.0f} s" for k in splits[0]))
        _finish(params_path, build_dir, chapters, params, html, record)
    except KeyboardInterrupt:
        had = current is not None and executed_meta(exec_dir / f"{current}.ipynb") is not None
        raise BuildInterrupted(_interrupted(current, had, [n for n, t in times.items() if t is not None], wall0)) from None
    say(f"total {time.perf_counter() - t0:.1f} s")
    return times


PRESETS = ROOT / "params"
PARAMS_MARKER = "parameter-file.txt"  # in a build folder: the parameter file whose book it holds


def _is_current(build_dir: Path, name: str, source: Path, params: dict, then: str = "") -> bool:
    """Whether ``name``'s executed notebook is of this source, these parameters and this code, and
    every findings file its run wrote is there and readable; when one is not, a line says so,
    followed by ``then`` (what the build does about it)."""
    if executed_key(build_dir / "exec" / f"{name}.ipynb") != chapter_key(source, params):
        return False
    problem = findings_problem(build_dir, name)
    if problem and then:
        say(f"{name}: not current: {problem}; {then}")
    return problem is None


RENDERED = "rendered-from.sha256"  # in build_dir/jb: a digest of the staged sources, written after a render


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _render_if_needed(src_dir: Path, build_dir: Path) -> None:
    """Render unless the pages were rendered, to the end, from exactly these staged sources (a render
    that was interrupted or failed leaves no record, so the next build renders again)."""
    marker, digest = build_dir / "jb" / RENDERED, _tree_digest(src_dir)
    if (build_dir / "html" / "index.html").exists() and marker.is_file() and marker.read_text() == digest:
        say(f"HTML in {build_dir / 'html'} is up to date")
        return
    marker.unlink(missing_ok=True)
    r0 = time.perf_counter()
    render(src_dir, build_dir, full=True)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(digest)
    say(f"HTML rendered into {build_dir / 'html'} in {time.perf_counter() - r0:.1f} s")


def _finish(params_path: Path, build_dir: Path, chapters: dict[str, Path], params: dict, html: bool,
            record: Path | None = None) -> None:
    """After the chapters ran: the scorecard with its design hash, the staged book and its render,
    the ledger entry (``record``), the chapters not built."""
    exec_dir, preset = build_dir / "exec", _display_path(params_path)
    metas = {n: m for n in chapters if (m := executed_meta(exec_dir / f"{n}.ipynb")) is not None}
    built = list(metas)  # every chapter of this preset executed successfully, now or before
    fresh = {n: _is_current(build_dir, n, chapters[n], params[n], f"its claims are marked stale; execute it again "
                            f"with --only {n}") for n in built}
    clean_leftovers(exec_dir, [n for n in built if fresh[n]])
    findings = [{**f, "stale": not fresh[f["chapter"]]} for f in chapter_findings(build_dir, built)]
    design = design_hash(list(chapters.values()), params)
    say(f"design {design} (the rules, the chapters' code cells, the package code they run, this preset's values)")
    write_scorecard_csv(findings, build_dir / "scorecard.csv",
                        {n: {**m, "current": fresh[n]} for n, m in metas.items()}, design)
    not_built = [n for n in chapters if n not in metas]
    if record is not None:  # before staging, so the first page's ledger table shows this build
        stale = [n for n in built if not fresh[n]]
        behind = "; ".join([*([f"never built: {', '.join(not_built)}"] if not_built else []),
                            *([f"stale (source, parameters or code changed since it ran): {', '.join(stale)}"]
                              if stale else [])])
        if behind:
            behind += f" (build them with: {rebuild_command(params_path, build_dir, not_built + stale)})"
        record_build(build_dir / "scorecard.csv", Path(record), Path(params_path).stem, design, not behind, behind)
    command = rebuild_command(params_path, build_dir, not_built) if not_built else None
    if html:
        src_dir = build_dir / "src"
        info = build_info(preset, read_params_file(params_path).get("description"), list(chapters), metas,
                          fresh, command, last_execution(build_dir))
        ledger = ledger_markdown(LEDGER, Path(params_path).stem, design, say)
        figures = stage_figures(build_dir, src_dir, metas, design, fresh, {
            "line": forest_line(metas, design, preset), "figures": {"fig-forest": "forest.csv"}})
        registered = registered_builds(LEDGER, ROOT / "params", say)
        stage(exec_dir, src_dir, built, findings, info, ledger, design, figures, registered)
        _render_if_needed(src_dir, build_dir)
    if not_built:
        say(f"not built yet with {preset}: {', '.join(not_built)}"
            + ("; the book leaves them out" if html else "") + f". Build them with:\n  {command}")


def default_build_dir(params_path: Path) -> Path:
    """``_build`` for the preset ``params/default.yml``, ``_build/NAME`` for any other preset
    ``params/NAME.yml``; a parameter file elsewhere gets ``_build/NAME-HASH`` (HASH: of its resolved
    path), so a file named like a preset never writes into that preset's book."""
    path = Path(params_path).resolve()
    if path.parent == PRESETS.resolve():
        return ROOT / "_build" if path.stem == "default" else ROOT / "_build" / path.stem
    return ROOT / "_build" / f"{path.stem}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"


def claim_build_dir(build_dir: Path, params_path: Path) -> None:
    """Record in ``build_dir`` which parameter file its book belongs to; a folder that holds the
    book of another file is refused (two books mixed in one folder would count each other's
    chapters as built)."""
    marker = Path(build_dir) / PARAMS_MARKER
    mine = _display_path(params_path)
    theirs = marker.read_text().strip() if marker.is_file() else None
    if theirs is not None and theirs != mine:
        raise BookError(f"build folder {_display_path(build_dir)} holds the book of {theirs}, not of {mine}: "
                        f"building there would mix two books. Leave --build-dir out (each parameter file "
                        f"gets its own folder), give another --build-dir, or delete {_display_path(build_dir)} "
                        f"to start it over with {mine}")
    if theirs is None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(mine + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m singledir.book", description=__doc__.split("\n")[0])
    ap.add_argument("--params", default=str(ROOT / "params" / "default.yml"), help="parameter file")
    ap.add_argument("--build-dir", help="default: _build for params/default.yml, _build/NAME for params/NAME.yml, "
                    "_build/NAME-HASH for a parameter file elsewhere")
    ap.add_argument("--only", nargs="*", metavar="CHAPTER",
                    help="execute only these chapters (the book still shows every chapter executed before)")
    ap.add_argument("--no-html", action="store_true", help="execute only, do not render")
    ap.add_argument("--force", action="store_true", help="execute even chapters that are up to date")
    ap.add_argument("--record", action="store_true",
                    help="copy the scorecard into the ledger results/ (PRESET-DATE-DESIGN.csv)")
    a = ap.parse_args(argv)
    # the same cache as `make book` (the Makefile exports SINGLEDIR_CACHE=.cache): a chapter re-run
    # from the command line finds the networks and sweep runs the full build trained
    os.environ.setdefault("SINGLEDIR_CACHE", str(ROOT / ".cache"))
    try:
        build(Path(a.params), Path(a.build_dir) if a.build_dir else default_build_dir(Path(a.params)), a.only,
              html=not a.no_html, force=a.force, record=LEDGER if a.record else None)
    except BookError as e:
        print(f"[book] ERROR: {e}", file=sys.stderr, flush=True)
        return 1
    except BuildInterrupted as e:
        print(f"\n[book] {e}", file=sys.stderr, flush=True)
        return 130
    except KeyboardInterrupt:
        print("\n[book] interrupted before any chapter ran: nothing changed", file=sys.stderr, flush=True)
        return 130
    return 0

