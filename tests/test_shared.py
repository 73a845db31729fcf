"""The defaults several chapters share (``singledir.book.shared``, ``chapters/shared.yml``)."""
from __future__ import annotations

import pytest

from singledir.book import params as params_mod
from singledir.book.shared import SHARED_FILE, SharedDefaultError, read_yaml, shared, shared_defaults


def test_the_book_reads_its_shared_defaults_from_one_file():
    values = shared_defaults()
    assert SHARED_FILE.name == "shared.yml" and SHARED_FILE.parent.name == "chapters"
    assert values["conv"]["model"] == {"kind": "convnet", "width": 0.125} and values["data"]["n_train"] is None
    assert shared("bn")["seeds"] == values["bn"]["seeds"] == [0, 1, 2, 3, 4]
    assert all(isinstance(v, dict) for v in values.values())  # every shared value is a group


def test_a_name_the_file_lacks_names_the_file_the_fix_and_what_it_defines(tmp_path):
    f = tmp_path / "shared.yml"
    f.write_text("data: {dataset: digits}\ncurves: {grid: 5}\n")
    assert shared("curves", f) == {"grid": 5}
    with pytest.raises(SharedDefaultError, match=r"has no shared default 'units'; add a group 'units: \{MEMBER: VALUE\}'.*"
                                                 r"It defines: data, curves"):
        shared("units", f)


@pytest.mark.parametrize("text, message", [(None, "does not exist"), ("a: [1,\n", "not valid YAML"),
                                           ("- 1\n- 2\n", "must be a mapping of parameter names to values, not list")])
def test_a_missing_or_malformed_file_says_what_is_wrong(tmp_path, text, message):
    f = tmp_path / "shared.yml"
    if text is not None:
        f.write_text(text)
    with pytest.raises(SharedDefaultError, match=message):
        shared_defaults(f)


@pytest.mark.parametrize("text, message", [("a: [1,\n", "is not valid YAML"),
                                           (b"a: caf\xe9\n", r"byte 6 \(b'\\xe9'\) is not UTF-8 text; save the file as UTF-8")])
def test_one_reader_of_the_books_yaml_files_says_what_is_wrong_in_either(tmp_path, text, message):
    """chapters/shared.yml and the parameter files are read by one function: the same message,
    raised as the error of each reader."""
    f = tmp_path / "x.yml"
    f.write_bytes(text.encode() if isinstance(text, str) else text)
    for error in (SharedDefaultError, params_mod.BookError):
        with pytest.raises(error, match=message):
            read_yaml(f, error)
    with pytest.raises(params_mod.BookError, match=message):
        params_mod.read_params_file(f)
