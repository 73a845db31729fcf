"""What a sweep measures on each trained network: one frozen :class:`Measurements`, part of every
sweep run's cache key (:func:`singledir.experiments.sweep.run_sweep`)."""
from __future__ import annotations

from dataclasses import dataclass

from ..measure import information, perturb


@dataclass(frozen=True)
class Measurements:
    """What to measure on each trained network of a sweep."""

    # units a curve ablates (and noise perturbs), pooled into one order: "paper" (an MLP's hidden
    # layers, the last three layers of any other network: the paper's Fig. 1), "all", or layer names
    curve_layers: str | tuple[str, ...] = "paper"
    # also the curve over every layer with units, ablated to zero in this many random orders (0: none),
    # a secondary view: auc_all_zero in the runs table, units == "all" in the curves table
    all_layers_repetitions: int = 0
    # also the curve of the same layers over their live units only (units that fire on the curve's
    # data), normalized: auc_live_norm_zero in the runs table, units == "live" in the curves table
    live_units: bool = False
    unit_layers: tuple[str, ...] | None = None  # layers of the per-unit table (None: every layer with units)
    split: str = "train"  # data of the curves: "train" (the labels trained on) or "test"
    n_curve: int | None = None  # examples of that split used for curves (None: all)
    grid: int = 21  # ablated counts from none to all
    repetitions: int = 10  # random ablation orders
    baselines: tuple[str, ...] = ("zero",)  # "zero" and/or "mean" (per-unit training mean)
    metrics: tuple[str, ...] = ("accuracy", "loss")  # add "top5" for ImageNet-style top-5 accuracy
    noise_scales: tuple[float, ...] = ()  # noise curve scales (empty: no noise curve)
    noise_repetitions: int = 3
    checkpoints: bool = False  # also measure the curve at every kept checkpoint
    units: bool = False  # per-unit table on the test set (selectivity, MI, importance, L1)
    n_unit_data: int | None = None  # test examples for the per-unit table (seeded subset; None: all)
    n_bins: int = information.N_BINS  # equal-frequency bins of the mutual-information estimator
    seed: int = 0  # seed of ablation orders and noise

    def __post_init__(self):
        for name in ("unit_layers", "baselines", "noise_scales", "metrics"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, tuple(v))
        if not isinstance(self.curve_layers, str):
            object.__setattr__(self, "curve_layers", tuple(self.curve_layers))
        elif self.curve_layers not in ("paper", "all"):
            raise ValueError(f"curve_layers {self.curve_layers!r}: allowed 'paper', 'all' or a list of layer names")
        if self.split not in ("train", "test"):
            raise ValueError(f"analysis split {self.split!r}: allowed 'train' or 'test'")
        bad = set(self.baselines) - {"zero", "mean"}
        if bad or not self.baselines:
            raise ValueError(f"baselines {self.baselines}: allowed 'zero' and 'mean'")
        problem = self.problem("noise_scales", self.noise_scales)
        if problem:
            raise ValueError(f"noise_scales: {problem}")

    @classmethod
    def from_curves(cls, curves: dict, **fields) -> "Measurements":
        """The measurements on the book's curve settings, a ``curves`` group of the chapters'
        parameters (its ``grid``, ``n_curve`` and ``seed``), with ``fields`` given or replacing them.

        >>> Measurements.from_curves({"grid": 21, "n_curve": 500, "seed": 0}, repetitions=5)
        """
        return cls(**{"grid": curves["grid"], "n_curve": curves["n_curve"], "seed": curves["seed"], **fields})

    @staticmethod
    def problem(field: str, value, wanted: bool = False) -> str | None:
        """Why ``value`` cannot be the setting ``field`` (the one place its rule lives), or None;
        ``wanted``: the caller draws that measure, so an empty setting (none drawn) is refused too."""
        if field == "noise_scales":
            return perturb.noise_scales_problem(value, allow_empty=not wanted)
        return None
