"""Statistics of the book's claims: pure functions of arrays and tables.

Every interval the book decides a verdict on comes from a *pivot*: a centre and a scale on some
scale of the statistic (the statistic itself, or Fisher's z of a rank correlation) and a reference
distribution (Student's t with ``df`` degrees of freedom, or the normal for ``df = inf``). A result
is a dict with ``estimate``, ``ci_low``, ``ci_high`` (95%), ``n`` and the pivot's ``center``,
``scale``, ``df`` and ``transform`` (``"none"`` or ``"fisher"``), so that an interval at any level,
the p-value for a boundary (:func:`alpha_excluding`) and the smallest detectable effect
(:func:`mde`, :func:`narrowest_band`) all come from the same method that decides the part.

* :func:`mean_ci` / :func:`difference`: a mean over networks or seeds, or a difference of means
  (paired by seed, or Welch's for two independent groups), with a t-interval. Percentile bootstraps
  of a mean cover 75-86% at n = 3-5; the t-interval keeps 95% (``tests/test_stats.py`` measures it).
* :func:`spearman`: Spearman's rho over n pairs with Fisher's z interval and the Bonett-Wright
  variance ``(1 + rho^2 / 2) / (n - 3)`` (Bonett & Wright 2000), which keeps its coverage for
  |rho| up to 0.9 at n = 10-200; :func:`partial_spearman` with one variable partialled out (n - 4).
* :func:`network_spearman`: a correlation over units computed within each network (within each of
  its layers, then averaged over layers) and a t-interval over networks: networks are the unit of
  replication, so units of a few networks are never resampled as if independent.
* :func:`within_rank_spearman`, :func:`per_group_spearman`: descriptions over pooled units.
* :func:`selection_analysis`: how often choosing by a score picks a top setting (the paper's E5).

The pivot and what follows from it (intervals at any level, p-values, detectable effects, the
replicates a design needs) are :mod:`singledir.decide.pivots`'s, importable from here too.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

# the pivot and its methods, also where the rules, the sizing and the chapters call them
from .pivots import (CONFIDENCE, POWER, alpha_excluding, forward, interval, mde, n_needed, nan_result,  # noqa: F401
                     narrowest_band, pivot_result, with_n)


def mean_ci(x, bounds: tuple[float, float] | None = None) -> dict:
    """The mean of ``x`` with its t-interval (``se`` = sd / sqrt(n), n - 1 degrees of freedom, and
    ``sd``, so that mean / sd is its standardized size); NaN values are dropped. ``bounds``: the range of ``x`` (see :func:`pivot_result`)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 2:
        return nan_result(n, float(x.mean()) if n else float("nan"))
    m, sd = float(x.mean()), float(x.std(ddof=1))
    return pivot_result(m, m, sd / math.sqrt(n), n - 1, "none", n, sd=sd,
                        **({"bounds": tuple(bounds)} if bounds else {}))


def difference(a, b, *, paired: bool) -> dict:
    """``mean(a) - mean(b)`` with a t-interval: paired by a unit (``a[i]`` and ``b[i]`` share a
    seed) on the differences, or Welch's interval for two independent groups."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"paired samples must have the same length: {a.shape} and {b.shape}")
        return mean_ci(a - b)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return nan_result(int(min(len(a), len(b))))
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if se > 0 else len(a) + len(b) - 2
    d = float(a.mean() - b.mean())
    sd = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)  # the two groups' average SD (Cohen's d with Welch's SDs)
    return pivot_result(d, d, se, df, "none", int(min(len(a), len(b))), sd=sd)


def _row_pearson(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    rx = rx - rx.mean(1, keepdims=True)
    ry = ry - ry.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(1) / np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))


def _fisher(rho: float, n: int, controlled: int = 0, **extra) -> dict:
    """Fisher's z interval of a (partial) Spearman rho on ``n`` pairs with ``controlled`` variables
    partialled out; Bonett-Wright variance."""
    dof = n - 3 - controlled
    if dof <= 0 or not np.isfinite(rho):
        return {**nan_result(n, float(rho)), "rho": float(rho), **extra}
    scale = math.sqrt((1 + rho * rho / 2) / dof)
    return pivot_result(rho, forward("fisher", rho), scale, math.inf, "fisher", n, rho=float(rho), **extra)


def _finite(*vs):
    vs = [np.asarray(v, dtype=float) for v in vs]
    keep = np.logical_and.reduce([np.isfinite(v) for v in vs])
    return [v[keep] for v in vs]


def spearman(x, y) -> dict:
    """Spearman's rho of paired samples with Fisher's z interval (Bonett-Wright variance); NaN
    pairs are dropped. Also ``p``, scipy's two-sided p-value. Needs 4 pairs for an interval."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"x {x.shape} and y {y.shape} must have the same shape")
    x, y = _finite(x, y)
    if len(x) < 3:
        return {"rho": float("nan"), "p": float("nan"), **nan_result(int(len(x)))}
    with warnings.catch_warnings():  # a constant input has no rank correlation: NaN, said once by the caller
        warnings.simplefilter("ignore", _st.ConstantInputWarning)
        res = _st.spearmanr(x, y)
    return _fisher(float(res.statistic), len(x), p=float(res.pvalue))


def partial_spearman(x, y, z) -> dict:
    """Spearman's rho of ``x`` and ``y`` with ``z`` partialled out (the Pearson correlation of the
    residuals of rank(x) and rank(y) regressed on rank(z)), with Fisher's z interval on n - 4."""
    x, y, z = _finite(x, y, z)
    if len(x) < 4:
        return {"rho": float("nan"), **nan_result(int(len(x)))}
    rz = _st.rankdata(z) - (len(z) + 1) / 2

    def resid(v):
        r = _st.rankdata(v) - (len(v) + 1) / 2
        denom = float(rz @ rz)
        return r - (float(r @ rz) / denom if denom > 0 else 0.0) * rz

    rho = float(_row_pearson(resid(x)[None], resid(y)[None])[0])
    return _fisher(rho, len(x), controlled=1)


def within_ranks(df: pd.DataFrame, cols: Sequence[str], by: Sequence[str]) -> pd.DataFrame:
    """``cols`` replaced by their ranks within each ``by`` group, scaled to (0, 1] (ties averaged)."""
    out = df.copy()
    for c in cols:
        out[c] = df.groupby(list(by))[c].rank(pct=True)
    return out


def within_rank_spearman(df: pd.DataFrame, x: str, y: str, by: Sequence[str]) -> dict:
    """Spearman's rho of ``x`` and ``y`` after ranking each within its ``by`` group (a layer of one
    network), over the pooled units: a description (its interval treats units as independent)."""
    d = df[[*by, x, y]].dropna()
    r = within_ranks(d, [x, y], by)
    return spearman(r[x], r[y])


def _rho(x, y) -> float:
    x, y = _finite(x, y)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(_st.spearmanr(x, y).statistic)


def per_network_spearman(df: pd.DataFrame, x: str, y: str, network: str = "run", layer: str | None = None) -> pd.Series:
    """Per network: Spearman's rho of ``x`` and ``y`` over its units, or with ``layer`` the mean of
    the rhos within each of its layers (layers with fewer than 3 units or no spread are skipped)."""
    out = {}
    for net, g in df.groupby(network):
        if layer is None:
            out[net] = _rho(g[x], g[y])
        else:
            rhos = [_rho(h[x], h[y]) for _, h in g.groupby(layer)]
            rhos = [r for r in rhos if np.isfinite(r)]
            out[net] = float(np.mean(rhos)) if rhos else float("nan")
    return pd.Series(out, name="rho", dtype=float)


def network_spearman(df: pd.DataFrame, x: str, y: str, network: str = "run", layer: str | None = None) -> dict:
    """The mean over networks of :func:`per_network_spearman`, with its t-interval over networks
    (networks are the unit of replication); ``per_network`` holds each network's value."""
    per = per_network_spearman(df, x, y, network, layer)
    return {**mean_ci(per.to_numpy(), bounds=(-1.0, 1.0)), "per_network": {str(k): float(v) for k, v in per.items()}}


def per_group_spearman(df: pd.DataFrame, x: str, y: str, by: str | Sequence[str]) -> pd.DataFrame:
    """One row per group: ``rho``, its Fisher interval and ``n`` of ``x`` against ``y`` within the group."""
    rows = []
    keys = [by] if isinstance(by, str) else list(by)
    for key, g in df.groupby(by):
        s = spearman(g[x], g[y])
        rows.append({**dict(zip(keys, key if isinstance(key, tuple) else (key,))),
                     "rho": s["rho"], "ci_low": s["ci_low"], "ci_high": s["ci_high"], "n": s["n"]})
    return pd.DataFrame(rows)


def selection_analysis(settings: pd.DataFrame, score: str = "auc_zero", target: str = "test_acc",
                       subset_size: int | None = None, n_subsets: int = 10000, tops: Sequence[int] = (1, 5, 10),
                       seed: int = 0) -> dict:
    """How well choosing the setting with the highest ``score`` picks a setting high in ``target``.

    Over ``n_subsets`` random subsets of ``subset_size`` settings (default: half), the setting with
    the highest score is picked; returned are the fraction of subsets in which it is among the
    top-k of the subset by ``target`` for each k in ``tops`` (``top1``, ``top5``, ...), the rate a
    random pick would reach (``chance1``, ``chance5``, ...: k / subset_size, at most 1), and the
    mean and standard deviation of the gap ``best target in subset - target of the pick``.

    ``settings`` has one row per setting (average repeats first).
    """
    s = settings[[score, target]].dropna().to_numpy(dtype=float)
    n = len(s)
    subset_size = n // 2 if subset_size is None else int(subset_size)
    if not 1 <= subset_size <= n:
        raise ValueError(f"subset_size {subset_size} must be in [1, {n}] (settings with both values)")
    rng = np.random.default_rng(seed)
    hits = {k: 0 for k in tops}
    gaps = np.empty(n_subsets)
    for i in range(n_subsets):
        sub = s[rng.choice(n, subset_size, replace=False)]
        pick = np.argmax(sub[:, 0])
        rank = int((sub[:, 1] > sub[pick, 1]).sum())  # settings strictly better than the pick
        for k in tops:
            hits[k] += rank < k
        gaps[i] = sub[:, 1].max() - sub[pick, 1]
    return {**{f"top{k}": hits[k] / n_subsets for k in tops}, **{f"chance{k}": min(1.0, k / subset_size) for k in tops},
            "gap_mean": float(gaps.mean()), "gap_sd": float(gaps.std()), "subset_size": subset_size, "n_settings": n}


def correlation_difference(x1, x2, y) -> dict:
    """Spearman(x1, y) - Spearman(x2, y) on the same ``n`` replicates (two predictors of one
    target: overlapping, dependent correlations), with a jackknife t-interval over the replicates
    (leave one out; n - 1 degrees of freedom). Deterministic; over trivariate normal samples of
    n = 11-18 it covered the true difference in 94-99% of simulated runs. Also ``rho_1`` and
    ``rho_2``. Needs 4 replicates for an interval."""
    x1, x2, y = _finite(x1, x2, y)
    n = len(y)
    d = _rho(x1, y) - _rho(x2, y) if n >= 2 else float("nan")
    extra = {"rho_1": _rho(x1, y) if n >= 2 else float("nan"), "rho_2": _rho(x2, y) if n >= 2 else float("nan")}
    if n < 4 or not np.isfinite(d):
        return {**nan_result(n, d), **extra}
    keep = ~np.eye(n, dtype=bool)
    ds = np.array([_rho(x1[k], y[k]) - _rho(x2[k], y[k]) for k in keep])
    if not np.isfinite(ds).all():
        return {**nan_result(n, d), **extra}
    se = float(math.sqrt((n - 1) / n * ((ds - ds.mean()) ** 2).sum()))
    return pivot_result(d, d, se, n - 1, "none", n, bounds=(-2.0, 2.0), **extra)
