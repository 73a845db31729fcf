"""singledir.nets.group_run: one group's loop. A snapshot taken between epochs, restored into a new
group, goes on to the same bits as the uninterrupted group; each member is evaluated as the solo
evaluation evaluates it; a member's state is its network alone."""
from __future__ import annotations

from dataclasses import replace

import torch

from singledir.nets.group_run import GroupRun, evaluate_members
from singledir.nets.models import build_model
from singledir.nets.runs import evaluate, load_run_dataset
from test_groups import CPU, MLP, mixed, state_equal


def _group(cfgs):
    return GroupRun(cfgs, [load_run_dataset(c) for c in cfgs], CPU)


def test_a_restored_snapshot_goes_on_to_the_same_bits():
    cfgs = mixed(MLP.with_(train=replace(MLP.train, epochs=3)))
    straight = _group(cfgs)
    straight.run(False, None, None)
    first, snaps = _group(cfgs), []

    def stop_at_1(epoch):
        if epoch == 1:
            snaps.append(first.snapshot())
            raise KeyboardInterrupt

    try:
        first.run(False, None, stop_at_1)
    except KeyboardInterrupt:
        pass
    resumed, epochs = _group(cfgs), []
    resumed.restore(snaps[0])
    resumed.run(False, None, epochs.append)
    assert epochs == [2, 3]
    for g in range(len(cfgs)):
        assert state_equal(resumed.state(g), straight.state(g))
        assert resumed.history[g] == straight.history[g]


def test_members_are_evaluated_as_each_network_alone():
    cfgs = mixed(MLP)
    group = _group(cfgs)
    group.run(False, None, None)
    ds = load_run_dataset(cfgs[0])
    ys = torch.stack([load_run_dataset(c).y_train for c in cfgs])
    got = evaluate_members(group.net, ds.x_train, ys, list(range(len(cfgs))), group.cfg, CPU)
    for g, c in enumerate(cfgs):
        net = build_model(c.model, ds.input_shape, ds.n_classes)
        net.load_state_dict(group.state(g))
        loss, acc = evaluate(net, ds.x_train, ys[g])
        assert got[g][1] == acc
        assert abs(got[g][0] - loss) <= 1e-6 * max(1.0, abs(loss))
        assert group.history[g][-1]["train_acc"] == acc
