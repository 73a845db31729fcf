"""Parameter files and the chapters' ``parameters`` cells: what each chapter is given.

A parameter file has the sections ``description``, ``extends`` (another file it starts from),
``defaults`` (given to every chapter that declares the name) and ``chapters`` (one mapping per
chapter). Every key must be declared in the chapter's ``parameters`` cell, whose values are the
defaults: a literal, or ``shared("name")`` for a group several chapters share
(:mod:`singledir.book.shared`). A group (:func:`groups`) is a mapping of members: a file's value for
it changes the members it names, over the chapter's default, and the chapter is given the whole
group (:func:`~singledir.book.checks.merge_groups`); a key of the flat layout before groups is
refused with its new name (:data:`~singledir.book.checks.MOVED`).
"""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from .checks import (CHAPTER_GROUPS, closest, merge_groups, moved_problem, null_default_kind, same_networks_problem,
                     value_problem)
from .parsed import parsed_once
from . import shared as shared_file
from .shared import SharedDefaultError, read_yaml, shared, shared_defaults

ROOT = Path(__file__).resolve().parents[2]


class BookError(RuntimeError):
    """A chapter or parameter file that cannot be run; the message says what to fix."""


def chapter_paths(root: Path = ROOT) -> dict[str, Path]:
    """``{name: path}`` of every chapter source, in book order."""
    return {p.stem: p for p in sorted((root / "chapters").glob("[0-9][0-9]_*.md"))}


@parsed_once  # a build asks for each chapter many times: it is parsed once
def read_chapter(path: Path):
    import jupytext

    return jupytext.read(path)


def declared_parameters(nb) -> dict[str, object]:
    """Names assigned in the cell tagged ``parameters``, with their literal default values."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise BookError(f"a chapter needs exactly one cell tagged 'parameters', found {len(cells)}")
    out = {}
    for node in ast.parse(cells[0].source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            if isinstance(t, ast.Name):
                out[t.id] = _default_value(node.value)
    return out


def shared_names(nb) -> set[str]:
    """The names a chapter's ``parameters`` cell reads with ``shared("name")``."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    return {n for c in cells for node in ast.walk(ast.parse(c.source))
            if isinstance(node, ast.expr) and (n := shared_name(node)) is not None}


def check_shared_file(path: Path | None = None, root: Path = ROOT) -> None:
    """Every name in ``chapters/shared.yml`` is read by some chapter (a misspelt name would change the
    design hash and nothing else), and every value there is of its declared kind; errors name that file."""
    path = Path(path or shared_file.SHARED_FILE)
    try:
        values = shared_defaults(path)
    except SharedDefaultError as e:
        raise BookError(str(e)) from None
    read = set().union(*(shared_names(read_chapter(p)) for p in chapter_paths(root).values()))
    for name in values:
        if name not in read:
            raise BookError(f"{path}: {name!r} is read by no chapter{closest(name, read) or '.'} Correct the name, or "
                            f"remove the line (a chapter reads a shared value with {name} = shared({name!r}))")
    for name, value in values.items():
        if not isinstance(value, dict):
            raise BookError(f"{path}: {name} is {_kind(value)}, but every value there is a group: a mapping of its "
                            f"members, e.g.\n  {name}:\n    MEMBER: {json.dumps(value)}")
        for member, v in value.items():
            _check_type(path, None, f"{name}.{member}", v, None)


def shared_name(value: ast.expr) -> str | None:
    """``"x"`` for a parameters cell's ``shared("x")`` (a default from ``chapters/shared.yml``)."""
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "shared"
            and len(value.args) == 1 and not value.keywords and isinstance(value.args[0], ast.Constant)
            and isinstance(value.args[0].value, str)):
        return value.args[0].value
    return None


def _default_value(value: ast.expr):
    """A parameter's default: a literal, a shared default, or None for anything else."""
    name = shared_name(value)
    if name is not None:
        try:
            return shared(name)
        except SharedDefaultError as e:
            raise BookError(str(e)) from None
    try:
        return ast.literal_eval(value)
    except ValueError:
        return None


SECTIONS = ("description", "extends", "defaults", "chapters")


def read_params_file(path: Path, _seen: tuple[Path, ...] = ()) -> dict:
    """A parameter file with its ``extends`` chain resolved.

    ``extends: default.yml`` (a path relative to the file) starts from that file: this file's
    ``defaults`` replace its defaults key by key, and each chapter's mapping replaces that
    chapter's keys one by one.
    """
    path = Path(path).resolve()
    if path in _seen:
        raise BookError(f"parameter files extend each other in a loop: {' -> '.join(str(p) for p in (*_seen, path))}")
    if not path.exists():
        raise BookError(f"parameter file {path} (extended by {_seen[-1]}) does not exist" if _seen else
                        f"parameter file {path} does not exist")
    if path.is_dir():
        raise BookError(f"{path}{f' (extended by {_seen[-1]})' if _seen else ''} is a folder, not a parameter "
                        f"file: name a .yml file, e.g. {'extends: default.yml' if _seen else '--params params/smoke.yml'}")
    doc = read_yaml(path, BookError)
    if not doc:
        raise BookError(f"{path} is empty: it would build the whole default design under another name. Write what it "
                        f"changes, e.g.\n  extends: default.yml\n  defaults:\n    bn:\n      seeds: [0, 1, 2]\n"
                        f"(see params/smoke.yml), or build a preset with --params params/default.yml")
    if not isinstance(doc, dict):
        raise BookError(f"{path}: a parameter file is a mapping with sections {', '.join(SECTIONS)}")
    unknown = set(doc) - set(SECTIONS)
    if unknown:
        raise BookError(f"{path}: unknown section(s) {sorted(unknown)}; allowed: {', '.join(SECTIONS)}")
    for section in ("defaults", "chapters"):
        if not isinstance(doc.get(section) or {}, dict):
            raise BookError(f"{path}: section {section!r} must be a mapping")
    for name, values in (doc.get("chapters") or {}).items():
        if values is not None and not isinstance(values, dict):
            raise BookError(
                f"{path}: chapter {name} is given {type(values).__name__} {values!r}, but a chapter's section "
                f"is a mapping of its parameter names to values; write it as\n  chapters:\n    {name}:\n"
                f"      seed: 1        # one 'name: value' line per parameter")
    if not doc.get("extends"):
        return doc
    parent = read_params_file(path.parent / str(doc["extends"]), (*_seen, path))
    chapters = {k: dict(v or {}) for k, v in (parent.get("chapters") or {}).items()}
    for name, values in (doc.get("chapters") or {}).items():
        chapters[name] = merge_groups(chapters.get(name, {}), values or {}, groups())
    return {"description": doc.get("description", parent.get("description")),
            "defaults": merge_groups(parent.get("defaults") or {}, doc.get("defaults") or {}, groups()),
            "chapters": chapters}


def groups() -> set[str]:
    """The parameters that are groups: every name of ``chapters/shared.yml`` and
    :data:`~singledir.book.checks.CHAPTER_GROUPS`."""
    try:
        return set(shared_defaults()) | CHAPTER_GROUPS
    except SharedDefaultError as e:
        raise BookError(str(e)) from None


def load_params(path: Path, chapters: dict[str, Path]) -> dict[str, dict]:
    """Per-chapter parameters from a parameter file, checked against each chapter's declarations."""
    path = Path(path)
    if not path.exists():
        raise BookError(f"parameter file {path} does not exist; presets: "
                        f"{', '.join(str(p.relative_to(ROOT)) for p in sorted((ROOT / 'params').glob('*.yml')))}")
    check_shared_file()
    doc = read_params_file(path)
    defaults = doc.get("defaults") or {}
    per = doc.get("chapters") or {}
    bad = set(per) - set(chapters)
    if bad:
        raise BookError(f"{path}: unknown chapter(s) {sorted(bad)}; chapters: {', '.join(chapters)}")
    for key, value in defaults.items():
        if (moved := moved_problem(key, value)):
            raise BookError(f"{path}: {moved}")
    out, used_defaults = {}, set()
    for name, src in chapters.items():
        declared = declared_parameters(read_chapter(src))
        mine = per.get(name) or {}
        for key in sorted(set(mine) - set(declared)):
            if (moved := moved_problem(key, mine[key])):
                raise BookError(f"{path}: chapter {name}, {moved}")
        undeclared = set(mine) - set(declared)
        if undeclared:
            hint = closest(min(undeclared), declared)
            raise BookError(f"{path}: chapter {name} has no parameter(s) {sorted(undeclared)}{hint or ';'} "
                            f"{'It' if hint else 'it'} declares: {', '.join(declared)}")
        shared = {k: v for k, v in defaults.items() if k in declared}
        used_defaults |= set(shared)
        given = merge_groups(shared, mine, groups())
        # a group is injected whole: the members given over the chapter's default of the group
        out[name] = {k: merge_groups(declared, {k: v}, groups())[k] for k, v in given.items()}
        for key, value in out[name].items():
            _check_type(path, name, key, value, declared[key])
    problem = same_networks_problem({n: effective_parameters(src, out[n]) for n, src in chapters.items()},
                                    {n: shared_names(read_chapter(src)) for n, src in chapters.items()})
    if problem:
        raise BookError(f"{path}: {problem}")
    unused = set(defaults) - used_defaults
    if unused:
        declared_anywhere = set().union(*(declared_parameters(read_chapter(p)) for p in chapters.values()))
        raise BookError(f"{path}: default(s) {sorted(unused)} are declared by no chapter"
                        f"{closest(min(unused), declared_anywhere)}")
    return out


def _kind(value) -> str:
    """A value's kind as a parameter file's reader names it, with its article."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a mapping" if isinstance(value, dict) else "text" if isinstance(value, str) else type(value).__name__


def _check_value(key: str, value) -> str | None:
    """What is wrong with a value that has the right kind, for the parameters with a rule of their
    own: :func:`~singledir.book.checks.value_problem`, and the measurement settings that
    :class:`~singledir.experiments.measurements.Measurements` itself checks."""
    if key in MEASUREMENT_FIELDS and value is not None:
        from ..experiments.measurements import Measurements

        return Measurements.problem(MEASUREMENT_FIELDS[key], value, wanted=True)  # the chapter draws that measure
    return value_problem(key, value)


# parameters that are settings of Measurements (its field), checked by Measurements' own rule
MEASUREMENT_FIELDS = {"noise.scales": "noise_scales"}


def _check_type(path: Path, chapter: str | None, key: str, value, default) -> None:
    """``value`` must be of the kind of the chapter's default (a number, text, true or false, a list,
    a mapping, checked key by key), or null; a default of None takes the kind declared for it
    (:data:`singledir.book.checks.NULL_DEFAULT_KINDS`), or anything. ``chapter`` None: a value of
    ``chapters/shared.yml``."""
    where = f"{path}: chapter {chapter}, parameter {key}" if chapter else f"{path}: {key}"
    problem = _check_value(key, value)
    if problem:
        raise BookError(f"{where}: {problem}")
    if value is None:
        return
    want, got = _kind(default) if default is not None else null_default_kind(key), _kind(value)
    if want is not None and want != got:
        like = f"like its default {json.dumps(default)}" if default is not None else "or null (its default)"
        raise BookError(f"{where}: {value!r} is {got}, but it takes {want}, {like}")
    if isinstance(default, dict):
        for k, v in value.items():
            if k in default:
                _check_type(path, chapter, f"{key}.{k}", v, default[k])
            elif key in groups():
                raise BookError(f"{where}: the group {key} has no member {k!r}{closest(k, default) or ';'} its members "
                                f"are {', '.join(default)} (a value given for a group names the members it changes, "
                                f"e.g. {key}: {{{next(iter(default))}: ...}})")


def _named_files(value) -> list[Path]:
    """Files a parameter value names: a path (``$VARS`` and ``~`` expanded, relative to the repo
    root), or the file of a ``path/to/file.py:Name`` model spec. ``folder:`` datasets are not hashed."""
    if isinstance(value, dict):
        return [f for v in value.values() for f in _named_files(v)]
    if isinstance(value, (list, tuple)):
        return [f for v in value for f in _named_files(v)]
    if not isinstance(value, str) or value.startswith("folder:") or not value.strip():
        return []
    text = os.path.expanduser(os.path.expandvars(value))
    out = []
    for cand in (text, text.rpartition(":")[0] if ":" in text else None):
        if cand:
            path = ROOT / cand  # an absolute cand replaces ROOT
            if path.is_file():
                out.append(path)
    return out


def check_dask_addresses(params_path: Path, chapters: dict[str, Path], params: dict[str, dict],
                         names: list[str]) -> None:
    """Before any chapter runs: a Dask scheduler answers at the ``address`` of every chapter of
    ``names`` that runs on ``executor: dask``."""
    from .checks import dask_address_problem

    for name in names:
        compute = effective_parameters(chapters[name], params[name]).get("compute") or {}
        address = compute.get("address")
        if compute.get("executor") != "dask" or not address:
            continue
        problem = dask_address_problem(address)
        if problem:
            where = params_path if "compute" in params[name] else shared_file.SHARED_FILE
            raise BookError(f"{where}: chapter {name}, parameter compute.address {address!r}: {problem}. Start the "
                            f"scheduler (dask scheduler --port PORT) and give its address, or write address: null "
                            f"(a local Dask cluster) or executor: processes")


def effective_parameters(source: Path, params: dict) -> dict:
    """The values a chapter runs with: its ``parameters`` cell's literal defaults, overlaid by
    ``params`` (what the parameter file gives it)."""
    return {**declared_parameters(read_chapter(source)), **params}


def name_injected_parameters(nb) -> None:
    """Fold papermill's cell of the values a parameter file gives (tagged ``injected-parameters``)
    into a box named for what it holds, as the chapter's own parameters cell is."""
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            cell.metadata["tags"] = [*tags, "hide-cell"]
            cell.metadata["mystnb"] = {"code_prompt_show": "Values the parameter file gives this chapter",
                                       "code_prompt_hide": "Hide the values the parameter file gives"}
