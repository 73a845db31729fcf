"""One build at a time in a build folder.

Two builds into one folder (two terminals, ``make book`` run twice) would delete each other's
findings folders and leave a book with no findings that the next build takes as up to date. A build
holds an exclusive ``flock`` on ``BUILD/build.lock`` while it runs; the operating system releases
it when the build's process ends, however it ends (a killed build leaves no lock behind, only its
note in the file, which the next build reports as stale). A second build into the folder stops at
once with a message naming the running build's process.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

LOCK_FILE = "build.lock"


class BuildFolderBusy(RuntimeError):
    """Another build runs in this folder; the message names it."""


def _holder_text(note: dict, build_dir: Path) -> str:
    return (f"process {note.get('pid', '?')} (started {note.get('started', '?')}: {note.get('command', '?')}) "
            f"is building {note.get('params', '?')} into {build_dir}")


@contextlib.contextmanager
def build_lock(build_dir: Path, params: str, say=print):
    """Hold ``build_dir``'s lock for the block; raise :class:`BuildFolderBusy` if a running build
    holds it. ``say`` prints the one line about a stale lock left by a build that was killed."""
    import fcntl

    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    path = build_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildFolderBusy(
                f"another build runs in {build_dir}: {_holder_text(_read(fd), build_dir)}. Wait for it to finish "
                f"(two builds in one folder would delete each other's results), stop it (kill "
                f"{_read(fd).get('pid', 'PID')}), or build into another folder with --build-dir") from None
        except OSError as e:  # a file system without locks
            say(f"cannot lock {path} ({e.strerror}): make sure no other build writes into {build_dir}")
        stale = _read(fd)
        if stale.get("pid") and stale.get("pid") != os.getpid():
            say(f"the build of process {stale['pid']} into this folder (started {stale.get('started', '?')}) "
                f"ended without finishing (killed?); its lock is stale and its unfinished chapters are executed again")
        _write(fd, {"pid": os.getpid(), "params": params, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "command": " ".join([Path(sys.executable).name, *sys.argv])[:300]})
        try:
            yield path
        finally:
            _write(fd, None)  # a lock released by its build leaves no note
    finally:
        os.close(fd)  # releases the flock


def _read(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 4096).decode("utf-8", "replace")
        note = json.loads(text) if text.strip() else {}
        return note if isinstance(note, dict) else {}
    except (OSError, ValueError):
        return {}


def _write(fd: int, note: dict | None) -> None:
    os.ftruncate(fd, 0)
    if note is not None:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(note).encode())
