"""What a curve comes to: the areas under ablation and noise curves (the paper's section 2.2; the
book's chapter 1 states them). Pure functions of the tables :mod:`singledir.measure.perturb` returns.

* :func:`auc`: the trapezoid area of the repetition-mean accuracy over the fraction of units
  ablated, on [0, 1]; :func:`normalized_auc` divides it by the intact accuracy, :func:`normalize`
  divides a whole curve by it.
* :func:`noise_auc`: the mean accuracy over the noise scales on a log axis;
  :func:`noise_scales_problem` says why a list of scales cannot give one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def auc(table: pd.DataFrame, metric: str = "accuracy") -> float:
    """Trapezoid area of the repetition-mean ``metric`` over ``fraction`` on [0, 1]."""
    m = table.groupby("fraction")[metric].mean().sort_index()
    return float(np.trapezoid(m.to_numpy(), m.index.to_numpy()))


def normalized_auc(table: pd.DataFrame, metric: str = "accuracy") -> float:
    """:func:`auc` of the curve divided by its value with nothing ablated (NaN if that is 0)."""
    m = table.groupby("fraction")[metric].mean().sort_index()
    intact = float(m.iloc[0]) if len(m) and m.index[0] == 0 else float("nan")
    return auc(table, metric) / intact if intact > 0 else float("nan")


def normalize(curves: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """``curves`` with a column ``normalized``: ``metric`` divided by its value with nothing ablated,
    per curve (a run's curve at one epoch, baseline and set of units, where those columns exist)."""
    keys = [c for c in ("run", "epoch", "baseline", "units", "layers") if c in curves]
    intact = (curves[curves.n_ablated == 0].groupby(keys)[metric].mean().rename("_intact").reset_index()
              if keys else None)
    if intact is None:
        base = curves.loc[curves.n_ablated == 0, metric].mean()
        return curves.assign(normalized=curves[metric] / base)
    out = curves.merge(intact, on=keys, how="left")
    out["normalized"] = out[metric] / out["_intact"]
    return out.drop(columns="_intact")


def noise_scales_problem(scales, allow_empty: bool = True) -> str | None:
    """Why ``scales`` cannot give a noise curve's AUC (which needs two positive scales), or None;
    an empty list asks for no noise curve (where ``allow_empty``)."""
    try:
        values = [float(v) for v in scales]
    except (TypeError, ValueError):
        return f"{scales!r} is not a list of numbers"
    positive = [v for v in values if v > 0]
    if (values or not allow_empty) and len(positive) < 2:
        return (f"{list(scales)} has {len(positive)} positive scale(s), but the area under a noise curve needs "
                f"at least two, e.g. [0.1, 1.0, 10.0]" + ("; give [] for no noise curve" if allow_empty else ""))
    return None


def noise_auc(table: pd.DataFrame, metric: str = "accuracy") -> float:
    """Mean ``metric`` over the noise scales on a log axis: the trapezoid area of the repetition-mean
    curve over log10(scale), divided by the log range (so 1 = unharmed at every scale)."""
    m = table.groupby("scale")[metric].mean().sort_index()
    s = np.log10(m.index.to_numpy())
    if len(s) < 2 or not np.isfinite(s).all():
        raise ValueError("noise_auc needs at least two positive scales")
    return float(np.trapezoid(m.to_numpy(), s) / (s[-1] - s[0]))
