"""Chapter 8's measurements (singledir.followups) on hand-built tables and tiny networks."""
import pandas as pd
import pytest
import torch
from torch import nn

from singledir.measure import followups


def test_epoch_picks_compares_both_early_stopping_rules_among_the_fitted_checkpoints():
    """Candidates from epoch 2, the first with training accuracy 0.99; both rules with patience 2."""
    t = pd.DataFrame({"epoch": [0, 1, 2, 3, 4, 5, 6, 7],
                      "train_acc": [0.1, 0.9, 0.99, 1.0, 1.0, 1.0, 1.0, 1.0],
                      "auc_norm": [0.99, 0.98, 0.5, 0.7, 0.6, 0.65, 0.6, 0.5],  # flat near chance early: ignored
                      "val_loss": [2.3, 1.0, 0.8, 0.75, 0.7, 0.72, 0.74, 0.6],  # falls to 4; 0.6 at 7 comes too late
                      "test_acc": [0.1, 0.6, 0.8, 0.85, 0.84, 0.8, 0.78, 0.9]})
    p = followups.epoch_picks(t, patience=2, fits=0.99)
    assert (p["fit_epoch"], p["auc_epoch"], p["val_epoch"], p["candidates"]) == (2, 3, 4, 6)
    assert (p["test_acc_auc"], p["test_acc_val"], p["test_acc_last"]) == (0.85, 0.84, 0.9)
    assert p["test_acc_chance"] == pytest.approx(sum([0.8, 0.85, 0.84, 0.8, 0.78, 0.9]) / 6)  # candidates only
    assert p["test_acc_best"] == 0.9
    # a network that never fits its training set has no candidates and gives no value
    none = followups.epoch_picks(t.assign(train_acc=0.5), patience=2, fits=0.99)
    assert none["candidates"] == 0 and all(none[k] != none[k] for k in none if k != "candidates")


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


def test_unit_means_are_one_constant_per_map():
    """A conv map's mean over examples and positions, an MLP unit's over examples."""
    conv = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False), nn.ReLU())
    with torch.no_grad():
        conv[0].weight.copy_(torch.tensor([1.0, 2.0]).view(2, 1, 1, 1))
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[0.0, 0.0], [0.0, 2.0]]]])  # mean 12 / 8 = 1.5
    m = followups.unit_means(conv, (x, torch.tensor([0, 1])), ["1"])
    assert m["1"].shape == (2,) and m["1"].tolist() == pytest.approx([1.5, 3.0])
    mlp = followups.unit_means(_Two(), (torch.tensor([[1.0, 0.5], [3.0, -1.0]]), torch.tensor([0, 1])), ["hidden.1"])
    assert mlp["hidden.1"].tolist() == pytest.approx([2.0, 0.25])  # ReLU(-1) = 0


def test_ablation_value_gaps_per_network_over_its_intact_loss():
    units = pd.DataFrame({"net": ["MLP"] * 3 + ["conv net"] * 2, "run": [0, 0, 0, 1, 1],
                          "imp_zero": [0.2, 0.0, 0.1, -0.1, 0.3], "imp_mean": [0.1, 0.3, 0.2, 0.0, 0.2],
                          "imp_opt": [0.0, 0.0, float("nan"), -0.2, 0.1], "test_loss": [0.5] * 3 + [2.0] * 2})
    g = followups.ablation_value_gaps(units)
    # MLP run 0, units with a value: opt mean 0, zero mean 0.1, mean mean 0.2, over 0.5
    assert g.loc[("MLP", 0)].tolist() == pytest.approx([-0.2, -0.4])
    # conv run 1: opt -0.05, zero 0.1, mean 0.1, over 2.0: defined although zero's mean gap is tiny
    assert g.loc[("conv net", 1)].tolist() == pytest.approx([-0.075, -0.075])


# --- F6-F8 -----------------------------------------------------------------------------------
from types import SimpleNamespace  # noqa: E402

from helpers import mlp_and_data  # noqa: E402
from singledir.decide import stats  # noqa: E402
from singledir.measure.checkpoints import selectivity_table  # noqa: E402
from singledir.nets.runs import TrainedRun  # noqa: E402
from test_subsets import memorizing_net  # noqa: E402


def test_halves_are_disjoint_complete_and_split_each_class_evenly():
    y = torch.tensor([0] * 5 + [1] * 4 + [2] * 3)
    a, b = followups.halves(y, seed=2)
    assert sorted(torch.cat([a, b]).tolist()) == list(range(12))
    assert [int((y[a] == c).sum()) for c in range(3)] == [3, 2, 2]
    assert [int((y[b] == c).sum()) for c in range(3)] == [2, 2, 1]
    assert torch.equal(followups.halves(y, seed=2)[0], a) and not torch.equal(followups.halves(y, seed=3)[0], a)


def test_seed_pairs_are_consecutive_and_fixed():
    assert followups.seed_pairs([100, 101, 102, 103, 104]) == [(100, 101), (102, 103)]


def test_memorization_drops_finds_the_hand_built_memorizing_unit():
    net, x, y, mislabeled = memorizing_net()
    true = torch.where(mislabeled, torch.tensor(1), y)
    ds = SimpleNamespace(x_train=x, y_train=y, y_train_true=true, corrupted=mislabeled)
    r = followups.memorization_drops(net, ds, ["hidden.0"], fraction=1 / 3, n_select=None, random_repetitions=30)
    assert r["n_memorized"] == 2 and r["n_clean"] == 4 and r["memorized_share"] == 1.0 and r["units"] == 1
    assert (r["drop_memorized"], r["drop_clean"], r["difference"]) == (1.0, 0.0, 1.0)  # scored on the other halves
    assert 0 < r["random_memorized"] < 1  # one unit in three at random hits the memorizing one sometimes
    assert r["beyond_random"] == pytest.approx(1 - r["random_difference"])


def test_selectivity_through_training_picks_the_peak_on_one_half_and_scores_the_other():
    net, x, y = mlp_and_data(90)
    nets = [net]
    for k in (1, 2):
        m = __import__("copy").deepcopy(net)
        with torch.no_grad():
            for p in m.parameters():
                p.mul_(1 + 0.3 * k).add_(0.05 * k)
        nets.append(m)
    run = TrainedRun(config=None, model=nets[-1], history=[], checkpoints={e: m.state_dict() for e, m in enumerate(nets)})
    curve, s = followups.selectivity_through_training(run, (x, y), ["hidden.0", "hidden.1"], 3, fraction=0.25,
                                                      repetitions=3)
    a, b = followups.halves(y, 0)
    si = lambda m, idx: float(selectivity_table(m, (x[idx], y[idx]), ["hidden.0", "hidden.1"], 3).selectivity.mean())
    peak = max((1, 2), key=lambda e: si(nets[e], a))
    assert s["peak_epoch"] == peak and s["last_epoch"] == 2
    assert s["rise_fall"] == pytest.approx(si(nets[peak], b) - si(nets[2], b))
    assert set(curve.half) == {"A", "B"} and len(curve) == 6
    assert s["early_minus_late"] == pytest.approx(s["excess_early"] - s["excess_late"])


def test_correlation_difference_of_two_predictors():
    rng = torch.Generator().manual_seed(0)
    y = torch.randn(20, generator=rng).numpy()
    x1 = y + 0.3 * torch.randn(20, generator=rng).numpy()
    r = stats.correlation_difference(x1, x1, y)
    assert r["estimate"] == 0 and r["ci_low"] == r["ci_high"] == 0  # the same predictor: no difference at all
    r = stats.correlation_difference(x1, -x1, y)
    assert r["estimate"] == pytest.approx(2 * r["rho_1"]) and r["ci_low"] < r["estimate"] < r["ci_high"]
    assert stats.correlation_difference(x1[:3], x1[:3], y[:3])["ci_low"] != stats.correlation_difference(x1[:3], x1[:3], y[:3])["ci_low"]


def test_correlation_difference_keeps_its_coverage_over_simulated_runs():
    import numpy as np

    rng = np.random.default_rng(1)
    cov = np.array([[1, 0.4, 0.6], [0.4, 1, 0.6], [0.6, 0.6, 1]])  # equal true correlations: difference 0
    hits = [(lambda r: r["ci_low"] <= 0 <= r["ci_high"])(stats.correlation_difference(*rng.multivariate_normal(
        np.zeros(3), cov, 12).T)) for _ in range(200)]
    assert np.mean(hits) >= 0.9
