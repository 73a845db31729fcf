"""Progress of long steps, for a person at a terminal and for the book runner.

``Progress(total, desc)`` draws a tqdm bar when stderr is a terminal (or when asked), and, when the
environment variable ``SINGLEDIR_PROGRESS_LOG`` names a file, appends one line per update to it::

    sweep runs: 3/20, 0:41 elapsed, ~3:52 left, seed=2 p=0.4

The book runner sets that variable for every chapter it executes and prints the file's new lines
in the terminal while the chapter runs (a chapter's own output goes into its notebook, where no one
sees it during ``make book``). :func:`note` adds a one-off line (a damaged cache entry being
recomputed, ...). Lines are appended and flushed one at a time, so a reader sees whole lines.

    >>> with Progress(len(configs), "sweep runs", initial=n_cached) as bar:
    ...     for c in todo:
    ...         run(c)
    ...         bar.update(note=f"seed={c.seed}")
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

ENV = "SINGLEDIR_PROGRESS_LOG"
PHASES = ("training", "curves", "units")  # the timed kinds of work; the rest of a chapter is analysis
PHASES_FILE = "phases.jsonl"  # in a chapter run's results folder ($SINGLEDIR_RESULTS): one line per timed block
# in a worker process, the share of the machine it has (1/n of n workers side by side): its timed
# blocks count that share of their seconds, so phases stay a split of a chapter's wall-clock time
PHASE_SHARE_ENV = "SINGLEDIR_PHASE_SHARE"


_open_phases: list[str] = []  # the timed blocks now running in this process (outermost first)


@contextlib.contextmanager
def phase(kind: str):
    """Time the block as ``kind`` (one of :data:`PHASES`). In a book chapter (``$SINGLEDIR_RESULTS``
    set) its seconds are appended to the run's :data:`PHASES_FILE`, which the runner adds up into
    the chapter's time split; elsewhere nothing is recorded. A block inside another timed block
    counts as the outer one's kind (a unit table's single-unit ablations are unit measures)."""
    if kind not in PHASES:
        raise ValueError(f"phase {kind!r}: one of {PHASES}")
    if _open_phases:
        yield
        return
    _open_phases.append(kind)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        _open_phases.pop()
        folder = os.environ.get("SINGLEDIR_RESULTS")
        if folder:
            try:
                with open(Path(folder) / PHASES_FILE, "a", encoding="utf-8") as fh:
                    share = float(os.environ.get(PHASE_SHARE_ENV) or 1.0)
                    fh.write(json.dumps({"phase": kind, "seconds": share * (time.perf_counter() - t0)}) + "\n")
            except OSError:  # timing is never worth failing a computation for
                pass


def timed(kind: str):
    """Decorator: every call of the function is a :func:`phase` of ``kind``."""
    import functools

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with phase(kind):
                return fn(*args, **kwargs)
        return inner
    return wrap


def phase_seconds(folder: Path) -> dict[str, float]:
    """Seconds per phase recorded in ``folder/PHASES_FILE`` (0 for a phase never timed)."""
    out = dict.fromkeys(PHASES, 0.0)
    path = Path(folder) / PHASES_FILE
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
                out[rec["phase"]] = out.get(rec["phase"], 0.0) + float(rec["seconds"])
            except (ValueError, KeyError, TypeError):  # a line cut short by a killed kernel
                continue
    return out


def log_path() -> str | None:
    """The file progress lines are appended to (``$SINGLEDIR_PROGRESS_LOG``), or None."""
    return os.environ.get(ENV) or None


def _append(line: str) -> None:
    path = log_path()
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(" ".join(line.split()) + "\n")  # one line, whatever the message holds
            fh.flush()
    except OSError:  # progress is never worth failing a computation for
        pass


def duration(seconds: float) -> str:
    """``42s``, ``3:07`` (m:ss) or ``1:02:03`` (h:mm:ss)."""
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s}s"
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def note(msg: str) -> None:
    """A one-off line in the progress log (nothing when no log is set)."""
    _append(msg)


class Progress:
    """``total`` steps called ``desc``; ``initial`` of them already done (e.g. found in a cache).

    ``bar``: draw a tqdm bar (default: when stderr is a terminal). The time left is estimated from
    the steps done since the start, not the ``initial`` ones.
    """

    def __init__(self, total: int, desc: str, *, initial: int = 0, unit: str = "it", bar: bool | None = None):
        self.total, self.desc, self.n, self._start_n = int(total), desc, int(initial), int(initial)
        self._t0 = time.perf_counter()
        from tqdm import tqdm

        self._bar = tqdm(total=self.total, initial=self.n, desc=desc, unit=unit,
                         disable=(not sys.stderr.isatty()) if bar is None else not bar)
        if log_path() and self.total:
            _append(f"{desc}: {self.n}/{self.total}, started" + (f" ({self.n} already done)" if self.n else ""))

    def line(self, note: str = "") -> str:
        """``desc: k/total, elapsed, time left, note``."""
        elapsed = time.perf_counter() - self._t0
        done = self.n - self._start_n
        if self.n >= self.total:
            left = "done"
        elif done > 0:
            left = f"~{duration(elapsed / done * (self.total - self.n))} left"
        else:
            left = "time left unknown yet"
        parts = [f"{self.desc}: {self.n}/{self.total}", f"{duration(elapsed)} elapsed", left]
        return ", ".join(parts + ([note] if note else []))

    def update(self, n: int = 1, note: str = "") -> None:
        self.n += n
        self._bar.update(n)
        if note:
            self._bar.set_postfix_str(note, refresh=False)
        _append(self.line(note))

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
