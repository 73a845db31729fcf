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
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import optimize as _opt
from scipy import stats as _st

CONFIDENCE = 0.95
POWER = 0.8
_RHO_CLIP = 0.999999  # Fisher's z of |rho| = 1 is infinite: a perfect rank correlation is clipped to this


def _nan_result(n: int, estimate: float = float("nan")) -> dict:
    return {"estimate": estimate, "ci_low": float("nan"), "ci_high": float("nan"), "se": float("nan"), "n": n,
            "center": float("nan"), "scale": float("nan"), "df": float("nan"), "transform": "none"}


def _quantile(df: float, q: float) -> float:
    return float(_st.norm.ppf(q) if math.isinf(df) else _st.t.ppf(q, df))


def _forward(transform: str, v: float) -> float:
    if transform == "fisher":
        return float(np.arctanh(np.clip(v, -_RHO_CLIP, _RHO_CLIP)))
    return float(v)


def _back(transform: str, v: float) -> float:
    return float(np.tanh(v)) if transform == "fisher" else float(v)


def pivot_result(estimate: float, center: float, scale: float, df: float, transform: str, n: int, **extra) -> dict:
    """A result dict from its pivot, with the 95% interval filled in. ``bounds=(lo, hi)`` among
    ``extra``: the statistic's range (a mean of correlations lies in [-1, 1]); intervals are clipped
    to it and an effect beyond it counts as undetectable."""
    r = {"estimate": float(estimate), "center": float(center), "scale": float(scale), "df": float(df),
         "transform": transform, "n": int(n), "se": float(scale), **extra}
    r["ci_low"], r["ci_high"] = interval(r)
    return r


def interval(result: dict, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The two-sided ``confidence`` interval of a result, from its pivot (NaN where it has none)."""
    c, s, df = result.get("center", np.nan), result.get("scale", np.nan), result.get("df", np.nan)
    if not (np.isfinite(c) and np.isfinite(s) and df == df):
        return float("nan"), float("nan")
    q = _quantile(df, 1 - (1 - confidence) / 2)
    t = result.get("transform", "none")
    lo, hi = result.get("bounds") or (-math.inf, math.inf)
    return max(lo, _back(t, c - q * s)), min(hi, _back(t, c + q * s))


def alpha_excluding(result: dict, boundary: float) -> float:
    """The smallest alpha at which the two-sided (1 - alpha) interval excludes ``boundary``."""
    c, s, df = result.get("center", np.nan), result.get("scale", np.nan), result.get("df", np.nan)
    if not (np.isfinite(c) and df == df):
        return 1.0
    d = abs(c - _forward(result.get("transform", "none"), boundary))
    if s == 0:
        return 0.0 if d > 0 else 1.0
    return float(2 * (_st.norm.sf(d / s) if math.isinf(df) else _st.t.sf(d / s, df)))


def _noncentrality(df: float, confidence: float, power: float) -> float:
    """The shift (in units of the pivot's scale) that a two-sided test at 1 - confidence detects
    with ``power``: normal quantiles for df = inf, the noncentral t otherwise."""
    q = _quantile(df, 1 - (1 - confidence) / 2)
    if math.isinf(df):
        return q + float(_st.norm.ppf(power))
    return float(_opt.brentq(lambda nc: _st.nct.sf(q, df, nc) - power, 0.0, 100.0))


def _fisher_dof(result: dict) -> float:
    """The degrees of freedom behind a Fisher result's scale: (1 + rho^2 / 2) / scale^2."""
    return (1 + result["estimate"] ** 2 / 2) / result["scale"] ** 2


def mde(result: dict, boundary: float = 0.0, power: float = POWER, confidence: float = CONFIDENCE) -> float:
    """The smallest true distance beyond ``boundary`` that the result's own interval method detects
    with ``power`` (its interval then excludes the boundary): the pivot's scale times the
    noncentrality of a t (or z) test. For a correlation the scale is that of Fisher's z at the
    true value (Bonett-Wright), so the answer solves ``|z(rho) - z(b)| = k * scale(rho)``."""
    s, df = result.get("scale", np.nan), result.get("df", np.nan)
    if not (np.isfinite(s) and s > 0 and df == df and df > 0):
        return float("nan")
    k = _noncentrality(df, confidence, power)
    if result.get("transform") != "fisher":
        lo, hi = result.get("bounds") or (-math.inf, math.inf)
        return float(k * s) if max(boundary - lo, hi - boundary) > k * s else math.inf
    dof, zb = _fisher_dof(result), _forward("fisher", boundary)
    out = []
    for sign in (1, -1):
        f = lambda r: sign * (np.arctanh(r) - zb) - k * math.sqrt((1 + r * r / 2) / dof)
        edge = sign * _RHO_CLIP
        if (edge - boundary) * sign > 0 and f(edge) > 0:
            out.append(abs(_opt.brentq(f, boundary, edge) - boundary))
    return float(min(out)) if out else float("nan")


def narrowest_band(result: dict, center: float = 0.0, power: float = POWER, confidence: float = CONFIDENCE) -> float:
    """The half-width of the narrowest band around ``center`` that the result's interval method
    certifies (interval wholly inside it) with ``power`` when the true value is ``center``."""
    s, df = result.get("scale", np.nan), result.get("df", np.nan)
    if not (np.isfinite(s) and s > 0 and df == df and df > 0):
        return float("nan")
    q, q_power = _quantile(df, 1 - (1 - confidence) / 2), _quantile(df, 1 - (1 - power) / 2)
    if result.get("transform") != "fisher":
        lo, hi = result.get("bounds") or (-math.inf, math.inf)
        width = (q + q_power) * s
        return float(width) if min(center - lo, hi - center) > width else math.inf
    scale0 = math.sqrt((1 + center * center / 2) / _fisher_dof(result))
    return float(abs(np.tanh(_forward("fisher", center) + (q + q_power) * scale0) - center))


def mean_ci(x, bounds: tuple[float, float] | None = None) -> dict:
    """The mean of ``x`` with its t-interval (``se`` = sd / sqrt(n), n - 1 degrees of freedom, and
    ``sd``, so that mean / sd is its standardized size); NaN values are dropped. ``bounds``: the range of ``x`` (see :func:`pivot_result`)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 2:
        return _nan_result(n, float(x.mean()) if n else float("nan"))
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
        return _nan_result(int(min(len(a), len(b))))
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
        return {**_nan_result(n, float(rho)), "rho": float(rho), **extra}
    scale = math.sqrt((1 + rho * rho / 2) / dof)
    return pivot_result(rho, _forward("fisher", rho), scale, math.inf, "fisher", n, rho=float(rho), **extra)


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
        return {"rho": float("nan"), "p": float("nan"), **_nan_result(int(len(x)))}
    with warnings.catch_warnings():  # a constant input has no rank correlation: NaN, said once by the caller
        warnings.simplefilter("ignore", _st.ConstantInputWarning)
        res = _st.spearmanr(x, y)
    return _fisher(float(res.statistic), len(x), p=float(res.pvalue))


def partial_spearman(x, y, z) -> dict:
    """Spearman's rho of ``x`` and ``y`` with ``z`` partialled out (the Pearson correlation of the
    residuals of rank(x) and rank(y) regressed on rank(z)), with Fisher's z interval on n - 4."""
    x, y, z = _finite(x, y, z)
    if len(x) < 4:
        return {"rho": float("nan"), **_nan_result(int(len(x)))}
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


def with_n(result: dict, n: int) -> dict:
    """The same pivot as ``result`` had it come from ``n`` replicates with the same spread: a
    t pivot's scale shrinks as 1/sqrt(n) (n - 1 degrees of freedom), a Fisher pivot's degrees of
    freedom grow by the added pairs. Used to size a run from a pilot's variance."""
    n0 = int(result["n"])
    out = dict(result, n=int(n))
    if result.get("transform") == "fisher":
        dof = _fisher_dof(result) + (n - n0)
        out["scale"] = math.sqrt((1 + result["estimate"] ** 2 / 2) / dof) if dof > 0 else math.nan
    else:
        out["scale"] = result["scale"] * math.sqrt(n0 / n)
        out["df"] = float(n - 1) if math.isfinite(result["df"]) else result["df"]
    out["se"] = out["scale"]
    return out


def n_needed(result: dict, detectable, effect: float, limit: int = 100_000) -> float:
    """The smallest number of replicates at which ``detectable(result_at_n)`` (e.g. a part's
    :func:`mde` or :func:`narrowest_band`) falls to ``effect``, keeping the result's spread; NaN
    without a spread, inf past ``limit``."""
    if not (np.isfinite(result.get("scale", np.nan)) and result.get("scale", 0) > 0 and result.get("n", 0) >= 2):
        return float("nan")
    ok = lambda n: detectable(with_n(result, n)) <= effect
    lo, hi = 3 if result.get("transform") != "fisher" else 5, 8
    while not ok(hi):
        if hi >= limit:
            return math.inf
        lo, hi = hi, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid + 1, hi)
    return float(lo)


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
        return {**_nan_result(n, d), **extra}
    keep = ~np.eye(n, dtype=bool)
    ds = np.array([_rho(x1[k], y[k]) - _rho(x2[k], y[k]) for k in keep])
    if not np.isfinite(ds).all():
        return {**_nan_result(n, d), **extra}
    se = float(math.sqrt((n - 1) / n * ((ds - ds.mean()) ** 2).sum()))
    return pivot_result(d, d, se, n - 1, "none", n, bounds=(-2.0, 2.0), **extra)
