"""Shared fixtures: every test gets its own result cache, and data roots never leak between tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from singledir import data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Point ``$SINGLEDIR_CACHE`` at a fresh folder so no test reads or pollutes a shared cache."""
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def fresh_raw():
    """Clear the raw-dataset memo before and after a test that changes where data is looked for."""
    data._raw.cache_clear()
    yield
    data._raw.cache_clear()


@pytest.fixture(scope="session")
def digits():
    """sklearn's digits, 300 train / 100 test: the suite's small real dataset."""
    return data.load_dataset("digits", n_train=300, n_test=100)


@pytest.fixture(scope="session")
def digits_full():
    return data.load_dataset("digits")


@pytest.fixture(scope="session")
def mnist5k():
    return data.load_dataset("mnist5k")

