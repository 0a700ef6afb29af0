"""Noise ceiling across subjects and bootstrap confidence intervals over stimuli."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from brainalign._utils import check_option, check_positive_int, check_type
from brainalign.compare._rsa import RDM, same_ids
from brainalign.compare._rsa_compare import RDM_COMPARISONS, compare_vectors, pool_vectors
from brainalign.exceptions import DataError, ParameterError


class NoiseCeiling(NamedTuple):
    """Lower and upper bounds of the noise ceiling (unpacks as ``lower, upper``)."""

    lower: float
    upper: float


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """A statistic with its percentile bootstrap confidence interval.

    Attributes
    ----------
    value : float
        The statistic on all stimuli.
    low, high : float
        Percentile confidence interval.
    confidence : float
        Coverage of the interval (e.g. 0.95).
    samples : ndarray of shape (n_bootstraps,)
        The statistic on each bootstrap sample (NaN where a sample kept fewer than
        2 distinct pairs).
    """

    value: float
    low: float
    high: float
    confidence: float
    samples: np.ndarray = field(repr=False)


def noise_ceiling(rdms, method: str = "spearman") -> NoiseCeiling:
    """Noise ceiling of an RDM comparison across subjects (leave one subject out).

    The lower bound compares each subject's RDM with the pool of the other subjects'
    RDMs; the upper bound compares it with the pool of all RDMs (its own included);
    each is the mean over subjects. The pool is the average suited to ``method``
    (ranks for rank methods, z-scores for correlations, unit-RMS vectors for cosines),
    as in rsatoolbox's ``boot_noise_ceiling`` (Nili et al. 2014).

    Parameters
    ----------
    rdms : sequence of RDM
        One RDM per subject (at least 2), over the same stimulus ids in any order.
    method : str
        Comparison method, one of :data:`RDM_COMPARISONS`.

    Returns
    -------
    NoiseCeiling
        ``(lower, upper)``.

    Raises
    ------
    ParameterError
        If ``method`` is unknown or ``rdms`` is not a sequence of RDM.
    DataError
        If fewer than 2 RDMs are given or they cover different stimuli.
    """
    check_option("method", method, RDM_COMPARISONS)
    rdms = _check_rdms(rdms, "rdms")
    vectors = _aligned_vectors(rdms, [f"rdms[{i}]" for i in range(len(rdms))])[1]
    if len(vectors) < 2:
        raise DataError(f"A noise ceiling needs at least 2 subjects' RDMs; got {len(vectors)}.")
    everyone = pool_vectors(vectors, method)
    lower, upper = [], []
    for i, own in enumerate(vectors):
        others = pool_vectors(np.delete(vectors, i, axis=0), method)
        lower.append(compare_vectors(others, own, method))
        upper.append(compare_vectors(everyone, own, method))
    return NoiseCeiling(float(np.mean(lower)), float(np.mean(upper)))


def bootstrap_compare(
    model_rdm: RDM,
    data_rdms,
    method: str = "spearman",
    n_bootstraps: int = 1000,
    confidence: float = 0.95,
    seed=0,
) -> BootstrapResult:
    """Compare a model RDM with data RDMs, with a bootstrap CI over stimuli.

    The statistic is the mean comparison of ``model_rdm`` with each data RDM. Each
    bootstrap sample draws the stimuli with replacement; the pairs of a stimulus with
    its own copy are left out (their zero dissimilarity says nothing about the
    model), as rsatoolbox's ``bootstrap_sample_pattern`` does. Sample ``b`` takes the
    stimuli ``sort(rng.integers(0, n_stimuli, n_stimuli))`` of
    ``rng = numpy.random.default_rng(seed)``, one draw per sample in turn.

    Parameters
    ----------
    model_rdm : RDM
        Model (or reference) RDM.
    data_rdms : RDM or sequence of RDM
        Data RDM(s), e.g. one per subject, over the same stimulus ids.
    method : str
        Comparison method, one of :data:`RDM_COMPARISONS`.
    n_bootstraps : int
        Number of bootstrap samples.
    confidence : float
        Coverage of the percentile interval, in (0, 1).
    seed : int or numpy.random.Generator
        Seed of the resampling (same seed, same interval).

    Returns
    -------
    BootstrapResult
        Value, interval and bootstrap samples.

    Raises
    ------
    ParameterError
        If an argument is invalid.
    DataError
        If the RDMs cover different stimuli or fewer than 3.
    """
    check_type("model_rdm", model_rdm, RDM)
    check_option("method", method, RDM_COMPARISONS)
    n_bootstraps = check_positive_int("n_bootstraps", n_bootstraps)
    confidence = _check_confidence(confidence)
    data = [data_rdms] if isinstance(data_rdms, RDM) else _check_rdms(data_rdms, "data_rdms")
    labels = ["model_rdm"] + (
        ["data_rdms"] if len(data) == 1 else [f"data_rdms[{i}]" for i in range(len(data))]
    )
    ids, vectors = _aligned_vectors([model_rdm, *data], labels)
    if ids.size < 3:
        raise DataError(f"Bootstrapping over stimuli needs at least 3 stimuli; got {ids.size}.")
    value = _mean_similarity(vectors, method)
    samples = _bootstrap_samples(vectors, ids.size, method, n_bootstraps, seed)
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        raise DataError("No bootstrap sample kept 2 distinct stimulus pairs.")
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return BootstrapResult(value, float(low), float(high), confidence, samples)


def _bootstrap_samples(vectors, n, method, n_bootstraps, seed) -> np.ndarray:
    from scipy.spatial.distance import squareform

    rng = np.random.default_rng(seed)
    squares = np.stack([squareform(v, checks=False) for v in vectors])
    out = np.empty(n_bootstraps)
    for b in range(n_bootstraps):
        idx = np.sort(rng.integers(0, n, size=n))
        sub = squares[:, idx][:, :, idx]
        sub[:, idx[:, None] == idx[None, :]] = np.nan  # a stimulus against its own copy
        out[b] = _mean_similarity([squareform(s, checks=False) for s in sub], method)
    return out


def _mean_similarity(vectors, method) -> float:
    """Mean comparison of the first vector (model) with each of the others (data)."""
    return float(np.mean([compare_vectors(vectors[0], v, method) for v in vectors[1:]]))


def _check_rdms(rdms, name: str) -> list:
    """Return ``rdms`` as a non-empty list of RDM."""
    if isinstance(rdms, (str, bytes)) or not hasattr(rdms, "__iter__"):
        raise ParameterError(
            f"Invalid type for {name!r}: expected a sequence of RDM; got {type(rdms).__name__}."
        )
    rdms = list(rdms)
    for i, rdm in enumerate(rdms):
        check_type(f"{name}[{i}]", rdm, RDM)
    if not rdms:
        raise DataError(f"{name!r} is empty.")
    return rdms


def _aligned_vectors(rdms, labels):
    """Stack condensed RDMs in the stimulus order of the first (ids must match)."""
    from scipy.spatial.distance import squareform

    ids = rdms[0].stimulus_ids
    vectors = [rdms[0].dissimilarities]
    for i, rdm in enumerate(rdms[1:], start=1):
        index = same_ids(ids, rdm.stimulus_ids, names=(labels[0], labels[i]))
        vectors.append(squareform(rdm.to_matrix()[np.ix_(index, index)], checks=False))
    return ids, np.stack(vectors)


def _check_confidence(confidence) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
        raise ParameterError(
            f"Invalid type for 'confidence': expected float; got {type(confidence).__name__}."
        )
    if not 0 < confidence < 1:
        raise ParameterError(
            f"Invalid value for 'confidence': expected a number in (0, 1); got {confidence!r}."
        )
    return float(confidence)
