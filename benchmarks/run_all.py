"""Run every benchmark script in this folder (``make bench``), each in its own process.

Arguments are passed to every script: ``run_all.py --quick`` runs each at tiny sizes (a smoke run
of every case, seconds each; ``tests/test_benchmarks.py`` runs them so). Exits 1 if any failed,
after running all of them and naming the failed ones.
"""
import subprocess
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
scripts = sorted(here.glob("bench_*.py"))
failed = []
for script in scripts:
    print(f"## {script.name}", flush=True)
    if subprocess.call([sys.executable, str(script), *sys.argv[1:]]) != 0:
        failed.append(script.name)
if failed:
    print(f"## {len(failed)} of {len(scripts)} benchmarks failed: {', '.join(failed)} (their errors are above)")
sys.exit(1 if failed else 0)
