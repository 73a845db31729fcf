"""The paper's claims and the rules that decide them, written before any chapter runs.

Every claim (E1 ... E13, the book's ids for the paper's experiments) has one or more *parts*. A
part names its statistic, the unit of replication its 95% interval is taken over (networks, seeds
or settings: never the units of a few networks, which are not independent), and a :class:`Rule`:
a range of values that agrees with the paper. A part's verdict:

* **reproduced**: the interval lies wholly inside the rule's range (the paper's side of zero, or
  inside an equivalence band for a "no relation" claim);
* **contradicted**: the interval lies wholly outside it or, for a claim of direction, excludes
  every effect at least as large as the part's effect of interest on the paper's side (the routes
  of :mod:`singledir.decide.rules`);
* **inconclusive**: neither; the book then states what the run could have detected (the smallest
  effect beyond the boundary, or for a band the narrowest band it could certify, at 80% power);
* **description**: fewer than three replicates, or no spread: the part decides nothing.

Each claim names one *primary* part. The claim's headline verdict is its primary part's verdict
with Holm's correction over its family's primary parts
(:func:`singledir.decide.verdicts.headline_verdicts`); the other parts are secondary and
gatekept behind it (:func:`singledir.decide.verdicts.corrected_verdicts`). Chapters compute
the statistics and call :func:`singledir.decide.verdicts.decide`; nothing in a chapter
chooses a verdict.

The rules, their routes and the thresholds they use are in :mod:`singledir.decide.rules`;
every part's smallest effect of interest is in :data:`EFFECTS` below, with its reason.

Claims F1 ... F8 test later publications on the same networks (chapter 8, "after the paper"); they
are a family of their own: Holm's correction runs over E1-E13's primary parts and, separately,
over F1-F8's. F6-F8 add ``SELECTIVE_FRACTION``, ``MEMORIZING_FRACTION`` and ``PREDICTS_AS_WELL`` (below).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .rules import (ACCURACY_ALIKE, ACCURACY_MARGIN, ALIKE, ALIKE_BAND, ALPHA, CORRELATION_OF_INTEREST,
                    DIFFERENCE_OF_INTEREST, FITS_TRAINING_SET, HIGH_SELECTIVITY, MIN_REPLICATES, NEGATIVE,
                    NO_RELATION, NO_RELATION_BAND, NOT_WORSE, PLATEAU_KEEPS, POSITIVE, SAME_POINT,
                    SENSITIVITY_BAND, TIMING_FACTOR, Rule, band)

__all__ = ["ACCURACY_ALIKE", "ACCURACY_MARGIN", "ALIKE", "ALIKE_BAND", "ALPHA", "CORRELATION_OF_INTEREST",
           "DIFFERENCE_OF_INTEREST", "FITS_TRAINING_SET", "HIGH_SELECTIVITY", "MIN_REPLICATES", "NEGATIVE",
           "NO_RELATION", "NO_RELATION_BAND", "NOT_WORSE", "PLATEAU_KEEPS", "POSITIVE", "SAME_POINT",
           "SENSITIVITY_BAND", "TIMING_FACTOR", "Rule", "band", "Part", "Claim", "CLAIMS", "EFFECTS"]


@dataclass(frozen=True)
class Part:
    name: str  # "MLP", "conv net", ...
    statistic: str
    unit: str  # the unit of replication the interval is taken over: networks, seeds, settings
    rule: Rule
    paper: str = ""  # the paper's value for this part, where it gives one
    primary: bool = False  # the part that decides the claim's headline verdict


@dataclass(frozen=True)
class Claim:
    id: str
    section: str
    claim: str  # the paper's claim, in this book's words
    paper: str  # the paper's result as it states it
    parts: tuple[Part, ...]
    chapter: str
    figure: str
    paper_setup: dict = field(default_factory=dict)  # what the paper ran (the scale table)

    @property
    def primary(self) -> Part:
        return next(p for p in self.parts if p.primary)


def _setup(data, network, epochs, seeds, layers, statistic="") -> dict:
    return {"data": data, "network": network, "epochs": epochs, "seeds": seeds, "layers": layers,
            "statistic": statistic}


MLP_PAPER = "MNIST (60000)"
CIFAR = "CIFAR-10 (50000)"
CONV_PAPER = "11-layer conv net, 64-512 channels, BN"
LAST3 = "last three conv layers"
WITHIN = "mean over layers of the within-layer Spearman"
EPOCHS = ("test accuracy at the checkpoint early stopping on the normalized AUC picks minus the one early stopping "
          "on the validation loss picks, same patience, among the checkpoints from the one that fits the training set")
GAP = ("mean over units of the test-loss gap with the optimal constant minus with {}, over the intact test "
       "loss (one constant per unit, each fitted and chosen on the same training images)")

CLAIMS: dict[str, Claim] = {c.id: c for c in [
    Claim("E1", "3.1, Fig. 1", "More label corruption: cumulative ablation curves fall faster (lower AUC)",
          "curves ordered by corruption (not always perfectly)",
          (Part("MLP", "Spearman(corruption, normalized AUC)", "networks", NEGATIVE, primary=True),
           Part("conv net", "Spearman(corruption, normalized AUC)", "networks", NEGATIVE)),
          "02_memorization", "fig-e1",
          _setup(f"{MLP_PAPER}; {CIFAR}", "MLP 512-512; " + CONV_PAPER, "640; 100", "not stated",
                 "both hidden layers; " + LAST3, "curves by corruption")),
    Claim("E2", "3.1, Fig. 2", "More label corruption: more sensitive to noise along random directions",
          "corrupted-label networks consistently more sensitive",
          (Part("MLP", "Spearman(corruption, normalized noise robustness)", "networks", NEGATIVE, primary=True),
           Part("conv net", "Spearman(corruption, normalized noise robustness)", "networks", NEGATIVE)),
          "02_memorization", "fig-e2",
          _setup(f"{MLP_PAPER}; {CIFAR}", "MLP 512-512; " + CONV_PAPER, "640; 100", "10 runs (Fig. 2 caption)",
                 "both hidden layers; " + LAST3, "noise curves by corruption")),
    Claim("E3", "3.2, Fig. 3", "Among networks differing only in seed, better generalizers rely less on single directions",
          "5 best more robust than 5 worst; negative relation of AUC with generalization error",
          (Part("conv net", "Spearman(generalization error, AUC) given training accuracy", "networks", NEGATIVE,
                primary=True),),
          "03_generalization", "fig-e3",
          _setup(CIFAR, CONV_PAPER, "100", "200", LAST3, "AUC vs generalization error")),
    Claim("E4", "3.2, Fig. 4a-b", "Through training, reliance on single directions grows as the network overfits",
          "(a) the normalized AUC starts to drop where train and test loss diverge; (b) Spearman(AUC, test loss) = -0.728",
          (Part("MLP", "normalized AUC at the end minus at the test-loss minimum", "networks", NEGATIVE,
                "AUC drops after train and test loss diverge"),
           Part("MLP, timing", "log2(epoch of the normalized-AUC peak / epoch of the test-loss minimum)", "networks",
                SAME_POINT, "the AUC starts to drop at the point of divergence"),
           Part("conv net, after fitting",
                "Spearman(normalized AUC, test loss) over checkpoints from the one at which the network fits its "
                "training set", "networks", NEGATIVE, "-0.728 (over all checkpoints)", primary=True)),
          "03_generalization", "fig-e4",
          _setup(f"{MLP_PAPER}; {CIFAR}", "MLP 2048-2048; " + CONV_PAPER, "640; 100", "1; 1",
                 "both hidden layers; " + LAST3, "AUC over training")),
    Claim("E5", "3.2, Fig. 4c", "Across hyperparameter settings, AUC tracks test accuracy and picks good settings",
          "Spearman(AUC, test accuracy) = 0.914; AUC pick in top 1/5/10: 13%/83%/98%; gap 1 +/- 1.1%",
          (Part("settings that fit", "Spearman(AUC, test accuracy)", "settings", POSITIVE, "0.914", primary=True),
           Part("every setting, given training accuracy", "Spearman(AUC, test accuracy) given training accuracy",
                "settings", POSITIVE)),
          "03_generalization", "fig-e5",
          _setup(CIFAR, CONV_PAPER, "100", "96 settings x 2", LAST3, "AUC vs test accuracy")),
    Claim("E6", "3.3, Fig. 5a", "Dropout keeps curves flat up to about its rate; past it, corrupted-label nets fall much faster",
          "flat to the dropout fraction, then corrupted nets fall faster; true-label nets alike across rates",
          (Part("plateau", "corrupted labels: normalized accuracy at the fraction p, dropout p minus dropout 0, "
                "paired by seed", "seeds", POSITIVE, "minimal loss up to the dropout fraction", primary=True),
           Part("past the plateau", "normalized area on [p, 1], true minus corrupted labels, paired by rate and seed",
                "networks", POSITIVE, "corrupted nets much more sensitive"),
           Part("true labels alike", "true labels: normalized AUC, largest minus smallest dropout rate, paired by seed",
                "seeds", ALIKE, "true-label nets similarly robust across rates")),
          "04_dropout_batchnorm", "fig-e6",
          _setup(MLP_PAPER, "MLP 2048-2048, dropout 0.1-0.3", "5000", "not stated", "both hidden layers",
                 "curves by dropout and labels")),
    Claim("E7", "3.3, Fig. 5b", "Batch-normalized conv nets are more robust to cumulative ablation",
          "BN nets consistently and substantially more robust",
          (Part("conv net", "normalized AUC over live maps, with BN - without BN, paired by seed", "networks",
                POSITIVE, primary=True),),
          "04_dropout_batchnorm", "fig-e7",
          _setup(CIFAR, "11-layer conv net with and without BN", "100 each", "not stated", LAST3,
                 "curves with and without BN")),
    Claim("E8", "3.4, Fig. 6", "Batch normalization lowers units' class selectivity and raises their mutual information",
          "without BN a large fraction of highly selective maps; with BN lower selectivity, higher MI",
          (Part("selectivity", f"fraction of maps with SI >= {HIGH_SELECTIVITY:g}, BN - no BN, paired by seed",
                "networks", NEGATIVE, primary=True),
           Part("information", "MI minus its shuffled-label bias, BN - no BN (bits), paired by seed", "networks",
                POSITIVE)),
          "05_selectivity", "fig-e8",
          _setup(CIFAR, "11-layer conv net with and without BN", "100 each", "not stated", "every conv layer",
                 "distributions of SI and MI")),
    Claim("E9", "3.4, Fig. 7", "Class selectivity is a poor predictor of importance; early-layer ablations hurt more",
          "Spearman(SI, importance): MNIST MLP 0.095, CIFAR conv net -0.428 (driven by early layers); later layers no relation",
          (Part("MLP", f"{WITHIN}(SI, importance)", "networks", NO_RELATION, "0.095 (pooled units)", primary=True),
           Part("conv net, early layers", f"{WITHIN}(SI, importance), first half of the layers", "networks",
                NEGATIVE, "-0.428 (pooled units), driven by the early layers"),
           Part("conv net, later layers", f"{WITHIN}(SI, importance), later half of the layers", "networks",
                NO_RELATION, "no relation"),
           Part("depth", "Spearman(depth, importance) within each conv net", "networks", NEGATIVE,
                "early ablations hurt more")),
          "05_selectivity", "fig-e9",
          _setup(f"{MLP_PAPER}; {CIFAR}", "MLP 128-128; " + CONV_PAPER, "640; 100", "not stated",
                 "every unit alone", "SI vs test-loss increase")),
    Claim("E10", "A.1, Fig. A1", "Ablating to the training mean is more damaging than ablating to zero",
          "mean more damaging than zero",
          (Part("conv net with BN", "AUC(zero) - AUC(mean), paired by network", "networks", POSITIVE, primary=True),),
          "06_ablation_value", "fig-e10",
          _setup(CIFAR, CONV_PAPER, "100", "not stated", LAST3, "curves to zero and to the mean")),
    Claim("E11", "A.3, Fig. A2", "Class selectivity rises with depth",
          "selectivity increases with depth",
          (Part("conv net", "Spearman(depth, SI) within each network", "networks", POSITIVE, primary=True),),
          "05_selectivity", "fig-e11",
          _setup(f"{CIFAR}; ImageNet", CONV_PAPER + "; ResNet-50", "100", "not stated", "every layer",
                 "SI by depth")),
    Claim("E12", "A.4, Fig. A3", "Selectivity is unrelated, or negatively related, to the filter's L1 norm",
          "no correlation (ImageNet), negative (CIFAR-10)",
          (Part("conv net", f"{WITHIN}(L1 norm, SI)", "networks", NEGATIVE, "negative (CIFAR-10)", primary=True),),
          "05_selectivity", "fig-e11",
          _setup(f"{CIFAR}; ImageNet", CONV_PAPER + "; ResNet-50", "100", "not stated", "every conv layer",
                 "SI vs filter L1 norm")),
    Claim("E13", "A.5, Fig. A4", "Mutual information is also a poor predictor of importance",
          "qualitatively the same as selectivity",
          (Part("MLP", f"{WITHIN}(MI, importance)", "networks", NO_RELATION, primary=True),
           Part("conv net", f"{WITHIN}(MI, importance)", "networks", NO_RELATION)),
          "05_selectivity", "fig-e13",
          _setup(f"{MLP_PAPER}; {CIFAR}", "MLP 128-128; " + CONV_PAPER, "640; 100", "not stated",
                 "every unit alone", "MI vs test-loss increase")),
    # After the paper: later publications' claims, tested on this book's networks (chapter 8)
    Claim("F1", "Zhou et al. 2018", "One unit's ablation barely moves overall accuracy but can cut single classes; "
          "selectivity predicts that per-class damage",
          "class selectivity a poor predictor of overall damage, a good predictor of a unit's damage to single classes",
          (Part("conv net", f"{WITHIN}(SI, largest per-class accuracy drop)", "networks", POSITIVE,
                "a good predictor (AlexNet, VGG-16; no single number)", primary=True),
           Part("MLP", f"{WITHIN}(SI, largest per-class accuracy drop)", "networks", POSITIVE),
           Part("preferred class", "conv net: fraction of units whose largest drop falls on their preferred class, "
                "minus chance (1 / classes)", "networks", POSITIVE, "units specialized for a subset of classes")),
          "08_after_the_paper", "fig-f1",
          _setup("ImageNet; Places365", "AlexNet; VGG-16; ResNet-152", "not stated", "1 each", "every conv layer",
                 "per-class accuracy drop vs unit attributes")),
    Claim("F2", "Leavitt & Morcos 2021", "Regularizing selectivity down costs no test accuracy; regularizing it up costs some",
          "ResNet20 / CIFAR-10: selectivity cut 2.5x at no cost in test accuracy; raising selectivity lowered "
          "test accuracy in every model tested",
          (Part("MLP, lowering", "test accuracy, mean over the lowering alphas minus alpha 0, paired by seed", "seeds",
                ACCURACY_ALIKE, "no cost (selectivity cut 2.5x)", primary=True),
           Part("MLP, raising", "slope of test accuracy on alpha over alpha >= 0, per seed", "seeds", NEGATIVE,
                "accuracy falls"),
           Part("MLP, selectivity moved", "Spearman(alpha, mean SI of the hidden units) within each seed", "seeds",
                POSITIVE, "alpha moves selectivity"),
           Part("conv net, lowering", "test accuracy, mean over the lowering alphas minus alpha 0, paired by seed",
                "seeds", ACCURACY_ALIKE, "no cost"),
           Part("conv net, raising", "slope of test accuracy on alpha over alpha >= 0, per seed", "seeds", NEGATIVE,
                "accuracy falls"),
           Part("conv net, selectivity moved", "Spearman(alpha, mean SI of the maps) within each seed", "seeds",
                POSITIVE, "alpha moves selectivity")),
          "08_after_the_paper", "fig-f2",
          _setup("CIFAR-10; Tiny ImageNet", "ResNet18, ResNet20, ResNet50", "not stated", "5 per alpha",
                 "every hidden layer", "test accuracy vs alpha")),
    Claim("F3", "Li & Janson 2024", "Zero and mean ablation overstate importance: the loss-minimizing constant costs less",
          "optimal ablation's loss gap is below zero, mean and resample ablation's",
          (Part("conv net with BN, against the mean", GAP.format("the unit's mean"), "networks", NEGATIVE,
                "lower than mean ablation's", primary=True),
           Part("conv net with BN, against zero", GAP.format("zero"), "networks", NEGATIVE, "lower than zero's"),
           Part("MLP, against the mean", GAP.format("the unit's mean"), "networks", NEGATIVE,
                "lower than mean ablation's"),
           Part("MLP, against zero", GAP.format("zero"), "networks", NEGATIVE, "lower than zero's")),
          "08_after_the_paper", "fig-f3",
          _setup("language and vision tasks", "GPT-2, vision transformers, others", "pretrained", "not stated",
                 "components one at a time", "loss gap under ablation")),
    Claim("F4", "Amjad et al. 2022", "Within a layer, ablating the most selective or informative units first hurts more "
          "than a random order",
          "within a layer, MI and selectivity relate positively to importance in ReLU networks; across layers they mislead",
          (Part("MLP, selectivity", "layer's ablation AUC, descending SI minus random orders, mean over layers",
                "networks", NEGATIVE, "most selective first hurts more", primary=True),
           Part("MLP, information", "layer's ablation AUC, descending MI minus random orders, mean over layers",
                "networks", NEGATIVE, "most informative first hurts more"),
           Part("conv net, selectivity", "layer's ablation AUC, descending SI minus random orders, mean over layers",
                "networks", NEGATIVE)),
          "08_after_the_paper", "fig-f4",
          _setup("MNIST; Fashion-MNIST; CIFAR-10", "fully connected ReLU nets", "not stated", "not stated",
                 "each hidden layer alone", "cumulative ablation by order")),
    Claim("F5", "this book", "The AUC's picks of E4 and E5 hold up when a validation split, not the test set, is the yardstick",
          "the paper locates the test-loss minimum and ranks settings on the test set; no validation split",
          (Part("epoch, MLP", EPOCHS, "networks", NOT_WORSE, "as good as stopping on held-out loss", primary=True),
           Part("epoch, conv net", EPOCHS, "networks", NOT_WORSE),
           Part("setting", "test accuracy of the setting the AUC ranks first minus the one validation accuracy ranks "
                "first", "seeds", NOT_WORSE, "AUC pick in the top 5 of 96 settings 83% of the time")),
          "08_after_the_paper", "fig-f5",
          _setup(CIFAR, CONV_PAPER, "100", "96 settings x 2", LAST3, "test set used to choose")),
]}


# After the paper, part two: later work that tests the paper's two proposals (memorization; choosing without a test set)
SELECTIVE_FRACTION = 0.25  # F6: share of a layer's live maps ablated as "the most selective" (at least one)
MEMORIZING_FRACTION = 0.01  # F7: share of a network's units ablated as "the memorizing units" (at least one)
PREDICTS_AS_WELL = 0.1  # F8: a predictor's rho "as good as" another's when at most 0.1 below it
AS_WELL = Rule(low=-PREDICTS_AS_WELL, text=f"interval wholly above -{PREDICTS_AS_WELL:g}: at most that below the AUC's")
EARLY = "the checkpoint of highest mean selectivity, chosen on half of the test images and measured on the other half"
MEMO = (f"training accuracy drop, held-apart memorized minus clean examples, ablating the {100 * MEMORIZING_FRACTION:g}% "
        "of units costliest to the other memorized half beyond the other clean half")
DISAGREE = "Spearman(disagreement, test error) minus Spearman(AUC, test accuracy)"
CLAIMS.update({c.id: c for c in [
    Claim("F6", "Ranadive et al. 2023", "Class selectivity rises early in training, then recedes; the most selective "
          "maps matter more early than at the end",
          "ResNet-50 / ImageNet: class-selective units emerge in the first few epochs and recede; ablating them "
          "hurts early in training, barely at the end",
          (Part("rise and fall", f"mean SI of the conv maps at {EARLY}, minus at the last checkpoint", "networks",
                POSITIVE, "selectivity peaks in the first epochs, then recedes", primary=True),
           Part("ablation, early vs late", f"accuracy drop from ablating each layer's {100 * SELECTIVE_FRACTION:g}% "
                "most selective maps minus as many random maps, at the early checkpoint minus at the last, paired "
                "by network", "networks", POSITIVE, "selective units matter early, barely late")),
          "08_after_the_paper", "fig-f6",
          _setup("ImageNet", "ResNet-50", "not stated", "not stated", "intermediate layers", "SI and ablation over training")),
    Claim("F7", "Maini et al. 2023", "Memorized mislabeled examples depend on a few units: removing them costs those "
          "examples far more than the correctly labeled ones",
          "a small set of units, spread over the layers, holds the memorized examples; removing them flips most "
          "memorized examples while clean accuracy barely moves",
          (Part("MLP", MEMO, "networks", POSITIVE, "memorized examples lost, clean ones kept", primary=True),
           Part("conv net", MEMO, "networks", POSITIVE),
           Part("MLP, beyond random units", "that difference minus the same difference for as many random units, "
                "paired by network", "networks", POSITIVE, "memorization localized in particular units")),
          "08_after_the_paper", "fig-f7",
          _setup("CIFAR-10; MNIST; SVHN (label noise)", "ResNet-9 and others", "not stated", "not stated", "every layer",
                 "accuracy on mislabeled vs clean examples")),
    Claim("F8", "Jiang et al. 2022", "Two seeds' disagreement on unlabeled images tracks their test error at least "
          "as well as the AUC tracks test accuracy",
          "disagreement on unlabeled test data approximates test error across architectures and hyperparameters",
          (Part("settings, vs the AUC", f"{DISAGREE}, over E5's settings (a pair = the setting's two seeds), jackknife "
                "interval over settings", "settings", AS_WELL, "disagreement a good test-free predictor", primary=True),
           Part("seeds, vs the AUC", f"{DISAGREE}, over E3's seed pairs, jackknife interval over pairs", "seed pairs", AS_WELL),
           Part("settings", "Spearman(disagreement, test error) over E5's settings", "settings", POSITIVE,
                "disagreement tracks test error"),
           Part("seeds", "Spearman(disagreement, test error) over E3's seed pairs", "seed pairs", POSITIVE)),
          "08_after_the_paper", "fig-f8",
          _setup("CIFAR-10; CIFAR-100; SVHN", "ResNet-18, CNNs", "varied", "pairs of seeds", "outputs", "disagreement vs error")),
]})


RHO = (CORRELATION_OF_INTEREST, "a rank correlation that explains 9% of the rank variance")
AUC = (DIFFERENCE_OF_INTEREST, "a twentieth of a normalized AUC's range")
F3_GAP = (0.01, "a hundredth of the network's intact test loss in one unit's loss gap")
# Every part's smallest effect of interest and why, written before the confirmatory build. It sizes
# the power table and, for a claim of direction, is the boundary of the "smaller than" route. Where
# the paper gives a number it is not the effect of interest: a replication whose true effect is
# somewhat smaller than a published estimate has not contradicted it ("small telescopes": what the
# original design could just detect is the floor; each such floor lies below 0.3 here: E5's 192
# settings detect |rho| = 0.11 with 33% power, E4(b)'s one network over about 20 checkpoints 0.35,
# E9's pooled units far less), so a correlation's effect of interest is 0.3 throughout.
EFFECTS: dict[tuple[str, str], tuple[float, str]] = {
    ("E1", "MLP"): RHO, ("E1", "conv net"): RHO, ("E2", "MLP"): RHO, ("E2", "conv net"): RHO,
    ("E3", "conv net"): RHO,
    ("E4", "MLP"): AUC,
    ("E4", "conv net, after fitting"): (CORRELATION_OF_INTEREST, "the paper's -0.728 comes from one network; its own "
                                        "design could just detect about 0.35"),
    ("E5", "settings that fit"): (CORRELATION_OF_INTEREST, "the paper's 0.914 over 192 settings could just "
                                  "detect 0.11"),
    ("E5", "every setting, given training accuracy"): RHO,
    ("E6", "plateau"): AUC, ("E6", "past the plateau"): AUC,
    ("E7", "conv net"): AUC,
    ("E8", "selectivity"): (0.1, "one map in ten more or less highly selective"),
    ("E8", "information"): (0.05, "0.05 bits, a tenth of the corrected MI of a typical map"),
    ("E9", "conv net, early layers"): (CORRELATION_OF_INTEREST, "the paper's -0.428 pools the units of one network: "
                                       "not comparable with a mean over networks"),
    ("E9", "depth"): RHO,
    ("E10", "conv net with BN"): AUC,
    ("E11", "conv net"): RHO, ("E12", "conv net"): RHO,
    ("F1", "conv net"): RHO, ("F1", "MLP"): RHO,
    ("F1", "preferred class"): (0.05, "one unit in twenty more often on its preferred class than chance"),
    ("F2", "MLP, raising"): (0.05, "5 points of test accuracy from alpha 0 to 1"),
    ("F2", "MLP, selectivity moved"): RHO,
    ("F2", "conv net, raising"): (0.05, "5 points of test accuracy from alpha 0 to 1"),
    ("F2", "conv net, selectivity moved"): RHO,
    ("F3", "conv net with BN, against the mean"): F3_GAP, ("F3", "conv net with BN, against zero"): F3_GAP,
    ("F3", "MLP, against the mean"): F3_GAP, ("F3", "MLP, against zero"): F3_GAP,
    ("F4", "MLP, selectivity"): AUC, ("F4", "MLP, information"): AUC, ("F4", "conv net, selectivity"): AUC,
    ("F5", "epoch, MLP"): (0.02, "two points of test accuracy below the margin"),
    ("F5", "epoch, conv net"): (0.02, "two points of test accuracy below the margin"),
    ("F5", "setting"): (0.02, "two points of test accuracy below the margin"),
    ("F6", "rise and fall"): (0.05, "a twentieth of the selectivity index's range"),
    ("F6", "ablation, early vs late"): (0.02, "two points of accuracy"),
    ("F7", "MLP"): (0.1, "ten points more lost on memorized examples"),
    ("F7", "conv net"): (0.1, "ten points more lost on memorized examples"),
    ("F7", "MLP, beyond random units"): (0.05, "five points beyond what random units cost"),
    ("F8", "settings, vs the AUC"): (0.2, "a rho 0.2 below the margin"),
    ("F8", "seeds, vs the AUC"): (0.2, "a rho 0.2 below the margin"),
    ("F8", "settings"): RHO, ("F8", "seeds"): RHO,
}
