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


# ---- registered presets (results/PRESET-registration.json) ----

import json  # noqa: E402

from singledir.book import register  # noqa: E402
from singledir.pages.scorecard import ledger_files  # noqa: E402

REGISTRATIONS = sorted((ROOT / "results").glob("*-registration.json"))


def test_the_confirmatory_presets_are_registered():
    assert {p.name for p in REGISTRATIONS} >= {"confirmatory-registration.json",
                                                "confirmatory_fashion-registration.json"}


@pytest.mark.parametrize("path", REGISTRATIONS, ids=lambda p: p.stem)
def test_a_registered_preset_shares_no_seed_with_any_earlier_build(path):
    """No network of a registered preset existed before its build: its seeds are the ones it
    registered, and no other preset with a scorecard in the ledger used any of them."""
    rec = json.loads(path.read_text())
    params = ROOT / "params" / f"{rec['preset']}.yml"
    seeds = reg.preset_seeds(params)
    assert register._ranges(seeds) == rec["seeds"]
    assert reg.seed_overlap(params, ROOT / "results", ROOT / "params") == {}


def test_registered_presets_share_no_seed_with_each_other():
    seen: dict[int, str] = {}
    for path in REGISTRATIONS:
        preset = json.loads(path.read_text())["preset"]
        for s in reg.preset_seeds(ROOT / "params" / f"{preset}.yml"):
            assert s not in seen, f"seed {s} in both {seen[s]} and {preset}"
            seen[s] = preset


@pytest.mark.parametrize("path", REGISTRATIONS, ids=lambda p: p.stem)
def test_a_registered_presets_scorecards_carry_its_registered_design(path):
    """A build recorded for a registered preset ran the design registered before it: a changed
    design would be a new registration with new seeds."""
    rec = json.loads(path.read_text())
    for card, name in ledger_files(ROOT / "results", rec["preset"]).items():
        assert name["design"] == rec["design"], card.name


def test_driver_counts_read_lists_integers_and_products():
    params = {"e3": {"n_networks": 120}, "g": {"a": [1, 2, 3], "b": [4, 5]}, "bn": {"seeds": [7, 8]}}
    assert reg.driver_count(params, "e3.n_networks") == 120
    assert reg.driver_count(params, "g.a*g.b") == 6
    assert reg.driver_count(params, "bn.seeds") == 2


def test_seed_ranges_join_consecutive_seeds():
    assert register._ranges({5, 1, 2, 3, 9, 10}) == [[1, 3], [5, 5], [9, 10]]
    assert register._ranges(set()) == []


def test_every_primary_part_has_a_driver():
    from singledir.decide.claims import CLAIMS

    assert {cid for cid, c in CLAIMS.items() if any(p.primary for p in c.parts)} == set(reg.DRIVERS)


def test_expected_replicates_scale_the_reference_builds_counts():
    """The default preset against its own build gives that build's counts back; the confirmatory
    preset multiplies E1's 18 networks (3 seeds) by 20/3 and E5's 11 settings that fit (of 18) by 162/18."""
    ref = ROOT / "results/default-2026-12-08-555f603396c2.csv"
    same = reg.expected_replicates(ROOT / "params/default.yml", ref, ROOT / "params/default.yml")
    assert same["E1"] == 18 and same["E3"] == 28 and same["E5"] == 11
    conf = reg.expected_replicates(ROOT / "params/confirmatory.yml", ref, ROOT / "params/default.yml")
    assert conf["E1"] == 120 and conf["E3"] == 120 and conf["E5"] == 99 and conf["E4"] == 32
