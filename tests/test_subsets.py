"""singledir.measure.subsets: a hand-built memorizing unit whose ablation costs only the mislabeled
examples, chosen by its cost on them; drops per named subset; random units as the control."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import mlp_and_data
from singledir.measure.subsets import correct, costliest_units, random_units, subset_drops, unit_count
from singledir.nets.models import MLPConfig, build_model


def memorizing_net():
    """Inputs ``(x0, x1)``: class 1 where x0 > 0, class 0 where x0 < 0 (units 0 and 1); unit 2 fires
    only where x1 = 1 (the memorized examples) and pushes them to class 0, their wrong label."""
    net = build_model(MLPConfig(widths=(3,)), (1, 1, 2), 2).eval()
    with torch.no_grad():
        net.hidden[0][0].weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 10.0]]))
        net.hidden[0][0].bias.copy_(torch.tensor([0.0, 0.0, -5.0]))
        net.out.weight.copy_(torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]))
        net.out.bias.zero_()
    x0 = torch.tensor([-1.0, -0.5, 0.5, 1.0, 0.5, 1.0])
    x1 = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    x = torch.stack([x0, x1], 1).view(-1, 1, 1, 2)
    y = torch.tensor([0, 0, 1, 1, 0, 0])  # the last two: mislabeled (class 1 by their x0), and memorized
    return net, x, y, torch.tensor([False] * 4 + [True] * 2)


def test_the_memorizing_unit_costs_only_the_mislabeled_examples():
    net, x, y, mislabeled = memorizing_net()
    assert correct(net, (x, y)).all()  # every example fits its label, the wrong ones too
    d = subset_drops(net, (x, y), {"mislabeled": mislabeled, "clean": ~mislabeled}, {"hidden.0": [2]}).set_index("subset")
    assert d.loc["mislabeled", "drop"] == 1.0 and d.loc["clean", "drop"] == 0.0
    assert d.loc["mislabeled", "n"] == 2 and d.loc["clean", "intact"] == 1.0
    assert correct(net, (x, y), {"hidden.0": [2]}).tolist() == [True] * 4 + [False] * 2


def test_the_costliest_unit_on_the_mislabeled_examples_is_the_memorizing_one():
    net, x, y, mislabeled = memorizing_net()
    chosen = costliest_units(net, (x[mislabeled], y[mislabeled]), ["hidden.0"], fraction=1 / 3)
    assert chosen["hidden.0"].tolist() == [2]
    against = costliest_units(net, (x[mislabeled], y[mislabeled]), ["hidden.0"], 1 / 3, against=(x[~mislabeled], y[~mislabeled]))
    assert against["hidden.0"].tolist() == [2]


def test_scored_against_other_examples_the_choice_ranks_the_difference_of_the_two_costs():
    from singledir.measure.perturb import unit_importance

    net, x, y = mlp_and_data(80)
    a, b = (x[:40], y[:40]), (x[40:], y[40:])
    diff = (unit_importance(net, a, ["hidden.0", "hidden.1"]).delta_loss
            - unit_importance(net, b, ["hidden.0", "hidden.1"]).delta_loss).to_numpy()
    top = sorted(diff.argsort()[::-1][:4].tolist())  # pooled positions: hidden.0 is 0-7, hidden.1 8-15
    chosen = costliest_units(net, a, ["hidden.0", "hidden.1"], 0.25, against=b)
    assert sorted(chosen["hidden.0"].tolist() + [8 + u for u in chosen["hidden.1"].tolist()]) == top


def test_correct_matches_a_direct_computation_and_restores_the_network():
    net, x, y = mlp_and_data(60)
    with torch.no_grad():
        direct = net(x).argmax(1) == y
        ablated = net.out(net.drop[1](net.hidden[1](net.hidden[0](net.flatten(x)) * torch.tensor(
            [0.0 if i in (1, 4) else 1.0 for i in range(8)])))).argmax(1) == y
    assert torch.equal(correct(net, (x, y)), direct)
    assert torch.equal(correct(net, (x, y), {"hidden.0": [1, 4]}), ablated)
    assert torch.equal(correct(net, (x, y)), direct)  # no hook left behind


def test_random_units_are_seeded_distinct_and_in_range():
    net, x, y = mlp_and_data(10)
    a = random_units(net, (x, y), ["hidden.0", "hidden.1"], 5, seed=3)
    assert a.keys() == {"hidden.0", "hidden.1"} and sum(len(u) for u in a.values()) == 5
    assert all(len(set(u.tolist())) == len(u) and (u < 8).all() for u in a.values())
    b = random_units(net, (x, y), ["hidden.0", "hidden.1"], 5, seed=3)
    assert all(torch.equal(a[l], b[l]) for l in a)
    assert unit_count({"a": 128, "b": 128}, 0.05) == 13 and unit_count({"a": 4}, 0.05) == 1
    with pytest.raises(ValueError, match="fraction"):
        unit_count({"a": 4}, 0.0)
    with pytest.raises(ValueError, match="entries"):
        subset_drops(net, (x, y), {"short": torch.ones(3, dtype=torch.bool)}, {"hidden.0": [0]})


class OwnModel(nn.Module):
    """A network of one's own (chapter 7), not one of the book's chains: the memorizing net's weights
    in a module whose units are ``act``'s outputs."""

    def __init__(self, net):
        super().__init__()
        self.fc, self.act, self.out = net.hidden[0][0], nn.ReLU(), net.out

    def forward(self, x):
        return self.out(self.act(self.fc(x.flatten(1))))


def test_the_measures_work_on_a_network_of_ones_own():
    from singledir.measure.checkpoints import selectivity_table, targeted_ablation

    net, x, y, mislabeled = memorizing_net()
    own = OwnModel(net).eval()
    d = subset_drops(own, (x, y), {"mislabeled": mislabeled, "clean": ~mislabeled}, {"act": [2]}).set_index("subset")
    assert (d.loc["mislabeled", "drop"], d.loc["clean", "drop"]) == (1.0, 0.0)
    assert costliest_units(own, (x[mislabeled], y[mislabeled]), ["act"], 1 / 3)["act"].tolist() == [2]
    scores = selectivity_table(own, (x, y), ["act"], 2).rename(columns={"selectivity": "score"})
    assert len(targeted_ablation(own, (x, y), scores, fraction=0.5, repetitions=2)) == 1
