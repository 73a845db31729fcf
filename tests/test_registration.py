"""singledir.book.registration: the seeds a preset names, the presets the ledger holds, overlaps."""
from __future__ import annotations

from pathlib import Path

import pytest

from singledir.book import registration as reg
from singledir.book.params import ROOT


def test_seeds_in_reads_every_seed_key_at_any_depth():
    params = {"seed": 3, "curves": {"seed": 7, "grid": 21}, "e4_mlp": {"seeds": [0, 1, 2], "epochs": 40},
              "bn_seeds": [10, 11], "f2_conv_seeds": [], "flag_seed": True, "n_networks": 4,
              "e3_first_seed": 100, "other": {"first_seed": 50, "networks": 2}, "label": "seed 99"}
    assert reg.seeds_in(params) == {3, 7, 0, 1, 2, 10, 11, 100, 101, 102, 103, 50, 51}


def test_a_first_seed_without_a_count_is_one_seed():
    assert reg.seeds_in({"first_seed": 9}) == {9}


def test_ledger_presets_are_read_from_the_scorecard_names(tmp_path):
    for name in ("default-2026-12-07-a1de0c2df9a6.csv", "other_seeds-2026-11-29-9b07fff7c9ac.2.csv",
                 "confirmatory_fashion-2026-12-08-0123456789ab.csv", "README.md", "notes.csv"):
        (tmp_path / name).write_text("x\n")
    assert reg.ledger_presets(tmp_path) == {"default", "other_seeds", "confirmatory_fashion"}


def test_a_ledger_preset_whose_file_is_gone_is_an_error(tmp_path):
    ledger, presets = tmp_path / "results", tmp_path / "params"
    ledger.mkdir(), presets.mkdir()
    (ledger / "vanished-2026-12-07-a1de0c2df9a6.csv").write_text("x\n")
    with pytest.raises(FileNotFoundError, match="preset 'vanished'.*restore it"):
        reg.seed_overlap(ROOT / "params/smoke.yml", ledger, presets)


def test_the_default_presets_seeds_are_those_its_groups_name():
    """Every seed of the default book: bn, mlp, e1, e4 and e5 seeds lie in 0-4, chapter 1's and the
    curves' seed is 0, and E3's 28 networks start at 100."""
    assert reg.preset_seeds(ROOT / "params/default.yml") == set(range(5)) | set(range(100, 128))


def test_other_seeds_shares_only_its_curve_seed_with_the_default_book():
    """other_seeds replaces every network's seed; its ablation orders' seed, 1, is also a network seed of
    the default book, and the overlap counts every kind of seed alike."""
    assert reg.seed_overlap(ROOT / "params/other_seeds.yml", ROOT / "results", ROOT / "params")["default"] == {1}
