"""Canonical correlation analysis of two representations: regularised CCA, SVCCA, PWCCA.

:func:`canonical_correlations` fits CCA on training stimuli (ridge-regularised
covariances) and scores the canonical variates on held-out stimuli, the form in
which CCA compares a model with brain responses (e.g. EEG with a language model).
:func:`svcca` (Raghu et al. 2017) and :func:`pwcca` (Morcos et al. 2018) are the
model-to-model summaries: CCA after keeping each side's top singular directions, and
the mean canonical correlation weighted by how much of the first representation
each canonical variate accounts for.
"""

from __future__ import annotations

import numpy as np

from brainalign.exceptions import DataError, ParameterError


def canonical_correlations(x, y, train=None, test=None, *, n_components=None, reg=0.0) -> dict:
    """Fit CCA on training stimuli; return its canonical correlations and weights.

    With covariances ``Cxx + reg_x I``, ``Cyy + reg_y I`` (``reg`` is a share of each
    covariance's mean eigenvalue, so it is unitless) and ``Cxy``, the weights are
    ``Wx = Cxx^(-1/2) U``, ``Wy = Cyy^(-1/2) V`` from the SVD ``Cxx^(-1/2) Cxy
    Cyy^(-1/2) = U S V^T``; ``S`` holds the training canonical correlations. The
    held-out correlations are the Pearson r of each pair of canonical variates
    ``X_test Wx``, ``Y_test Wy`` (centred with the training means).

    Parameters
    ----------
    x : array-like of shape (n_stimuli, p)
        First representation (e.g. model features).
    y : array-like of shape (n_stimuli, q)
        Second representation (e.g. responses), rows paired with ``x``.
    train, test : array-like of int, optional
        Row indices fitting and scoring CCA (default: every row for both).
    n_components : int, optional
        Canonical pairs kept (default: ``min(p, q, n_train - 1)``).
    reg : float or tuple of (float, float)
        Ridge of each covariance, as a share of its mean eigenvalue (0: plain CCA).

    Returns
    -------
    dict
        ``train`` (n_components,) training canonical correlations, descending;
        ``test`` (n_components,) held-out correlations of the same pairs (None
        without ``test``); ``x_weights`` (p, k), ``y_weights`` (q, k); ``x_mean``,
        ``y_mean``.

    Raises
    ------
    DataError
        If the rows disagree, values are not finite, or there are too few stimuli.
    ParameterError
        If ``reg`` is negative or ``n_components`` out of range.
    """
    x, y = _pair(x, y)
    rows = np.arange(len(x))
    train = rows if train is None else np.asarray(train)
    if len(train) < 3:
        raise DataError(f"CCA needs at least 3 training stimuli; got {len(train)}.")
    reg_x, reg_y = _regs(reg)
    xm, ym = x[train].mean(0), y[train].mean(0)
    xc, yc = x[train] - xm, y[train] - ym
    wx_half, rank_x = _inverse_sqrt(xc, reg_x)
    wy_half, rank_y = _inverse_sqrt(yc, reg_y)
    limit = min(rank_x, rank_y, len(train) - 1)
    k = limit if n_components is None else int(n_components)
    if not 1 <= k <= limit:
        raise ParameterError(
            f"Invalid value for 'n_components': expected 1..{limit} (the smaller rank of "
            f"the two representations); got {n_components!r}."
        )
    # whitened cross-covariance; its singular values are the canonical correlations
    m = (xc @ wx_half).T @ (yc @ wy_half) / (len(train) - 1)
    u, s, vt = np.linalg.svd(m, full_matrices=False)
    wx, wy = wx_half @ u[:, :k], wy_half @ vt[:k].T
    out = {"train": s[:k], "x_weights": wx, "y_weights": wy, "x_mean": xm, "y_mean": ym}
    out["test"] = None
    if test is not None:
        test = np.asarray(test)
        out["test"] = held_out_correlations(out, x[test], y[test])
    return out


def held_out_correlations(fit: dict, x, y) -> np.ndarray:
    """Return the correlation of each canonical pair of a fitted CCA on other stimuli.

    Parameters
    ----------
    fit : dict
        Output of :func:`canonical_correlations` (weights and training means).
    x, y : ndarray of shape (n, p) and (n, q)
        Rows paired; centred with the training means.

    Returns
    -------
    ndarray of shape (n_components,)
        Pearson r of each pair of canonical variates.
    """
    h = (x - fit["x_mean"]) @ fit["x_weights"]
    return _paired_r(h, (y - fit["y_mean"]) @ fit["y_weights"])


def cca_score(x, y, train, test, *, n_components=10, reg=0.1) -> float:
    """Mean held-out correlation of the top canonical pairs fitted on training stimuli.

    Parameters
    ----------
    x, y : array-like of shape (n_stimuli, p) and (n_stimuli, q)
        Representations, rows paired.
    train, test : array-like of int
        Row indices: CCA is fitted on ``train`` and scored on ``test`` (disjoint).
    n_components : int
        Canonical pairs averaged (at most the smaller rank).
    reg : float or tuple of (float, float)
        Ridge of each covariance (share of its mean eigenvalue).

    Returns
    -------
    float
        Mean held-out canonical correlation of the first ``n_components`` pairs.
    """
    train, test = np.asarray(train), np.asarray(test)
    if np.intersect1d(train, test).size:
        raise DataError("Invalid value for 'test': CCA must be scored on stimuli it did not fit.")
    fit = canonical_correlations(x, y, train, test, n_components=n_components, reg=reg)
    return float(np.mean(fit["test"]))


def svcca(x, y, *, keep=0.99) -> float:
    """SVCCA: mean canonical correlation after keeping each side's top SVD directions.

    Parameters
    ----------
    x, y : array-like of shape (n_stimuli, p) and (n_stimuli, q)
        Representations, rows paired (e.g. two layers over the same stimuli).
    keep : float
        Share of each representation's variance kept by its top singular directions.

    Returns
    -------
    float
        Mean of the canonical correlations of the reduced representations.
    """
    if not 0 < keep <= 1:
        raise ParameterError(f"Invalid value for 'keep': expected a share in (0, 1]; got {keep!r}.")
    x, y = _pair(x, y)
    xr, yr = _top_directions(x, keep), _top_directions(y, keep)
    return float(np.mean(canonical_correlations(xr, yr)["train"]))


def pwcca(x, y) -> float:
    """PWCCA: canonical correlations weighted by how much of ``x`` each variate accounts for.

    The weight of canonical pair ``i`` is ``sum_j |corr(h_i, x_j)|`` over the units
    ``x_j`` of ``x`` (``h_i = X w_i``, the variate of ``x``), normalised to sum to 1
    (Morcos et al. 2018). Not symmetric: ``pwcca(x, y) != pwcca(y, x)`` in general.

    Parameters
    ----------
    x, y : array-like of shape (n_stimuli, p) and (n_stimuli, q)
        Representations, rows paired (``x`` supplies the weights).

    Returns
    -------
    float
        Weighted mean canonical correlation.
    """
    x, y = _pair(x, y)
    fit = canonical_correlations(x, y)
    h = (x - fit["x_mean"]) @ fit["x_weights"]
    xc = x - x.mean(0)
    sd = xc.std(0)
    units = sd > 0
    corr = (h / h.std(0)).T @ (xc[:, units] / sd[units]) / len(x)
    weights = np.abs(corr).sum(1)
    return float(weights @ fit["train"] / weights.sum())


def _pair(x, y):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise DataError(
            f"Invalid shape: 'x' and 'y' need one row per stimulus each; got {x.shape} and "
            f"{y.shape}."
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataError("Invalid value: 'x' and 'y' must be finite (no NaN or inf).")
    return x, y


def _regs(reg) -> tuple[float, float]:
    pair = tuple(reg) if isinstance(reg, tuple | list) else (reg, reg)
    try:
        values = tuple(float(r) for r in pair)
    except (TypeError, ValueError):
        values = (float("nan"),)
    if len(values) != 2 or not all(np.isfinite(v) and v >= 0 for v in values):
        raise ParameterError(
            f"Invalid value for 'reg': expected a number >= 0 or a pair of them; got {reg!r}."
        )
    return values


def _inverse_sqrt(xc, reg: float):
    """``(C + reg * mean_eig * I)^(-1/2)`` of the covariance of centred rows, and its rank."""
    cov = xc.T @ xc / (len(xc) - 1)
    lam, v = np.linalg.eigh(cov)
    lam = np.clip(lam, 0.0, None)
    lam = lam + reg * lam.mean()
    keep = lam > 1e-10 * lam.max() if lam.max() > 0 else np.zeros(lam.shape, bool)
    if not keep.any():
        raise DataError("CCA needs representations that vary across the training stimuli.")
    return v[:, keep] / np.sqrt(lam[keep]), int(keep.sum())


def _paired_r(a, b) -> np.ndarray:
    a = a - a.mean(0)
    b = b - b.mean(0)
    denom = np.sqrt((a**2).sum(0) * (b**2).sum(0))
    return np.where(denom > 0, (a * b).sum(0) / np.where(denom > 0, denom, 1.0), 0.0)


def _top_directions(x, keep: float) -> np.ndarray:
    xc = x - x.mean(0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    share = np.cumsum(s**2) / np.sum(s**2)
    k = int(np.searchsorted(share, keep - 1e-12) + 1)
    return u[:, :k] * s[:k]
