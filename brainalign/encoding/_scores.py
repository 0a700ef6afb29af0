"""Scores on held-out stimuli: r, R², noise-ceiling-normalised R², permutation tests."""

from __future__ import annotations

import numpy as np

from brainalign.exceptions import DataError, ParameterError


def _columns(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(len(a), -1)


def pearson_r(y_true, y_pred) -> np.ndarray:
    """Pearson correlation per target (column).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples, n_targets)
        Observed and predicted responses.

    Returns
    -------
    ndarray of shape (n_targets,)
        Correlations; 0 where either column is constant (r undefined).
    """
    t, p = _check_pair(y_true, y_pred, minimum=3)
    t = t - t.mean(0)
    p = p - p.mean(0)
    denom = np.sqrt((t**2).sum(0) * (p**2).sum(0))
    return np.where(denom > 0, (t * p).sum(0) / np.where(denom > 0, denom, 1.0), 0.0)


def r2_per_target(y_true, y_pred) -> np.ndarray:
    """Coefficient of determination per target (may be negative).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples, n_targets)
        Observed and predicted responses.

    Returns
    -------
    ndarray of shape (n_targets,)
        ``1 - SS_res / SS_tot``; 0 where the observed column is constant.
    """
    t, p = _check_pair(y_true, y_pred, minimum=2)
    ss_tot = ((t - t.mean(0)) ** 2).sum(0)
    ss_res = ((t - p) ** 2).sum(0)
    return np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), 0.0)


def noise_normalized_r2(r, noise_ceiling) -> np.ndarray:
    """Noise-ceiling-normalised R² in percent (Algonauts 2023 convention).

    Negative correlations count as 0; ``100 * r**2 / (NC / 100)``, clipped at 100.

    Parameters
    ----------
    r : array-like of shape (n_targets,)
        Held-out correlations.
    noise_ceiling : array-like of shape (n_targets,)
        Noise ceiling in percent of explainable variance.

    Returns
    -------
    ndarray of shape (n_targets,)
        ncR² in percent; NaN where the noise ceiling is 0 (nothing to explain).
    """
    r = np.clip(np.asarray(r, dtype=np.float64), 0, None)
    nc = np.asarray(noise_ceiling, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(nc > 0, 100 * r**2 / (nc / 100), np.nan)
    return np.minimum(out, 100.0)


def permutation_test(y_true, y_pred, n_permutations=1000, seed=0, max_elements=2**25):
    """One-sided permutation test of r > 0 per target, shuffling test stimuli.

    The same permutations serve every target (vectorised).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples, n_targets)
        Observed and predicted held-out responses.
    n_permutations : int
        Number of shuffles (at least 1000 for publication).
    seed : int
        Random seed.
    max_elements : int
        Bound on the elements of the permuted block held at once (float64; the
        default is 256 MiB), whatever the number of targets.

    Returns
    -------
    p : ndarray of shape (n_targets,)
        ``(1 + #{r_perm >= r}) / (1 + n_permutations)``.
    p_fdr : ndarray of shape (n_targets,)
        Benjamini-Hochberg adjusted p values (``scipy.stats.false_discovery_control``).
    """
    from scipy.stats import false_discovery_control

    if int(n_permutations) < 1:
        raise ParameterError(
            f"Invalid value for 'n_permutations': expected >= 1; got {n_permutations!r}."
        )
    t, p = _check_pair(y_true, y_pred, minimum=3)
    zt = _zscore(t)
    zp = _zscore(p)
    n = len(zt)
    r_obs = (zt * zp).sum(0) / n
    rng = np.random.default_rng(seed)
    exceed = np.zeros(zt.shape[1])
    chunk = max(1, int(max_elements // zt.size))
    for start in range(0, n_permutations, chunk):
        k = min(chunk, n_permutations - start)
        perms = np.argsort(rng.random((k, n)), axis=1)
        r_perm = np.einsum("knt,nt->kt", zt[perms], zp) / n
        exceed += (r_perm >= r_obs - 1e-12).sum(0)
    pvals = (1 + exceed) / (1 + n_permutations)
    return pvals, false_discovery_control(pvals, method="bh")


def _zscore(a):
    a = a - a.mean(0)
    sd = a.std(0)
    return a / np.where(sd > 0, sd, 1.0)


def _check_pair(y_true, y_pred, minimum: int):
    t, p = _columns(y_true), _columns(y_pred)
    if t.shape != p.shape:
        raise DataError(f"Observed {t.shape} and predicted {p.shape} responses differ in shape.")
    if len(t) < minimum:
        raise DataError(f"Scoring needs at least {minimum} held-out stimuli; got {len(t)}.")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise DataError("Observed or predicted responses contain NaN or infinite values.")
    return t, p
