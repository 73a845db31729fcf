"""The values several chapters share, in one place: ``chapters/shared.yml``.

A chapter's ``parameters`` cell declares a shared group as ``data = shared("data")``, so the
name is still declared where a reader looks for it (and a parameter file still sets it chapter by
chapter), but its default is written once: chapters 2 to 8 read the same conv net, schedule and data
from this file, and a chapter run on its own in Jupyter reads the same values the book does.

:func:`read_yaml` is the one reader of the book's YAML files (this one and the parameter files),
with its errors said in words.
"""
from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

SHARED_FILE = Path(__file__).resolve().parents[2] / "chapters" / "shared.yml"


class SharedDefaultError(LookupError):
    """A shared name that ``chapters/shared.yml`` does not define, or a file that cannot be read."""


def shared_defaults(path: Path | None = None) -> dict:
    """Every shared default: ``{name: value}`` (from ``path``, by default :data:`SHARED_FILE`). The
    file is parsed once per version of it (a parameters cell reads one name per line)."""
    path = Path(path or SHARED_FILE)
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError:
        raise SharedDefaultError(f"{path} does not exist: it holds the defaults several chapters share") from None
    return copy.deepcopy(_parsed(path, stamp))


def read_yaml(path: Path, error: type[Exception] = SharedDefaultError):
    """The document of a YAML file; a file that is not YAML or not UTF-8 text raises ``error`` with
    what to do."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise error(f"{path} is not valid YAML: {e}") from None
    except UnicodeDecodeError as e:
        raise error(f"{path}: byte {e.start} ({e.object[e.start:e.start + 1]!r}) is not UTF-8 text; save the file "
                    f"as UTF-8 (an editor's 'encoding' setting), or retype the character") from None


@functools.lru_cache(maxsize=8)
def _parsed(path: Path, stamp: tuple[int, int]) -> dict:
    doc = read_yaml(path) or {}
    if not isinstance(doc, dict):
        raise SharedDefaultError(f"{path} must be a mapping of parameter names to values, not {type(doc).__name__}")
    return doc


def shared(name: str, path: Path | None = None):
    """The shared default of parameter ``name`` (a group: ``{member: value}``)."""
    path = Path(path or SHARED_FILE)
    values = shared_defaults(path)
    if name not in values:
        raise SharedDefaultError(f"{path} has no shared default {name!r}; add a group '{name}: {{MEMBER: VALUE}}' to it, or give "
                                 f"the chapter a value of its own. It defines: {', '.join(values)}")
    return values[name]
