"""What the chapters share, so that a chapter's code is its experiment: a :class:`Setup` built from
the chapter's ``data`` and ``compute`` groups (``Setup(**data, **compute)``), gluing a dict of
values, a network's name, and a finding reported with its setup given as keywords."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..nets.models import describe, model_config_from_dict
from ..nets.runs import RunConfig
from . import scorecard
from ..experiments.measurements import Measurements
from ..experiments.sweep import SweepResult, run_sweep


def glue_values(values: dict) -> None:
    """Glue each value into the chapter under its key, as it is."""
    from myst_nb import glue

    for k, v in values.items():
        glue(k, v, display=False)


def glue_all(prefix: str, values: dict) -> None:
    """Glue each value into the chapter as ``PREFIX_KEY``: a string as it is, any other value as a float."""
    glue_values({f"{prefix}_{k}": v if isinstance(v, str) else float(v) for k, v in values.items()})


def network_name(model) -> str:
    """A model's description from its parameter-file mapping (or its config)."""
    return describe(model_config_from_dict(model) if isinstance(model, dict) else model)


def scale_line(setup: dict) -> str:
    """What was run, in one line, from a finding's setup: ``"data mnist5k (1000); network ...;
    seeds 28; epochs 8"``."""
    return "; ".join(f"{k} {setup[k]}" for k in ("data", "network", "seeds", "epochs") if k in setup)


def report(claim_id: str, results: dict[str, dict], *, data, network, epochs, seeds, layers, statistic) -> dict:
    """:func:`singledir.pages.scorecard.report` with the finding's setup given as keywords (any
    value, written as text); its scale line is made from them (:func:`scale_line`)."""
    setup = {"data": data, "network": network, "epochs": epochs, "seeds": seeds, "layers": layers,
             "statistic": statistic}
    return scorecard.report(claim_id, results, scale=scale_line(setup), setup=setup)


@dataclass(frozen=True)
class Setup:
    """What the runs of a chapter share (its parameters): the data, the held-out images, and where
    and how many at once its sweeps train. One place for what chapters would otherwise repeat."""

    dataset: str
    conv_dataset: str | None = None  # data of the conv nets (None: ``dataset``)
    n_test: int | None = None
    n_train: int | None = None  # training images of ``dataset`` the chapter uses (None = all): runs on it draw theirs from these
    image_size: int | None = None  # resize folder images to this square size
    # held-out set of the runs that ask for it (``run(..., unused_to_test=setup.unused_to_test)``):
    # the test set plus the training images a network does not train on
    unused_to_test: bool = False
    executor: str = "local"
    address: str | None = None
    group_size: int | None = None  # most networks trained at once (None: the measured best for the network on this device)

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
