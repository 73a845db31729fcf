"""When a chapter's result is current: its key (its source, its parameters, the package code it
imports and the files its parameters name) and the metadata an executed notebook holds."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..decide import claims, rules, verdicts
from .params import _named_files, effective_parameters, read_chapter
from . import shared

PACKAGE = Path(__file__).resolve().parents[1]


def _is_module(name: str) -> bool:
    """Whether ``singledir.x.y`` names a module or package of this package (not a function)."""
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def chapter_imports(source: Path) -> list[str]:
    """The ``singledir`` modules a chapter's code cells import (``from singledir.floor import x``
    names a module when ``x`` is one, else the package)."""
    return notebook_imports(read_chapter(source))


def notebook_imports(nb) -> list[str]:
    """:func:`chapter_imports` of a chapter already read."""
    import ast

    names = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # a cell with IPython magics: no imports are read from it
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names if a.name.split(".")[0] == "singledir"}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "singledir":
                names.add(node.module)
                names |= {f"{node.module}.{a.name}" for a in node.names if _is_module(f"{node.module}.{a.name}")}
    return sorted(names)


def package_version(source: Path) -> str:
    """Hash of the package code a chapter runs: every module of ``singledir`` its cells import and
    everything those import (:func:`singledir.base.cache.import_closure`). The runner, which chapters
    never import, is left out, so a change to it re-executes nothing."""
    from ..base.cache import import_closure

    files: dict[str, Path] = {}
    for module in chapter_imports(source) or ["singledir"]:
        files.update(import_closure(module))
    h = hashlib.sha256()
    for name, path in sorted(files.items()):
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _key_name(path: Path) -> str:
    """A named file as a key holds it besides its contents: its path relative to the repository, or
    for a file outside it its name, so that moving or copying the project changes no key."""
    from . import params

    try:
        return str(Path(path).relative_to(params.ROOT))
    except ValueError:
        return Path(path).name


def chapter_key(source: Path, params: dict) -> str:
    """What a chapter's result depends on: its source, every value it runs with (its parameters
    cell's defaults, shared ones included, overlaid by ``params``), the package code and the
    contents of any file a parameter names (weights, a model's source file), whether the parameter
    file or the chapter's own ``parameters`` cell names it (with its path relative to the repository:
    no absolute path enters the key)."""
    values = effective_parameters(source, params)
    h = hashlib.sha256(source.read_bytes())
    h.update(json.dumps(values, sort_keys=True).encode())
    h.update(package_version(source).encode())
    for path in sorted(set(_named_files(values))):
        h.update(_key_name(path).encode())
        with open(path, "rb") as fh:
            h.update(hashlib.file_digest(fh, "sha256").digest())
    return h.hexdigest()[:24]


def executed_meta(path: Path) -> dict | None:
    """The runner's metadata of an executed notebook (``key``, ``run``, ``params``, ``seconds``,
    ``executed``, ``preset``, ``machine``), or None when there is no such notebook."""
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text())["metadata"]["singledir"]
    except (ValueError, KeyError, TypeError):
        return None
    return meta if isinstance(meta, dict) else None


def executed_key(path: Path) -> str | None:
    """The key of the run that wrote ``path``; None for a notebook without a run id (written by an
    older runner: its findings cannot be found, so it is never taken as current)."""
    meta = executed_meta(path)
    return meta.get("key") if meta and meta.get("run") else None


def design_hash(chapter_sources: list[Path], params: dict) -> str:
    """A short hash of a build's design: exactly what decides its numbers and verdicts, and nothing
    a page only says.

    It covers the claims, their rules and how they decide (:mod:`singledir.decide.claims`,
    :mod:`~singledir.decide.rules`, :mod:`~singledir.decide.verdicts`), the chapters'
    code cells, the code version of every package module the chapters import (its syntax tree
    without docstrings, :func:`singledir.base.cache.source_version`), the shared defaults' values
    and the parameter values the chapters ran with. Changing a rule, a statistic, a seed, an epoch
    count or any computing code changes it; editing a chapter's prose, a comment or a docstring
    does not, so a registered design survives a page's rewording and nothing else."""
    from ..base.cache import code_text, source_version

    h = hashlib.sha256()
    for module in (claims, rules, verdicts):
        h.update(code_text(Path(module.__file__).read_text()).encode())
    h.update(json.dumps(shared.shared_defaults(), sort_keys=True, default=str).encode())
    modules = set()
    for p in sorted(chapter_sources, key=lambda q: q.name):
        nb = read_chapter(p)  # once per chapter: its code cells and the modules they import
        h.update(p.name.encode() + b"\0" + chapter_code(nb).encode())
        modules.update(notebook_imports(nb))
    for m in sorted(modules):
        h.update(f"{m}:{source_version(m)}".encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    return h.hexdigest()[:12]


def chapter_code(nb) -> str:
    """A chapter's code cells (a notebook read by :func:`read_chapter`), in order, each stripped of
    trailing blanks: what of it computes."""
    return "\n\0".join(c.source.rstrip() for c in nb.cells if c.cell_type == "code")
