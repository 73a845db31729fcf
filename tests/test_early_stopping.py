"""singledir.experiments.early_stopping: the rule that picks the epoch of the best ablation AUC, and the
training callback that applies it."""
from __future__ import annotations

import pytest
import torch

from singledir.experiments import early_stopping as early_stopping_mod
from singledir.nets.models import MLPConfig, build_model


def test_choose_epoch_rule():
    epochs = [2, 4, 6, 8, 10, 12, 14]
    aucs = [0.5, 0.6, 0.7, 0.65, 0.66, 0.64, 0.9]
    assert early_stopping_mod.choose_epoch(epochs, aucs, patience=3) == (6, 12)
    assert early_stopping_mod.choose_epoch(epochs, aucs, patience=4) == (14, 14)
    assert early_stopping_mod.choose_epoch(epochs, aucs, patience=1) == (6, 8)
    with pytest.raises(ValueError, match="patience"):
        early_stopping_mod.choose_epoch(epochs, aucs, patience=0)


def test_callback_applies_the_same_rule_as_choose_epoch():
    torch.manual_seed(0)
    from singledir.data.dataset import load_dataset
    from singledir.measure.perturb import ablation_curve

    ds = load_dataset("digits", n_train=300, n_test=100)
    net = build_model(MLPConfig(widths=(16, 16)), ds.input_shape, 10)
    opt = torch.optim.Adam(net.parameters(), lr=3e-2)  # a high rate: the AUC moves both ways
    stopper = early_stopping_mod.AUCEarlyStopping((ds.x_train, ds.y_train), every=1, patience=2, grid=5, repetitions=2)
    aucs = []
    for epoch in range(1, 16):
        net.train()
        loss = torch.nn.functional.cross_entropy(net(ds.x_train), ds.y_train)
        opt.zero_grad(); loss.backward(); opt.step()
        aucs.append(ablation_curve(net, (ds.x_train, ds.y_train), ["hidden.0", "hidden.1"], grid=5,
                                   repetitions=2, metrics=("accuracy",)).auc)
        if stopper(epoch, net):
            break
    assert [a for _, a in stopper.history] == pytest.approx(aucs)
    chosen, stopped = early_stopping_mod.choose_epoch(list(range(1, len(aucs) + 1)), aucs, patience=2)
    assert stopper.best_epoch == chosen and epoch == stopped
    assert stopper.best_state is not None and net.training
