"""Every ``benchmarks/bench_*.py`` runs to the end in its quick mode and prints its ratio lines.

The scripts are found by glob, so a new benchmark is covered without editing this file; a renamed
API or a broken option fails here rather than in ``make bench``. No timings are checked.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))
RATIO = re.compile(r"ratio \d+\.\d+x")


def run_quick(script: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(script), "--quick"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_every_benchmark_is_found():
    assert len(SCRIPTS) >= 5, [s.name for s in SCRIPTS]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_benchmark_runs_in_quick_mode_and_prints_its_ratios(script):
    r = run_quick(script)
    assert r.returncode == 0, f"{script.name} --quick exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    lines = [line for line in r.stdout.splitlines() if RATIO.search(line)]
    assert lines, f"{script.name} --quick printed no 'ratio N.NNx' line:\n{r.stdout[-2000:]}"
    assert not any(re.search(r"\b(nan|inf)\b", line) for line in lines), lines
