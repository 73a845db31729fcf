"""The book runner as a user meets it: progress lines in the terminal, where the numbers came from,
``--only``, keys that follow the files a chapter reads, runs that fail or are interrupted (real
child processes and signals), parameter files with a chapter section of the wrong type."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from singledir import book
from singledir.book import BookError

ROOT = book.ROOT
SMOKE = ROOT / "params" / "smoke.yml"

# A chapter that records one finding (as scorecard.record does: a JSON file and glued numbers),
# reports progress, and can wait (for a signal to arrive) or fail on request.
CHAPTER = '''---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Test chapter {name}

```{{code-cell}} ipython3
:tags: [parameters]

value = 1.0
pause = 0.0
fail = False
ready = ""
```

```{{code-cell}} ipython3
import json, os, time
from pathlib import Path
from myst_nb import glue
from singledir import progress
out = Path(os.environ["SINGLEDIR_RESULTS"])
out.mkdir(parents=True, exist_ok=True)
(out / "{finding}.json").write_text(json.dumps({{"id": "{finding}", "claim": "a claim", "paper": "p", "statistic": "s",
    "ours": value, "ci_low": value, "ci_high": value, "scale": "tiny", "verdict": "reproduced",
    "chapter": "{name}", "figure": ""}}))
for k in ("ours", "ci_low", "ci_high"):
    glue("{finding}_" + k, value, display=False)
glue("{finding}_verdict", "reproduced", display=False)
with progress.Progress(3, "steps") as bar:
    for i in range(3):
        bar.update(note=f"step {{i}}")
progress.note("a one-off note")
if ready:
    Path(ready).touch()
time.sleep(pause)
if fail:
    raise RuntimeError("asked to fail")
```
'''

# Runs the book's command line on the chapters of another folder (argv[1]).
DRIVER = '''import sys
from pathlib import Path
from singledir import book
chapters = {p.stem: p for p in sorted(Path(sys.argv[1]).glob("[0-9][0-9]_*.md"))}
book.chapter_paths = lambda root=book.ROOT: chapters
sys.exit(book.main(sys.argv[2:]))
'''


def make_chapters(folder: Path, names=("01_approach", "02_memorization")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names, 1):
        (folder / f"{name}.md").write_text(CHAPTER.format(name=name, finding=f"E{k}"))
    return folder


def write_params(path: Path, chapters: dict) -> Path:
    path.write_text(yaml.safe_dump({"chapters": chapters}))
    return path


@pytest.fixture
def fake_book(tmp_path, monkeypatch):
    """Two quick test chapters (named like the book's first two, so the table of contents knows
    them) in place of the book's chapters, for builds in this process."""
    chapters = make_chapters(tmp_path / "chapters")
    paths = {p.stem: p for p in sorted(chapters.glob("*.md"))}
    monkeypatch.setattr(book, "chapter_paths", lambda root=ROOT: paths)
    return tmp_path


def env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def driver(tmp_path: Path) -> Path:
    path = tmp_path / "driver.py"
    path.write_text(DRIVER)
    return path


def run_book(tmp_path: Path, *args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(driver(tmp_path)), str(tmp_path / "chapters"), *map(str, args)],
                          cwd=cwd, env=env(), capture_output=True, text=True, timeout=300)


def meta(build_dir: Path, name: str) -> dict:
    return book.executed_meta(build_dir / "exec" / f"{name}.ipynb")


def ours(build_dir: Path) -> dict[str, float]:
    return {f["id"]: f["ours"] for f in book.chapter_findings(build_dir, list(book.chapter_paths()))}


# ---------------------------------------------------------------------------------------------
# Keys follow the files named by a chapter's own defaults
# ---------------------------------------------------------------------------------------------
def test_run_key_follows_files_named_by_the_chapters_defaults(tmp_path, monkeypatch):
    src = ROOT / "chapters" / "07_your_model.md"
    defaults = book.declared_parameters(book.read_chapter(src))
    assert defaults["weights"].startswith("$SINGLEDIR_CACHE/") and defaults["model"].startswith("examples/")
    params = book.load_params(SMOKE, book.chapter_paths())["07_your_model"]
    assert "weights" not in params and "model" not in params  # the smoke preset relies on the defaults
    root = tmp_path / "root"
    model_file = root / defaults["model"].partition(":")[0]
    model_file.parent.mkdir(parents=True)
    shutil.copy(ROOT / defaults["model"].partition(":")[0], model_file)
    monkeypatch.setattr(book, "ROOT", root)
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "cache"))
    weights = Path(os.path.expandvars(defaults["weights"]))
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"weights one")
    k1 = book.run_key(src, params)
    assert k1 == book.run_key(src, params)
    weights.write_bytes(b"weights two")
    k2 = book.run_key(src, params)
    model_file.write_text(model_file.read_text() + "\n# an edit\n")
    k3 = book.run_key(src, params)
    assert len({k1, k2, k3}) == 3


# ---------------------------------------------------------------------------------------------
# Parameter files
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [3, [1, 2], "seed"], ids=["number", "list", "string"])
def test_a_chapter_section_that_is_not_a_mapping_is_named(tmp_path, value):
    doc = yaml.safe_load(SMOKE.read_text())
    doc["chapters"]["01_approach"] = value
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(doc))
    child = tmp_path / "child.yml"
    child.write_text(yaml.safe_dump({"extends": str(SMOKE), "chapters": {"01_approach": value}}))
    for p in (path, child):
        with pytest.raises(BookError) as e:
            book.load_params(p, book.chapter_paths())
        msg = str(e.value)
        assert str(p) in msg and "chapter 01_approach" in msg and "mapping" in msg
        assert "01_approach:\n      seed: 1" in msg  # how to write it
