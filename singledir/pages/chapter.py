"""What the chapters share, so that a chapter's code is its experiment: a :class:`Setup` built from
the chapter's parameters (its data, and where and how its sweeps train), gluing a dict of values,
a network's name, and a finding reported with its setup given as keywords."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterable

from ..nets.models import describe, model_config_from_dict
from ..nets.runs import RunConfig
from . import scorecard
from ..experiments.sweep import Measurements, SweepResult, run_sweep


def glue_values(values: dict) -> None:
    """Glue each value into the chapter under its key, as it is."""
    from myst_nb import glue

    for k, v in values.items():
        glue(k, v, display=False)


def glue_all(prefix: str, values: dict) -> None:
    """Glue each value into the chapter as ``PREFIX_KEY``: a string as it is, any other value as a float."""
    glue_values({f"{prefix}_{k}": v if isinstance(v, str) else float(v) for k, v in values.items()})


# the measurement parameters the chapters share: a chapter's parameter -> the Measurements field it sets
MEASUREMENT_PARAMETERS = {"n_curve": "n_curve", "grid": "grid", "curve_seed": "seed", "noise_scales": "noise_scales",
                          "noise_repetitions": "noise_repetitions", "all_layers_repetitions": "all_layers_repetitions"}


def measurements(params: dict, **fields) -> Measurements:
    """The :class:`~singledir.experiments.sweep.Measurements` of a chapter's parameters (its
    ``globals()``): the shared ones it declares (:data:`MEASUREMENT_PARAMETERS`, lists as tuples),
    with ``fields`` given or replacing them."""
    shared = {field: tuple(params[name]) if isinstance(params[name], list) else params[name]
              for name, field in MEASUREMENT_PARAMETERS.items() if name in params}
    return Measurements(**{**shared, **fields})


def network_name(model) -> str:
    """A model's description from its parameter-file mapping (or its config)."""
    return describe(model_config_from_dict(model) if isinstance(model, dict) else model)


def report(claim_id: str, results: dict[str, dict], *, scale: str, **setup) -> dict:
    """:func:`singledir.pages.scorecard.report` with the finding's setup given as keywords
    (``data``, ``network``, ``epochs``, ``seeds``, ``layers``, ``statistic``; any value, written as text)."""
    return scorecard.report(claim_id, results, scale=scale, setup=setup)


@dataclass(frozen=True)
class Setup:
    """What the runs of a chapter share (its parameters): the data, the held-out images, and where
    and how many at once its sweeps train. One place for what chapters would otherwise repeat."""

    dataset: str
    conv_dataset: str | None = None  # data of the conv nets (None: ``dataset``)
    n_test: int | None = None
    n_train: int | None = None  # training images of ``dataset`` the chapter uses (None = all): runs on it draw theirs from these
    image_size: int | None = None  # resize folder images to this square size
    executor: str = "local"
    address: str | None = None
    group_size: int | None = None  # most networks trained at once (None: the measured best for the network on this device)

    @classmethod
    def from_params(cls, params: dict) -> "Setup":
        """The Setup of a chapter's parameters (its ``globals()``): every field the chapter declares."""
        return cls(**{f.name: params[f.name] for f in fields(cls) if f.name in params})

    def data_text(self, model: dict, n: int | None, what: str = "") -> str:
        """The model's data with its training images: ``"mnist5k (1000)"``, ``"mnist5k (all)"``,
        ``"mnist5k (1000 training images)"`` with ``what=" training images"``."""
        return f"{self.data_for(model)} ({n or 'all'}{what})"

    def data_for(self, model: dict) -> str:
        return self.dataset if model.get("kind") == "mlp" else (self.conv_dataset or self.dataset)

    def run(self, model: dict, train: dict, *, n_train: int | None = None, data: str | None = None,
            **fields) -> RunConfig:
        """A run config on the chapter's data (the conv nets' data for a conv model).

        A run on ``dataset`` draws its ``n_train`` images (all of them when None) from the chapter's
        ``n_train`` (``RunConfig.n_pool``), so that every network of a chapter trains on, and holds out,
        images of the same data the chapter describes; a run on other data is not restricted."""
        name = data or self.data_for(model)
        pool = self.n_train if name == self.dataset else None
        return RunConfig.from_dict({"dataset": name, "n_train": n_train, "n_pool": pool,
                                    "n_test": self.n_test, "image_size": self.image_size,
                                    "model": model, "train": train, **fields})

    def sweep(self, configs: Iterable[RunConfig], measurements: Measurements,
              name: str | None = None) -> SweepResult:
        return run_sweep(configs, measurements, executor=self.executor, address=self.address, name=name,
                         group_size=self.group_size)
