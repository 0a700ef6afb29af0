"""Comparisons of two RDMs: rank, linear and whitened similarity, joined by stimulus id.

The functions on condensed vectors accept NaN for pairs to leave out (the same pairs
in both vectors), as bootstrap resampling creates them.
"""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_option, check_type
from brainalign.compare._rsa import RDM, same_ids
from brainalign.exceptions import DataError

#: Comparison methods of :func:`compare_rdms` (the keys of ``_COMPARE`` below).
RDM_COMPARISONS = (
    "spearman",
    "pearson",
    "tau_a",
    "cosine",
    "whitened_pearson",
    "whitened_cosine",
)


def compare_rdms(rdm1: RDM, rdm2: RDM, method: str = "spearman") -> float:
    """Similarity of two RDMs over the same stimuli, joined by stimulus id.

    Parameters
    ----------
    rdm1, rdm2 : RDM
        RDMs over the same set of stimulus ids (in any order; at least 3 stimuli).
    method : {"spearman", "pearson", "tau_a", "cosine", "whitened_pearson", \
"whitened_cosine"}
        ``"spearman"``: Pearson r of the ranks (ties get their average rank).
        ``"pearson"``: Pearson r of the dissimilarities. ``"tau_a"``: Kendall's
        tau-a, ``(concordant - discordant) / n_pairs`` (ties count as neither; the
        comparison of choice when a model predicts ties). ``"cosine"``: cosine of the
        dissimilarity vectors. ``"whitened_cosine"``: cosine of the two double-centred
        second-moment matrices ``H (-D / 2) H`` (Frobenius inner product), which
        whitens the dependence between dissimilarities that share a stimulus
        (Diedrichsen et al. 2021); equal to rsatoolbox's ``"cosine_cov"`` and to linear
        CKA for squared Euclidean RDMs. ``"whitened_pearson"``: the same after
        subtracting the mean dissimilarity (rsatoolbox's ``"corr_cov"``).

    Returns
    -------
    float
        The similarity; 0 when one RDM is constant (the measure is undefined).

    Raises
    ------
    ParameterError
        If ``method`` is unknown or an argument is not an RDM.
    DataError
        If the RDMs cover different stimuli (the message names the ids missing from
        each) or fewer than 3.
    """
    check_type("rdm1", rdm1, RDM)
    check_type("rdm2", rdm2, RDM)
    check_option("method", method, RDM_COMPARISONS)
    if rdm1.n_stimuli < 3:
        raise DataError(f"Comparing RDMs needs at least 3 stimuli; got {rdm1.n_stimuli}.")
    index = same_ids(rdm1.stimulus_ids, rdm2.stimulus_ids, names=("rdm1", "rdm2"))
    other = rdm2.to_matrix()[np.ix_(index, index)]
    from scipy.spatial.distance import squareform

    return compare_vectors(rdm1.dissimilarities, squareform(other, checks=False), method)


def compare_vectors(a, b, method: str) -> float:
    """Compare two condensed RDM vectors of the same stimuli (NaN marks left-out pairs).

    Parameters
    ----------
    a, b : ndarray of shape (n_pairs,)
        Condensed dissimilarities; NaN where a pair is left out.
    method : str
        One of :data:`RDM_COMPARISONS`.

    Returns
    -------
    float
        The similarity; NaN when fewer than 2 pairs remain.
    """
    keep = ~(np.isnan(a) | np.isnan(b))
    if keep.sum() < 2:
        return float("nan")
    if method in _NEEDS_LAYOUT:  # whitening needs to know which pairs are left out
        return _COMPARE[method](np.where(keep, a, np.nan), np.where(keep, b, np.nan))
    return _COMPARE[method](a[keep], b[keep])


def _cosine(a, b) -> float:
    denom = np.sqrt(np.vdot(a, a) * np.vdot(b, b))
    return float(np.vdot(a, b) / denom) if denom > 0 else 0.0


def _pearson(a, b) -> float:
    return _cosine(a - a.mean(), b - b.mean())


def _spearman(a, b) -> float:
    from scipy.stats import rankdata

    return _pearson(rankdata(a), rankdata(b))


def _whitened_cosine(a, b) -> float:
    return _cosine(_whitened(a), _whitened(b))


def _whitened_pearson(a, b) -> float:
    return _whitened_cosine(a - np.nanmean(a), b - np.nanmean(b))


def _tau_a(a, b) -> float:
    """Kendall's tau-a from scipy's O(n log n) tau-b and the tie counts."""
    from scipy.stats import kendalltau

    n0 = a.size * (a.size - 1) / 2
    ties_a, ties_b = _tied_pairs(a), _tied_pairs(b)
    if ties_a == n0 or ties_b == n0:  # a constant vector: no concordant or discordant pair
        return 0.0
    tau_b = kendalltau(a, b).statistic
    return float(np.clip(tau_b * np.sqrt((n0 - ties_a) * (n0 - ties_b)) / n0, -1.0, 1.0))


def _tied_pairs(x) -> float:
    _, counts = np.unique(x, return_counts=True)
    return float((counts * (counts - 1) / 2).sum())


def _whitened(vector) -> np.ndarray:
    """Double-centred second moment ``H (-D / 2) H`` as a square matrix.

    Left-out pairs (NaN) are handled as a least-squares fit of symmetric row and
    column effects ``G_ij ~ m_i + m_j`` on the observed entries (the diagonal, zero,
    always observed); with no pair left out this is exactly double centring.
    """
    from scipy.spatial.distance import squareform

    g = squareform(-0.5 * np.nan_to_num(vector, nan=0.0), checks=False)
    if not np.isnan(vector).any():
        row = g.mean(1)
        return g - row[:, None] - row[None, :] + row.mean()
    observed = squareform((~np.isnan(vector)).astype(np.float64), checks=False)
    np.fill_diagonal(observed, 1.0)
    effects = np.linalg.solve(np.diag(observed.sum(1)) + observed, (observed * g).sum(1))
    return (g - effects[:, None] - effects[None, :]) * observed


_COMPARE = {
    "spearman": _spearman,
    "pearson": _pearson,
    "tau_a": _tau_a,
    "cosine": _cosine,
    "whitened_pearson": _whitened_pearson,
    "whitened_cosine": _whitened_cosine,
}
_NEEDS_LAYOUT = ("whitened_pearson", "whitened_cosine")


def pool_vectors(vectors, method: str) -> np.ndarray:
    """Average several condensed RDMs into the one that best represents them for ``method``.

    Rank methods average ranks; correlation methods average z-scored vectors; cosine
    methods average vectors scaled to unit root mean square (as rsatoolbox's
    ``pool_rdm``).

    Parameters
    ----------
    vectors : ndarray of shape (n_rdms, n_pairs)
        Complete condensed RDMs.
    method : str
        One of :data:`RDM_COMPARISONS`.

    Returns
    -------
    ndarray of shape (n_pairs,)
        The pooled RDM.
    """
    v = np.asarray(vectors, dtype=np.float64)
    if method in ("spearman", "tau_a"):
        from scipy.stats import rankdata

        v = rankdata(v, axis=1)
    elif method in ("pearson", "whitened_pearson"):
        v = v - v.mean(1, keepdims=True)
        sd = v.std(1, keepdims=True)
        v = v / np.where(sd > 0, sd, 1.0)
    else:
        rms = np.sqrt((v**2).mean(1, keepdims=True))
        v = v / np.where(rms > 0, rms, 1.0)
    return v.mean(0)
