"""Two builds into one folder (issue 34): the second stops at once, naming the first; a killed
build's lock is stale and the next build goes on."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from singledir.book import cli
from singledir.book.lock import LOCK_FILE, BuildFolderBusy, build_lock

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "params" / "smoke.yml"


def _book(build: Path, cache: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SINGLEDIR_CACHE": str(cache)}
    return subprocess.Popen([sys.executable, "-m", "singledir.book", "--params", "params/smoke.yml", "--build-dir",
                             str(build), "--only", "01_approach", "--no-html", *extra], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_second_build_into_a_busy_folder_stops_at_once_naming_the_first(tmp_path):
    build = tmp_path / "_build"
    first = _book(build, tmp_path / "cache")
    try:
        deadline = time.monotonic() + 120
        while not (build / "progress" / "01_approach.log").exists() and time.monotonic() < deadline:
            assert first.poll() is None, first.stdout.read()
            time.sleep(0.2)
        t0 = time.monotonic()
        second = _book(build, tmp_path / "cache", "--force")
        out, _ = second.communicate(timeout=120)
        assert second.returncode == 1, out
        assert time.monotonic() - t0 < 30  # at once, not after executing a chapter
        assert f"another build runs in {build}" in out and f"process {first.pid}" in out, out
        assert "--build-dir" in out and f"kill {first.pid}" in out
        assert first.wait(timeout=240) == 0, first.stdout.read()
    finally:
        if first.poll() is None:
            first.kill()
    assert (build / LOCK_FILE).read_text() == ""  # released by its build


def test_a_killed_builds_lock_is_stale(tmp_path):
    script = ("import sys, time; from singledir.book.lock import build_lock\n"
              "with build_lock(sys.argv[1], 'params/smoke.yml'):\n    print('locked', flush=True); time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BuildFolderBusy, match=f"process {holder.pid} .*params/smoke.yml"):
            with build_lock(tmp_path, "params/smoke.yml"):
                pass
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    finally:
        if holder.poll() is None:
            holder.kill()
    lines = []
    with build_lock(tmp_path, "params/smoke.yml", lines.append):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert len(lines) == 1 and f"process {holder.pid}" in lines[0] and "stale" in lines[0]


def test_a_build_that_fails_releases_its_lock(tmp_path):
    build = tmp_path / "_build"
    build.mkdir()
    (build / cli.PARAMS_MARKER).write_text("params/other.yml\n")  # another book's folder: refused
    with pytest.raises(cli.BookError, match="holds the book of params/other.yml"):
        cli.build(SMOKE, build_dir=build, html=False, progress=False)
    assert (build / LOCK_FILE).read_text() == ""
    with build_lock(build, "x"):  # free again
        pass
