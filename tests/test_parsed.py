"""singledir.book.parsed: a build parses each chapter's source once (counted on jupytext's reader
through a whole build, papermill's execution stubbed), an edited chapter is parsed again, and each
caller gets a notebook of its own."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import jupytext
import papermill
import pytest

from helpers import CHAPTER_HEADER
from singledir.book import cli
from singledir.book import params as params_mod
from singledir.book.parsed import parsed_once

SMOKE = params_mod.ROOT / "params" / "smoke.yml"


@pytest.fixture
def parses(monkeypatch) -> Counter:
    """``{resolved path: times jupytext parsed it}`` from here on, nothing kept from before."""
    counts: Counter = Counter()
    read = jupytext.read

    def counting(path, *a, **k):
        counts[Path(path).resolve()] += 1
        return read(path, *a, **k)

    monkeypatch.setattr(jupytext, "read", counting)
    params_mod.read_chapter.cache_clear()
    yield counts
    params_mod.read_chapter.cache_clear()


def test_a_build_parses_each_chapter_once(tmp_path, monkeypatch, parses):
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(papermill, "execute_notebook", lambda nb, path, **kw: nb)  # every cell "ran"
    times = cli.build(SMOKE, build_dir=tmp_path / "_build", html=False, progress=False)
    chapters = params_mod.chapter_paths()
    assert set(times) == set(chapters)  # each executed, its key, imports, parameters and design read
    assert parses == {p.resolve(): 1 for p in chapters.values()}
    cli.build(SMOKE, build_dir=tmp_path / "_build", html=False, progress=False)  # all up to date now
    assert parses == {p.resolve(): 1 for p in chapters.values()}


def test_an_edited_chapter_is_parsed_again_and_each_caller_gets_its_own_copy(tmp_path, parses):
    src = tmp_path / "01_x.md"
    src.write_text(CHAPTER_HEADER + "\n```{code-cell} ipython3\nx = 1\n```\n")
    nb = params_mod.read_chapter(src)
    nb.metadata["kernelspec"] = {"name": "changed"}
    again = params_mod.read_chapter(src)
    assert parses[src.resolve()] == 1 and again.metadata["kernelspec"]["name"] == "python3"
    src.write_text(CHAPTER_HEADER + "\n```{code-cell} ipython3\nx = 2\n```\n")  # the same size, at once
    assert params_mod.read_chapter(src).cells[0].source == "x = 2"
    assert parses[src.resolve()] == 2


def test_the_oldest_notebooks_are_dropped_past_the_limit(tmp_path, monkeypatch):
    from singledir.book import parsed

    monkeypatch.setattr(parsed, "MAX_KEPT", 2)
    calls = []
    read = parsed_once(lambda path: calls.append(path.name) or {"name": path.name})
    for name in ("a", "b", "c", "a"):
        (tmp_path / name).write_text(name)
        assert read(tmp_path / name) == {"name": name}
    assert calls == ["a", "b", "c", "a"]  # a was dropped when c came
