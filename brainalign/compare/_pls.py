"""PLS regression predictivity (Brain-Score's neural predictivity convention)."""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_positive_int
from brainalign.exceptions import DataError


def pls_predictivity(x, y, train, test, *, n_components=25) -> np.ndarray:
    """Held-out Pearson r of each target predicted by PLS regression from features.

    Brain-Score scores a model's features against neural responses with
    scikit-learn's ``PLSRegression`` (25 components, no scaling) fitted on training
    stimuli; this is that readout beside the package's ridge. ``n_components`` is
    capped at the features' and training stimuli's counts.

    Parameters
    ----------
    x : array-like of shape (n_stimuli, n_features)
        Features.
    y : array-like of shape (n_stimuli, n_targets)
        Responses, rows paired with ``x``.
    train, test : array-like of int
        Disjoint row indices to fit on and to score on.
    n_components : int
        PLS components.

    Returns
    -------
    ndarray of shape (n_targets,)
        Pearson r of prediction and response per target over the test stimuli.
    """
    from brainalign.compare._cca import _pair

    x, y = _pair(x, y)
    check_positive_int("n_components", n_components)
    train, test = np.asarray(train), np.asarray(test)
    if np.intersect1d(train, test).size:
        raise DataError("Invalid value for 'test': PLS must be scored on stimuli it did not fit.")
    return pls_r(fit_pls(x[train], y[train], n_components), x[test], y[test])


def fit_pls(x, y, n_components: int):
    """Fit scikit-learn's PLSRegression (no scaling), components capped by the data."""
    from sklearn.cross_decomposition import PLSRegression

    k = min(int(n_components), x.shape[1], len(x) - 1)
    return PLSRegression(n_components=k, scale=False).fit(x, y)


def pls_r(model, x, y) -> np.ndarray:
    """Return the Pearson r of a fitted PLS model's predictions per target."""
    from brainalign.compare._cca import _paired_r

    return _paired_r(model.predict(x).reshape(len(x), -1), y)
