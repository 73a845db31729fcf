"""Code versions of cache keys: the sources of every singledir module a run imports (ast import
closure), so that no module can be left out of a hand-kept list."""
from __future__ import annotations

import shutil

import pytest

from singledir.base import cache
from singledir.book import params as params_mod

ROOT = params_mod.ROOT


def test_import_closure_follows_every_import_form(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from . import b\nimport pkg.c as c\n",
        "b.py": "from .d import thing\n",
        "c.py": "def f():\n    from pkg import e  # imported only when called\n",
        "d.py": "thing = 1\n",
        "e.py": "from .sub import g\n",
        "sub/__init__.py": "",
        "sub/g.py": "from .. import h\nfrom ..d import thing\nimport os, json\n",
        "h.py": "",
        "unused.py": "from . import a\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    closure = cache.import_closure("pkg.a", tmp_path)
    assert set(closure) == {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.e", "pkg.sub", "pkg.sub.g", "pkg.h"}
    v = cache.source_version("pkg.a", tmp_path)
    (pkg / "unused.py").write_text("x = 2\n")
    assert cache.source_version("pkg.a", tmp_path) == v
    (pkg / "h.py").write_text("y = 1\n")
    assert cache.source_version("pkg.a", tmp_path) != v


def test_comments_and_docstrings_are_not_code(tmp_path):
    """Editing a docstring or a comment changes no code version (no network retrains for it);
    editing code, a string that is not a docstring included, does."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""The package."""\n')
    src = '"""Module doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 1  # one\n\nclass C:\n    """Doc."""\n    s = "text"\n'
    (pkg / "a.py").write_text(src)
    v = cache.source_version("pkg.a", tmp_path)
    (pkg / "__init__.py").write_text('"""The package, described at length."""\n')
    (pkg / "a.py").write_text(src.replace("Module doc.", "Other doc.").replace("# one", "# two")
                              .replace('"""Doc."""', '"""Longer doc."""'))
    assert cache.source_version("pkg.a", tmp_path) == v
    for edit in (src.replace("x + 1", "x + 2"), src.replace('s = "text"', 's = "other"')):
        (pkg / "a.py").write_text(edit)
        assert cache.source_version("pkg.a", tmp_path) != v
    assert cache.code_text("def (:\n") == "def (:\n"  # what does not parse counts as its text

@pytest.mark.parametrize("module, outside", [
    ("singledir.nets.training", {"book.cli", "pages.plots", "pages.scorecard", "experiments.sweep",
                                 "measure.perturb", "measure.early_stopping"}),
    ("singledir.experiments.sweep", {"book.cli", "pages.plots", "pages.scorecard",
                                     "measure.early_stopping"}),
])
def test_code_version_changes_with_every_module_a_run_imports_and_no_other(tmp_path, module, outside):
    shutil.copytree(ROOT / "singledir", tmp_path / "singledir", ignore=shutil.ignore_patterns("__pycache__"))
    inside = cache.import_closure(module, tmp_path)
    assert {"singledir.base.cache", "singledir.data.dataset", "singledir.nets.models", "singledir.nets.runs",
            "singledir.nets.solo", "singledir.nets.groups", "singledir.nets.training"} <= set(inside)
    assert not {f"singledir.{m}" for m in outside} & set(inside)
    base = cache.source_version(module, tmp_path)
    assert base == cache.code_version(module)  # the copy has the same sources
    for path in sorted((tmp_path / "singledir").rglob("*.py")):
        parts = path.relative_to(tmp_path).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        original = path.read_bytes()
        path.write_bytes(original + b"\n_an_edit = 1\n")
        changed = cache.source_version(module, tmp_path) != base
        path.write_bytes(original)
        assert changed == (name in inside), name
    for m in outside:
        assert f"singledir.{m}" not in inside


def test_network_and_sweep_keys_use_the_import_closure():
    from singledir.nets.runs import TRAINING_MODULE

    assert TRAINING_MODULE == "singledir.nets.training"
    assert cache.code_version(TRAINING_MODULE) != cache.code_version("singledir.experiments.sweep")
