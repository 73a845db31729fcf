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
    if (name.endswith("dataset") or name == "data") and value is not None:
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


# ---------------------------------------------------------------------------------------------
# extends: one parameter file on top of another
# ---------------------------------------------------------------------------------------------
def test_extends_overrides_defaults_and_chapter_keys_one_by_one(tmp_path):
    import yaml

    from singledir import book

    base = tmp_path / "base.yml"
    base.write_text(yaml.safe_dump({"description": "base", "defaults": {"dataset": "mnist5k", "grid": 21},
                                    "chapters": {"01_approach": {"seed": 0, "corruption": 0.4}}}))
    child = tmp_path / "sub" / "child.yml"
    child.parent.mkdir()
    child.write_text(yaml.safe_dump({"extends": "../base.yml", "defaults": {"dataset": "digits"},
                                     "chapters": {"01_approach": {"seed": 3}, "02_memorization": {"repetitions": 2}}}))
    doc = book.read_params_file(child)
    assert doc["description"] == "base"
    assert doc["defaults"] == {"dataset": "digits", "grid": 21}
    assert doc["chapters"] == {"01_approach": {"seed": 3, "corruption": 0.4}, "02_memorization": {"repetitions": 2}}
    params = book.load_params(child, book.chapter_paths())
    assert params["01_approach"]["dataset"] == "digits" and params["01_approach"]["seed"] == 3


def test_the_fashion_preset_is_the_default_book_on_other_data():
    from singledir import book

    chapters = book.chapter_paths()
    default = book.load_params(book.ROOT / "params" / "default.yml", chapters)
    fashion = book.load_params(book.ROOT / "params" / "fashion_mnist.yml", chapters)
    for name in chapters:
        diff = {k for k in set(default[name]) | set(fashion[name]) if default[name].get(k) != fashion[name].get(k)}
        assert diff <= {"dataset", "n_train", "n_test"}, (name, diff)
    assert fashion["02_memorization"]["dataset"] == "fashion_mnist"


@pytest.mark.parametrize("files, words", [
    ({"a.yml": {"extends": "a.yml"}}, "loop"),
    ({"a.yml": {"extends": "b.yml"}, "b.yml": {"extends": "a.yml"}}, "loop"),
    ({"a.yml": {"extends": "missing.yml"}}, "missing.yml"),
    ({"a.yml": {"extend": "b.yml"}}, "unknown section"),
    ({"a.yml": {"defaults": [1, 2]}}, "must be a mapping"),
])
def test_bad_extends(tmp_path, files, words):
    import yaml

    from singledir import book

    for name, doc in files.items():
        (tmp_path / name).write_text(yaml.safe_dump(doc))
    with pytest.raises(book.BookError, match=words):
        book.read_params_file(tmp_path / "a.yml")


def test_paper_preset_epoch_counts_behind_the_gpu_estimate():
    """benchmarks/bench_paper_scale.py's tally of params/paper.yml, counted by hand:
    512-MLPs: 640 + 640 (chapter 1) + 6 corruptions x 5 seeds x 640 (chapter 2);
    conv nets: 6 x 5 x 100 (E1) + 200 x 100 (E3) + 12 x 8 x 2 x 100 (E5) + 5 x (100 + 100) (E7);
    2048-MLPs: 640 (E4) + 3 rates x 3 seeds x (5000 + 5000) (E6)."""
    import sys

    sys.path.insert(0, str(book.ROOT / "benchmarks"))
    from bench_paper_scale import epoch_counts

    counts = epoch_counts(book.read_params_file(book.ROOT / "params" / "paper.yml"))
    assert counts == {"mlp 512-512 (MNIST)": 1280 + 30 * 640,
                      "conv net x1 (CIFAR-10)": 3000 + 20000 + 19200 + 1000,
                      "mlp 2048-2048 (MNIST)": 640 + 90000}
