"""Chapter 8's measurements (singledir.followups) on hand-built tables and tiny networks."""
import pandas as pd
import pytest
import torch
from torch import nn

from singledir.experiments import followups


def test_epoch_picks_compares_the_aucs_early_stopping_with_the_validation_minimum():
    t = pd.DataFrame({"epoch": [0, 1, 2, 3, 4, 5, 6],
                      "auc_norm": [0.1, 0.5, 0.7, 0.6, 0.65, 0.6, 0.5],  # peak at 2, then no gain for 2
                      "val_loss": [2.0, 1.0, 0.8, 0.7, 0.75, 0.9, 1.0],  # minimum at 3
                      "test_acc": [0.1, 0.6, 0.8, 0.85, 0.84, 0.8, 0.78]})
    p = followups.epoch_picks(t, patience=2)
    assert (p["auc_epoch"], p["val_epoch"]) == (2, 3)
    assert (p["test_acc_auc"], p["test_acc_val"]) == (0.8, 0.85)
    assert p["test_acc_chance"] == pytest.approx(sum([0.6, 0.8, 0.85, 0.84, 0.8, 0.78]) / 6)  # untrained left out
    assert p["test_acc_best"] == 0.85
    with pytest.raises(ValueError, match="after the untrained"):
        followups.epoch_picks(t[t.epoch == 0], patience=2)


def test_setting_picks_takes_each_scores_first_choice():
    runs = pd.DataFrame({"auc_zero": [0.5, 0.9, 0.7], "val_acc": [0.8, 0.7, 0.9], "test_acc": [0.81, 0.72, 0.88]})
    assert followups.setting_picks(runs) == {"test_acc_auc": 0.72, "test_acc_val": 0.88,
                                             "test_acc_chance": pytest.approx((0.81 + 0.72 + 0.88) / 3),
                                             "test_acc_best": 0.88}
    with pytest.raises(ValueError, match="at least one setting"):
        followups.setting_picks(runs.iloc[:0])


class _Two(nn.Module):
    """One hidden layer of two ReLU units: unit 0 copies input 0, unit 1 copies input 1."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU())
        self.out = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.hidden[0].weight.copy_(torch.eye(2))
            self.out.weight.copy_(torch.eye(2))

    def forward(self, x):
        return self.out(self.hidden(x))


def test_mean_selectivity_of_a_hand_built_layer():
    """Unit 0 fires 1.0 for class 0 only (SI 1), unit 1 fires 1.0 for class 1 and 0.5 for class 0
    (SI (1 - 0.5) / (1 + 0.5) = 1/3): the mean is 2/3."""
    x = torch.tensor([[1.0, 0.5], [0.0, 1.0]])
    y = torch.tensor([0, 1])
    assert followups.mean_selectivity(_Two(), (x, y), ["hidden.1"], 2) == pytest.approx(2 / 3)


def test_heldout_checkpoints_and_accuracy_evaluate_each_kept_network():
    net = _Two()
    wrong = _Two()
    with torch.no_grad():
        wrong.out.weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))  # swaps the classes

    class Run:
        checkpoints = {1: None, 2: None}
        model = net

        def at_epoch(self, epoch):
            return wrong if epoch == 1 else net

    x = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    y = torch.tensor([0, 1])
    t = followups.heldout_checkpoints(Run(), (x, y), (x, y))
    assert list(t.epoch) == [1, 2] and list(t.val_acc) == [0.0, 1.0] and list(t.test_acc) == [0.0, 1.0]
    assert t.val_loss[0] > t.val_loss[1]
    assert followups.heldout_accuracy(Run(), (x, y)) == 1.0
