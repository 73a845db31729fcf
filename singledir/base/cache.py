"""An on-disk result cache keyed by configuration and code version, safe against partial writes.

An entry is two files: ``KEY.pt`` (the payload, written with ``torch.save``) and ``KEY.json`` (the
manifest: the payload's SHA-256, its config and the code version). Both are written to a temporary
name and renamed into place, the manifest last, so the manifest is the commit mark: a payload
without a manifest, or one whose hash differs from its manifest, is never used; it is removed and
recomputed. Concurrent writers of the same key write identical bytes (the payload is serialized in
memory, and deterministic for the same content), and the last rename wins.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import torch


def cache_dir() -> Path:
    """``$SINGLEDIR_CACHE`` or ``~/.cache/singledir``."""
    env = os.environ.get("SINGLEDIR_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "singledir"


PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the singledir package


def _module_file(name: str, root: Path) -> Path | None:
    """The source file of module ``name`` (``singledir.x`` -> ``root/singledir/x.py``), or None."""
    base = root.joinpath(*name.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imported_names(path: Path, name: str) -> set[str]:
    """Absolute names of every module ``path`` (module ``name``) imports, at any depth of its code
    (imports inside functions count), with relative imports resolved; ``from P import x`` gives both
    ``P`` and ``P.x`` (a caller keeps those that are modules)."""
    is_package = path.name == "__init__.py"
    parts = name.split(".")
    package = parts if is_package else parts[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 >= len(package):
                    continue  # above the top-level package
                base = package[:len(package) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            out.add(origin)
            out.update(f"{origin}.{a.name}" for a in node.names if a.name != "*")
    return out


def import_closure(module: str, root: Path = PACKAGE_ROOT) -> dict[str, Path]:
    """``{name: source file}`` of ``module`` and of every module of its top-level package that it
    imports, directly or through others (found by reading the source with ``ast``, so a module
    counts even when it is imported only inside a function). Packages above each module count too
    (importing ``singledir.x`` runs ``singledir/__init__.py``)."""
    top = module.split(".")[0]
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] != top:
            continue
        path = _module_file(name, root)
        if path is None:
            continue
        seen[name] = path
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        todo.extend(parents)
        todo.extend(_imported_names(path, name))
    if module not in seen:
        raise ValueError(f"no source file for module {module!r} under {root}")
    return seen


def source_version(module: str, root: Path = PACKAGE_ROOT) -> str:
    """SHA-256 (first 16 hex digits) of the code of :func:`import_closure` of ``module``: each
    module's syntax tree without its docstrings (:func:`code_text`), so that editing a comment or
    a docstring retrains and recomputes nothing."""
    h = hashlib.sha256()
    for name, path in sorted(import_closure(module, root).items()):
        h.update(name.encode() + b"\0" + code_text(path.read_text()).encode() + b"\0")
    return h.hexdigest()[:16]


def code_text(source: str) -> str:
    """What of a module's source is code: its syntax tree with the docstrings of the module, its
    classes and functions left out (comments are not in the tree); the source itself when it does
    not parse."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@functools.lru_cache(maxsize=None)
def code_version(module: str) -> str:
    """The code version of everything ``module`` runs from this package: :func:`source_version`,
    read once per process (a module edited while a process runs is not the code it runs).

    Cache keys built on it cannot go stale by a module forgotten in a hand-kept list: a module
    becomes part of the version by being imported."""
    return source_version(module)


def source_hash(named: dict[str, Callable]) -> str:
    """SHA-256 (first 16 hex digits) of the names and sources of ``{name: function}`` ("" when empty):
    what a cache key must know of code registered at run time (a dataset's loader, a per-unit
    measure). A function defined where no source is kept counts by its qualified name."""
    import inspect

    if not named:
        return ""
    h = hashlib.sha256()
    for name, fn in sorted(named.items()):
        try:
            src = inspect.getsource(fn)
        except (OSError, TypeError):
            src = getattr(fn, "__qualname__", repr(fn))
        h.update(f"{name}:{src}".encode())
    return h.hexdigest()[:16]


def config_key(config: dict) -> str:
    """A stable key for a JSON-serializable config."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path`` and rename it into place: a reader
    never sees a partial file, and a failed write leaves the old file as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class Cache:
    """Entries under ``root/namespace``; ``get`` verifies, ``put`` writes atomically."""

    def __init__(self, namespace: str, root: Path | None = None):
        self.dir = (Path(root) if root is not None else cache_dir()) / namespace

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.dir / f"{key}.pt", self.dir / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The payload stored under ``key``, or None when absent, partial or damaged."""
        payload, manifest = self.paths(key)
        if not manifest.exists() or not payload.exists():
            return None
        try:
            meta = json.loads(manifest.read_text())
            if meta.get("sha256") != _sha256(payload):
                raise ValueError("payload hash differs from its manifest")
            return torch.load(payload, map_location="cpu", weights_only=True)
        except Exception as e:  # damaged entry: never used, removed so it is recomputed
            from .progress import log_path, note

            if log_path():  # in a book's chapter: one line of the build's progress, not a warning in the page
                note(f"cache entry {payload} is damaged ({e}); removed, it is being recomputed")
            else:
                warnings.warn(f"cache entry {payload} is damaged ({e}); recomputing it", stacklevel=2)
            self.remove(key)
            return None

    def put(self, key: str, payload: dict, meta: dict[str, Any] | None = None) -> None:
        path, manifest = self.paths(key)
        # serialize in memory: torch.save names the archive after the file it writes, so writing to
        # a temporary name would give each writer different bytes; the manifest hashes these bytes
        buf = io.BytesIO()
        torch.save(payload, buf)
        blob = buf.getvalue()
        atomic_write(path, lambda p: p.write_bytes(blob))
        record = {**(meta or {}), "sha256": hashlib.sha256(blob).hexdigest()}
        atomic_write(manifest, lambda p: p.write_text(json.dumps(record, indent=1, sort_keys=True, default=str)))

    def remove(self, key: str) -> None:
        for p in self.paths(key):
            p.unlink(missing_ok=True)

    def meta(self, key: str) -> dict | None:
        manifest = self.paths(key)[1]
        return json.loads(manifest.read_text()) if manifest.exists() else None
