"""singledir.measure.disagreement: identical networks never disagree, a hand-built pair disagrees on
a known fraction, labels are never read, and the rate matches a direct computation."""
from __future__ import annotations

import torch
from torch import nn

from helpers import mlp_and_data
from singledir.measure.disagreement import disagreement, predictions


def threshold_net(t: float) -> nn.Module:
    """Class 1 where the single input exceeds ``t``, else class 0 (logits ``[0, x - t]``)."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(1, 2))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[0.0], [1.0]]))
        net[1].bias.copy_(torch.tensor([0.0, -t]))
    return net


X = torch.tensor([[-1.0], [0.25], [0.75], [1.0], [0.4], [-0.2], [0.6], [2.0]])  # a: x > 0, b: x > 0.5


def test_an_identical_pair_never_disagrees():
    net, x, y = mlp_and_data(50)
    assert disagreement(net, net, (x, y)) == 0.0
    assert disagreement(threshold_net(0.0), threshold_net(0.0), X) == 0.0


def test_a_hand_built_pair_disagrees_on_a_known_fraction():
    # a predicts 1 on 0.25, 0.75, 1, 0.4, 0.6, 2; b on 0.75, 1, 0.6, 2: they differ on 0.25 and 0.4
    assert predictions(threshold_net(0.0), X).tolist() == [0, 1, 1, 1, 1, 0, 1, 1]
    assert disagreement(threshold_net(0.0), threshold_net(0.5), X) == 2 / 8
    assert disagreement(threshold_net(0.5), threshold_net(0.0), X) == 2 / 8  # symmetric


def test_labels_are_never_read():
    a, b = threshold_net(0.0), threshold_net(0.5)
    wrong = torch.full((len(X),), 7)  # labels no network could output
    assert disagreement(a, b, (X, wrong)) == disagreement(a, b, X) == disagreement(a, b, [(X[:3], wrong[:3]), (X[3:], wrong[3:])])


def test_it_matches_a_direct_computation_and_chunking_does_not_matter():
    a, x, y = mlp_and_data(100)
    torch.manual_seed(5)
    b, _, _ = mlp_and_data(100)
    with torch.no_grad():
        for p in b.parameters():
            p.add_(0.3 * torch.randn_like(p))
        direct = (a(x).argmax(1) != b(x).argmax(1)).double().mean().item()
    assert 0 < direct < 1
    assert disagreement(a, b, (x, y)) == disagreement(a, b, (x, y), chunk_size=7) == direct
    assert a.training is False and b.training is False
