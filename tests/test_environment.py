"""environment.yml (conda) pins exactly what pyproject.toml pins."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[^\s;]+$")


def pyproject_pins() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def conda_pip_entries() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    return pip


def normalized(pin: str) -> str:
    name, version = pin.split("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def test_every_dependency_is_pinned_exactly():
    pins = pyproject_pins()
    assert pins, "pyproject.toml lists no dependencies"
    assert [p for p in pins if not PIN.match(p)] == []


def test_environment_yml_pins_the_same_set_as_pyproject():
    pins = {normalized(p) for p in pyproject_pins()}
    conda = [e for e in conda_pip_entries() if e != "-e ."]
    assert len(conda) == len(set(conda)), "a pin appears twice in environment.yml"
    assert {normalized(e) for e in conda} == pins


def test_environment_yml_installs_the_package_and_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "-e ." in conda_pip_entries()
    assert "pip" in env["dependencies"]
    (python,) = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert required.startswith(">=")
    want = tuple(int(x) for x in required[2:].split("."))
    have = tuple(int(x) for x in python.split("=")[1].split("."))
    assert have >= want


def test_lock_agrees_with_the_pins():
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = normalized(line).split("==")
            lock[name] = version
    for pin in pyproject_pins():
        name, version = normalized(pin).split("==")
        assert lock.get(name) == version, f"requirements.lock has {name}=={lock.get(name)}, pyproject.toml {pin}"
