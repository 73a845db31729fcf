"""singledir.book.staging: a chapter's time split, and the table of contents of a partial book."""
from __future__ import annotations

from singledir.book.staging import _toc_with, split_text, time_split


def test_a_chapters_time_splits_into_its_phases_and_the_rest():
    meta = {"seconds": 100.0, "phases": {"training": 60.0, "units": 10.0}}
    assert time_split(meta) == {"training": 60.0, "curves": 0.0, "unit measures": 10.0, "analysis": 30.0}
    assert split_text(meta) == "training 60 s, curves 0 s, unit measures 10 s, analysis 30 s"
    assert time_split({"seconds": 5.0}) is None and split_text({}) == ""
    assert time_split({"seconds": 5.0, "phases": {"training": 6.0}})["analysis"] == 0.0  # never negative


def test_the_table_of_contents_keeps_only_the_chapters_built():
    toc = {"root": "index", "chapters": [{"file": "chapters/01_approach"}, {"file": "chapters/02_memorization"},
                                         {"file": "other_page"}]}
    assert _toc_with(["02_memorization"], toc) == {"root": "index", "chapters": [{"file": "chapters/02_memorization"},
                                                                                 {"file": "other_page"}]}
    parts = {"root": "index", "parts": [{"caption": "A", "chapters": [{"file": "chapters/01_approach"}]}]}
    assert _toc_with([], parts) == {"root": "index", "parts": [{"caption": "A"}]}
