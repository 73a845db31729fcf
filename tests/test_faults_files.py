"""Files the book cannot use are named, with the fix, before any network trains (issue 34): the
cache folder, parameter files that are not UTF-8, empty or folders, and --record on a build whose
chapters are not all current."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from singledir.book import cli, params as params_mod
from test_runner import make_chapters, write_params

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "params" / "smoke.yml"


def _build(params: Path, tmp_path: Path, **kw):
    return cli.build(params, build_dir=tmp_path / "_build", html=False, progress=False, **kw)


def test_a_cache_that_is_a_file_is_named_before_anything_runs(tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("not a folder")
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "cache"))
    with pytest.raises(params_mod.BookError, match=rf"the cache folder {tmp_path / 'cache'} \(SINGLEDIR_CACHE=.*\) "
                                                   r"is a file, not a folder: set SINGLEDIR_CACHE to a folder"):
        _build(SMOKE, tmp_path)
    assert not (tmp_path / "_build").exists()


@pytest.mark.parametrize("where", ["under a file", "read-only"])
def test_a_cache_that_cannot_be_written_is_named_before_anything_runs(tmp_path, monkeypatch, where):
    if where == "under a file":
        (tmp_path / "file").write_text("")
        cache = tmp_path / "file" / "cache"
    elif os.geteuid() != 0:
        cache = tmp_path / "ro"
        cache.mkdir(mode=0o555)
    else:  # root writes any folder of a writable file system
        cache = Path("/sys/singledir-test-cache")
    monkeypatch.setenv("SINGLEDIR_CACHE", str(cache))
    with pytest.raises(params_mod.BookError, match=rf"the cache folder {cache} \(SINGLEDIR_CACHE=.*\) cannot be "
                                                   r"written .*set SINGLEDIR_CACHE to a folder you can write"):
        _build(SMOKE, tmp_path)
    assert not (tmp_path / "_build").exists()


def test_a_parameter_file_that_is_not_utf8_is_named_with_the_byte(tmp_path):
    path = tmp_path / "p.yml"
    path.write_bytes(b"description: caf\xe9\nextends: " + str(SMOKE).encode() + b"\n")
    with pytest.raises(params_mod.BookError, match=rf"{path}: byte 16 \(b'\\xe9'\) is not UTF-8 text; save the file "
                                                   r"as UTF-8"):
        params_mod.load_params(path, params_mod.chapter_paths())


def test_extends_naming_a_folder_is_named(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text("extends: .\n")
    with pytest.raises(params_mod.BookError, match=rf"{tmp_path} \(extended by {path}\) is a folder, not a parameter "
                                                   r"file: name a \.yml file, e\.g\. extends: default\.yml"):
        params_mod.load_params(path, params_mod.chapter_paths())


def test_params_naming_a_folder_is_named(tmp_path):
    with pytest.raises(params_mod.BookError, match=rf"{tmp_path} is a folder, not a parameter file"):
        params_mod.load_params(tmp_path, params_mod.chapter_paths())


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "{}\n"])
def test_an_empty_parameter_file_is_refused(tmp_path, text):
    path = tmp_path / "mine.yml"
    path.write_text(text)
    with pytest.raises(params_mod.BookError, match=rf"{path} is empty: it would build the whole default design under "
                                                   r"another name\. Write what it changes, e\.g\.\n  extends: default"):
        _build(path, tmp_path)
    assert not (tmp_path / "_build").exists()


def test_record_names_the_chapters_that_are_not_current(tmp_path, monkeypatch):
    chapters = make_chapters(tmp_path / "chapters")
    paths = {p.stem: p for p in sorted(chapters.glob("*.md"))}
    monkeypatch.setattr(cli, "chapter_paths", lambda root=ROOT: paths)
    params = write_params(tmp_path / "p.yml", {"01_approach": {"value": 1.0}, "02_memorization": {"value": 2.0}})
    _build(params, tmp_path, only=["01_approach"])
    with pytest.raises(params_mod.BookError, match=r"not recorded in the ledger: not every chapter is current with "
                                                   r"this design \(never built: 02_memorization \(build them with: "
                                                   r".*--only 02_memorization\)\)"):
        _build(params, tmp_path, only=["01_approach"], record=tmp_path / "ledger")
    write_params(params, {"01_approach": {"value": 3.0}, "02_memorization": {"value": 2.0}})
    _build(params, tmp_path, only=["02_memorization"])
    with pytest.raises(params_mod.BookError, match=r"\(stale \(source, parameters or code changed since it ran\): "
                                                   r"01_approach \(build them with: .*--only 01_approach\)\)"):
        _build(params, tmp_path, only=["02_memorization"], record=tmp_path / "ledger")
    assert not (tmp_path / "ledger").exists()
