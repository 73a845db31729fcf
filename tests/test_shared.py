"""The defaults several chapters share (``singledir.book.shared``, ``chapters/shared.yml``)."""
from __future__ import annotations

import pytest

from singledir.book.shared import SHARED_FILE, SharedDefaultError, shared, shared_defaults


def test_the_book_reads_its_shared_defaults_from_one_file():
    values = shared_defaults()
    assert SHARED_FILE.name == "shared.yml" and SHARED_FILE.parent.name == "chapters"
    assert values["conv"] == {"kind": "convnet", "width": 0.125} and values["n_train"] is None
    assert shared("bn_seeds") == values["bn_seeds"] == [0, 1, 2, 3, 4]


def test_a_name_the_file_lacks_names_the_file_the_fix_and_what_it_defines(tmp_path):
    f = tmp_path / "shared.yml"
    f.write_text("dataset: digits\ngrid: 5\n")
    assert shared("grid", f) == 5
    with pytest.raises(SharedDefaultError, match=r"has no shared default 'n_curve'; add a line 'n_curve: VALUE'.*"
                                                 r"It defines: dataset, grid"):
        shared("n_curve", f)


@pytest.mark.parametrize("text, message", [(None, "does not exist"), ("a: [1,\n", "not valid YAML"),
                                           ("- 1\n- 2\n", "must be a mapping of parameter names to values, not list")])
def test_a_missing_or_malformed_file_says_what_is_wrong(tmp_path, text, message):
    f = tmp_path / "shared.yml"
    if text is not None:
        f.write_text(text)
    with pytest.raises(SharedDefaultError, match=message):
        shared_defaults(f)
