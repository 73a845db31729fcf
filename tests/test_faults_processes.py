"""No process of the book outlives it, however it ends (issue 34): worker processes and the pool's
resource tracker end with the process that started them, SIGKILL included."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
TAG = "SINGLEDIR_TEST_PROCESS_TAG"  # in the environment of every process a test starts, and so of their children
ENV = {**os.environ, "PYTHONPATH": str(ROOT), TAG: f"{os.getpid()}-{time.time_ns()}"}


def _tagged() -> list[psutil.Process]:
    """Every process, however deep below the ones these tests start, that inherited their tag."""
    out = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and p.environ().get(TAG) == ENV[TAG]:
                out.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return out


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _survivors(procs: list[psutil.Process], within: float) -> list[str]:
    """The processes of ``procs`` still running after ``within`` seconds (zombies count as ended)."""
    deadline = time.monotonic() + within
    while True:
        alive = []
        for p in procs:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def _is_worker(p: psutil.Process) -> bool:
    try:
        return "multiprocessing.spawn" in " ".join(p.cmdline())
    except psutil.NoSuchProcess:
        return False


def _kill_and_check(proc: subprocess.Popen, within: float = 15) -> None:
    tree = _tree(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = _survivors(tree + _tagged(), within)
    for line in left:  # leave nothing behind even when the test fails
        try:
            os.kill(int(line.split()[0]), signal.SIGKILL)
        except OSError:
            pass
    assert not left, f"still running {within} s after the SIGKILL of their parent: {left}"


def test_a_pools_workers_and_tracker_end_when_their_parent_is_killed():
    script = textwrap.dedent("""
        import time
        from singledir.nets.workers import process_pool
        pool = process_pool(2)
        futures = [pool.submit(time.sleep, 120) for _ in range(2)]
        print("started", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 60
        while sum(map(_is_worker, _tree(proc.pid))) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sum(map(_is_worker, _tree(proc.pid))) >= 2, "the pool's workers never started"
        time.sleep(3)  # the workers import torch and start their tasks
        _kill_and_check(proc)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_worker_started_from_another_thread_ends_with_its_parent_too():
    script = textwrap.dedent("""
        import threading, time
        from singledir.nets.workers import process_pool
        def go():
            process_pool(1).submit(time.sleep, 120)
        t = threading.Thread(target=go); t.start(); t.join()  # the starting thread is gone
        time.sleep(4)
        print("started", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        workers = [p for p in _tree(proc.pid) if _is_worker(p)]
        assert workers, "a worker started from a thread that ended must still be running"
        _kill_and_check(proc)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_build_killed_mid_training_leaves_no_process(tmp_path):
    """``kill -9`` of ``python -m singledir.book`` while chapter 2's sweep trains in the workers: its
    kernel, the workers and the resource tracker all end within seconds."""
    env = {**ENV, "SINGLEDIR_CACHE": str(tmp_path / "cache")}
    build = tmp_path / "_build"
    proc = subprocess.Popen([sys.executable, "-m", "singledir.book", "--params", "params/smoke.yml", "--build-dir",
                             str(build), "--only", "02_memorization", "--no-html"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        log = build / "progress" / "02_memorization.log"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            text = log.read_text() if log.is_file() else ""
            if "training" in text and any(map(_is_worker, _tree(proc.pid))):
                break
            time.sleep(0.3)
        assert proc.poll() is None, "the build ended before its workers trained"
        assert any(map(_is_worker, _tree(proc.pid))), "no worker trained within 240 s"
        _kill_and_check(proc)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_test_session_leaves_no_process_behind():
    """A pytest run whose tests start the worker pool, ended normally and killed mid-run."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "tests/test_workers.py::test_a_worker_runs_on_one_thread_with_the_callers_cache"]
    done = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    left = _survivors(_tagged(), 10)
    assert not left, f"left behind by a test session that ended normally: {left}"
    proc = subprocess.Popen(cmd[:-1] + ["tests/test_workers.py"], cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not any(map(_is_worker, _tree(proc.pid))) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert proc.poll() is None and any(map(_is_worker, _tree(proc.pid))), "no worker started"
        _kill_and_check(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
