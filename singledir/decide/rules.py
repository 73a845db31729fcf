"""The rules that decide a claim's parts: a range of a statistic that agrees with the paper, and
the routes by which a 95% interval decides it.

A :class:`Rule` is a range ``(low, high)``. A **claim of direction** (one boundary, at zero: the
paper's side is above it or below it) has two routes, each a test that inverts the same interval:

* **reproduced** ("paper's side of 0"): the interval lies wholly on the paper's side of zero;
* **contradicted** when the interval excludes every effect at least as large as the part's
  smallest effect of interest on the paper's side (a one-sided test at that effect, as in
  equivalence testing): "opposite sign" when it lies wholly on the other side of zero (noted
  "within E of 0" when the contradicting effect is itself smaller than the effect of interest),
  "smaller than E" otherwise; an interval between 0 and E decides against the paper too: the
  effect is on its side, but too small to be the one it reports.

A **band** (a claim of no relation, or of two things alike) is reproduced inside it and
contradicted wholly outside; a **margin** (at most one point worse) likewise on either side of its
one boundary. Neither is decided otherwise: *inconclusive*.

The thresholds the rules use (stated once here, printed in chapter 1):

* ``NO_RELATION_BAND = 0.3``: |rho| below 0.3 is "no relation" or "a poor predictor" (a weak
  correlation explains under 9% of the rank variance), two-sided: a strong negative correlation
  is a good predictor, not a poor one; ``SENSITIVITY_BAND = 0.2`` is shown beside it;
* ``PLATEAU_KEEPS = 0.9``: a curve is "flat up to the dropout fraction" when, with that fraction of
  units ablated, it keeps at least 90% of its intact accuracy (shown; the scored plateau compares
  dropout networks with a dropout-0 control);
* ``ALIKE_BAND = 0.05``: two normalized AUCs are "alike" when they differ by less than 0.05 (a
  twentieth of the largest possible area);
* ``TIMING_FACTOR = 2``: the AUC peaks "at the same point" as the test-loss minimum when the two
  epochs are within a factor of 2 (|log2 ratio| < 1);
* ``HIGH_SELECTIVITY = 0.5``: a unit is highly selective when its preferred class drives it at
  least three times as strongly as the mean of the others (SI = (3 - 1) / (3 + 1));
* ``FITS_TRAINING_SET = 0.99``: a network has fit its training set at 99% training accuracy;
* ``ACCURACY_MARGIN = 0.01``: a change of test accuracy is "no cost" inside (-0.01, +0.01), and one
  choice is "as good as" another when it is at most 0.01 worse (chapter 8);
* ``MIN_REPLICATES = 3``: a part with fewer replicates, or an interval of zero width, is a
  description and never decides.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from . import stats

NO_RELATION_BAND = 0.3
SENSITIVITY_BAND = 0.2
PLATEAU_KEEPS = 0.9
ALIKE_BAND = 0.05
TIMING_FACTOR = 2.0
HIGH_SELECTIVITY = 0.5
FITS_TRAINING_SET = 0.99
ACCURACY_MARGIN = 0.01  # F2, F5: "no cost", "as good as": within one point of test accuracy
ALPHA = 0.05  # family-wise error rate of the headline verdicts (Holm over the primary parts)
MIN_REPLICATES = 3  # fewer replicates, or an interval of zero width: the part is a description, not a decision
# The smallest effect that would matter (the power table), written before any run of
# params/decisive.yml: the paper's own effect where it gives one (EFFECTS), else these defaults.
CORRELATION_OF_INTEREST = 0.3  # |rho| over networks or settings: 9% of the rank variance
DIFFERENCE_OF_INTEREST = 0.05  # a (normalized) AUC or accuracy: a twentieth of its range


@dataclass(frozen=True)
class Rule:
    """The range ``(low, high)`` of a statistic that agrees with the paper."""

    low: float = -math.inf
    high: float = math.inf
    text: str = ""  # the rule in words

    @property
    def is_band(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def sign(self) -> int:
        """+1 or -1 for a claim of direction (one boundary, at zero; the paper's side above or below
        it), 0 for a band or a margin other than zero."""
        if math.isfinite(self.low) and math.isinf(self.high) and self.low == 0:
            return 1
        if math.isinf(self.low) and math.isfinite(self.high) and self.high == 0:
            return -1
        return 0

    def verdict(self, ci_low: float, ci_high: float, effect: float = math.nan) -> str:
        """The 95% verdict of an interval (see :meth:`decide`)."""
        return self._route(ci_low, ci_high, effect)[0]

    def _route(self, ci_low: float, ci_high: float, effect: float) -> tuple[str, str]:
        """``(verdict, route)`` of an interval: which way it decides the part, and by which route."""
        if not (math.isfinite(ci_low) and math.isfinite(ci_high)):
            return "inconclusive", ""
        lo, hi = sorted((ci_low, ci_high))
        if self.sign and math.isfinite(effect) and effect > 0:
            a, b = sorted((self.sign * lo, self.sign * hi))  # the interval on the paper's side, positive
            if b < 0:
                return "contradicted", "opposite sign" + (f", within {effect:g} of 0" if a > -effect else "")
            if b < effect:
                return "contradicted", f"smaller than {effect:g}"
            return ("reproduced", "paper's side of 0") if a > 0 else ("inconclusive", "")
        if self.low < lo and hi < self.high:
            return "reproduced", "inside the band" if self.is_band else "paper's side of " + f"{self._edge():g}"
        if hi < self.low or lo > self.high:
            return "contradicted", "outside the band" if self.is_band else "other side of " + f"{self._edge():g}"
        return "inconclusive", ""

    def _edge(self) -> float:
        return self.low if math.isfinite(self.low) else self.high

    def decide(self, result: dict, effect: float = math.nan) -> dict:
        """The part's 95% verdict, route and deciding p-value from a :mod:`.stats` result.

        A sign rule (the paper's side of zero) has two routes: *reproduced* when the interval lies
        wholly on the paper's side of 0 and *contradicted* when it excludes every effect at least as
        large as ``effect`` on the paper's side (a one-sided test at the effect of interest, as in
        equivalence testing): "opposite sign" when it lies wholly on the other side of 0, "smaller
        than" otherwise. An interval that lies between 0 and the effect decides against the paper:
        the effect is on the paper's side but smaller than one that would matter. Each route's
        p-value inverts the same interval (the smallest alpha at which the two-sided (1 - alpha)
        interval excludes the route's boundary); the deciding p is the route that decides at 95%
        (contradicted first), else the smaller of the two. A band or a margin keeps one route each
        way, as before.

        Returns:
            ``{"verdict", "route", "p", "side"}``; ``side`` is what the p-value decides
            (``reproduced`` / ``contradicted``; ``inconclusive`` without a pivot).
        """
        verdict, route = self._route(float(result["ci_low"]), float(result["ci_high"]), effect)
        p, side = self._p_value(result, effect, verdict)
        return {"verdict": verdict, "route": route, "p": p, "side": side}

    def _p_value(self, result: dict, effect: float, verdict: str) -> tuple[float, str]:
        est = result.get("center", math.nan)
        if not math.isfinite(est):
            return 1.0, "inconclusive"
        e = float(result["estimate"])
        if self.sign and math.isfinite(effect) and effect > 0:
            routes = {}
            if self.sign * e > 0:
                routes["reproduced"] = stats.alpha_excluding(result, 0.0)
            if self.sign * e < effect:
                routes["contradicted"] = stats.alpha_excluding(result, self.sign * effect)
            if verdict in routes:
                return routes[verdict], verdict
            side = min(routes, key=routes.get)
            return routes[side], side
        return self.p_value(result)

    def p_value(self, result: dict) -> tuple[float, str]:
        """The smallest alpha at which the result's (1 - alpha) interval decides the part against the
        rule's boundaries alone, and the side it decides (``reproduced`` or ``contradicted``):
        ``(1.0, "inconclusive")`` without a pivot. Inverting the interval the verdict uses, so a 95%
        verdict is p < 0.05."""
        est = result.get("center", math.nan)
        if not math.isfinite(est):
            return 1.0, "inconclusive"
        e = float(result["estimate"])
        bounds = [b for b in (self.low, self.high) if math.isfinite(b)]
        if self.low < e < self.high:
            return max(stats.alpha_excluding(result, b) for b in bounds), "reproduced"
        nearest = self.low if e <= self.low else self.high
        return stats.alpha_excluding(result, nearest), "contradicted"

    def detectable(self, result: dict, power: float = stats.POWER) -> float:
        """What the run could detect with ``power``: for a one-sided rule the smallest effect beyond
        its boundary, for a band the narrowest band around its centre it could certify.

        For a claim of direction this sizes both routes: the "smaller than" route's test (true
        effect 0, interval excluding the effect of interest) is the mirror image of the reproducing
        one for a mean, and for a correlation easier (Fisher's z varies least at 0)."""
        if self.is_band:
            return stats.narrowest_band(result, center=(self.low + self.high) / 2, power=power)
        return stats.mde(result, boundary=self.low if math.isfinite(self.low) else self.high, power=power)

    def describe(self) -> str:
        if self.text:
            return self.text
        if math.isinf(self.low):
            return f"interval wholly below {self.high:g}"
        if math.isinf(self.high):
            return f"interval wholly above {self.low:g}"
        return f"interval wholly inside ({self.low:g}, {self.high:g})"


def band(width: float) -> Rule:
    return Rule(-width, width, text=f"interval wholly inside (-{width:g}, +{width:g})")


NEGATIVE = Rule(high=0.0, text="interval wholly below 0")
POSITIVE = Rule(low=0.0, text="interval wholly above 0")
NO_RELATION = band(NO_RELATION_BAND)
ALIKE = band(ALIKE_BAND)
ACCURACY_ALIKE = band(ACCURACY_MARGIN)
NOT_WORSE = Rule(low=-ACCURACY_MARGIN, text=f"interval wholly above -{ACCURACY_MARGIN:g}: at most "
                 f"{100 * ACCURACY_MARGIN:g} point of test accuracy worse")
SAME_POINT = Rule(-math.log2(TIMING_FACTOR), math.log2(TIMING_FACTOR),
                  text=f"interval wholly inside (-1, +1): within a factor of {TIMING_FACTOR:g}")
