"""One interface for every way to compare a model with a brain region.

``score_measure(name, features, responses, ...)`` joins the two by stimulus id, fits
the measures that are fitted (ridge, PLS, CCA) on the training stimuli only, scores
every measure on the held-out stimuli, and calibrates it: a permutation null that
shuffles which held-out response goes with which held-out stimulus (the fitted model
is kept: only the pairing is tested), and a percentile bootstrap interval over the
held-out stimuli. Distances (``procrustes``, ``angular``) are smaller when the two
agree; every other measure is larger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainalign._utils import check_option, check_positive_int
from brainalign.exceptions import DataError

#: Measures of :func:`score_measure`, in the order tables show them.
MEASURES = ("ridge", "pls", "cca", "rsa", "trsa", "cka", "svcca", "pwcca", "procrustes",
            "angular")  # fmt: skip
#: Measures fitted on the training stimuli (the others only see the held-out ones).
FITTED_MEASURES = ("ridge", "pls", "cca")
#: Measures where smaller means closer.
DISTANCES = ("procrustes", "angular")
#: Measures whose value is built from RDMs (a bootstrap would pair a stimulus with
#: its own copy, a dissimilarity of 0 in both RDMs: no interval is drawn).
RDM_MEASURES = ("rsa", "trsa")


@dataclass(frozen=True)
class MeasureResult:
    """A measure's value on the held-out stimuli, its null and its interval.

    Attributes
    ----------
    measure : str
        Measure name.
    value : float
        Score on the held-out stimuli.
    p : float
        Permutation p: share of shuffled pairings scoring at least as well (with the
        observed one counted), NaN without permutations.
    null_mean, null_high : float
        Mean and 95th percentile (5th for distances) of the shuffled scores.
    low, high : float
        95 % percentile bootstrap interval over held-out stimuli (NaN for RDM measures
        and without bootstraps).
    n_test : int
        Held-out stimuli.
    """

    measure: str
    value: float
    p: float
    null_mean: float
    null_high: float
    low: float
    high: float
    n_test: int


def score_measure(
    measure,
    features,
    responses,
    feature_ids,
    response_ids,
    test_ids,
    *,
    n_permutations=200,
    n_bootstraps=0,
    seed=0,
    options=None,
) -> MeasureResult:
    """Score one measure between model features and brain responses, joined by id.

    Parameters
    ----------
    measure : str
        One of :data:`MEASURES`.
    features : array-like of shape (n_feature_rows, n_features)
        Model features, one row per stimulus id.
    responses : array-like of shape (n_response_rows, n_targets)
        Responses (repetitions averaged), one row per stimulus id.
    feature_ids, response_ids : array-like
        Stimulus ids of the rows (unique within each).
    test_ids : array-like
        Held-out stimuli; the other shared stimuli are the training stimuli.
    n_permutations : int
        Shuffles of the held-out pairing (0: no null).
    n_bootstraps : int
        Bootstrap resamples of the held-out stimuli (0: no interval).
    seed : int
        Seed of the shuffles and resamples.
    options : dict, optional
        Measure options: ``n_components`` (cca, pls), ``reg`` (cca), ``alpha``
        (shape metrics), ``lower``/``upper`` (trsa quantiles, default 0 and 0.5),
        ``comparison`` (rsa, trsa: default spearman), ``alphas`` (ridge).

    Returns
    -------
    MeasureResult
        Value, permutation p and null, bootstrap interval.

    Raises
    ------
    ParameterError
        If the measure is unknown.
    DataError
        If ids are missing or fewer than 3 held-out (or training) stimuli remain.
    """
    check_option("measure", measure, MEASURES)
    n_permutations = int(n_permutations)
    if n_permutations:
        check_positive_int("n_permutations", n_permutations)
    x, y, test = _joined(features, responses, feature_ids, response_ids, test_ids)
    train = np.setdiff1d(np.arange(len(x)), test)
    if measure in FITTED_MEASURES and len(train) < 3:
        raise DataError(f"Measure {measure!r} needs at least 3 training stimuli; got {len(train)}.")
    scorer = _scorer(measure, x[train], y[train], dict(options or {}))
    xt, yt = x[test], y[test]
    value = scorer(xt, yt)
    rng = np.random.default_rng(seed)
    null = np.array([scorer(xt, yt[rng.permutation(len(yt))]) for _ in range(n_permutations)])
    distance = measure in DISTANCES
    if n_permutations:
        better = null <= value if distance else null >= value
        p = (better.sum() + 1) / (n_permutations + 1)
        null_mean, null_high = null.mean(), np.quantile(null, 0.05 if distance else 0.95)
    else:
        p = null_mean = null_high = np.nan
    low = high = np.nan
    if n_bootstraps and measure not in RDM_MEASURES:
        boot = []
        for _ in range(int(n_bootstraps)):
            rows = rng.integers(0, len(xt), len(xt))
            boot.append(scorer(xt[rows], yt[rows]))
        low, high = np.quantile(boot, [0.025, 0.975])
    return MeasureResult(measure, float(value), float(p), float(null_mean), float(null_high),
                         float(low), float(high), len(test))  # fmt: skip


def _joined(features, responses, feature_ids, response_ids, test_ids):
    """Rows of features and responses for the shared ids; test row positions."""
    from brainalign.compare._cca import _pair
    from brainalign.compare._rsa import positions

    response_ids = np.asarray(response_ids)
    x = np.asarray(features)[positions(np.asarray(feature_ids), response_ids, "features")]
    x, y = _pair(x, responses)
    test = np.flatnonzero(np.isin(response_ids, np.asarray(test_ids)))
    if len(test) < 3:
        raise DataError(f"Scoring a measure needs at least 3 held-out stimuli; got {len(test)}.")
    return x, y, test


def _scorer(measure, x_train, y_train, options):
    """Return ``score(x_test, y_test) -> float`` (fitted on the training rows if needed)."""
    if measure == "ridge":
        from brainalign.encoding import EncodingModel, pearson_r

        model = EncodingModel(alphas=options.get("alphas")).fit(x_train, y_train)
        return lambda xt, yt: float(np.nanmean(pearson_r(yt, model.predict(xt))))
    if measure == "pls":
        return _pls_scorer(x_train, y_train, options.get("n_components", 25))
    if measure == "cca":
        return _cca_scorer(x_train, y_train, options)
    return _unfitted(measure, options)


def _pls_scorer(x_train, y_train, n_components):
    from brainalign.compare._pls import fit_pls, pls_r

    model = fit_pls(x_train, y_train, n_components)
    return lambda xt, yt: float(np.mean(pls_r(model, xt, yt)))


def _cca_scorer(x_train, y_train, options):
    from brainalign.compare._cca import canonical_correlations, held_out_correlations

    limit = min(x_train.shape[1], y_train.shape[1], len(x_train) - 1)
    k = min(int(options.get("n_components", 10)), limit)
    fit = canonical_correlations(x_train, y_train, n_components=k, reg=options.get("reg", 0.1))
    return lambda xt, yt: float(np.mean(held_out_correlations(fit, xt, yt)))


def _unfitted(measure, options):
    """Scorers that only see the held-out stimuli."""
    from brainalign.compare._cca import pwcca, svcca
    from brainalign.compare._cka import linear_cka
    from brainalign.compare._shape import shape_distance

    if measure in RDM_MEASURES:
        return _rdm_scorer(measure, options)
    if measure == "cka":
        return lambda xt, yt: linear_cka(xt, yt)
    if measure == "svcca":
        return lambda xt, yt: svcca(xt, yt)
    if measure == "pwcca":
        return lambda xt, yt: pwcca(xt, yt)
    alpha = options.get("alpha", 1.0)
    return lambda xt, yt: shape_distance(xt, yt, alpha=alpha, kind=measure)


def _rdm_scorer(measure, options):
    from brainalign.compare._rsa import compute_rdm
    from brainalign.compare._rsa_compare import compare_rdms
    from brainalign.compare._trsa import geotopological

    comparison = options.get("comparison", "spearman")
    lower, upper = options.get("lower", 0.0), options.get("upper", 0.5)

    def rdm(values):
        made = compute_rdm(values, np.arange(len(values)))
        return geotopological(made, lower, upper) if measure == "trsa" else made

    return lambda xt, yt: compare_rdms(rdm(xt), rdm(yt), comparison)
