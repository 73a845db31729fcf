"""tests/conftest.py: a process the test session starts and that outlives it fails the run, named,
and is ended; the package's worker pool and multiprocessing's resource tracker, which end at
exit, do not. Checked on a session of its own, run in a child process, that uses the pool and
leaves an orphan."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil

from helpers import ROOT, SESSION_ENV, processes_marked

TESTS = Path(__file__).resolve().parent

# A session that uses the package's worker pool (alive until closed at the end) and leaves an
# orphan behind: a child that starts a sleeper and dies at once, so the sleeper is adopted by PID 1.
LEAKING = '''
import os, subprocess, sys, time
from pathlib import Path

from singledir.nets import workers


def test_the_pool_works():
    assert workers.run_in_worker(os.getpid) != os.getpid()


def test_an_orphan_is_left_behind():
    out = Path(os.environ["ORPHAN_PID_FILE"])
    subprocess.run([sys.executable, "-c",
                    "import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
                    f"open({str(out)!r}, 'w').write(str(p.pid))"], check=True)
    assert int(out.read_text()) > 0
'''

def _session(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    """pytest on one test file, with this suite's conftest.py and helpers.py, in a process of its own."""
    folder = tmp_path / "suite"
    folder.mkdir()
    for name in ("conftest.py", "helpers.py"):
        shutil.copy(TESTS / name, folder / name)
    (folder / "test_one.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(folder)]),
           "SINGLEDIR_TEST_LEFTOVER_GRACE": "2", "ORPHAN_PID_FILE": str(tmp_path / "orphan.pid")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder / "test_one.py")],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def _running(pid: int) -> bool:
    try:
        p = psutil.Process(pid)
        return p.status() != psutil.STATUS_ZOMBIE and "time.sleep(300)" in " ".join(p.cmdline())
    except psutil.Error:
        return False


def test_a_session_that_leaves_a_process_behind_fails_and_ends_it(tmp_path):
    r = _session(tmp_path, LEAKING)
    orphan = int((tmp_path / "orphan.pid").read_text())
    try:
        assert r.returncode == 1, r.stdout + r.stderr
        assert "2 passed" in r.stdout and "1 error" in r.stdout  # the error: at the teardown of the last test
        assert "1 process(es) started by this test session outlived it" in r.stdout
        # only the orphan is named: not the pool's workers nor the resource tracker, closed or ending at exit
        # (with CI set, pytest's short summary repeats the whole message: the same lines twice)
        named = sorted({line for line in r.stdout.splitlines() if line.startswith("pid ")})
        assert len(named) == 1 and named[0].startswith(f"pid {orphan} ") and "time.sleep(300)" in named[0], r.stdout
        assert not _running(orphan)  # the session ended it
    finally:
        if _running(orphan):
            psutil.Process(orphan).kill()


def test_this_session_marks_its_processes():
    """A child of this session carries its mark; the nested sessions above had marks of their own."""
    mark = os.environ[SESSION_ENV]
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert p.pid in {q.pid for q in processes_marked(SESSION_ENV, mark)}
    finally:
        p.kill()
        p.wait()


def test_a_command_that_runs_past_its_timeout_is_ended_with_what_it_started(tmp_path):
    """run_ending_on_timeout: the command, a child in its process group and a child that left it
    (as a kernel does) are all ended when the timeout passes."""
    import pytest

    from helpers import run_ending_on_timeout

    pids = tmp_path / "pids"
    script = ("import subprocess, sys, time\n"
              "a = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
              "b = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'], start_new_session=True)\n"
              f"open({str(pids)!r}, 'w').write(f'{{a.pid}} {{b.pid}}')\n"
              "time.sleep(300)\n")
    with pytest.raises(subprocess.TimeoutExpired):
        run_ending_on_timeout([sys.executable, "-c", script], timeout=5, capture_output=True, text=True)
    children = [int(p) for p in pids.read_text().split()]
    assert len(children) == 2
    assert not any(_alive(p) for p in children)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
