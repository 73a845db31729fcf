"""singledir.book.keys: when a chapter is current (its key follows its source, the code it imports,
its parameters and the files they name, never an absolute path) and the design hash (every rule,
chapter source and parameter value)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from helpers import APPROACH, SMOKE_APPROACH
from singledir.book import params as params_mod
from singledir.book.keys import chapter_key, design_hash
from singledir.decide import claims as claims_mod
from singledir.decide import rules as rules_mod

ROOT = params_mod.ROOT


def test_chapter_key_depends_on_source_and_params(tmp_path):
    k = chapter_key(APPROACH, SMOKE_APPROACH)
    assert k == chapter_key(APPROACH, dict(reversed(list(SMOKE_APPROACH.items()))))
    assert k != chapter_key(APPROACH, {**SMOKE_APPROACH, "seed": 1})
    copy = tmp_path / "01_approach.md"
    copy.write_text(APPROACH.read_text() + "\n")
    assert k != chapter_key(copy, SMOKE_APPROACH)


def test_chapter_7s_key_holds_no_absolute_path(tmp_path, monkeypatch):
    import os
    import shutil

    src = ROOT / "chapters" / "07_your_model.md"
    defaults = params_mod.declared_parameters(params_mod.read_chapter(src))
    chapter_params = params_mod.load_params(ROOT / "params" / "smoke.yml", params_mod.chapter_paths())["07_your_model"]
    keys = []
    for place in ("here", "there/moved"):
        root, cache = tmp_path / place / "project", tmp_path / place / "cache"
        model_file = root / defaults["model"].partition(":")[0]
        model_file.parent.mkdir(parents=True)
        shutil.copy(ROOT / defaults["model"].partition(":")[0], model_file)
        monkeypatch.setattr(params_mod, "ROOT", root)  # the project as if it lived here
        monkeypatch.setenv("SINGLEDIR_CACHE", str(cache))
        weights = Path(os.path.expandvars(defaults["weights"]))
        weights.parent.mkdir(parents=True)
        weights.write_bytes(b"the same weights")
        assert len(params_mod._named_files(params_mod.effective_parameters(src, chapter_params))) == 2  # both hashed
        keys.append(chapter_key(src, chapter_params))
    assert keys[0] == keys[1]
    weights.write_bytes(b"other weights")
    assert chapter_key(src, chapter_params) != keys[1]


HEADER = "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n---\n\n"


def _chapter(path: Path, prose: str, code: str) -> None:
    path.write_text(f"{HEADER}# {prose}\n\n```{{code-cell}} ipython3\n{code}\n```\n")


def test_design_hash_changes_with_any_rule_code_or_value_and_not_with_prose(tmp_path, monkeypatch):
    a, b = tmp_path / "01_a.md", tmp_path / "02_b.md"
    _chapter(a, "chapter a", "seeds = 5")
    _chapter(b, "chapter b", "from singledir.decide import stats\nx = 1")
    params = {"01_a": {"seeds": [0, 1, 2], "epochs": 40}, "02_b": {}}
    h = design_hash([a, b], params)
    assert re.fullmatch(r"[0-9a-f]{12}", h)
    assert design_hash([b, a], json.loads(json.dumps(params))) == h  # order and identity do not matter
    assert design_hash([a, b], {**params, "01_a": {"seeds": [0, 1, 2], "epochs": 41}}) != h
    assert design_hash([a, b], {**params, "01_a": {"seeds": [0, 1], "epochs": 40}}) != h
    assert design_hash([a], params) != h
    _chapter(b, "chapter b, reworded at length", "from singledir.decide import stats\nx = 1")
    assert design_hash([a, b], params) == h  # prose is not the design
    _chapter(b, "chapter b", "from singledir.decide import stats\nx = 2")
    assert design_hash([a, b], params) != h  # a code cell is
    _chapter(b, "chapter b", "from singledir.decide import stats\nx = 1")
    assert design_hash([a, b], params) == h
    # the code of a module a chapter imports: a changed statement changes the design, a docstring does not
    from singledir.base import cache as cache_mod

    real = cache_mod.source_version
    monkeypatch.setattr(cache_mod, "source_version", lambda m, *a: real(m, *a) + ("!" if m.endswith("stats") else ""))
    assert design_hash([a, b], params) != h
    monkeypatch.setattr(cache_mod, "source_version", real)
    assert design_hash([a, b], params) == h
    # the rules: a copy of rules.py hashes the same; a copy with another band does not
    source = Path(rules_mod.__file__).read_text()
    same, changed = tmp_path / "same.py", tmp_path / "changed.py"
    same.write_text(source)
    assert "NO_RELATION_BAND = 0.3\n" in source
    changed.write_text(source.replace("NO_RELATION_BAND = 0.3\n", "NO_RELATION_BAND = 0.25\n"))
    monkeypatch.setattr(rules_mod, "__file__", str(same))
    assert design_hash([a, b], params) == h
    monkeypatch.setattr(rules_mod, "__file__", str(changed))
    assert design_hash([a, b], params) != h
    # and the claims: another effect of interest is another design
    claims_source = Path(claims_mod.__file__).read_text()
    assert '("E3", "conv net"): RHO,' in claims_source
    changed.write_text(claims_source.replace('("E3", "conv net"): RHO,', '("E3", "conv net"): AUC,'))
    monkeypatch.setattr(claims_mod, "__file__", str(changed))
    assert design_hash([a, b], params) != h


def test_a_shared_default_enters_the_chapter_key_and_the_design_hash(tmp_path, monkeypatch):
    """A chapter reading ``conv = shared("conv")`` is re-executed when chapters/shared.yml gives the
    conv net another value, and the build's design hash changes with it."""
    from singledir.book import shared

    chapter = params_mod.chapter_paths()["04_dropout_batchnorm"]
    key, h = chapter_key(chapter, {}), design_hash([chapter], {})
    text = shared.SHARED_FILE.read_text()
    assert "  model: {kind: convnet, width: 0.125}\n" in text
    copy = tmp_path / "shared.yml"
    copy.write_text(text)
    monkeypatch.setattr(shared, "SHARED_FILE", copy)
    assert chapter_key(chapter, {}) == key and design_hash([chapter], {}) == h
    copy.write_text(text.replace("  model: {kind: convnet, width: 0.125}\n", "  model: {kind: convnet, width: 0.25}\n"))
    assert chapter_key(chapter, {}) != key and design_hash([chapter], {}) != h
    # the same value given by a parameter file runs the same chapter: the key holds values, not their source
    assert chapter_key(chapter, {"conv": {"model": {"kind": "convnet", "width": 0.125}, "n_train": 1000}}) == key
