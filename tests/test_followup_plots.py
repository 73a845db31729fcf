"""Chapter 8's figures (singledir.pages.followup_plots) drawn from small hand-made tables: every
panel labelled, legible in the book's column, one figure per call."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from singledir.pages import followup_plots, plots

RNG = np.random.default_rng(0)
UNITS = pd.DataFrame({"net": ["conv net"] * 6 + ["MLP"] * 6, "run": ["c0"] * 6 + ["m0"] * 6,
                      "layer": ["a", "a", "b", "b", "c", "c"] * 2, "depth": [0, 0, 1, 1, 2, 2] * 2,
                      "selectivity": RNG.random(12), "max_drop": RNG.random(12) / 5, "overall_drop": RNG.random(12) / 50,
                      "imp_zero": RNG.random(12) / 100, "imp_mean": RNG.random(12) / 100, "imp_opt": RNG.random(12) / 200})
ALPHAS = pd.DataFrame([{"net": net, "seed": s, "alpha": a, "test_acc": 0.9 - 0.01 * a + 0.001 * s, "si": 0.4 + 0.1 * a}
                       for net in ("MLP", "conv net") for s in (0, 1) for a in (-1.0, 0.0, 1.0)])
WIDE = pd.DataFrame([{"net": net, "run": f"{net} 0", "layer": l, "score": sc, "desc_minus_random": -0.1,
                      "asc_minus_random": 0.05} for net in ("MLP", "conv net") for l in ("a", "b")
                     for sc in ("selectivity", "information")])
CURVES6 = pd.DataFrame([{"seed": s, "epoch": e, "half": h, "mean_si": 0.3 + 0.05 * (e == 1) + 0.01 * s}
                        for s in (0, 1, 2) for e in (0, 1, 4, 16) for h in ("A", "B")])
SUMMARY6 = pd.DataFrame({"seed": [0, 1, 2], "excess_early": [0.05, 0.03, 0.04], "excess_late": [0.01, 0.0, 0.02]})
MEMO7 = pd.DataFrame([{"net": net, "drop_memorized": 0.5, "drop_clean": 0.05, "random_memorized": 0.1 + 0.01 * s,
                       "random_clean": 0.02} for net in ("MLP", "conv net") for s in (0, 1)])
PAIRS8 = pd.DataFrame([{"networks": n, "disagreement": 0.05 + 0.01 * i, "test_error": 0.06 + 0.012 * i, "auc": 0.8 - 0.01 * i}
                       for n in ("E3: seed pairs", "E5: settings") for i in range(4)])
CHOICES = pd.DataFrame([{"decision": d, "test_acc_auc": 0.8, "test_acc_val": 0.82, "test_acc_chance": 0.7,
                         "test_acc_best": 0.85} for d in ("epoch, MLP", "epoch, conv net", "setting") for _ in range(2)])


@pytest.mark.parametrize("draw", [lambda: followup_plots.class_damage(UNITS),
                                  lambda: followup_plots.alpha_sweep(ALPHAS, 0.01),
                                  lambda: followup_plots.ablation_values(UNITS),
                                  lambda: followup_plots.ordered_aucs(WIDE),
                                  lambda: followup_plots.choices(CHOICES),
                                  lambda: followup_plots.selectivity_over_training(CURVES6, SUMMARY6),
                                  lambda: followup_plots.memorization(MEMO7),
                                  lambda: followup_plots.disagreement(PAIRS8)],
                         ids=["class_damage", "alpha_sweep", "ablation_values", "ordered_aucs", "choices",
                              "selectivity_over_training", "memorization", "disagreement"])
def test_each_figure_is_labelled_and_legible_in_the_column(draw):
    before = set(plt.get_fignums())
    fig = draw()
    assert set(plt.get_fignums()) - before == {fig.number}  # one figure, nothing else left open
    assert fig.get_size_inches()[0] <= plots.COLUMN_INCHES + 1e-9
    assert plots.smallest_text_px(fig) >= plots.MIN_TEXT_PX
    for ax in fig.axes:
        assert ax.get_ylabel(), "every panel names its y axis"
    plt.close(fig)


def test_the_alpha_sweep_shades_the_margin_around_alpha_zero():
    fig = followup_plots.alpha_sweep(ALPHAS, 0.01)
    spans = [p for p in fig.axes[0].patches if p.get_height() == pytest.approx(0.02)]
    assert len(spans) == 2  # one band per kind of network, 2 x margin high
    plt.close(fig)
