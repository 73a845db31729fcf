"""Parameter values that used to pass the check and fail later, or silently change a build, are
refused when the book starts, naming the parameter, the file and the fix (issue 34)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from singledir.book import cli, params as params_mod, shared as shared_mod
from singledir.book.checks import null_default_kind

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
    shared_copy.write_text(shared_copy.read_text() + "curve: {grid: 3}\n")
    with pytest.raises(params_mod.BookError, match=rf"{shared_copy}: 'curve' is read by no chapter; "
                                                   r"did you mean 'curves'\?"):
        _load(SMOKE)


def test_a_wrong_kind_in_shared_yml_is_blamed_on_shared_yml(shared_copy):
    shared_copy.write_text(shared_copy.read_text().replace("n_test: null", 'n_test: "lots"'))
    with pytest.raises(params_mod.BookError) as e:
        _load(SMOKE)
    assert str(e.value).startswith(f"{shared_copy}: data.n_test: ") and "smoke.yml" not in str(e.value)
    assert "whole number" in str(e.value)


def test_every_parameter_whose_default_is_null_declares_its_kind():
    for name, src in params_mod.chapter_paths().items():
        declared = params_mod.declared_parameters(params_mod.read_chapter(src))
        members = {f"{k}.{m}": v for k, g in declared.items() if k in params_mod.groups() for m, v in g.items()}
        undeclared = [k for k, v in {**declared, **members}.items() if v is None and null_default_kind(k) is None]
        assert not undeclared, f"{name}: parameters with a null default and no declared kind: {undeclared}"


@pytest.mark.parametrize("group, key, value, message", [
    ("data", "image_size", "large", "data.image_size: 'large' is not a whole number from 1"),
    ("compute", "group_size", 0, "compute.group_size: 0 is not a whole number from 1"),
    ("compute", "group_size", "two", "compute.group_size: 'two' is not a whole number from 1"),
    ("compute", "executor", "bogus", "compute.executor: 'bogus' is not an executor; write processes"),
    ("compute", "executor", None, "compute.executor: None is not an executor"),
    ("compute", "address", "localhost",
     "compute.address: 'localhost' is not a Dask scheduler address; write it as tcp://HOST:PORT"),
    ("compute", "address", 8786, "compute.address: 8786 is not a Dask scheduler address"),
    ("data", "n_test", 0, "data.n_test: 0 is not a whole number from 1"),
])
def test_a_bad_value_is_refused_up_front_naming_the_parameter(tmp_path, group, key, value, message):
    with pytest.raises(params_mod.BookError, match=r"p\.yml: chapter \S+, parameter " + message.replace("(", r"\(")
                       .replace(")", r"\)").replace(".", r"\.").replace("?", r"\?")):
        _load(_params(tmp_path, {group: {key: value}}))


def test_an_empty_seed_list_is_refused(tmp_path):
    f2_mlp = {"train": {"epochs": 20, "batch_size": 128, "lr": 0.001, "eval_every": 20}, "n_train": 2000, "seeds": []}
    with pytest.raises(params_mod.BookError, match=r"chapter 08_after_the_paper, parameter f2_mlp\.seeds: an empty "
                                                   r"list trains no network; give at least one seed"):
        _load(_params(tmp_path, chapters={"08_after_the_paper": {"f2_mlp": f2_mlp}}))


def test_an_unreachable_dask_address_is_refused_before_any_chapter_runs(tmp_path):
    path = _params(tmp_path, {"compute": {"executor": "dask", "address": "tcp://127.0.0.1:9"}})
    with pytest.raises(params_mod.BookError, match=r"p\.yml: chapter 02_memorization, parameter compute\.address "
                                                   r"'tcp://127\.0\.0\.1:9': no scheduler answers there .*Start the "
                                                   r"scheduler .*address: null"):
        cli.build(path, build_dir=tmp_path / "_build", html=False, progress=False)
    assert not (tmp_path / "_build").exists()


def test_a_misspelt_parameter_names_the_closest_declared_one(tmp_path):
    with pytest.raises(params_mod.BookError, match=r"has no parameter\(s\) \['curve'\]; did you mean 'curves'\?"):
        _load(_params(tmp_path, chapters={"02_memorization": {"curve": {"grid": 3}}}))


def test_a_misspelt_member_of_a_group_names_the_closest_member(tmp_path):
    with pytest.raises(params_mod.BookError, match=r"chapter 02_memorization, parameter curves: the group curves has no "
                                                   r"member 'n_curves'; did you mean 'n_curve'\? its members are grid, "):
        _load(_params(tmp_path, chapters={"02_memorization": {"curves": {"n_curves": 300}}}))


@pytest.mark.parametrize("section, key, value, new", [
    ("defaults", "overfit_seeds", [0, 1], "e4_mlp.seeds"),
    ("defaults", "n_curve", 300, "curves.n_curve"),  # chapter 7 declares an n_curve of its own: still refused
    ("chapters", "bn_seeds", [0, 1], "bn.seeds"),
    ("chapters", "noise_scales", [0.1, 1.0], "noise.scales"),
])
def test_a_parameter_file_of_the_flat_layout_is_told_where_the_value_went(tmp_path, section, key, value, new):
    """Before groups, a parameter file named every value flat; such a file names the new key."""
    given = {key: value}
    path = _params(tmp_path, given if section == "defaults" else None,
                   {"02_memorization" if key == "noise_scales" else "05_selectivity": given}
                   if section == "chapters" else None)
    group, member = new.split(".")
    with pytest.raises(params_mod.BookError, match=rf"p\.yml: (chapter \S+, )?`{key}` is now `{new}`: parameters are "
                                                   rf"grouped by experiment .*write it as\n  {group}:\n    {member}: "):
        _load(path)


def test_a_preset_changes_one_member_of_a_group_and_keeps_the_others(tmp_path):
    params = _load(_params(tmp_path, {"e4_mlp": {"seeds": [5]}}))
    smoke = _load(SMOKE)
    assert params["03_generalization"]["e4_mlp"] == {**smoke["03_generalization"]["e4_mlp"], "seeds": [5]}
    assert params["08_after_the_paper"]["e4_mlp"] == params["03_generalization"]["e4_mlp"]


def test_a_chapter_measuring_another_chapters_networks_must_get_the_same_ones(tmp_path):
    """``conv`` for chapter 4 only: chapters 5, 6 and 8 would measure other conv nets than chapter 4
    trained, while their pages say they measure chapter 4's."""
    path = _params(tmp_path, chapters={"04_dropout_batchnorm": {"conv": {"model": {"kind": "convnet", "width": 0.25}}}})
    with pytest.raises(params_mod.BookError) as e:
        _load(path)
    text = str(e.value)
    assert "chapter 05_selectivity measures the networks of chapter 04_dropout_batchnorm" in text
    assert "different conv.model: 04_dropout_batchnorm {\"kind\": \"convnet\", \"width\": 0.25}" in text
    assert "in the file's defaults" in text


def test_chapter_8_must_measure_chapter_3s_networks(tmp_path):
    path = _params(tmp_path, chapters={"08_after_the_paper": {"e4_mlp": {"seeds": [7]}}})
    with pytest.raises(params_mod.BookError, match=r"chapter 08_after_the_paper measures the networks of chapter "
                                                   r"03_generalization, but they are given different e4_mlp\.seeds"):
        _load(path)


def test_measurement_settings_may_differ_between_those_chapters(tmp_path):
    _load(_params(tmp_path, chapters={"08_after_the_paper": {"curves": {"n_curve": 50, "seed": 3},
                                                             "e4_mlp": {"repetitions": 1}}}))
