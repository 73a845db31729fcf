"""Registering a design before its networks exist.

A registration is one commit, made before the first build of a preset, that holds the preset, the
rules and a record in the ledger (``results/PRESET-registration.json``): the design hash (what
decides the numbers: :func:`singledir.book.keys.design_hash`), the counts and seeds, and each primary
part's power at its effect of interest, computed from the spread of the builds the ledger already
holds (never from their verdicts: :mod:`singledir.decide.sizing`).

Its networks must not exist before its build: every seed a registered preset uses is one that no
preset with a scorecard in the ledger used (:func:`seed_overlap`; ``tests/test_registration.py``
runs it over every registered preset).
"""
from __future__ import annotations

import re
from pathlib import Path

from ..pages.scorecard import LEDGER_NAME

COUNT_KEYS = ("n_networks", "networks")  # how many consecutive seeds a ``*first_seed`` key starts


def _is_seed_key(key: str) -> bool:
    return "seed" in key.lower()


def _as_seeds(key: str, value, scopes: list[dict]) -> set[int]:
    """The seeds one ``*seed*`` entry names: an integer, a list of them, or for ``*first_seed`` the
    run of consecutive seeds its mapping's count (:data:`COUNT_KEYS`) starts."""
    if isinstance(value, bool) or value is None:
        return set()
    if isinstance(value, int):
        if key.lower().endswith("first_seed"):
            count = next((s[k] for s in scopes for k in COUNT_KEYS if isinstance(s.get(k), int)), 1)
            return set(range(value, value + count))
        return {value}
    if isinstance(value, (list, tuple)):
        return {v for v in value if isinstance(v, int) and not isinstance(v, bool)}
    return set()


def seeds_in(params: dict, _outer: tuple[dict, ...] = ()) -> set[int]:
    """Every seed a chapter's (effective) parameters name, at any depth of their mappings: each key
    with ``seed`` in its name, a ``*first_seed`` with the count beside it (in its own mapping, else
    the one above)."""
    out = set()
    for key, value in params.items():
        if isinstance(value, dict):
            out |= seeds_in(value, (params, *_outer))
        elif _is_seed_key(str(key)):
            out |= _as_seeds(str(key), value, [params, *_outer])
    return out


def ledger_presets(ledger: Path) -> set[str]:
    """The presets with a scorecard in the ledger (``PRESET-DATE-DESIGN[.N].csv``)."""
    return {m["preset"] for p in Path(ledger).glob("*.csv") if (m := re.fullmatch(LEDGER_NAME, p.name))}


def preset_seeds(params_path: Path) -> set[int]:
    """Every seed the chapters of a parameter file use, its chapters' own defaults included."""
    from .params import chapter_paths, effective_parameters, load_params

    chapters = chapter_paths()
    per = load_params(Path(params_path), chapters)
    return set().union(*(seeds_in(effective_parameters(src, per[name])) for name, src in chapters.items()))


def seed_overlap(params_path: Path, ledger: Path, presets: Path) -> dict[str, set[int]]:
    """``{earlier preset: the seeds it shares with params_path}`` over every preset with a scorecard
    in the ledger (found as ``presets/PRESET.yml``); empty when the preset's networks are all new."""
    mine = preset_seeds(params_path)
    out = {}
    for name in sorted(ledger_presets(ledger)):
        path = Path(presets) / f"{name}.yml"
        if not path.exists():
            raise FileNotFoundError(f"the ledger holds builds of preset {name!r} but {path} is gone: "
                                    "restore it, its seeds must stay known")
        if Path(path).resolve() != Path(params_path).resolve() and (shared := mine & preset_seeds(path)):
            out[name] = shared
    return out


# What sets each primary part's replicates: (chapter, the parameter that counts them). A part's
# registered count is its count in the latest default build scaled by how much the preset raises that
# parameter (a list counts its members; "a*b" multiplies two lists' lengths: E5's grid settings).
DRIVERS = {
    "E1": ("02_memorization", "e1.mlp_seeds"), "E2": ("02_memorization", "e1.mlp_seeds"),
    "E3": ("03_generalization", "e3.n_networks"), "E4": ("03_generalization", "e4_conv.seeds"),
    "E5": ("03_generalization", "e5_grid.learning_rates*e5_grid.batch_sizes"),
    "E6": ("04_dropout_batchnorm", "dropout.seeds"), "E7": ("04_dropout_batchnorm", "bn.seeds"),
    "E8": ("05_selectivity", "bn.seeds"), "E9": ("05_selectivity", "mlp.seeds"),
    "E10": ("06_ablation_value", "bn.seeds"), "E11": ("05_selectivity", "bn.seeds"),
    "E12": ("05_selectivity", "bn.seeds"), "E13": ("05_selectivity", "mlp.seeds"),
    "F1": ("08_after_the_paper", "bn.seeds"), "F2": ("08_after_the_paper", "f2_mlp.seeds"),
    "F3": ("08_after_the_paper", "bn.seeds"), "F4": ("08_after_the_paper", "mlp.seeds"),
    "F5": ("08_after_the_paper", "e4_mlp.seeds"), "F6": ("08_after_the_paper", "e4_conv.seeds"),
    "F7": ("08_after_the_paper", "e1.mlp_seeds"),
    "F8": ("08_after_the_paper", "e5_grid.learning_rates*e5_grid.batch_sizes"),
}


def driver_count(params: dict, spec: str) -> int:
    """The count a :data:`DRIVERS` entry names in a chapter's effective parameters."""
    out = 1
    for dotted in spec.split("*"):
        value = params
        for key in dotted.split("."):
            value = value[key]
        out *= len(value) if isinstance(value, (list, tuple)) else int(value)
    return out


def _effective(params_path: Path) -> dict[str, dict]:
    from .params import chapter_paths, effective_parameters, load_params

    chapters = chapter_paths()
    per = load_params(Path(params_path), chapters)
    return {name: effective_parameters(src, per[name]) for name, src in chapters.items()}


def expected_replicates(params_path: Path, reference: Path, reference_params: Path) -> dict[str, int]:
    """Per primary part, the replicates ``params_path`` gives it: its ``n`` in the ``reference``
    ledger scorecard times the ratio of the preset's driver count to ``reference_params``' (for E5
    and F8, settings that fit, the reference build's share of settings that fit)."""
    import pandas as pd

    mine, ref = _effective(params_path), _effective(reference_params)
    rows = pd.read_csv(reference, comment="#")
    out = {}
    for _, r in rows[rows.role == "primary"].iterrows():
        chapter, spec = DRIVERS[r["id"]]
        out[r["id"]] = int(round(int(r["n"]) * driver_count(mine[chapter], spec) / driver_count(ref[chapter], spec)))
    return out


DATASET_NAMES = {"mnist5k": "MNIST", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10",
                 "digits": "digits"}


def registered_builds(ledger: Path, presets: Path, say=None) -> list[dict]:
    """Every preset registered in the ledger (``PRESET-registration.json``), oldest registration
    first: ``preset``, ``design``, ``registered`` (its date), ``label`` (its dataset, for the first
    page), and ``card`` / ``file``, the scorecard its build recorded with the registered design (the
    first one: a registered build is recorded once), or None while it is not built."""
    import json

    from ..pages.scorecard import ledger_files, read_ledger_file
    from .params import BookError, read_params_file
    from .shared import shared_defaults

    out = []
    for path in sorted(Path(ledger).glob("*-registration.json")):
        rec = json.loads(path.read_text())
        preset, design = rec["preset"], rec["design"]
        try:
            data = (read_params_file(Path(presets) / f"{preset}.yml").get("defaults") or {}).get("data") or {}
            dataset = data.get("dataset") or shared_defaults()["data"]["dataset"]
            label = f"{DATASET_NAMES.get(dataset, dataset)}, registered"
        except BookError:  # the preset's file is gone: the ledger still names its build
            label = f"{preset}, registered"
        card = file = None
        for f, m in sorted(ledger_files(Path(ledger), preset, say).items(), key=lambda x: (x[1]["date"], x[1]["n"] or "")):
            if m["design"] == design and not isinstance(t := read_ledger_file(f, design), str):
                card, file = t, f
                break
        out.append({"preset": preset, "design": design, "registered": rec["registered"], "label": label,
                    "card": card, "file": file, "record": rec})
    return sorted(out, key=lambda b: (b["registered"], b["preset"]))
