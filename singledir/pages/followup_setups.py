"""This build's side of chapter 8's rows in the scale table: per claim, the ``data``, ``network``,
``epochs`` and ``seeds`` cells :func:`singledir.pages.chapter.report` writes, made from the
chapter's parameters (a cell for two kinds of network holds both, ``"; "`` between them)."""
from __future__ import annotations

import pandas as pd

from ..decide.claims import CLAIMS
from .chapter import Setup, network_name


def _cells(*columns: tuple) -> dict[str, str]:
    """``data, network, epochs, seeds`` from one tuple per column, its values joined by ``"; "``."""
    return {k: "; ".join(str(v) for v in values) for k, values in zip(("data", "network", "epochs", "seeds"), columns)}


def describe_units(setup: Setup, conv: dict, mlp: dict, *, conv_n_train: int | None, n_unit_data: int | None,
                   bn_train: dict, mlp_train: dict, bn_seeds: list, mlp_seeds: list) -> dict[str, str]:
    """F1, F3, F4: chapter 5's conv nets with batch norm and MLPs, measured on ``n_unit_data`` test images.

    Example: ``describe_units(setup, conv, mlp, conv_n_train=1000, n_unit_data=300, ...)["data"]``
    is ``"mnist5k (1000); 300 test images"``."""
    return _cells((setup.data_text(conv, conv_n_train), f"{n_unit_data or 'all'} test images"),
                  (f"{network_name(conv)} with BN", network_name(mlp)), (bn_train["epochs"], mlp_train["epochs"]),
                  (len(bn_seeds), len(mlp_seeds)))


def describe_alpha_sweep(setup: Setup, mlp: dict, conv: dict, mlp_runs: dict, conv_runs: dict) -> dict[str, str]:
    """F2: MLPs and conv nets with batch norm trained at every alpha; ``mlp_runs`` and ``conv_runs``:
    each kind's ``train`` (schedule), ``n_train`` and ``seeds``.

    Example: ``describe_alpha_sweep(setup, mlp, conv, {"train": {"epochs": 3}, "n_train": None, "seeds": [0, 1]},
    {"train": {"epochs": 2}, "n_train": 200, "seeds": [0]})["seeds"]`` is ``"2; 1 per alpha"``."""
    return _cells((setup.data_text(mlp, mlp_runs["n_train"]), setup.data_text(conv, conv_runs["n_train"])),
                  (network_name(mlp), f"{network_name(conv)} with BN"),
                  (mlp_runs["train"]["epochs"], conv_runs["train"]["epochs"]),
                  (len(mlp_runs["seeds"]), f"{len(conv_runs['seeds'])} per alpha"))


def describe_choices(setup: Setup, mlp: dict, conv: dict, grid_model: dict, *, epochs: tuple,
                     seeds: tuple) -> dict[str, str]:
    """F5: E4's MLPs and conv nets followed through training and E5's grid, validated on the
    training images they did not train on (``epochs`` and ``seeds``: one per group of networks).

    Example: ``describe_choices(setup, mlp, conv, grid_model, epochs=(60, 128, 30), seeds=([0], [0], [0]))["seeds"]``
    is ``"1; 1; 1"``."""
    return _cells((f"{setup.data_for(grid_model)}: validation = training images not trained on",),
                  tuple(network_name(m) for m in (mlp, conv, grid_model)), epochs, tuple(len(s) for s in seeds))


def describe_training(setup: Setup, conv: dict, *, n_train: int | None, train: dict, seeds: list) -> dict[str, str]:
    """F6: E4 (b)'s conv nets at every checkpoint.

    Example: ``describe_training(setup, conv, n_train=1000, train={"epochs": 128}, seeds=[0, 1])["epochs"]``
    is ``"128"``."""
    return _cells((setup.data_text(conv, n_train),), (network_name(conv),), (train["epochs"],), (len(seeds),))


def describe_memorization(setup: Setup, mlp: dict, conv: dict, *, mlp_n_train: int | None, conv_n_train: int | None,
                          mlp_train: dict, conv_train: dict, mlp_seeds: list, conv_seeds: list) -> dict[str, str]:
    """F7: chapter 2's MLPs and conv nets at every corrupted fraction, on their training labels.

    Example: ``describe_memorization(setup, mlp, conv, ..., mlp_seeds=[0, 1], conv_seeds=[0])["seeds"]``
    is ``"2; 1 per corrupted fraction"``."""
    return _cells((setup.data_text(mlp, mlp_n_train), setup.data_text(conv, conv_n_train), "their training labels"),
                  (network_name(mlp), network_name(conv)), (mlp_train["epochs"], conv_train["epochs"]),
                  (len(mlp_seeds), f"{len(conv_seeds)} per corrupted fraction"))


def describe_pairs(setup: Setup, conv: dict, grid_model: dict, *, conv_n_train: int | None, grid_n_train: int | None,
                   conv_epochs: int, grid_epochs: int, n_networks: int, grid_seeds: list) -> dict[str, str]:
    """F8: E3's seed-only conv nets and E5's grid, their disagreement on held-out images.

    Example: ``describe_pairs(setup, conv, grid_model, ..., n_networks=28, grid_seeds=[0, 1])["seeds"]``
    is ``"28 (E3); 2 per setting (E5)"``."""
    return _cells((setup.data_text(conv, conv_n_train), setup.data_text(grid_model, grid_n_train),
                   "held-out images, no labels"), (network_name(conv), network_name(grid_model)),
                  (conv_epochs, grid_epochs), (f"{n_networks} (E3)", f"{len(grid_seeds)} per setting (E5)"))


def publication_table(here: dict[str, str]) -> pd.DataFrame:
    """Each publication's setup (its data, networks and seeds, from :data:`~singledir.decide.claims.CLAIMS`)
    beside the networks of this build (``here``: ``{claim id: networks}``), one row per claim, indexed by id.

    Example: ``publication_table({"F6": "conv net 3 layers"}).loc["F6", "here"]`` is ``"conv net 3 layers"``."""
    return pd.DataFrame([{"id": cid, "publication": CLAIMS[cid].section,
                          **{k: CLAIMS[cid].paper_setup[k] for k in ("data", "network", "seeds")}, "here": networks}
                         for cid, networks in here.items()]).set_index("id")
