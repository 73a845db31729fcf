"""Every ``benchmarks/bench_*.py`` runs to the end in its quick mode, prints its ratio lines, and the
agreement it prints between the two ways it times holds: a ``max diff`` within the tolerance
given below for its case, or ``same ...: True``.

The scripts are found by glob: a new benchmark fails here until AGREEMENT says what its agreement
is (or that it prints none); a renamed API or a broken option fails here rather than in
``make bench``. No timings are checked.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run_ending_on_timeout

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))
RATIO = re.compile(r"ratio \d+\.\d+x")
MAX_DIFF = re.compile(r"max diff (\S+)")


def _within(tolerances: dict[str, float]):
    """A check of every ``max diff`` line: its value at most the tolerance of the first key the
    line starts with."""
    def check(lines: list[str]) -> list[str]:
        bad, seen = [], 0
        for line in lines:
            m = MAX_DIFF.search(line)
            if not m:
                continue
            seen += 1
            tol = next((t for k, t in tolerances.items() if line.startswith(k)), None)
            value = float(m.group(1).rstrip(",;"))
            if tol is None or not value <= tol:
                bad.append(f"{line}  (tolerance {tol})")
        return bad if seen else ["no 'max diff' line"]
    return check


def _all_true(label: str):
    """A check that every line saying ``label`` says ``label True`` (and that one does)."""
    def check(lines: list[str]) -> list[str]:
        said = [line for line in lines if label in line]
        return [line for line in said if f"{label} True" not in line] if said else [f"no '{label}' line"]
    return check


def _says_no_agreement(lines: list[str]) -> list[str]:
    """For a benchmark that times one way against another without comparing their values."""
    return [line for line in lines if MAX_DIFF.search(line) or re.search(r"\bsame\b.*: (True|False)", line)]


# What each benchmark's printed agreement must be. Tolerances: the engine equals the naive loop
# to 1e-5 (tests/test_perturb.py); a group member equals its solo run to 1e-6 for MLPs and 1e-5
# for conv nets without batch norm (tests/test_groups.py); the 11-layer batch-norm conv net
# amplifies the rounding of a group's stacked convolutions step by step (measured: 3e-5 after 2
# Adam steps, 2e-4 after 4, 4e-3 when the 4 steps include a short last batch, where a group of
# one equals the solo run bit for bit), so its quick case only bounds the difference at 1e-2 (no
# weight moves more than about lr = 1e-3 per step); freed memory kept changes no value (0). The
# decisive benchmark's max diff is one thread against two (a sum in another order, no tolerance
# stated): checked there is its statement that the workers' networks are this process's bits.
AGREEMENT = {
    "bench_decisive_training": [_all_true("same as in this process on one thread:"),
                                _within({"mlp": math.inf, "conv": math.inf})],
    "bench_engine": [_within({"": 1e-5})],
    "bench_ensemble": [_within({"ensemble mlp128": 1e-6, "ensemble conv x1/8 no BN": 1e-5,
                                "ensemble conv x1/8 BN": 1e-2})],
    "bench_memory": [_within({"": 0.0})],
    "bench_sweep": [_all_true("same AUCs:")],
    "bench_training": [_says_no_agreement],
    "bench_paper_scale": [_says_no_agreement],
}


def run_quick(script: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return run_ending_on_timeout([sys.executable, str(script), "--quick"], cwd=ROOT, env=env, capture_output=True,
                                 text=True, timeout=300)


def test_every_benchmark_is_found_and_says_what_it_agrees_on():
    assert len(SCRIPTS) >= 5, [s.name for s in SCRIPTS]
    assert sorted(s.stem for s in SCRIPTS) == sorted(AGREEMENT)


def test_the_agreement_checks_catch_a_bad_line():
    """The checks above on printed lines: a difference past its tolerance, a False, a missing line."""
    engine = AGREEMENT["bench_engine"][0]
    assert engine(["mlp512 hidden.0: naive 1.0 s, engine 0.5 s, ratio 2.0x, max diff 7.3e-07"]) == []
    assert engine(["mlp512 hidden.0: naive 1.0 s, engine 0.5 s, ratio 2.0x, max diff 2.0e-03"]) != []
    assert engine(["mlp512 hidden.0: naive 1.0 s, engine 0.5 s, ratio 2.0x, max diff nan"]) != []
    assert engine(["no such line"]) == ["no 'max diff' line"]
    ensemble = AGREEMENT["bench_ensemble"][0]
    assert ensemble(["ensemble conv x1/8 no BN x2: sequential 1 s, together 1 s, ratio 1.00x, max diff 3.0e-05"]) != []
    assert ensemble(["ensemble conv x1/8 BN x2: sequential 1 s, together 1 s, ratio 1.00x, max diff 3.0e-05"]) == []
    sweep = AGREEMENT["bench_sweep"][0]
    assert sweep(["SWEEP a x 4 runs: in-process 1 s, ratio 1.00x, same AUCs: False"]) != []
    assert sweep(["SWEEP a x 4 runs: in-process 1 s, ratio 1.00x, same AUCs: True"]) == []
    assert _says_no_agreement(["TRAIN x: 10 examples/s", "a: baseline 1 s, variant 1 s, ratio 1.00x, max diff 0"]) != []


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_benchmark_runs_in_quick_mode_and_agrees_with_itself(script):
    r = run_quick(script)
    assert r.returncode == 0, f"{script.name} --quick exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    lines = [line for line in r.stdout.splitlines() if RATIO.search(line)]
    assert lines, f"{script.name} --quick printed no 'ratio N.NNx' line:\n{r.stdout[-2000:]}"
    assert not any(re.search(r"\b(nan|inf)\b", line) for line in lines), lines
    printed = [line for line in r.stdout.splitlines() if not line.startswith("#")]
    bad = [b for check in AGREEMENT[script.stem] for b in check(printed)]
    assert not bad, f"{script.name} --quick: the two ways it compares disagree:\n" + "\n".join(bad)
