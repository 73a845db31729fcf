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
import contextlib
import datetime
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import weakref
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


def executed_meta(path: Path) -> dict | None:
    """The runner's metadata of an executed notebook (``key``, ``run``, ``params``, ``seconds``,
    ``executed``, ``preset``, ``machine``), or None when there is no such notebook."""
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text())["metadata"]["singledir"]
    except (ValueError, KeyError, TypeError):
        return None
    return meta if isinstance(meta, dict) else None


def executed_key(path: Path) -> str | None:
    """The key of the run that wrote ``path``; None for a notebook without a run id (written by an
    older runner: its findings cannot be found, so it is never taken as current)."""
    meta = executed_meta(path)
    return meta.get("key") if meta and meta.get("run") else None


def _prune_runs(build_dir: Path, name: str, keep: str | None) -> None:
    """Remove the findings folders of ``name``'s runs other than ``keep`` (runs that failed, were
    interrupted or were replaced)."""
    folder = build_dir / "results" / name
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name != keep:
                shutil.rmtree(p) if p.is_dir() else p.unlink()


def _id_number(finding: dict) -> float:
    m = re.match(r"[A-Za-z]*(\d+)", str(finding.get("id", "")))
    return int(m.group(1)) if m else float("inf")


def chapter_findings(build_dir: Path, names: list[str]) -> list[dict]:
    """The findings of the last successful run of each chapter in ``names``, by experiment number
    (E1, E2, ..., E13): what the run named in the executed notebook's metadata recorded in
    ``results/NAME/RUN``. A chapter without an executed notebook has none."""
    from .scorecard import collect

    out = []
    for name in names:
        run = (executed_meta(build_dir / "exec" / f"{name}.ipynb") or {}).get("run")
        folder = build_dir / "results" / name / str(run)
        if run and folder.is_dir():
            out += [{**f, "chapter": name} for f in collect(folder)]
    return sorted(out, key=_id_number)  # stable: chapter order among equal numbers


@contextlib.contextmanager
def _environ(**values: str):
    """Environment variables set for the kernels started inside the block, restored after it."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def say(msg: str) -> None:
    """A ``[book]`` line on stdout that does not break a progress bar being drawn."""
    from tqdm import tqdm

    tqdm.write(f"[book] {msg}", file=sys.stdout)
    sys.stdout.flush()


class _Tail:
    """While a chapter runs, print the lines its code appends to the progress log ``path``
    (:mod:`singledir.progress`) as ``[book] NAME: line``."""

    def __init__(self, path: Path, name: str, interval: float = 0.2):
        self.path, self.name, self.interval, self.pos = path, name, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"progress-{name}", daemon=True)

    def __enter__(self) -> "_Tail":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._drain()
        self._drain()

    def _drain(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.pos)
                data = fh.read()
        except OSError:
            return
        complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits for the next look
        self.pos += len(complete)
        for line in complete.decode("utf-8", "replace").splitlines():
            if line.strip():
                say(f"{self.name}: {line}")


_KERNELS: "weakref.WeakSet" = weakref.WeakSet()  # kernel managers of chapters being executed


@functools.cache
def _kernel_manager_class():
    """The kernel manager papermill starts each chapter's kernel with: jupyter_client's, with
    CurveZMQ keys provisioned for the kernel's sockets where the kernelspec declares support
    (ipykernel 7 does; without them ipykernel logs ``Kernel is running over TCP without
    encryption ...`` to the terminal at every chapter's start), without the SIGINT that
    jupyter_client sends before a shutdown request (a finished chapter's kernel is idle; the
    signal, arriving while the kernel still handles papermill's last request, makes it log
    ``KeyboardInterrupt caught in kernel.`` now and then), and recorded so that Ctrl-C can stop
    the kernel (:class:`_StopOnInterrupt`)."""
    import zmq
    from jupyter_client import AsyncKernelManager

    class ChapterKernelManager(AsyncKernelManager):
        def __init__(self, **kw):
            super().__init__(**kw)
            if zmq.has("curve"):
                self.transport_encryption = "auto"
            _KERNELS.add(self)

        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:  # a kernel that does not answer the request is terminated anyway
                return
            await super()._async_interrupt_kernel()

    return ChapterKernelManager


class _StopOnInterrupt:
    """While a chapter runs, the first Ctrl-C kills its kernel at once (SIGKILL to the kernel's
    process group, so a sweep's worker processes go too); papermill then stops with a dead
    kernel, which :func:`execute_chapter` turns into KeyboardInterrupt. Letting the runner's
    KeyboardInterrupt unwind through papermill instead shuts the kernel down mid-cell, and the
    kernel, nbclient and asyncio print some 60 lines of tracebacks. A second Ctrl-C interrupts the
    runner itself."""

    def __init__(self):
        self.hit = False
        self._old = None

    def __enter__(self) -> "_StopOnInterrupt":
        try:
            self._old = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: Ctrl-C is not ours to handle
            self._old = None
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        if self.hit:
            logging.getLogger("papermill").setLevel(self._level)

    def _handler(self, signum, frame) -> None:
        signal.signal(signal.SIGINT, self._old)  # a second Ctrl-C: the usual KeyboardInterrupt
        pids = [p for km in list(_KERNELS) if km.has_kernel  # started and not shut down
                and (p := getattr(km.provisioner, "pgid", None) or getattr(km.provisioner, "pid", None))]
        if not pids:  # no kernel yet: stop here
            raise KeyboardInterrupt
        self.hit = True
        log = logging.getLogger("papermill")  # nbclient's "Kernel died" message: we know why
        self._level = log.level
        log.setLevel(logging.CRITICAL)
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def machine_info() -> dict:
    """Where numbers are computed: CPU model, its widest vector instruction set (``/proc/cpuinfo``
    flags), the one torch's CPU kernels use, torch's thread count and version, the device."""
    import platform

    import torch

    cpu, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not cpu:
                cpu = value.strip()
            elif key.strip() in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    isa = next((label for flag, label in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"),
                                          ("sse4_2", "SSE4.2"), ("sve", "SVE"), ("asimd", "NEON")) if flag in flags),
               platform.machine())
    if "amx_tile" in flags:
        isa += " + AMX"
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except Exception:  # older torch
        capability = ""
    device = "cpu"
    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    return {"cpu": cpu or platform.processor() or platform.machine(), "instruction_set": isa,
            "torch_cpu_capability": capability, "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "device": device, "python": platform.python_version()}


def execute_chapter(name: str, source: Path, params: dict, exec_dir: Path, progress: bool = True, *,
                    preset: str = "") -> float:
    """Run one chapter with papermill into ``exec_dir/name.ipynb``; returns seconds taken.

    The run writes its notebook under a temporary name and its findings (``$SINGLEDIR_RESULTS``)
    into a folder of its own, ``results/NAME/RUN`` beside ``exec_dir``. Only when every cell
    succeeded is the notebook, which names that folder, renamed into place: one rename replaces
    the old notebook and the old findings together. A run that fails or is interrupted leaves the
    previous notebook and findings as they were; they are not current (their key differs, or, after
    ``--force``, the same run is simply made again) and the next build executes the chapter again.
    """
    import nbformat
    import papermill as pm
    from nbclient.exceptions import DeadKernelError

    logging.getLogger("papermill").setLevel(logging.ERROR)  # parameters are checked by load_params
    exec_dir = Path(exec_dir).absolute()  # the kernel runs in ROOT: it is given absolute paths
    exec_dir.mkdir(parents=True, exist_ok=True)
    build_dir = exec_dir.parent
    final = exec_dir / f"{name}.ipynb"
    partial = exec_dir / f".{name}.partial.ipynb"
    failed = exec_dir / "failed" / f"{name}.ipynb"
    previous = (executed_meta(final) or {}).get("run")
    _prune_runs(build_dir, name, keep=previous)  # left by runs that never finished
    run = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    results = build_dir / "results" / name / run
    results.mkdir(parents=True)
    nb = read_chapter(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    key = run_key(source, params)  # before running: an edit made meanwhile must not look executed
    committed = False
    log = build_dir / "progress" / f"{name}.log"
    t0 = time.perf_counter()
    try:
        with _environ(SINGLEDIR_RESULTS=str(results), SINGLEDIR_PROGRESS_LOG=str(log)), _Tail(log, name), \
                _StopOnInterrupt() as interrupt:
            try:
                out = pm.execute_notebook(nb, str(partial), parameters=params, kernel_name="python3",
                                          progress_bar=progress, cwd=str(ROOT), log_output=False,
                                          kernel_manager_class=_kernel_manager_class(), shell_timeout_interval=1)
            except Exception:
                if interrupt.hit:
                    raise KeyboardInterrupt from None
                raise
            if interrupt.hit:  # Ctrl-C as the last cell finished: the user asked to stop
                raise KeyboardInterrupt
        seconds = time.perf_counter() - t0
        out.metadata["singledir"] = {"key": key, "run": run, "params": params, "seconds": round(seconds, 2),
                                     "executed": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                                     "preset": preset, "machine": machine_info()}
        nbformat.write(out, str(partial))
        os.replace(partial, final)  # the commit
        committed = True
    except pm.PapermillExecutionError as e:
        if e.ename == "KeyboardInterrupt":
            partial.unlink(missing_ok=True)
            raise KeyboardInterrupt from None
        failed.parent.mkdir(exist_ok=True)
        os.replace(partial, failed)
        trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(e.traceback[-3:]) if e.traceback else "")
        kept = " (its previous result is kept, and is not current)" if previous else ""
        raise BookError(f"chapter {name} failed in cell {e.exec_count}: {e.ename}: {e.evalue}\n{trace}\n"
                        f"the executed notebook up to the failure is in {failed}{kept}") from None
    except DeadKernelError:
        partial.unlink(missing_ok=True)
        raise BookError(f"chapter {name}: its kernel died (killed from outside, or by the system when memory ran "
                        f"out?) after {time.perf_counter() - t0:.0f} s; its previous result, if any, is kept "
                        f"and is not current") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        _prune_runs(build_dir, name, keep=run if committed else previous)
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


CSV_COLUMNS = ("id", "claim", "paper", "ours", "ci_low", "ci_high", "scale", "verdict")
# where each row's numbers came from: the run of its chapter (same value on every row of a chapter)
CSV_META_COLUMNS = ("chapter", "preset", "executed", "chapter_seconds", "cpu", "instruction_set",
                    "torch_cpu_capability", "torch_threads", "torch", "device")


def _meta_row(meta: dict) -> dict:
    m = meta.get("machine") or {}
    return {"preset": meta.get("preset", ""), "executed": meta.get("executed", ""),
            "chapter_seconds": meta.get("seconds", ""),
            **{k: m.get(k, "") for k in ("cpu", "instruction_set", "torch_cpu_capability", "torch_threads",
                                         "torch", "device")}}


def write_scorecard_csv(findings: list[dict], path: Path, metas: dict[str, dict] | None = None) -> None:
    """``scorecard.csv``, atomically: one row per finding, the columns of :data:`CSV_COLUMNS`, then
    :data:`CSV_META_COLUMNS` from the executed notebook of the finding's chapter (``metas``:
    ``{chapter: executed_meta}``). A plain CSV with one header line (``pandas.read_csv`` reads it)."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*CSV_COLUMNS, *CSV_META_COLUMNS])
        for f in findings:
            meta = {"chapter": f.get("chapter", ""), **_meta_row((metas or {}).get(f.get("chapter"), {}))}
            w.writerow([f[c] for c in CSV_COLUMNS] + [meta[c] for c in CSV_META_COLUMNS])
    os.replace(tmp, path)


BUILD_INFO_PAGE = "build_info.md"  # written at staging, included by index.md


def _machine_text(m: dict) -> str:
    if not m:
        return "not recorded"
    cap = f" (torch's CPU kernels: {m['torch_cpu_capability']})" if m.get("torch_cpu_capability") else ""
    return (f"{m.get('cpu', '?')}, {m.get('instruction_set', '?')}{cap}; {m.get('torch_threads', '?')} torch "
            f"threads; torch {m.get('torch', '?')}; device {m.get('device', '?')}; Python {m.get('python', '?')}")


def build_info(preset: str, description: str | None, chapters: list[str], metas: dict[str, dict],
               current: dict[str, bool], command: str | None) -> str:
    """Where the numbers came from, as MyST: the preset, and per executed chapter when and on what
    machine it ran and for how long. Built from the notebooks' metadata only (no clock), so an
    unchanged book stages the same text and is not rendered again."""
    built = [n for n in chapters if n in metas]
    about = " ".join(str(description or "").split()).rstrip(".")
    lines = [f"Parameter file (preset): `{preset}`." + (f" {about}." if about else ""), ""]
    if built:
        total = sum(float(metas[n].get("seconds") or 0) for n in built)
        machines = list(dict.fromkeys(_machine_text(metas[n].get("machine") or {}) for n in built))
        lines += [f"Chapters executed in {total:.0f} s in all (their last runs).", ""]
        head = "| chapter | executed | seconds | state |" + (" machine |" if len(machines) > 1 else "")
        lines += [head, "|---" * (head.count("|") - 1) + "|"]
        for n in built:
            meta = metas[n]
            state = "current" if current.get(n) else "stale: its source, parameters or code changed since"
            row = (f"| {{doc}}`/chapters/{n}` | {str(meta.get('executed', '?')).replace('T', ' ')} | "
                   f"{float(meta.get('seconds') or 0):.1f} | {state} |")
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
          info: str = "") -> bool:
    """Stage the book in ``src_dir`` with the executed chapters ``names`` (the table of contents
    lists only those); True if anything changed."""
    changed = _write_if_changed(src_dir / SCORECARD_PAGE,
                                scorecard_table([f for f in (findings or []) if f.get("chapter") in names]))
    changed |= _write_if_changed(src_dir / BUILD_INFO_PAGE, info)
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
    from .cache import cache_dir

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
    from .cache import cache_dir

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
          html: bool = True, progress: bool = True, force: bool = False) -> dict[str, float | None]:
    """Execute what changed, then render. Returns ``{chapter: seconds or None if up to date}``.

    ``only``: execute just these chapters. The rendered book and ``scorecard.csv`` still hold every
    chapter executed earlier with this preset (their last successful runs); chapters never executed
    are left out of the book, and their names and the command that executes them are printed.
    Ctrl-C raises :class:`BuildInterrupted`, whose message says what was kept.
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
    build_dir = Path(build_dir).absolute()  # the kernels run in ROOT: paths given to them are absolute
    exec_dir = build_dir / "exec"
    from .cache import cache_dir

    os.environ.setdefault("SINGLEDIR_CACHE", str(cache_dir()))  # "$SINGLEDIR_CACHE/..." in parameters
    preset = _display_path(params_path)
    times: dict[str, float | None] = {}
    t0, wall0 = time.perf_counter(), time.time()
    current = None
    try:
        for name in names:
            key = run_key(chapters[name], params[name])
            if not force and executed_key(exec_dir / f"{name}.ipynb") == key:
                times[name] = None
                say(f"{name}: up to date")
                continue
            say(f"{name}: executing with {json.dumps(params[name])}")
            current = name
            times[name] = execute_chapter(name, chapters[name], params[name], exec_dir, progress, preset=preset)
            current = None
            say(f"{name}: {times[name]:.1f} s")
        ran = sum(t for t in times.values() if t)
        say(f"chapters executed in {ran:.1f} s ({sum(t is not None for t in times.values())} run, "
            f"{sum(t is None for t in times.values())} up to date)")
        metas = {n: m for n in chapters if (m := executed_meta(exec_dir / f"{n}.ipynb")) is not None}
        built = list(metas)  # every chapter of this preset executed successfully, now or before
        findings = chapter_findings(build_dir, built)
        write_scorecard_csv(findings, build_dir / "scorecard.csv", metas)
        not_built = [n for n in chapters if n not in metas]
        command = rebuild_command(params_path, build_dir, not_built) if not_built else None
        if html:
            src_dir = build_dir / "src"
            fresh = {n: metas[n].get("key") == run_key(chapters[n], params[n]) for n in built}
            info = build_info(preset, read_params_file(params_path).get("description"), list(chapters), metas,
                              fresh, command)
            changed = stage(exec_dir, src_dir, built, findings, info)
            if changed or not (build_dir / "html" / "index.html").exists():
                r0 = time.perf_counter()
                render(src_dir, build_dir, full=True)
                say(f"HTML rendered into {build_dir / 'html'} in {time.perf_counter() - r0:.1f} s")
            else:
                say(f"HTML in {build_dir / 'html'} is up to date")
        if not_built:
            say(f"not built yet with {preset}: {', '.join(not_built)}"
                + ("; the book leaves them out" if html else "") + f". Build them with:\n  {command}")
    except KeyboardInterrupt:
        had = current is not None and executed_meta(exec_dir / f"{current}.ipynb") is not None
        raise BuildInterrupted(_interrupted(current, had, [n for n, t in times.items() if t is not None], wall0)) from None
    say(f"total {time.perf_counter() - t0:.1f} s")
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
    ap.add_argument("--only", nargs="*", metavar="CHAPTER",
                    help="execute only these chapters (the book still shows every chapter executed before)")
    ap.add_argument("--no-html", action="store_true", help="execute only, do not render")
    ap.add_argument("--force", action="store_true", help="execute even chapters that are up to date")
    a = ap.parse_args(argv)
    try:
        build(Path(a.params), Path(a.build_dir) if a.build_dir else default_build_dir(Path(a.params)), a.only,
              html=not a.no_html, force=a.force)
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


if __name__ == "__main__":
    sys.exit(main())
