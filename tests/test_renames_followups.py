"""Chapter 8's grouped parameters: every key of its flat layout (in ``checks.MOVED``) names a member
of a group the chapter declares, no old key is declared any more, and no preset still gives one."""
import pytest
import yaml

from singledir.book import params as params_mod
from singledir.book.checks import MOVED

CHAPTER = "08_after_the_paper"
FOLLOWUP_GROUPS = ("f2_mlp", "f2_conv", "f3_fit", "f4_orders", "f7_units")
FOLLOWUP_RENAMES = {old: new for old, new in MOVED.items() if new.split(".")[0] in FOLLOWUP_GROUPS}


def _declared():
    return params_mod.declared_parameters(params_mod.read_chapter(params_mod.chapter_paths()[CHAPTER]))


def test_every_group_of_chapter_8_has_its_old_keys():
    assert {new.split(".")[0] for new in FOLLOWUP_RENAMES.values()} == set(FOLLOWUP_GROUPS)
    assert len(FOLLOWUP_RENAMES) == 12


def test_every_new_key_is_a_key_of_a_declared_group():
    declared = _declared()
    for old, new in FOLLOWUP_RENAMES.items():
        group, key = new.split(".")
        assert isinstance(declared.get(group), dict) and key in declared[group], (old, new)


def test_no_old_key_is_declared_any_more():
    assert not set(FOLLOWUP_RENAMES) & set(_declared())


@pytest.mark.parametrize("preset", sorted((params_mod.ROOT / "params").glob("*.yml")), ids=lambda p: p.name)
def test_no_preset_gives_an_old_key_and_every_group_is_given_whole(preset):
    doc = yaml.safe_load(preset.read_text()) or {}
    mine = {**(doc.get("defaults") or {}), **((doc.get("chapters") or {}).get(CHAPTER) or {})}
    assert not set(FOLLOWUP_RENAMES) & set(mine), preset
    declared = _declared()
    for group in {new.split(".")[0] for new in FOLLOWUP_RENAMES}:
        if group in mine:
            assert set(mine[group]) == set(declared[group]), (preset.name, group)
