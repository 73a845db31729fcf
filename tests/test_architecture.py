"""The package is a house with floors: each subpackage imports only the floors below it (or its own),
and no modules import each other in a circle. Read from every module's source with ``ast``, imports
inside functions included."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "singledir"
FLOORS = ("base", "data", "nets", "measure", "decide", "experiments", "pages", "book")  # bottom to top
# third-party modules a floor may not import: the renderer lives on the page floor and above; deciding
# a claim needs no tensors
RENDERER = ("myst_nb", "IPython")
NOT_BELOW_PAGES = {f: RENDERER for f in FLOORS[:FLOORS.index("pages")]}
FORBIDDEN = {**NOT_BELOW_PAGES, "decide": RENDERER + ("torch", "torchvision")}


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """``{dotted name: file}`` of every module of the package."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that module ``name`` imports, at any depth of its code."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            origin = ".".join(base + ([node.module] if node.module else []))
            targets = [origin] + [f"{origin}.{a.name}" for a in node.names]
        else:
            continue
        out |= {t for t in targets if t in modules and t != name}
    return out


def external_imports(path: Path) -> set[str]:
    """The top-level names of the modules outside the package that a file imports, at any depth."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out - {"singledir"}


def forbidden_imports(package: Path = PACKAGE) -> list[str]:
    """Each module that imports a third-party module its floor may not (:data:`FORBIDDEN`)."""
    bad = []
    for name, path in module_files(package).items():
        parts = name.split(".")
        banned = FORBIDDEN.get(parts[1], ()) if len(parts) > 1 else ()
        bad += [f"{name} (floor {parts[1]}) imports {m}" for m in sorted(external_imports(path) & set(banned))]
    return bad


def floor(name: str) -> int:
    """A module's floor: the index of its subpackage in :data:`FLOORS` (-1 for the package itself)."""
    parts = name.split(".")
    if len(parts) == 1:
        return -1
    if parts[1] not in FLOORS:
        raise AssertionError(f"module {name} lies in no floor; put it in one of {FLOORS} (bottom to top)")
    return FLOORS.index(parts[1])


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [f"{m} (floor {FLOORS[floor(m)] if floor(m) >= 0 else 'package'}) imports {t} "
            f"(floor {FLOORS[floor(t)]}, above it)" for m, ts in sorted(graph.items()) for t in sorted(ts)
            if floor(t) > floor(m) or (floor(m) == -1 and t != m)]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle found by a depth-first search (one per back edge)."""
    found, state = [], {}

    def visit(m, stack):
        state[m] = "open"
        for t in sorted(graph.get(m, ())):
            if state.get(t) == "open":
                found.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_files(package)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def test_every_module_imports_only_its_floor_and_the_floors_below():
    bad = upward_imports(import_graph())
    assert not bad, "upward imports (move the code down a floor, or the caller up):\n" + "\n".join(bad)


def test_no_renderer_below_the_page_floor_and_no_torch_in_deciding():
    bad = forbidden_imports()
    assert not bad, ("renderer below the page floor or torch in deciding (move the code to singledir/pages, "
                     "or out of singledir/decide):\n" + "\n".join(bad))


@pytest.mark.parametrize("module, line, expected", [
    ("experiments/sweep.py", "from myst_nb import glue", "singledir.experiments.sweep (floor experiments) imports myst_nb"),
    ("measure/units.py", "import IPython.display", "singledir.measure.units (floor measure) imports IPython"),
    ("decide/stats.py", "import torch", "singledir.decide.stats (floor decide) imports torch"),
    ("decide/verdicts.py", "from torch import nn", "singledir.decide.verdicts (floor decide) imports torch"),
])
def test_the_third_party_check_catches_a_bad_import(tmp_path, module, line, expected):
    import shutil

    copy = tmp_path / "singledir"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n\ndef _bad():\n    {line}\n")
    assert forbidden_imports(copy) == [expected]


def test_no_modules_import_each_other_in_a_circle():
    found = cycles(import_graph())
    assert not found, "import circles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_every_floor_is_a_subpackage_and_every_module_lies_in_one():
    modules = module_files()
    assert {m.split(".")[1] for m in modules if m.count(".")} <= set(FLOORS) | {"__main__"}
    for f in FLOORS:
        assert f"singledir.{f}" in modules, f"floor {f} has no singledir/{f}/__init__.py"


@pytest.mark.parametrize("line, problem", [
    ("from ..book.params import ROOT", "upward"),  # data importing the book
    ("from .dataset import Dataset", "circle"),  # raw <-> dataset
])
def test_the_checks_catch_a_bad_import(tmp_path, line, problem):
    import shutil

    copy = tmp_path / "singledir"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    raw = copy / "data" / "raw.py"
    raw.write_text(raw.read_text() + f"\n\ndef _bad():\n    {line}\n")
    graph = import_graph(copy)
    if problem == "upward":
        assert upward_imports(graph) == ["singledir.data.raw (floor data) imports singledir.book.params (floor book, above it)"]
    else:
        assert not upward_imports(graph)
        assert cycles(graph) == [["singledir.data.dataset", "singledir.data.loaders", "singledir.data.raw",
                                  "singledir.data.dataset"]]
