"""Chapter 8's scored parts (singledir.decide.followup_parts) on hand-built tables whose answers are
known, each checked against the statistic computed directly."""
import math

import numpy as np
import pandas as pd
import pytest

from singledir.decide import followup_parts, stats


def _units():
    """Two conv nets and one MLP, one layer each of three live units and a dead one, 4 classes.
    Conv net 0: SI and largest drop rank alike; conv net 1: the other way; the MLP alike."""
    rows = []
    for run, net, drops, hit in (("conv net 0", "conv net", [0.0, 0.2, 0.3], [1, 1, 0]),
                                 ("conv net 1", "conv net", [0.3, 0.2, 0.1], [0, 1, 1]),
                                 ("MLP 0", "MLP", [0.1, 0.4, 0.5], [0, 0, 0])):
        for u, (d, h) in enumerate(zip(drops, hit)):
            rows.append({"run": run, "net": net, "depth": 0, "unit": u, "si_status": "ok", "selectivity": 0.1 * (u + 1),
                         "max_drop": d, "overall_drop": d / 4, "preferred": u, "max_drop_class": u if h else 3,
                         "n_images": 40})
        rows.append({"run": run, "net": net, "depth": 0, "unit": 3, "si_status": "dead", "selectivity": np.nan,
                     "max_drop": 0.0, "overall_drop": 0.0, "preferred": 3, "max_drop_class": 0, "n_images": 40})
    return pd.DataFrame(rows)


def test_live_units_and_classes():
    u = _units()
    assert len(followup_parts.live_units(u)) == 9
    assert followup_parts.n_classes(u) == 4  # the dead units' preferred class counts too


def test_preferred_hits_are_the_conv_units_that_cost_some_class():
    hits = followup_parts.preferred_hits(_units())
    # conv net 0's unit 0 costs nothing and is left out; the others: hit, miss, miss, hit, hit
    assert list(zip(hits.run, hits.unit, hits.hit)) == [("conv net 0", 1, 1.0), ("conv net 0", 2, 0.0),
                                                         ("conv net 1", 0, 0.0), ("conv net 1", 1, 1.0),
                                                         ("conv net 1", 2, 1.0)]


def test_class_damage_parts():
    parts = followup_parts.class_damage(_units())
    assert list(parts) == ["conv net", "MLP", "preferred class"]
    assert parts["conv net"]["estimate"] == pytest.approx(0.0)  # +1 and -1 over two networks
    assert parts["MLP"]["estimate"] == pytest.approx(1.0) and parts["MLP"]["n"] == 1
    # per network: conv net 0 hits 1 of 2, conv net 1 hits 2 of 3; minus chance 1/4
    assert parts["preferred class"]["estimate"] == pytest.approx((1 / 2 + 2 / 3) / 2 - 1 / 4)
    assert parts["preferred class"] == stats.mean_ci(np.array([1 / 2, 2 / 3]) - 1 / 4)


def _alpha_table():
    rows = []
    for net, cost in (("MLP", 0.0), ("conv net", 0.02)):
        for seed in (0, 1, 2):
            for a in (-1.0, 0.0, 1.0):
                rows.append({"net": net, "seed": seed, "alpha": a, "si": 0.3 + 0.1 * a + 0.01 * seed,
                             "test_acc": 0.9 + 0.01 * seed - (cost if a < 0 else 0) - 0.03 * max(a, 0) * (1 + seed)})
    return pd.DataFrame(rows)


def test_alpha_sweep_parts_per_kind_of_network():
    parts = followup_parts.alpha_sweep(_alpha_table(), [-1.0, 0.0, 1.0])
    assert list(parts) == ["MLP, lowering", "MLP, raising", "MLP, selectivity moved",
                           "conv net, lowering", "conv net, raising", "conv net, selectivity moved"]
    assert parts["MLP, lowering"]["estimate"] == pytest.approx(0.0)
    assert parts["conv net, lowering"]["estimate"] == pytest.approx(-0.02)
    assert parts["MLP, raising"]["estimate"] == pytest.approx(-0.03 * (1 + 2 + 3) / 3)  # slopes -0.03, -0.06, -0.09
    assert parts["conv net, selectivity moved"]["estimate"] == pytest.approx(1.0)  # si rises with alpha in every seed


def test_ablation_values_parts():
    gaps = pd.DataFrame({"net": ["conv net", "conv net", "MLP", "MLP"], "run": ["c0", "c1", "m0", "m1"],
                         "vs_zero": [-0.1, -0.3, 0.1, 0.3], "vs_mean": [-0.2, -0.4, 0.0, 0.2]}).set_index(["net", "run"])
    parts = followup_parts.ablation_values(gaps)
    assert list(parts) == ["conv net with BN, against the mean", "conv net with BN, against zero",
                           "MLP, against the mean", "MLP, against zero"]
    assert [round(p["estimate"], 10) for p in parts.values()] == [-0.3, -0.2, 0.1, 0.2]


def _orders():
    rows = []
    for net, run in (("MLP", "MLP 0"), ("MLP", "MLP 1"), ("conv net", "conv net 0")):
        for layer in ("a", "b"):
            for score in ("selectivity", "information"):
                shift = 0.1 if layer == "a" else 0.3
                for order, auc in (("descending", 0.5 - shift), ("ascending", 0.5 + shift / 2), ("random", 0.5)):
                    rows.append({"net": net, "run": run, "layer": layer, "score": score, "order": order, "auc": auc})
    return pd.DataFrame(rows)


def test_order_differences_and_their_parts():
    wide = followup_parts.order_differences(_orders())
    assert set(wide.desc_minus_random.round(10)) == {-0.1, -0.3}
    assert set(wide.asc_minus_random.round(10)) == {0.05, 0.15}
    assert list(followup_parts.per_network_orders(wide, "MLP", "selectivity").round(10)) == [-0.2, -0.2]
    parts = followup_parts.ordered_ablation(wide)
    assert list(parts) == ["MLP, selectivity", "MLP, information", "conv net, selectivity"]
    assert parts["MLP, selectivity"]["estimate"] == pytest.approx(-0.2)
    assert parts["conv net, selectivity"]["n"] == 1


def test_choices_parts_are_paired_differences_per_decision():
    t = pd.DataFrame({"decision": ["epoch, MLP"] * 3 + ["setting"] * 2,
                      "test_acc_auc": [0.8, 0.9, 0.7, 0.5, 0.6], "test_acc_val": [0.85, 0.9, 0.8, 0.5, 0.5]})
    parts = followup_parts.choices(t)
    assert list(parts) == ["epoch, MLP", "setting"]
    assert parts["epoch, MLP"] == stats.difference([0.8, 0.9, 0.7], [0.85, 0.9, 0.8], paired=True)
    assert parts["setting"]["estimate"] == pytest.approx(0.05)


def test_training_selectivity_memorization_and_disagreement_parts():
    f6 = followup_parts.training_selectivity(pd.DataFrame({"rise_fall": [0.1, 0.3], "early_minus_late": [0.0, 0.2]}))
    assert [round(p["estimate"], 10) for p in f6.values()] == [0.2, 0.1]
    assert list(f6) == ["rise and fall", "ablation, early vs late"]
    f7 = followup_parts.memorization(pd.DataFrame({"net": ["MLP", "MLP", "conv net"], "difference": [0.2, 0.4, 0.1],
                                                   "beyond_random": [0.1, np.nan, 0.0]}))
    assert [f7[k]["estimate"] for k in ("MLP", "conv net", "MLP, beyond random units")] == pytest.approx([0.3, 0.1, 0.1])
    pairs = pd.DataFrame({"networks": ["E5: settings"] * 4 + ["E3: seed pairs"] * 4,
                          "disagreement": [0.1, 0.2, 0.3, 0.4, 0.1, 0.2, 0.3, 0.4],
                          "test_error": [0.1, 0.2, 0.3, 0.4, 0.4, 0.3, 0.2, 0.1],
                          "auc": [0.9, 0.8, 0.7, 0.6, 0.9, 0.8, 0.7, 0.6]})
    f8 = followup_parts.disagreement(pairs)
    assert list(f8) == ["settings, vs the AUC", "seeds, vs the AUC", "settings", "seeds"]
    assert f8["settings"]["estimate"] == pytest.approx(1.0) and f8["seeds"]["estimate"] == pytest.approx(-1.0)
    e5 = pairs[pairs.networks == "E5: settings"]
    expected = stats.correlation_difference(e5.disagreement, -e5.auc, e5.test_error)
    assert f8["settings, vs the AUC"]["estimate"] == expected["estimate"] or math.isnan(expected["estimate"])
