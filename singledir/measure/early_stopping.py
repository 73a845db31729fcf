"""Early stopping without a validation set: stop when reliance on single directions starts to grow.

Section 3.2 of the paper observes that the area under the cumulative ablation curve (AUC),
measured on *training* data, starts to fall at the point where train and test loss diverge, and
proposes it as an early-stopping signal. The rule here: measure the AUC every ``every`` epochs;
keep the epoch with the highest AUC so far; stop once ``patience`` measurements in a row have not
beaten it by more than ``min_delta``. The chosen epoch is the best one seen.

Use :class:`AUCEarlyStopping` inside your own training loop, or :func:`choose_epoch` on a recorded
AUC trajectory (both apply the same rule).

>>> stopper = AUCEarlyStopping((x_train, y_train), layers=["hidden.0", "hidden.1"], patience=5)
>>> for epoch in range(1, 1000):
...     train_one_epoch(model)
...     if stopper(epoch, model):
...         break
>>> stopper.best_epoch
"""
from __future__ import annotations

import copy
from typing import Sequence

from torch import nn

from . import perturb
from ..nets.models import unit_layer_names


def choose_epoch(epochs: Sequence[int], aucs: Sequence[float], patience: int = 5, min_delta: float = 0.0) -> tuple[int, int]:
    """``(chosen epoch, epoch at which the rule stops)`` for an AUC trajectory measured in order.

    The stop epoch is the last measured one if the rule never fires.
    """
    if len(epochs) != len(aucs) or not len(epochs):
        raise ValueError(f"need one AUC per epoch and at least one: {len(epochs)} epochs, {len(aucs)} AUCs")
    if patience < 1:
        raise ValueError(f"patience {patience} must be at least 1")
    best_e, best, waited = epochs[0], aucs[0], 0
    for e, a in zip(epochs[1:], aucs[1:]):
        if a > best + min_delta:
            best_e, best, waited = e, a, 0
        else:
            waited += 1
            if waited >= patience:
                return best_e, e
    return best_e, epochs[-1]


class AUCEarlyStopping:
    """Callback for a training loop: ``stopper(epoch, model)`` returns True when training should stop.

    Args:
        data: training ``(x, y)`` (or batches) the AUC is measured on: no held-out data needed.
        layers: layers ablated (default: every layer with units, pooled).
        every: measure every this many epochs (other calls return False at no cost).
        patience: measurements without improvement before stopping.
        min_delta: improvement that counts.
        grid, repetitions, seed: of the ablation curve (see :func:`singledir.measure.perturb.ablation_curve`).
        keep_best: keep a copy of the best model's weights in ``best_state``.
    """

    def __init__(self, data, layers: Sequence[str] | None = None, every: int = 1, patience: int = 5,
                 min_delta: float = 0.0, grid: int = 11, repetitions: int = 3, seed: int = 0, keep_best: bool = True):
        if every < 1 or patience < 1:
            raise ValueError(f"every ({every}) and patience ({patience}) must be at least 1")
        self.data, self.layers, self.every, self.patience, self.min_delta = data, layers, every, patience, min_delta
        self.grid, self.repetitions, self.seed, self.keep_best = grid, repetitions, seed, keep_best
        self.history: list[tuple[int, float]] = []
        self.best_epoch: int | None = None
        self.best_auc = float("-inf")
        self.best_state: dict | None = None
        self._waited = 0

    def __call__(self, epoch: int, model: nn.Module) -> bool:
        if epoch % self.every:
            return False
        layers = list(self.layers or unit_layer_names(model))
        auc = perturb.ablation_curve(model, self.data, layers, grid=self.grid, repetitions=self.repetitions,
                                     seed=self.seed, metrics=("accuracy",)).auc
        self.history.append((epoch, auc))
        if self.best_epoch is None or auc > self.best_auc + self.min_delta:
            self.best_epoch, self.best_auc, self._waited = epoch, auc, 0
            if self.keep_best:
                self.best_state = copy.deepcopy(model.state_dict())
            return False
        self._waited += 1
        return self._waited >= self.patience


def early_stopping_picks(t, patience: int = 5):
    """The rule of :func:`choose_epoch` applied to networks followed through training (``t``: one row
    per network x checkpoint with ``run``, ``epoch``, ``auc_norm``, ``test_acc``, ``test_loss``; the
    untrained checkpoint left out): per network the chosen epoch and the held-out accuracy there, at
    the checkpoint of lowest test loss and at the end."""
    import pandas as pd

    picks = []
    for run, g in t[t.epoch > 0].groupby("run"):
        g = g.sort_values("epoch").set_index("epoch")
        chosen, _ = choose_epoch(list(g.index), list(g.auc_norm), patience=patience)
        picks.append({"run": run, "chosen": chosen, "test_acc_chosen": g.test_acc[chosen],
                      "test_acc_best_loss": g.test_acc[g.test_loss.idxmin()], "test_acc_final": g.test_acc.iloc[-1]})
    return pd.DataFrame(picks)
