"""Executing one chapter with papermill: its key, its kernel, its progress lines, its results.

A run writes its notebook to a temporary name and its findings to a folder of its own; the rename of
the notebook, whose metadata names the run, makes both current together, so a failed or interrupted
run never leaves a half-new result.
"""
from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import os
import re
import shutil
import signal
import sys
import threading
import time
import uuid
import weakref
from pathlib import Path

from .keys import chapter_key, executed_meta
from .params import ROOT, BookError, name_injected_parameters, read_chapter
from ..base.progress import phase_seconds
from .provenance import git_commit, run_provenance

def _prune_runs(build_dir: Path, name: str, keep: str | None) -> None:
    """Remove the findings folders of ``name``'s runs other than ``keep`` (runs that failed, were
    interrupted or were replaced)."""
    folder = build_dir / "results" / name
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name != keep:
                shutil.rmtree(p) if p.is_dir() else p.unlink()


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
    (:mod:`singledir.base.progress`) as ``[book] NAME: line``."""

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


def warnings_to_progress() -> None:
    """In a chapter's kernel: every warning becomes one line of the progress log (printed by the
    runner as ``[book] NAME: warning: ...``) instead of a cell output in the rendered page."""
    import warnings

    from ..base.progress import note

    def show(message, category, filename, lineno, file=None, line=None):
        note(f"warning: {category.__name__}: {message} ({Path(filename).name}, line {lineno})")

    warnings.showwarning = show


# run at each chapter kernel's start (IPKernelApp.exec_lines), binding no name in the notebook
WARNINGS_TO_PROGRESS = "__import__('singledir.book.runner').book.runner.warnings_to_progress()"


@functools.cache
def _kernel_manager_class():
    """The kernel manager papermill starts each chapter's kernel with: jupyter_client's, with
    CurveZMQ keys provisioned for the kernel's sockets where the kernelspec declares support
    (ipykernel 7 does; without them ipykernel logs ``Kernel is running over TCP without
    encryption ...`` to the terminal at every chapter's start), without the SIGINT that
    jupyter_client sends before a shutdown request (a finished chapter's kernel is idle; the
    signal, arriving while the kernel still handles papermill's last request, makes it log
    ``KeyboardInterrupt caught in kernel.`` now and then), with warnings routed to the progress log
    (:func:`warnings_to_progress`), and recorded so that Ctrl-C can stop the kernel
    (:class:`_StopOnInterrupt`)."""
    import zmq
    from jupyter_client import AsyncKernelManager

    class ChapterKernelManager(AsyncKernelManager):
        def __init__(self, **kw):
            super().__init__(**kw)
            if zmq.has("curve"):
                self.transport_encryption = "auto"
            _KERNELS.add(self)

        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            if "ipykernel" in " ".join(cmd):  # warnings to the build's lines, not into the pages
                cmd.append(f"--IPKernelApp.exec_lines={WARNINGS_TO_PROGRESS}")
            return cmd

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
    flags), the one torch's CPU kernels use, torch's thread count and version, the device, and the
    code version of the modules that train the networks (part of every network's cache key)."""
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
    from ..base.cache import code_version
    from ..nets.runs import TRAINING_MODULE

    return {"cpu": cpu or platform.processor() or platform.machine(), "cores": os.cpu_count(), "instruction_set": isa,
            "torch_cpu_capability": capability, "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "device": device, "python": platform.python_version(),
            # the code that trains the networks: two builds of one design differ where it does
            "training_code": code_version(TRAINING_MODULE)}


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
    key = chapter_key(source, params)  # before running: an edit made meanwhile must not look executed
    commit, wall0 = git_commit(), time.time()  # likewise
    committed = False
    t0 = time.perf_counter()
    try:
        out = _run_papermill(nb, partial, params, progress, name, results, build_dir / "progress" / f"{name}.log")
        seconds = time.perf_counter() - t0
        out.metadata["singledir"] = {**_run_meta(key, run, params, seconds, preset, results),
                                     **run_provenance(results, commit, wall0)}
        name_injected_parameters(out)
        nbformat.write(out, str(partial))
        os.replace(partial, final)  # the commit
        committed = True
        failed.unlink(missing_ok=True)  # an earlier failure no longer describes this chapter
    except pm.PapermillExecutionError as e:
        _failed_cell(e, name, partial, failed, previous)
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


def _run_papermill(nb, partial: Path, params: dict, progress: bool, name: str, results: Path, log: Path):
    """``nb`` executed by papermill into ``partial`` in ROOT, its findings written to ``results`` and
    its progress lines to ``log`` (printed as they come); Ctrl-C stops its kernel and raises
    KeyboardInterrupt."""
    import papermill as pm

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
    return out


def _run_meta(key: str, run: str, params: dict, seconds: float, preset: str, results: Path) -> dict:
    """The runner's metadata of an executed notebook (:func:`singledir.book.keys.executed_meta`)."""
    return {"key": key, "run": run, "params": params, "seconds": round(seconds, 2),
            "executed": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "preset": preset, "machine": machine_info(),
            "findings": sorted(p.name for p in results.glob("[EF]*.json")),
            "phases": {k: round(v, 2) for k, v in phase_seconds(results).items()}}


def _failed_cell(e, name: str, partial: Path, failed: Path, previous: str | None) -> None:
    """Raise what a cell's error means: KeyboardInterrupt for a Ctrl-C inside the kernel, else a
    BookError naming the cell, its error and where the notebook up to it is kept."""
    if e.ename == "KeyboardInterrupt":
        partial.unlink(missing_ok=True)
        raise KeyboardInterrupt from None
    failed.parent.mkdir(exist_ok=True)
    os.replace(partial, failed)
    trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(e.traceback[-3:]) if e.traceback else "")
    kept = " (its previous result is kept, and is not current)" if previous else ""
    raise BookError(f"chapter {name} failed in cell {e.exec_count}: {e.ename}: {e.evalue}\n{trace}\n"
                    f"the executed notebook up to the failure is in {failed}{kept}") from None
