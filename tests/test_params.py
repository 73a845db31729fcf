"""Every preset is valid without running it: the paper's scale included (validated, not run)."""
from pathlib import Path

import pytest

from singledir.book import cli
from singledir.book import params as params_mod
from singledir.data.raw import DATASETS
from singledir.nets.models import model_config_from_dict
from singledir.nets.runs import TrainConfig

from helpers import CHAPTER_HEADER
from singledir.book.shared import shared

PRESETS = sorted((params_mod.ROOT / "params").glob("*.yml"))


def check_value(name: str, value):
    """Build the config objects a chapter would build from one parameter value (a group's, member
    by member)."""
    if name.partition(".")[0] in params_mod.groups() and "." not in name and isinstance(value, dict):
        for member, v in value.items():
            check_value(f"{name}.{member}", v)
        return
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


def _code_cells(nb) -> list:
    """A chapter's code cells other than its ``parameters`` cell: the code that reads parameters."""
    return [c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_is_valid(path: Path):
    params = params_mod.load_params(path, params_mod.chapter_paths())
    assert set(params) == set(params_mod.chapter_paths())
    for chapter, values in params.items():
        for name, value in values.items():
            check_value(name, value)


def test_presets_named_in_the_issues_exist():
    assert {p.stem for p in PRESETS} >= {"default", "smoke", "paper"}


def test_check_value_catches_bad_values():
    with pytest.raises(ValueError, match="optimizer"):
        check_value("train", {"epochs": 3, "optimizer": "rmsprop"})
    with pytest.raises(ValueError, match="unknown model kind"):
        check_value("model", {"kind": "transformer"})
    with pytest.raises(AssertionError):
        check_value("corruptions", [0.0, 1.2])
    with pytest.raises(AssertionError):
        check_value("dataset", "imagenet")
    with pytest.raises(AssertionError):
        check_value("data", {"dataset": "imagenet"})  # a group, member by member


# ---------------------------------------------------------------------------------------------
# extends: one parameter file on top of another
# ---------------------------------------------------------------------------------------------
def test_extends_overrides_defaults_and_chapter_keys_one_by_one(tmp_path):
    import yaml


    base = tmp_path / "base.yml"
    base.write_text(yaml.safe_dump({"description": "base", "defaults": {"data": {"dataset": "mnist5k", "n_train": 400},
                                                                        "curves": {"grid": 21}},
                                    "chapters": {"01_approach": {"seed": 0, "corruption": 0.4}}}))
    child = tmp_path / "sub" / "child.yml"
    child.parent.mkdir()
    child.write_text(yaml.safe_dump({"extends": "../base.yml", "defaults": {"data": {"dataset": "digits"}},
                                     "chapters": {"01_approach": {"seed": 3},
                                                  "02_memorization": {"curves": {"repetitions": 2}}}}))
    doc = params_mod.read_params_file(child)
    assert doc["description"] == "base"
    # a group is replaced member by member: the child's data keeps the base's n_train
    assert doc["defaults"] == {"data": {"dataset": "digits", "n_train": 400}, "curves": {"grid": 21}}
    assert doc["chapters"] == {"01_approach": {"seed": 3, "corruption": 0.4},
                               "02_memorization": {"curves": {"repetitions": 2}}}
    params = params_mod.load_params(child, params_mod.chapter_paths())
    assert params["01_approach"]["data"] == {**shared("data"), "dataset": "digits", "n_train": 400}
    assert params["01_approach"]["seed"] == 3
    # a chapter's member over the file's defaults over the shared default: the group is given whole
    assert params["02_memorization"]["curves"] == {**shared("curves"), "grid": 21, "repetitions": 2}
    assert params["03_generalization"]["curves"] == {**shared("curves"), "grid": 21}


def test_the_fashion_preset_is_the_default_book_on_other_data():

    chapters = params_mod.chapter_paths()
    default = params_mod.load_params(params_mod.ROOT / "params" / "default.yml", chapters)
    fashion = params_mod.load_params(params_mod.ROOT / "params" / "fashion_mnist.yml", chapters)
    for name in chapters:
        diff = {k for k in set(default[name]) | set(fashion[name]) if default[name].get(k) != fashion[name].get(k)}
        assert diff <= {"data"}, (name, diff)
        if diff:
            members = {k for k in fashion[name]["data"] if fashion[name]["data"][k] != shared("data")[k]}
            assert members <= {"dataset", "n_train", "n_test"}, (name, members)
    assert fashion["02_memorization"]["data"]["dataset"] == "fashion_mnist"


@pytest.mark.parametrize("files, words", [
    ({"a.yml": {"extends": "a.yml"}}, "loop"),
    ({"a.yml": {"extends": "b.yml"}, "b.yml": {"extends": "a.yml"}}, "loop"),
    ({"a.yml": {"extends": "missing.yml"}}, "missing.yml"),
    ({"a.yml": {"extend": "b.yml"}}, "unknown section"),
    ({"a.yml": {"defaults": [1, 2]}}, "must be a mapping"),
])
def test_bad_extends(tmp_path, files, words):
    import yaml


    for name, doc in files.items():
        (tmp_path / name).write_text(yaml.safe_dump(doc))
    with pytest.raises(params_mod.BookError, match=words):
        params_mod.read_params_file(tmp_path / "a.yml")


def test_paper_preset_epoch_counts_behind_the_gpu_estimate():
    """benchmarks/bench_paper_scale.py's tally of params/paper.yml, counted by hand:
    512-MLPs: 640 + 640 (chapter 1) + 6 corruptions x 5 seeds x 640 (chapter 2);
    conv nets: 6 x 5 x 100 (E1) + 200 x 100 (E3) + 5 x 100 (E4b) + 12 x 8 x 2 x 100 (E5)
    + 10 seeds x 2 x 100 (E7, with and without BN on one schedule) + 9 alphas x 5 seeds x 100 (F2);
    2048-MLPs: 5 x 640 (E4a) + 3 seeds x (3 rates (true labels) + 3 rates and dropout 0 (corrupted)) x 5000 (E6,
    one schedule)."""
    import sys

    sys.path.insert(0, str(params_mod.ROOT / "benchmarks"))
    from bench_paper_scale import epoch_counts

    counts = epoch_counts(params_mod.read_params_file(params_mod.ROOT / "params" / "paper.yml"))
    assert counts == {"mlp 512-512 (MNIST)": 1280 + 30 * 640,
                      "conv net x1 (CIFAR-10)": 3000 + 20000 + 500 + 19200 + 2000 + 4500,
                      "mlp 2048-2048 (MNIST)": 3200 + 3 * 7 * 5000}


# ---------------------------------------------------------------------------------------------
# One source of defaults; compared networks trained alike
# ---------------------------------------------------------------------------------------------
# a value several chapters share is written once, in chapters/shared.yml, and read with shared("name"):
# chapters 5, 6 and 8 measure chapter 4's conv nets, chapter 8 chapter 3's and 5's networks, so a
# value typed into two cells could drift apart, and a chapter run on its own would train other
# networks than the book does


def _literals(nb) -> dict[str, object]:
    """The names a chapter's parameters cell assigns a literal (not ``shared("name")``)."""
    import ast

    cell = next(c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    return {t.id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name) and params_mod.shared_name(node.value) is None}


def _shared_reads(nb) -> set[str]:
    import ast

    cell = next(c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    return {params_mod.shared_name(node.value) for node in ast.parse(cell.source).body
            if isinstance(node, ast.Assign) and params_mod.shared_name(node.value)}


def test_default_preset_reproduces_the_parameters_cells():
    chapters = params_mod.chapter_paths()
    params = params_mod.load_params(params_mod.ROOT / "params" / "default.yml", chapters)
    for name, path in chapters.items():
        assert params[name] == {k: v for k, v in params_mod.declared_parameters(params_mod.read_chapter(path)).items()
                                if k in params[name]}, name
        declared = params_mod.declared_parameters(params_mod.read_chapter(path))
        assert all(params[name].get(k, v) == v for k, v in declared.items()), name


def test_no_value_is_typed_into_two_parameters_cells():
    """A name two chapters declare with the same value is read from chapters/shared.yml, not typed
    twice; a literal equal to the shared default of its name is a second copy too."""
    from singledir.book.shared import shared_defaults

    defaults = shared_defaults()
    seen: dict[str, tuple[str, object]] = {}
    for name, path in params_mod.chapter_paths().items():
        for key, value in _literals(params_mod.read_chapter(path)).items():
            assert not (key in defaults and defaults[key] == value), \
                f"{name} types {key} = {value!r}, the shared default: write {key} = shared({key!r})"
            if key in seen and seen[key][1] == value:
                raise AssertionError(f"{key} = {value!r} is typed in {seen[key][0]} and {name}: move it to chapters/shared.yml")
            seen.setdefault(key, (name, value))


def test_every_shared_default_is_read_by_a_chapter_and_every_shared_read_resolves():
    from singledir.book.shared import shared_defaults

    reads = {n: _shared_reads(params_mod.read_chapter(p)) for n, p in params_mod.chapter_paths().items()}
    assert set(shared_defaults()) == set().union(*reads.values())
    for name, keys in reads.items():  # the chapters whose networks other chapters reuse share them
        declared = params_mod.declared_parameters(params_mod.read_chapter(params_mod.chapter_paths()[name]))
        assert all(declared[k] == shared_defaults()[k] for k in keys), name
    assert {"conv", "bn"} <= reads["04_dropout_batchnorm"] & reads["05_selectivity"] \
        & reads["06_ablation_value"] & reads["08_after_the_paper"]
    assert {"e3", "e4_mlp", "e4_conv", "e5_grid"} <= reads["03_generalization"] & reads["08_after_the_paper"]


def test_a_shared_default_that_does_not_exist_names_the_file_and_the_fix(tmp_path, monkeypatch):
    from singledir.book import shared

    (tmp_path / "shared.yml").write_text("data: {dataset: digits}\n")
    monkeypatch.setattr(shared, "SHARED_FILE", tmp_path / "shared.yml")
    chapter = tmp_path / "01_x.md"
    chapter.write_text(CHAPTER_HEADER + '```{code-cell} ipython3\n:tags: [parameters]\n\n'
                       'from singledir.book.shared import shared\ndata = shared("data")\nconv = shared("conv")\n```\n')
    with pytest.raises(params_mod.BookError, match=r"no shared default 'conv'.*add a group 'conv: \{MEMBER: VALUE\}'.*"
                                                   r"It defines: data"):
        params_mod.declared_parameters(params_mod.read_chapter(chapter))
    chapter.write_text(chapter.read_text().replace('conv = shared("conv")\n', ""))
    assert params_mod.declared_parameters(params_mod.read_chapter(chapter)) == {"data": {"dataset": "digits"}}


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_compared_conv_nets_train_on_one_schedule(path: Path):
    """E7, E8 and E10 compare conv nets with and without batch norm: both kinds get one schedule."""
    from singledir.experiments import sweep
    from singledir.nets.runs import RunConfig

    chapters = params_mod.chapter_paths()
    params = params_mod.load_params(path, chapters)
    for chapter in ("04_dropout_batchnorm", "05_selectivity", "06_ablation_value"):
        p = {**params_mod.declared_parameters(params_mod.read_chapter(chapters[chapter])), **params[chapter]}
        base = RunConfig.from_dict({"dataset": "digits", "model": p["conv"]["model"], "train": p["bn"]["train"]})
        cfgs = sweep.with_and_without_bn(base, p["bn"]["seeds"])
        assert {c.train for c in cfgs} == {base.train}
        assert {c.model.batch_norm for c in cfgs} == {True, False}


def test_every_seed_is_a_parameter_and_the_other_seeds_preset_replaces_them_all():
    """Chapters take their seeds from parameters (none fixed in code), and params/other_seeds.yml
    (the seed-stability check) gives every one of them another value."""
    import re

    chapters = params_mod.chapter_paths()
    other = params_mod.load_params(params_mod.ROOT / "params" / "other_seeds.yml", chapters)
    for name, path in chapters.items():
        declared = params_mod.declared_parameters(params_mod.read_chapter(path))
        for key, value in declared.items():
            if "seed" in key:
                assert key in other[name] and other[name][key] != value, (name, key)
            for member, v in (value.items() if key in params_mod.groups() else ()):  # a group's seeds
                if "seed" in member:
                    assert key in other[name] and other[name][key][member] != v, (name, key, member)
        code = "\n".join(c.source for c in _code_cells(params_mod.read_chapter(path)))
        assert not re.search(r"seed=\d|range\(\d+, *\d+ *\+", code), name  # no literal network seeds


def test_every_parameter_a_chapter_declares_is_used_by_its_code():
    """A parameter the code never reads is a setting a reader changes to no effect (chapter 3 once
    declared ``n_train`` and drew its networks' images from the whole training split). Read means
    a name loaded in a code cell (``f(n_train=conv_n_train)`` reads ``conv_n_train`` only); no chapter
    reads its parameters out of ``globals()``."""
    import ast

    for name, path in params_mod.chapter_paths().items():
        nb = params_mod.read_chapter(path)
        read = set()
        for c in _code_cells(nb):
            source = "\n".join(l for l in c.source.splitlines() if not l.lstrip().startswith(("%", "!")))
            read |= {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            assert "globals()" not in source, f"{name} reads its parameters out of globals()"
        unused = [k for k in params_mod.declared_parameters(nb) if k not in read]
        assert not unused, f"{name} declares parameters its code never reads: {unused}"


@pytest.mark.parametrize("chapter, key, value, words", [
    ("06_ablation_value", "curves", {"seed": "abc"},
     "chapter 06_ablation_value, parameter curves.seed: 'abc' is text, but it takes a number"),
    ("01_approach", "model", {"kind": "mlp", "widths": 16},
     "chapter 01_approach, parameter model.widths: 16 is a number, but it takes a list, like its default [128, 128]"),
    ("01_approach", "train", {"epochs": "ten"}, "parameter train.epochs: 'ten' is text, but it takes a number"),
    ("02_memorization", "noise", {"scales": [1.0]},
     "parameter noise.scales: [1.0] has 1 positive scale(s), but the area under a noise curve needs at least two"),
], ids=["seed", "widths", "epochs", "noise_scales"])
def test_every_chapters_values_are_checked_before_the_first_chapter_runs(tmp_path, monkeypatch, chapter, key, value,
                                                                        words):
    import yaml

    ran = []
    monkeypatch.setattr(cli, "execute_chapter", lambda name, *a, **k: ran.append(name) or 1.0)
    path = tmp_path / "mine.yml"
    path.write_text(yaml.safe_dump({"extends": str(params_mod.ROOT / "params" / "smoke.yml"),
                                    "chapters": {chapter: {key: value}}}))
    with pytest.raises(params_mod.BookError) as e:
        cli.build(path, build_dir=tmp_path / "_build", html=False, progress=False)
    assert words in str(e.value) and str(path) in str(e.value)
    assert ran == [] and not (tmp_path / "_build").exists()


def test_noise_scales_are_checked_in_one_place_the_measurements_own():
    """The book's check of ``noise.scales`` asks Measurements (which refuses the same scales when a
    sweep is set up): the rule is not written, nor called by name, in the book's modules."""
    from pathlib import Path

    from singledir.experiments.measurements import Measurements

    for bad in ([1.0], [0.0, 2.0]):
        with pytest.raises(ValueError) as e:
            Measurements(noise_scales=bad)
        assert params_mod._check_value("noise.scales", bad) in str(e.value)
    assert params_mod._check_value("noise.scales", [0.1, 1.0]) is None
    assert "has 0 positive scale(s)" in params_mod._check_value("noise.scales", [])  # the chapter draws the curve
    assert Measurements.problem("noise_scales", []) is None  # a sweep may ask for no noise curve
    book = Path(params_mod.__file__).parent
    assert not any("noise_scales_problem" in p.read_text() for p in book.glob("*.py"))
