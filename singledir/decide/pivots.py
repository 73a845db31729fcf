"""The pivot behind every interval the book decides on, and what follows from it.

A result (a dict, :func:`pivot_result`) carries its *pivot*: a centre and a scale on some scale of
the statistic (the statistic itself, or Fisher's z of a rank correlation, ``transform``) and a
reference distribution (Student's t with ``df`` degrees of freedom, or the normal for ``df = inf``).
From it alone come the interval at any level (:func:`interval`), the p-value for a boundary
(:func:`alpha_excluding`), the smallest effect the method detects with 80% power (:func:`mde`), the
narrowest band it certifies (:func:`narrowest_band`), and the replicates a design needs
(:func:`with_n`, :func:`n_needed`), so that each comes from the method that decides the part. The
estimators that make results are :mod:`singledir.decide.stats`'s.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize as _opt
from scipy import stats as _st

CONFIDENCE = 0.95
POWER = 0.8
_RHO_CLIP = 0.999999  # Fisher's z of |rho| = 1 is infinite: a perfect rank correlation is clipped to this


def nan_result(n: int, estimate: float = float("nan")) -> dict:
    """A result without a pivot (too few replicates, no spread): no interval."""
    return {"estimate": estimate, "ci_low": float("nan"), "ci_high": float("nan"), "se": float("nan"), "n": n,
            "center": float("nan"), "scale": float("nan"), "df": float("nan"), "transform": "none"}


def _quantile(df: float, q: float) -> float:
    return float(_st.norm.ppf(q) if math.isinf(df) else _st.t.ppf(q, df))


def forward(transform: str, v: float) -> float:
    """``v`` on the pivot's scale: Fisher's z (clipped short of infinity) or itself."""
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
    d = abs(c - forward(result.get("transform", "none"), boundary))
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
    dof, zb = _fisher_dof(result), forward("fisher", boundary)
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
    return float(abs(np.tanh(forward("fisher", center) + (q + q_power) * scale0) - center))


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
