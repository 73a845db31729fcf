"""Statistics of the book's claims: pure functions of arrays and tables.

* :func:`spearman`: Spearman's rho with a percentile bootstrap interval over pairs.
* :func:`mean_ci` / :func:`difference`: a mean, or a difference of means (paired by a unit such as
  the seed, or of two independent groups), with a bootstrap interval and standard error.
* :func:`within_rank_spearman`: rho of ranks taken within groups (units within a network's
  layer), the correlation across layers that depth cannot drive; :func:`per_group_spearman`.
* :func:`partial_spearman`: rho of two variables with a third partialled out (on ranks).
* :func:`mde_spearman`, :func:`mde`: the smallest effect a run of this size detects with 80% power.
* :func:`selection_analysis`: how often choosing by a score picks a top setting (the paper's E5).

Intervals are 95% percentile bootstraps with a fixed seed, so a build reproduces its numbers.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

Z_975, Z_80 = 1.959963984540054, 0.8416212335729143  # two-sided 5% test, 80% power


def _nan_result(n: int) -> dict:
    return {"estimate": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "se": float("nan"), "n": n}


def _rank_rows(a: np.ndarray) -> np.ndarray:
    return _st.rankdata(a, axis=1)


def _row_pearson(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    rx = rx - rx.mean(1, keepdims=True)
    ry = ry - ry.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(1) / np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))


def _interval(boot: np.ndarray, confidence: float) -> tuple[float, float, float]:
    boot = boot[np.isfinite(boot)]
    if not len(boot):
        return float("nan"), float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    return float(lo), float(hi), float(boot.std(ddof=1)) if len(boot) > 1 else float("nan")


def spearman(x, y, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> dict:
    """Spearman's rho of paired samples with a percentile bootstrap interval over pairs; NaN pairs
    are dropped.

    Returns:
        ``{"rho", "ci_low", "ci_high", "se", "n", "p", "estimate"}`` (``estimate`` = ``rho``); ``p``
        is scipy's two-sided p-value, ``se`` the bootstrap standard error.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"x {x.shape} and y {y.shape} must have the same shape")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3:
        return {"rho": float("nan"), "p": float("nan"), **_nan_result(int(len(x)))}
    with warnings.catch_warnings():  # a constant input has no rank correlation: NaN, said once by the caller
        warnings.simplefilter("ignore", _st.ConstantInputWarning)
        res = _st.spearmanr(x, y)
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n_boot, len(x)))
    lo, hi, se = _interval(_row_pearson(_rank_rows(x[idx]), _rank_rows(y[idx])), confidence)
    rho = float(res.statistic)
    return {"rho": rho, "estimate": rho, "ci_low": lo, "ci_high": hi, "se": se, "n": int(len(x)), "p": float(res.pvalue)}


def mean_ci(x, *, n_boot: int = 4000, confidence: float = 0.95, seed: int = 0) -> dict:
    """The mean of ``x`` with a percentile bootstrap interval: ``{"estimate", "ci_low", "ci_high", "se", "n"}``."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return {**_nan_result(int(len(x))), "estimate": float(x.mean()) if len(x) else float("nan")}
    boot = x[np.random.default_rng(seed).integers(0, len(x), size=(n_boot, len(x)))].mean(1)
    lo, hi, se = _interval(boot, confidence)
    return {"estimate": float(x.mean()), "ci_low": lo, "ci_high": hi, "se": se, "n": int(len(x))}


def difference(a, b, *, paired: bool, n_boot: int = 4000, confidence: float = 0.95, seed: int = 0) -> dict:
    """``mean(a) - mean(b)`` with a bootstrap interval. ``paired``: ``a[i]`` and ``b[i]`` belong
    to one unit (a seed), and the units are resampled; otherwise each group is resampled on its own."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"paired samples must have the same length: {a.shape} and {b.shape}")
        return mean_ci(a - b, n_boot=n_boot, confidence=confidence, seed=seed)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return _nan_result(int(min(len(a), len(b))))
    rng = np.random.default_rng(seed)
    boot = (a[rng.integers(0, len(a), (n_boot, len(a)))].mean(1) - b[rng.integers(0, len(b), (n_boot, len(b)))].mean(1))
    lo, hi, se = _interval(boot, confidence)
    return {"estimate": float(a.mean() - b.mean()), "ci_low": lo, "ci_high": hi, "se": se, "n": int(min(len(a), len(b)))}


def within_ranks(df: pd.DataFrame, cols: Sequence[str], by: Sequence[str]) -> pd.DataFrame:
    """``cols`` replaced by their ranks within each ``by`` group, scaled to (0, 1] (ties averaged)."""
    out = df.copy()
    for c in cols:
        out[c] = df.groupby(list(by))[c].rank(pct=True)
    return out


def within_rank_spearman(df: pd.DataFrame, x: str, y: str, by: Sequence[str], **kw) -> dict:
    """Spearman's rho of ``x`` and ``y`` after ranking each within its ``by`` group (a layer of one
    network): differences between groups (depth) cannot drive it. Rows with NaN are dropped first."""
    d = df[[*by, x, y]].dropna()
    r = within_ranks(d, [x, y], by)
    return spearman(r[x], r[y], **kw)


def per_group_spearman(df: pd.DataFrame, x: str, y: str, by: str | Sequence[str], n_boot: int = 500) -> pd.DataFrame:
    """One row per group: ``rho``, its interval and ``n`` of ``x`` against ``y`` within the group."""
    rows = []
    for key, g in df.groupby(by):
        s = spearman(g[x], g[y], n_boot=n_boot)
        rows.append({**dict(zip([by] if isinstance(by, str) else by, key if isinstance(key, tuple) else (key,))),
                     "rho": s["rho"], "ci_low": s["ci_low"], "ci_high": s["ci_high"], "n": s["n"]})
    return pd.DataFrame(rows)


def partial_spearman(x, y, z, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> dict:
    """Spearman's rho of ``x`` and ``y`` with ``z`` partialled out: the Pearson correlation of the
    residuals of rank(x) and rank(y) regressed on rank(z). Bootstrap interval over triples."""
    x, y, z = (np.asarray(v, dtype=float) for v in (x, y, z))
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    x, y, z = x[keep], y[keep], z[keep]
    if len(x) < 4:
        return {"rho": float("nan"), **_nan_result(int(len(x)))}

    def rho(rx, ry, rz):
        rz = rz - rz.mean(1, keepdims=True)
        def resid(r):
            r = r - r.mean(1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                beta = (r * rz).sum(1, keepdims=True) / (rz * rz).sum(1, keepdims=True)
            return r - np.nan_to_num(beta) * rz
        return _row_pearson(resid(rx), resid(ry))

    est = float(rho(*(_rank_rows(v[None]) for v in (x, y, z)))[0])
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n_boot, len(x)))
    lo, hi, se = _interval(rho(_rank_rows(x[idx]), _rank_rows(y[idx]), _rank_rows(z[idx])), confidence)
    return {"rho": est, "estimate": est, "ci_low": lo, "ci_high": hi, "se": se, "n": int(len(x))}


def mde_spearman(n: int, power: float = 0.8) -> float:
    """The smallest |rho| that a two-sided 5% test on ``n`` pairs detects with ``power`` (Fisher's
    z with the variance 1.06 / (n - 3) of Spearman's rho, Fieller et al. 1957)."""
    if n <= 3:
        return float("nan")
    z_power = float(_st.norm.ppf(power))
    return float(np.tanh((Z_975 + z_power) * np.sqrt(1.06 / (n - 3))))


def mde(se: float, power: float = 0.8) -> float:
    """The smallest true effect (distance from the rule's boundary) that an estimate with standard
    error ``se`` decides with ``power`` at the 5% level: ``(1.96 + z_power) * se``."""
    return float((Z_975 + float(_st.norm.ppf(power))) * se) if np.isfinite(se) else float("nan")


def selection_analysis(settings: pd.DataFrame, score: str = "auc_zero", target: str = "test_acc",
                       subset_size: int | None = None, n_subsets: int = 10000, tops: Sequence[int] = (1, 5, 10),
                       seed: int = 0) -> dict:
    """How well choosing the setting with the highest ``score`` picks a setting high in ``target``.

    Over ``n_subsets`` random subsets of ``subset_size`` settings (default: half), the setting with
    the highest score is picked; returned are the fraction of subsets in which it is among the
    top-k of the subset by ``target`` for each k in ``tops`` (``top1``, ``top5``, ...), and the mean
    and standard deviation of the gap ``best target in subset - target of the pick``.

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
    return {**{f"top{k}": hits[k] / n_subsets for k in tops}, "gap_mean": float(gaps.mean()),
            "gap_sd": float(gaps.std()), "subset_size": subset_size, "n_settings": n}
