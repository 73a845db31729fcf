"""What the chapters share: a :class:`Setup` built from a chapter's parameters (its data, and where
and how its sweeps train), and the plumbing every chapter would otherwise repeat."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..nets.runs import RunConfig
from .sweep import Measurements, SweepResult, run_sweep


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
