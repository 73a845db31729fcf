"""Every preset is valid without running it: the paper's scale included (validated, not run)."""
from pathlib import Path

import pytest

from singledir import book
from singledir.data import DATASETS
from singledir.models import model_config_from_dict
from singledir.train import TrainConfig

PRESETS = sorted((book.ROOT / "params").glob("*.yml"))


def check_value(name: str, value):
    """Build the config objects a chapter would build from one parameter value."""
    if isinstance(value, dict) and "kind" in value:
        model_config_from_dict(value)
    elif isinstance(value, dict) and set(value) <= set(TrainConfig.__dataclass_fields__):
        TrainConfig(**value)
    if name.endswith("dataset") and value is not None:
        assert value in DATASETS or value.startswith("folder:"), f"{name}={value!r} is not a registered dataset"
    if "corruption" in name:
        for p in value if isinstance(value, list) else [value]:
            assert 0.0 <= p <= 1.0, f"{name}={value!r} outside [0, 1]"
    if name.endswith("seeds"):
        assert value and all(isinstance(s, int) for s in value)


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_is_valid(path: Path):
    params = book.load_params(path, book.chapter_paths())
    assert set(params) == set(book.chapter_paths())
    for chapter, values in params.items():
        for name, value in values.items():
            check_value(name, value)


def test_presets_named_in_the_issues_exist():
    assert {p.stem for p in PRESETS} >= {"default", "smoke", "paper"}


def test_check_value_catches_bad_values():
    with pytest.raises(ValueError, match="optimizer"):
        check_value("train", {"epochs": 3, "optimizer": "rmsprop"})
    with pytest.raises(ValueError, match="unknown model kind"):
        check_value("mlp", {"kind": "transformer"})
    with pytest.raises(AssertionError):
        check_value("corruptions", [0.0, 1.2])
    with pytest.raises(AssertionError):
        check_value("dataset", "imagenet")
