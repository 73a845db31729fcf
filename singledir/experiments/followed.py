"""Networks followed through training (the paper's section 3.2, Fig. 4a-b): the area under the
ablation curve at every kept checkpoint, beside the network's training history there."""
from __future__ import annotations

import pandas as pd

from ..measure import perturb
from ..nets.runs import RunConfig
from ..nets.training import train_network
from .tables import SweepResult


def with_checkpoints(train: dict, checkpoints: list) -> dict:
    """A training schedule that keeps the network at ``checkpoints`` (epochs, fractions allowed) and
    evaluates it once, at the end."""
    return {**train, "checkpoints": checkpoints, "eval_every": int(train["epochs"])}


def checkpoint_table(result: SweepResult, configs: list[RunConfig]) -> pd.DataFrame:
    """One row per network x checkpoint of a sweep measured with ``checkpoints=True``: ``auc`` and
    ``auc_norm`` (:func:`~singledir.measure.perturb.auc`, :func:`~singledir.measure.perturb.normalized_auc`)
    and the training history at that epoch (``train_loss``, ``test_loss``, ``train_acc``, ``test_acc``);
    ``configs`` are the sweep's, in its order (their networks come from the cache)."""
    auc = (result.curves.groupby(["run", "epoch"])
           .apply(lambda g: pd.Series({"auc": perturb.auc(g), "auc_norm": perturb.normalized_auc(g)}), include_groups=False)
           .reset_index())
    hist = pd.concat([pd.DataFrame(train_network(c).history).assign(run=i) for i, c in enumerate(configs)])
    return auc.merge(hist, on=["run", "epoch"])
