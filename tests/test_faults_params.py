"""Parameter values that used to pass the check and fail later, or silently change a build, are
refused when the book starts, naming the parameter, the file and the fix (issue 34)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from singledir.book import cli, params as params_mod, shared as shared_mod
from singledir.book.checks import NULL_DEFAULT_KINDS

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "params" / "smoke.yml"


def _params(tmp_path: Path, defaults: dict | None = None, chapters: dict | None = None) -> Path:
    path = tmp_path / "p.yml"
    path.write_text(yaml.safe_dump({"extends": str(SMOKE), "defaults": defaults or {}, "chapters": chapters or {}}))
    return path


def _load(path: Path):
    return params_mod.load_params(path, params_mod.chapter_paths())


@pytest.fixture
def shared_copy(tmp_path, monkeypatch):
    """A copy of chapters/shared.yml that the book reads instead; returns its path."""
    path = tmp_path / "shared.yml"
    path.write_text(shared_mod.SHARED_FILE.read_text())
    monkeypatch.setattr(shared_mod, "SHARED_FILE", path)
    return path


def test_a_misspelt_name_in_shared_yml_is_named_with_the_closest_declared_name(shared_copy):
    shared_copy.write_text(shared_copy.read_text() + "n_curves: 300\n")
    with pytest.raises(params_mod.BookError, match=rf"{shared_copy}: 'n_curves' is read by no chapter; "
                                                   r"did you mean 'n_curve'\?"):
        _load(SMOKE)


def test_a_wrong_kind_in_shared_yml_is_blamed_on_shared_yml(shared_copy):
    shared_copy.write_text(shared_copy.read_text().replace("n_test: null", 'n_test: "lots"'))
    with pytest.raises(params_mod.BookError) as e:
        _load(SMOKE)
    assert str(e.value).startswith(f"{shared_copy}: n_test: ") and "smoke.yml" not in str(e.value)
    assert "whole number" in str(e.value)


def test_every_parameter_whose_default_is_null_declares_its_kind():
    for name, src in params_mod.chapter_paths().items():
        declared = params_mod.declared_parameters(params_mod.read_chapter(src))
        undeclared = [k for k, v in declared.items() if v is None and k not in NULL_DEFAULT_KINDS]
        assert not undeclared, f"{name}: parameters with a null default and no declared kind: {undeclared}"


@pytest.mark.parametrize("key, value, message", [
    ("image_size", "large", "image_size: 'large' is not a whole number from 1"),
    ("group_size", 0, "group_size: 0 is not a whole number from 1"),
    ("group_size", "two", "group_size: 'two' is not a whole number from 1"),
    ("executor", "bogus", "executor: 'bogus' is not an executor; write processes"),
    ("executor", None, "executor: None is not an executor"),
    ("address", "localhost", "address: 'localhost' is not a Dask scheduler address; write it as tcp://HOST:PORT"),
    ("address", 8786, "address: 8786 is not a Dask scheduler address"),
    ("n_test", 0, "n_test: 0 is not a whole number from 1"),
])
def test_a_bad_value_is_refused_up_front_naming_the_parameter(tmp_path, key, value, message):
    with pytest.raises(params_mod.BookError, match=r"p\.yml: chapter \S+, parameter " + message.replace("(", r"\(")
                       .replace(")", r"\)").replace(".", r"\.").replace("?", r"\?")):
        _load(_params(tmp_path, {key: value}))


def test_an_empty_seed_list_is_refused(tmp_path):
    f2_mlp = {"train": {"epochs": 20, "batch_size": 128, "lr": 0.001, "eval_every": 20}, "n_train": 2000, "seeds": []}
    with pytest.raises(params_mod.BookError, match=r"chapter 08_after_the_paper, parameter f2_mlp\.seeds: an empty "
                                                   r"list trains no network; give at least one seed"):
        _load(_params(tmp_path, chapters={"08_after_the_paper": {"f2_mlp": f2_mlp}}))


def test_an_unreachable_dask_address_is_refused_before_any_chapter_runs(tmp_path):
    path = _params(tmp_path, {"executor": "dask", "address": "tcp://127.0.0.1:9"})
    with pytest.raises(params_mod.BookError, match=r"p\.yml: chapter 02_memorization, parameter address "
                                                   r"'tcp://127\.0\.0\.1:9': no scheduler answers there .*Start the "
                                                   r"scheduler .*address: null"):
        cli.build(path, build_dir=tmp_path / "_build", html=False, progress=False)
    assert not (tmp_path / "_build").exists()


def test_a_misspelt_parameter_names_the_closest_declared_one(tmp_path):
    with pytest.raises(params_mod.BookError, match=r"has no parameter\(s\) \['n_curves'\]; did you mean 'n_curve'\?"):
        _load(_params(tmp_path, chapters={"02_memorization": {"n_curves": 300}}))


def test_a_chapter_measuring_another_chapters_networks_must_get_the_same_ones(tmp_path):
    """``conv`` for chapter 4 only: chapters 5, 6 and 8 would measure other conv nets than chapter 4
    trained, while their pages say they measure chapter 4's."""
    path = _params(tmp_path, chapters={"04_dropout_batchnorm": {"conv": {"kind": "convnet", "width": 0.25}}})
    with pytest.raises(params_mod.BookError) as e:
        _load(path)
    text = str(e.value)
    assert "chapter 05_selectivity measures the networks of chapter 04_dropout_batchnorm" in text
    assert "different conv: 04_dropout_batchnorm {\"kind\": \"convnet\", \"width\": 0.25}" in text
    assert "in the file's defaults" in text


def test_chapter_8_must_measure_chapter_3s_networks(tmp_path):
    path = _params(tmp_path, chapters={"08_after_the_paper": {"overfit_seeds": [7]}})
    with pytest.raises(params_mod.BookError, match=r"chapter 08_after_the_paper measures the networks of chapter "
                                                   r"03_generalization, but they are given different overfit_seeds"):
        _load(path)


def test_measurement_settings_may_differ_between_those_chapters(tmp_path):
    _load(_params(tmp_path, chapters={"08_after_the_paper": {"n_curve": 50, "curve_seed": 3}}))
