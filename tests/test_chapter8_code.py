"""Chapter 8 reads as its methods: the code of its cells calls the package (measures, parts,
numbers, figures, setups, sentences) and builds no English in f-strings. The line count is the
issue's: non-blank, non-comment lines of the code cells, the parameters cell left out."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from singledir.book.params import ROOT

CHAPTER = ROOT / "chapters" / "08_after_the_paper.md"
CELL = re.compile(r"```\{code-cell\}[^\n]*\n(.*?)```", re.S)
F1_TO_F5_MAX = 131  # 188 lines before the move into the package (issue 32), at least 30% fewer


def code_cells(path: Path) -> list[tuple[str, str]]:
    """``(section, source)`` of every code cell but the parameters cell, in order; ``section`` is
    the ``## `` heading above the cell (``""`` before the first)."""
    out, section = [], ""
    for part in re.split(r"^(## .*)$", path.read_text(), flags=re.M):
        if part.startswith("## "):
            section = part[3:].strip()
            continue
        for m in CELL.finditer(part):
            options = [l for l in m.group(1).splitlines() if l.startswith(":")]
            if any("parameters" in l for l in options if l.startswith(":tags:")):
                continue
            out.append((section, "\n".join(l for l in m.group(1).splitlines() if not l.startswith(":"))))
    return out


def code_lines(path: Path) -> dict[str, int]:
    """Non-blank, non-comment lines of code per section (see :func:`code_cells`), in order.

    >>> code_lines(CHAPTER)["F1: the damage of one unit falls on single classes"]  # doctest: +SKIP
    6
    """
    out: dict[str, int] = {}
    for section, src in code_cells(path):
        n = sum(1 for l in src.splitlines() if l.strip() and not l.strip().startswith("#"))
        out[section] = out.get(section, 0) + n
    return out


def split_at_f6(lines: dict[str, int]) -> tuple[int, int]:
    """``(through F5, from F6 on)``: the lines of the cells up to the end of F5 (the imports, the
    unit measures of chapter 5's networks and F1-F5) and of the rest (F6-F8 and the table)."""
    names = list(lines)
    f6 = next(i for i, n in enumerate(names) if n.startswith("F6"))
    return sum(lines[n] for n in names[:f6]), sum(lines[n] for n in names[f6:])


def prose_fstrings(source: str, skip_keywords=("scale",)) -> list[str]:
    """The f-strings of ``source`` whose literal text holds two words or more (English built in
    code), outside the arguments named in ``skip_keywords``."""
    tree = ast.parse(source)
    skipped = {id(n) for k in ast.walk(tree) if isinstance(k, ast.keyword) and k.arg in skip_keywords
               for n in ast.walk(k.value)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and id(node) not in skipped:
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if len(re.findall(r"[A-Za-z]{2,}", text)) >= 2:
                found.append(ast.unparse(node))
    return found


def test_f1_to_f5_cells_are_at_least_30_percent_shorter():
    through_f5, _ = split_at_f6(code_lines(CHAPTER))
    assert through_f5 <= F1_TO_F5_MAX, code_lines(CHAPTER)


def test_no_cell_of_chapter_8_builds_a_sentence():
    found = [f for _, src in code_cells(CHAPTER) for f in prose_fstrings(src)]
    assert not found, "sentences belong in the Markdown (glued) or in singledir/pages/sentences.py:\n" + "\n".join(found)


def test_the_prose_check_catches_a_sentence_and_passes_names():
    assert prose_fstrings('x = f"{n} of {m} networks fit"') == ["f'{n} of {m} networks fit'"]
    assert prose_fstrings('x = f"f-{kind}"; y = f"{a}_{b}"') == []
    assert prose_fstrings('report("F1", f, scale=f"{n} networks of chapter 5")') == []  # left to report()
