"""The paper's claims and the rules that decide them, written before any chapter runs.

Every claim (E1 ... E13, the book's ids for the paper's experiments) has one or more *parts*. A
part names its statistic, the unit its 95% interval resamples (networks when the claim is about
networks, units when it is about units), and a :class:`Rule`: a range of values that agrees with
the paper. A part's verdict:

* **reproduced**: the interval lies wholly inside the rule's range (the paper's side of zero, or
  inside an equivalence band for a "no relation" claim);
* **contradicted**: the interval lies wholly outside it;
* **inconclusive**: neither; the book then states the smallest effect the run could have detected.

A claim with one part takes its part's verdict; a claim whose parts disagree is **partly**
reproduced, and every part is shown. Chapters compute the statistics and call :func:`decide`;
nothing in a chapter chooses a verdict.

The thresholds a rule uses (stated once here, printed in chapter 1):

* ``NO_RELATION_BAND = 0.3``: |rho| below 0.3 is "no relation" or "a poor predictor" (a weak
  correlation explains under 9% of the rank variance);
* ``PLATEAU_KEEPS = 0.9``: a curve is "flat up to the dropout fraction" when, with that fraction of
  units ablated, it keeps at least 90% of its intact accuracy;
* ``HIGH_SELECTIVITY = 0.5``: a unit is highly selective when its preferred class drives it at
  least three times as strongly as the mean of the others (SI = (3 - 1) / (3 + 1));
* ``FITS_TRAINING_SET = 0.99``: a network has fit its training set at 99% training accuracy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

VERDICTS = ("reproduced", "contradicted", "inconclusive", "partly")
NO_RELATION_BAND = 0.3
PLATEAU_KEEPS = 0.9
HIGH_SELECTIVITY = 0.5
FITS_TRAINING_SET = 0.99


@dataclass(frozen=True)
class Rule:
    """The range ``(low, high)`` of a statistic that agrees with the paper."""

    low: float = -math.inf
    high: float = math.inf
    text: str = ""  # the rule in words

    def verdict(self, ci_low: float, ci_high: float) -> str:
        if not (math.isfinite(ci_low) and math.isfinite(ci_high)):
            return "inconclusive"
        lo, hi = sorted((ci_low, ci_high))
        if self.low < lo and hi < self.high:
            return "reproduced"
        if hi < self.low or lo > self.high:
            return "contradicted"
        return "inconclusive"

    def describe(self) -> str:
        if self.text:
            return self.text
        if math.isinf(self.low):
            return f"interval wholly below {self.high:g}"
        if math.isinf(self.high):
            return f"interval wholly above {self.low:g}"
        return f"interval wholly inside ({self.low:g}, {self.high:g})"


NEGATIVE = Rule(high=0.0, text="interval wholly below 0")
POSITIVE = Rule(low=0.0, text="interval wholly above 0")
POOR_PREDICTOR = Rule(high=NO_RELATION_BAND, text=f"interval wholly below +{NO_RELATION_BAND:g} (no substantial "
                                                  "positive relation)")
NO_RELATION = Rule(-NO_RELATION_BAND, NO_RELATION_BAND,
                   text=f"interval wholly inside (-{NO_RELATION_BAND:g}, +{NO_RELATION_BAND:g})")
FLAT = Rule(low=PLATEAU_KEEPS, text=f"interval wholly above {PLATEAU_KEEPS:g}")


@dataclass(frozen=True)
class Part:
    name: str  # "MLP", "conv net", ...
    statistic: str
    unit: str  # what the interval resamples: networks, units, settings, seeds
    rule: Rule
    paper: str = ""  # the paper's value for this part, where it gives one


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


def _setup(data, network, epochs, seeds, layers, statistic="") -> dict:
    return {"data": data, "network": network, "epochs": epochs, "seeds": seeds, "layers": layers,
            "statistic": statistic}


MLP_PAPER = "MNIST (60000)"
CIFAR = "CIFAR-10 (50000)"
CONV_PAPER = "11-layer conv net, 64-512 channels, BN"
LAST3 = "last three conv layers"

CLAIMS: dict[str, Claim] = {c.id: c for c in [
    Claim("E1", "3.1, Fig. 1", "More label corruption: cumulative ablation curves fall faster (lower AUC)",
          "curves ordered by corruption (not always perfectly)",
          (Part("MLP", "Spearman(corruption, AUC)", "networks", NEGATIVE),
           Part("conv net", "Spearman(corruption, AUC)", "networks", NEGATIVE)),
          "02_memorization", "fig-e1",
          _setup(f"{MLP_PAPER}; {CIFAR}", "MLP 512-512; " + CONV_PAPER, "640; 100", "not stated",
                 "both hidden layers; " + LAST3, "curves by corruption")),
    Claim("E2", "3.1, Fig. 2", "More label corruption: more sensitive to noise along random directions",
          "corrupted-label networks consistently more sensitive",
          (Part("MLP", "Spearman(corruption, noise robustness)", "networks", NEGATIVE),
           Part("conv net", "Spearman(corruption, noise robustness)", "networks", NEGATIVE)),
          "02_memorization", "fig-e2",
          _setup(f"{MLP_PAPER}; {CIFAR}", "MLP 512-512; " + CONV_PAPER, "640; 100", "10 runs (Fig. 2 caption)",
                 "both hidden layers; " + LAST3, "noise curves by corruption")),
    Claim("E3", "3.2, Fig. 3", "Among networks differing only in seed, better generalizers rely less on single directions",
          "5 best more robust than 5 worst; negative relation of AUC with generalization error",
          (Part("conv net", "Spearman(generalization error, AUC)", "networks", NEGATIVE),),
          "03_generalization", "fig-e3",
          _setup(CIFAR, CONV_PAPER, "100", "200", LAST3, "AUC vs generalization error")),
    Claim("E4", "3.2, Fig. 4a-b", "Through training, reliance on single directions grows as the network overfits",
          "(a) the normalized AUC starts to drop where train and test loss diverge; (b) Spearman(AUC, test loss) = -0.728",
          (Part("MLP", "normalized AUC at the end minus at the test-loss minimum", "networks", NEGATIVE,
                "AUC drops after train and test loss diverge"),
           Part("conv net", "Spearman(AUC, test loss) over checkpoints", "networks", NEGATIVE, "-0.728")),
          "03_generalization", "fig-e4",
          _setup(f"{MLP_PAPER}; {CIFAR}", "MLP 2048-2048; " + CONV_PAPER, "640; 100", "1; 1",
                 "both hidden layers; " + LAST3, "AUC over training")),
    Claim("E5", "3.2, Fig. 4c", "Across hyperparameter settings, AUC tracks test accuracy and picks good settings",
          "Spearman(AUC, test accuracy) = 0.914; AUC pick in top 1/5/10: 13%/83%/98%; gap 1 +/- 1.1%",
          (Part("settings that fit", "Spearman(AUC, test accuracy)", "settings", POSITIVE, "0.914"),),
          "03_generalization", "fig-e5",
          _setup(CIFAR, CONV_PAPER, "100", "96 settings x 2", LAST3, "AUC vs test accuracy")),
    Claim("E6", "3.3, Fig. 5a", "Dropout keeps curves flat up to about its rate; past it, corrupted-label nets fall much faster",
          "flat to the dropout fraction, then corrupted nets fall faster; true-label nets alike across rates",
          (Part("plateau", "normalized accuracy with the dropout fraction ablated", "networks", FLAT,
                "minimal loss up to the dropout fraction"),
           Part("past the plateau", "normalized AUC, true minus corrupted labels", "networks", POSITIVE,
                "corrupted nets much more sensitive")),
          "04_dropout_batchnorm", "fig-e6",
          _setup(MLP_PAPER, "MLP 2048-2048, dropout 0.1-0.3", "5000", "not stated", "both hidden layers",
                 "curves by dropout and labels")),
    Claim("E7", "3.3, Fig. 5b", "Batch-normalized conv nets are more robust to cumulative ablation",
          "BN nets consistently and substantially more robust",
          (Part("conv net", "AUC(with BN) - AUC(without BN), paired by seed", "networks", POSITIVE),),
          "04_dropout_batchnorm", "fig-e7",
          _setup(CIFAR, "11-layer conv net with and without BN", "100 each", "not stated", LAST3,
                 "curves with and without BN")),
    Claim("E8", "3.4, Fig. 6", "Batch normalization lowers units' class selectivity and raises their mutual information",
          "without BN a large fraction of highly selective maps; with BN lower selectivity, higher MI",
          (Part("selectivity", f"fraction of maps with SI >= {HIGH_SELECTIVITY:g}, BN - no BN", "networks", NEGATIVE),
           Part("information", "MI minus its shuffled-label bias, BN - no BN (bits)", "networks", POSITIVE)),
          "05_selectivity", "fig-e8",
          _setup(CIFAR, "11-layer conv net with and without BN", "100 each", "not stated", "every conv layer",
                 "distributions of SI and MI")),
    Claim("E9", "3.4, Fig. 7", "Class selectivity is a poor predictor of importance; early-layer ablations hurt more",
          "Spearman(SI, importance): MNIST MLP 0.095, CIFAR conv net -0.428 (driven by early layers); later layers no relation",
          (Part("MLP", "Spearman(SI, importance), pooled units", "units", POOR_PREDICTOR, "0.095"),
           Part("conv net", "Spearman(SI, importance), pooled units", "units", NEGATIVE, "-0.428"),
           Part("conv net, later layers", "Spearman of within-layer ranks, later half of the layers", "units",
                NO_RELATION, "no relation"),
           Part("depth", "Spearman(depth, importance), conv net", "units", NEGATIVE, "early ablations hurt more")),
          "05_selectivity", "fig-e9",
          _setup(f"{MLP_PAPER}; {CIFAR}", "MLP 128-128; " + CONV_PAPER, "640; 100", "not stated",
                 "every unit alone", "SI vs test-loss increase")),
    Claim("E10", "A.1, Fig. A1", "Ablating to the training mean is more damaging than ablating to zero",
          "mean more damaging than zero",
          (Part("conv net with BN", "AUC(zero) - AUC(mean), paired by network", "networks", POSITIVE),),
          "06_ablation_value", "fig-e10",
          _setup(CIFAR, CONV_PAPER, "100", "not stated", LAST3, "curves to zero and to the mean")),
    Claim("E11", "A.3, Fig. A2", "Class selectivity rises with depth",
          "selectivity increases with depth",
          (Part("conv net", "Spearman(depth, SI)", "units", POSITIVE),),
          "05_selectivity", "fig-e11",
          _setup(f"{CIFAR}; ImageNet", CONV_PAPER + "; ResNet-50", "100", "not stated", "every layer",
                 "SI by depth")),
    Claim("E12", "A.4, Fig. A3", "Selectivity is unrelated, or negatively related, to the filter's L1 norm",
          "no correlation (ImageNet), negative (CIFAR-10)",
          (Part("conv net", "Spearman of within-layer ranks (L1 norm, SI)", "units", POOR_PREDICTOR,
                "negative (CIFAR-10)"),),
          "05_selectivity", "fig-e11",
          _setup(f"{CIFAR}; ImageNet", CONV_PAPER + "; ResNet-50", "100", "not stated", "every conv layer",
                 "SI vs filter L1 norm")),
    Claim("E13", "A.5, Fig. A4", "Mutual information is also a poor predictor of importance",
          "qualitatively the same as selectivity",
          (Part("MLP", "Spearman of within-layer ranks (MI, importance)", "units", POOR_PREDICTOR),
           Part("conv net", "Spearman of within-layer ranks (MI, importance)", "units", POOR_PREDICTOR)),
          "05_selectivity", "fig-e13",
          _setup(f"{MLP_PAPER}; {CIFAR}", "MLP 128-128; " + CONV_PAPER, "640; 100", "not stated",
                 "every unit alone", "MI vs test-loss increase")),
]}


def claim_verdict(part_verdicts: list[str]) -> str:
    """One verdict for a claim: its parts' common verdict, or ``partly`` when they disagree."""
    if not part_verdicts:
        raise ValueError("a claim needs at least one part")
    return part_verdicts[0] if len(set(part_verdicts)) == 1 else "partly"


@dataclass
class PartResult:
    name: str
    statistic: str
    unit: str
    rule: str
    paper: str
    estimate: float
    ci_low: float
    ci_high: float
    n: int
    verdict: str
    mde: float  # smallest effect detectable with 80% power (reported when inconclusive)


def decide(claim_id: str, results: dict[str, dict]) -> tuple[str, list[PartResult]]:
    """Apply a claim's rules to its parts' results.

    Args:
        claim_id: ``"E1"`` ... ``"E13"``.
        results: ``{part name: {"estimate", "ci_low", "ci_high", "n", "mde"}}`` for every part.

    Returns:
        ``(claim verdict, [PartResult per part])``.
    """
    claim = CLAIMS[claim_id]
    names = [p.name for p in claim.parts]
    if set(results) != set(names):
        raise ValueError(f"{claim_id} has parts {names}; results were given for {sorted(results)}")
    parts = []
    for p in claim.parts:
        r = results[p.name]
        v = p.rule.verdict(float(r["ci_low"]), float(r["ci_high"]))
        parts.append(PartResult(p.name, p.statistic, p.unit, p.rule.describe(), p.paper, float(r["estimate"]),
                                float(r["ci_low"]), float(r["ci_high"]), int(r.get("n", 0)), v,
                                float(r.get("mde", float("nan")))))
    return claim_verdict([p.verdict for p in parts]), parts


def rules_table() -> pd.DataFrame:
    """Every claim's parts and rules, one row per part: the table chapter 1 prints."""
    return pd.DataFrame([{"id": c.id, "section": c.section, "claim": c.claim, "part": p.name,
                          "statistic": p.statistic, "resampled": p.unit, "reproduced when": p.rule.describe(),
                          "paper": p.paper or c.paper}
                         for c in CLAIMS.values() for p in c.parts])
