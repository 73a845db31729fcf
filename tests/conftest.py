"""Shared fixtures: every test gets its own result cache, and data roots never leak between tests."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from singledir.data import dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Point ``$SINGLEDIR_CACHE`` at a fresh folder so no test reads or pollutes a shared cache."""
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def fresh_raw():
    """Clear the raw-dataset memo before and after a test that changes where data is looked for."""
    dataset._raw.cache_clear()
    yield
    dataset._raw.cache_clear()


@pytest.fixture(scope="session")
def digits():
    """sklearn's digits, 300 train / 100 test: the suite's small real dataset."""
    return dataset.load_dataset("digits", n_train=300, n_test=100)


@pytest.fixture(scope="session")
def digits_full():
    return dataset.load_dataset("digits")


@pytest.fixture(scope="session")
def mnist5k():
    return dataset.load_dataset("mnist5k")



class SmokeBuild(NamedTuple):
    build_dir: Path
    times: dict
    chapters: dict
    cache: Path


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory):
    """Every chapter executed once with params/smoke.yml (no HTML), in a cache of its own that
    also holds the example network of chapter 7, trained for one epoch."""
    from singledir.book import cli
    from singledir.book import params as params_mod

    root = tmp_path_factory.mktemp("smoke")
    build_dir, cache = root / "_build", root / "cache"
    weights = cache / "examples" / "lenet-mnist5k.pt"
    subprocess.run([sys.executable, "examples/lenet.py", "--epochs", "1", "--out", str(weights)], cwd=ROOT,
                   check=True, capture_output=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SINGLEDIR_CACHE", str(cache))
        times = cli.build(ROOT / "params" / "smoke.yml", build_dir=build_dir, html=False, progress=False)
    return SmokeBuild(build_dir, times, params_mod.chapter_paths(), cache)
