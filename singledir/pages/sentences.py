"""Sentences chosen by a result: where the words of a chapter's prose depend on what a build found,
one small function here chooses them and the chapter glues its answer into the Markdown (the rest
of the sentence lives in the page). Every branch is tested (``tests/test_sentences*.py``)."""
from __future__ import annotations

import math


# chapter 8
def signed_difference(estimate: float, more: str, less: str, same: str) -> str:
    """The words for a difference whose sign the prose cannot know in advance, its size to 3
    decimals: ``more`` for a positive estimate, ``less`` for a negative one (each followed by
    ``"by SIZE"``), ``same`` where it rounds to zero; ``"MORE by n/a"`` where there is no number.

    Example: ``signed_difference(-0.05, "above chance", "below chance", "at chance")`` is
    ``"below chance by 0.050"``."""
    if not math.isfinite(estimate):
        return f"{more} by n/a"
    size = round(abs(estimate), 3)
    if size == 0:
        return same
    return f"{more if estimate > 0 else less} by {size:.3f}"


def unfit_networks(n: int) -> str:
    """F5: what the networks that never fit their training set mean for the early-stopping epochs.

    Example: ``unfit_networks(2)`` is ``"2 networks never fit their training set and give no value"``."""
    if n == 0:
        return "every network fits its training set"
    if n == 1:
        return "1 network never fits its training set and gives no value"
    return f"{n} networks never fit their training set and give no value"


def hit_vs_chance(estimate: float) -> str:
    """F1: how often the class hurt most is the preferred class, against chance.

    Example: ``hit_vs_chance(0.2333)`` is ``"above chance by 0.233"``."""
    return signed_difference(estimate, "above chance", "below chance", "at chance")


def peak_vs_end(estimate: float) -> str:
    """F6: the mean selectivity at its peak against at the end of training.

    Example: ``peak_vs_end(-0.01)`` is ``"lower than at the end by 0.010"``."""
    return signed_difference(estimate, "higher than at the end", "lower than at the end", "the same as at the end")


def early_vs_late(estimate: float) -> str:
    """F6: the selective maps' excess drop at the early checkpoint against at the last.

    Example: ``early_vs_late(0.027)`` is ``"larger early than late by 0.027"``."""
    return signed_difference(estimate, "larger early than late", "smaller early than late", "the same early and late")


def beyond_random(estimate: float) -> str:
    """F7: the chosen units' difference (memorized minus clean) against random units'.

    Example: ``beyond_random(0.344)`` is ``"exceeds the random units' by 0.344"``."""
    return signed_difference(estimate, "exceeds the random units'", "falls short of the random units'",
                             "equals the random units'")
