"""Helpers shared by the test modules (pytest puts tests/ on sys.path)."""
from __future__ import annotations

from singledir.book.params import ROOT  # the project

RECORD = "application/papermill.record/text/plain"  # where papermill keeps a glued value's text


def glued_values(nb) -> dict[str, str]:
    """``{name: text/plain value}`` of everything glued in an executed notebook."""
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            if name and RECORD in o.get("data", {}):
                out[name] = o["data"][RECORD]
    return out


def glued(nb, name: str) -> str:
    """The text/plain value glued under ``name`` in an executed notebook."""
    values = glued_values(nb)
    if name not in values:
        raise KeyError(f"nothing glued as {name!r}; glued: {', '.join(sorted(values))}")
    return values[name]


# the front matter of a jupytext MyST chapter, for the tests that write chapters of their own
CHAPTER_HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""

NAN, INF = float("nan"), float("inf")


def mlp_and_data(n: int = 40):
    """A small MLP (3 classes, inputs [1, 2, 2]) in eval mode and ``n`` seeded examples for it."""
    import torch

    from singledir.nets.models import MLPConfig, build_model

    torch.manual_seed(0)
    net = build_model(MLPConfig(widths=(8, 8)), (1, 2, 2), 3).eval()
    g = torch.Generator().manual_seed(1)
    return net, torch.randn(n, 1, 2, 2, generator=g), torch.arange(n) % 3


def _tiny_runs():
    from singledir.nets.models import ConvNetConfig, MLPConfig
    from singledir.nets.runs import RunConfig, TrainConfig

    tiny = RunConfig(dataset="digits", n_train=300, n_test=100, model=MLPConfig(widths=(32, 16)),
                     train=TrainConfig(epochs=2, batch_size=64, lr=3e-3), seed=0)
    tiny_conv = RunConfig(dataset="digits", n_train=300, n_test=100, model=ConvNetConfig(width=0.0625),
                          train=TrainConfig(epochs=2, batch_size=64, lr=3e-3), seed=0)
    return tiny, tiny_conv


TINY, TINY_CONV = _tiny_runs()  # a two-epoch MLP and conv net on 300 of sklearn's 8x8 digits


APPROACH = ROOT / "chapters" / "01_approach.md"
# chapter 1's parameters in params/smoke.yml
SMOKE_APPROACH = {"data": {"dataset": "digits", "n_train": 400, "n_test": 200, "image_size": None, "conv_dataset": None,
                           "unused_to_test": True}, "corruption": 0.5,
                  "model": {"kind": "mlp", "widths": [16, 16]},
                  "train": {"epochs": 2, "batch_size": 64, "lr": 0.003}, "corrupted_epochs": 2, "seed": 0}


def fisher_interval(lo: float, hi: float, n: int = 30) -> dict:
    """A correlation result whose 95% interval is exactly (lo, hi)."""
    import math

    from scipy import stats as st

    from singledir.decide import stats

    zl, zh = math.atanh(lo), math.atanh(hi)
    c, s = (zl + zh) / 2, (zh - zl) / 2 / st.norm.ppf(0.975)
    return stats.pivot_result(math.tanh(c), c, s, math.inf, "fisher", n)


def trapezoid_area(table, x: str = "fraction", metric: str = "accuracy") -> float:
    """The trapezoid rule written out: the mean of ``metric`` over repetitions at each ``x``, joined
    by straight lines, and the area under them."""
    by: dict[float, list[float]] = {}
    for at, v in zip(table[x], table[metric]):
        by.setdefault(float(at), []).append(float(v))
    xs = sorted(by)
    ys = [sum(by[a]) / len(by[a]) for a in xs]
    return sum((x1 - x0) * (y0 + y1) / 2 for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:]))


# ---------------------------------------------------------------------------------------------
# Processes the test session starts (tests/conftest.py fails the run if one outlives it)
# ---------------------------------------------------------------------------------------------
SESSION_ENV = "SINGLEDIR_TEST_SESSION"  # set by conftest.py: every process the session starts inherits it


def processes_marked(name: str, value: str) -> list:
    """Live processes (zombies left out) other than this one whose environment holds ``name=value``:
    the processes started below a process that set it, also those whose parent has died and
    which were adopted by PID 1. Processes of other users are skipped."""
    import os

    import psutil

    out = []
    for p in psutil.process_iter():
        if p.pid == os.getpid():
            continue
        try:
            if p.environ().get(name) == value and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (psutil.Error, OSError):  # gone meanwhile, or not ours to read
            continue
    return out


def describe(p) -> str:
    """``pid 123 (parent 1): python -c ...`` for a message."""
    import psutil

    try:
        return f"pid {p.pid} (parent {p.ppid()}): {' '.join(p.cmdline())[:300]}"
    except psutil.Error:
        return f"pid {p.pid} (gone)"


def end_processes(procs, grace: float = 5.0) -> list:
    """Terminate ``procs`` and wait up to ``grace`` seconds; kill what is left and wait for it. A
    multiprocessing resource tracker ignores SIGTERM and exits by itself once the processes that
    share its pipe are gone, within the grace period. Returns the processes that were still
    alive after the SIGTERM and had to be killed."""
    import psutil

    procs = list(procs)
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace)
    return alive


def run_ending_on_timeout(args, *, timeout: float, capture_output: bool = False, **kwargs):
    """``subprocess.run`` that, when ``timeout`` passes, ends the command and every process it
    started (its process group, and descendants that left it, such as kernels) before raising
    ``subprocess.TimeoutExpired``; ``subprocess.run`` would kill the command alone."""
    import os
    import signal
    import subprocess

    import psutil

    if capture_output:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    proc = subprocess.Popen(args, start_new_session=True, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:  # the timeout, or Ctrl-C in the test session
        try:
            kids = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            kids = []
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # it had ended
            pass
        end_processes(kids)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def chapter_code_lines(path) -> int:
    """Code lines of a chapter, as issue 32 counts them: the non-blank lines of its code cells that
    are not comments, the cell tagged ``parameters`` left out."""
    import jupytext

    nb = jupytext.read(path)
    return sum(1 for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
               for line in c.source.splitlines() if line.strip() and not line.strip().startswith("#"))
