"""Scores on held-out stimuli: r, R², noise-ceiling-normalised R², permutation tests."""

from __future__ import annotations

import numpy as np

from brainalign._utils import warn
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


def noise_normalized_r2(r, noise_ceiling, min_nc=10.0) -> np.ndarray:
    """Noise-ceiling-normalised R² in percent (Algonauts 2023 convention).

    Negative correlations count as 0; ``100 * r**2 / (NC / 100)``, clipped at 100.
    Only targets whose ceiling exceeds ``min_nc`` get a value: below it the ratio
    divides a noisy r² by a noisy, near-zero ceiling, so targets without signal reach
    100 % and an ROI without signal shows a spurious mean ncR² (about 18 % in the NSD
    sample's RSC with no threshold).

    Parameters
    ----------
    r : array-like of shape (n_targets,)
        Held-out correlations.
    noise_ceiling : array-like of shape (n_targets,)
        Noise ceiling in percent of explainable variance (may be negative or NaN).
    min_nc : float
        Smallest ceiling, in percent, for which ncR² is defined (``NC > min_nc``);
        0 keeps every positive ceiling (the challenge's convention).

    Returns
    -------
    ndarray of shape (n_targets,)
        ncR² in percent; NaN where the noise ceiling is at most ``min_nc`` or NaN.
    """
    min_nc = float(min_nc)
    if not 0 <= min_nc < 100:
        raise ParameterError(
            f"Invalid value for 'min_nc': expected a ceiling in percent, 0 <= min_nc < 100; "
            f"got {min_nc!r}."
        )
    r = np.clip(np.asarray(r, dtype=np.float64), 0, None)
    nc = np.asarray(noise_ceiling, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(nc > min_nc, 100 * r**2 / (nc / 100), np.nan)
    return np.minimum(out, 100.0)


def permutation_test(
    y_true, y_pred, n_permutations=1000, seed=0, max_elements=2**25, *, stimulus_ids=None
):
    """One-sided permutation test of r > 0 per target, shuffling test stimuli.

    The same permutations serve every target (vectorised). Rows are exchangeable
    under the null only when each row is a different stimulus (repetitions averaged
    first, as the pipeline does). Repeated presentations of a stimulus share its
    response, so shuffling them as rows gives too many false positives (about 19 %
    at alpha 0.05 for 4 repeats); pass ``stimulus_ids`` and the permutations
    reassign whole stimuli instead: all rows of a stimulus receive the prediction of
    the same other stimulus, whatever the number of rows of each.

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
    stimulus_ids : array-like of shape (n_samples,), optional
        The stimulus of each row. With repeated ids, stimuli are permuted (the rows
        of a stimulus must share one prediction); with unique ids (or None), rows
        are, and the p values are those of ``stimulus_ids=None``. Without ids,
        repeated prediction rows (repeats of a stimulus, most likely) raise a
        warning; unique ids silence it.

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
    n_permutations = int(n_permutations)
    t, p = _check_pair(y_true, y_pred, minimum=3)
    zt, zp = _zscore(t), _zscore(p)
    group = _stimulus_groups(stimulus_ids, p)
    if group is None:
        exceed = _exceed_rows(zt, zp, n_permutations, seed, max_elements)
    else:
        exceed = _exceed_stimuli(zt, zp, group, n_permutations, seed, max_elements)
    pvals = (1 + exceed) / (1 + n_permutations)
    return pvals, false_discovery_control(pvals, method="bh")


def _exceed_rows(zt, zp, n_permutations, seed, max_elements):
    """Count row permutations whose r reaches the observed one, per target."""
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
    return exceed


def _exceed_stimuli(zt, zp, group, n_permutations, seed, max_elements):
    """Count stimulus permutations whose r reaches the observed one, per target.

    Stimulus ``g`` has ``n_g`` rows, truth sum ``T_g`` (of z-scored rows) and one
    prediction ``P_g``. Giving its rows ``P_pi(g)`` yields
    ``r = sum_g T_g P_pi(g) / (n * sd)`` with ``sd`` the row-weighted spread of the
    reassigned predictions (it varies with ``pi`` when repeat counts differ).
    """
    n_stim = int(group.max()) + 1
    counts = np.bincount(group, minlength=n_stim).astype(np.float64)
    first = np.unique(group, return_index=True)[1]
    pred = zp[first]  # one prediction per stimulus (checked equal over its rows)
    truth = np.zeros((n_stim, zt.shape[1]))
    np.add.at(truth, group, zt)

    def corr(pp):  # pp: (k, n_stim, n_targets) reassigned predictions
        mean = np.einsum("kgt,g->kt", pp, counts) / counts.sum()
        var = np.einsum("kgt,g->kt", pp**2, counts) / counts.sum() - mean**2
        cov = np.einsum("kgt,gt->kt", pp, truth) / counts.sum()
        sd = np.sqrt(np.clip(var, 0, None))
        return np.where(sd > 1e-12, cov / np.where(sd > 1e-12, sd, 1.0), 0.0)

    r_obs = corr(pred[None])[0]
    rng = np.random.default_rng(seed)
    exceed = np.zeros(zt.shape[1])
    chunk = max(1, int(max_elements // pred.size))
    for start in range(0, n_permutations, chunk):
        k = min(chunk, n_permutations - start)
        perms = np.argsort(rng.random((k, n_stim)), axis=1)
        exceed += (corr(pred[perms]) >= r_obs - 1e-12).sum(0)
    return exceed


def _stimulus_groups(stimulus_ids, pred):
    """Stimulus index per row, or None when every row is its own stimulus."""
    n = len(pred)
    if stimulus_ids is None:
        rows = np.ascontiguousarray(pred).view(np.dtype((np.void, pred.itemsize * pred.shape[1])))
        n_unique = len(np.unique(rows.ravel()))
        if n_unique < n and np.ptp(pred, axis=0).any():
            warn(
                f"{n - n_unique} of the {n} rows of 'y_pred' repeat another row: if they "
                "are repeats of a stimulus, pass 'stimulus_ids' (rows permuted as if "
                "independent give too many false positives); unique ids silence this."
            )
        return None
    ids = np.asarray(stimulus_ids)
    if ids.shape != (n,):
        raise ParameterError(
            f"Invalid value for 'stimulus_ids': expected one id per row, shape ({n},); "
            f"got shape {ids.shape}."
        )
    _, group = np.unique(ids, return_inverse=True)
    group = group.ravel()
    if group.max() + 1 == n:
        return None
    first = np.unique(group, return_index=True)[1]
    differ = ~np.isclose(pred, pred[first][group], rtol=1e-7, atol=1e-12).all(1)
    if differ.any():
        raise DataError(
            f"Predictions differ between repeats of stimulus {ids[differ][0].tolist()!r} "
            f"({int(differ.sum())} rows); a stimulus permutation needs one prediction "
            "per stimulus (or average 'y_true' and 'y_pred' over repeats first)."
        )
    return group


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
