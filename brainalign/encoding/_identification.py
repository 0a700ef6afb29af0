"""Identification of the seen stimulus from a predicted embedding, with chance levels."""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_positive_int
from brainalign.exceptions import DataError, ParameterError


def cosine_similarity(predicted, candidates) -> np.ndarray:
    """Cosine similarity of every prediction with every candidate.

    Parameters
    ----------
    predicted : array-like of shape (n_predictions, n_dims)
        Predicted embeddings.
    candidates : array-like of shape (n_candidates, n_dims)
        Candidate embeddings.

    Returns
    -------
    numpy.ndarray of shape (n_predictions, n_candidates)
        Cosines (0 where a vector has zero norm).
    """
    p = _rows("predicted", predicted)
    c = _rows("candidates", candidates)
    if p.shape[1] != c.shape[1]:
        raise DataError(
            f"predicted and candidates must have the same number of dimensions; "
            f"got {p.shape[1]} and {c.shape[1]}"
        )
    return _unit(p) @ _unit(c).T


def identification_rank(predicted, true) -> np.ndarray:
    """Rank of the true stimulus among all candidates, for each prediction.

    Row ``i`` of ``predicted`` belongs to row ``i`` of ``true``; every row of
    ``true`` is a candidate for every prediction. Ties count against the true
    stimulus, so a prediction that cannot tell candidates apart scores at or below
    chance: a zero prediction ties every candidate and identifies nothing (top-k
    accuracy 0), and a constant non-zero prediction identifies exactly the one
    stimulus nearest to it (top-1 accuracy ``1 / n``, chance).

    Parameters
    ----------
    predicted : array-like of shape (n, n_dims)
        Predicted embeddings.
    true : array-like of shape (n, n_dims)
        True embeddings of the same stimuli, in the same order.

    Returns
    -------
    numpy.ndarray of shape (n,)
        0 when the true stimulus is the most similar candidate.
    """
    sim = _paired_similarity(predicted, true)
    own = np.diag(sim)[:, None]
    return (sim >= own).sum(axis=1) - 1


def identification_accuracy(predicted, true, top_k: int = 1) -> float:
    """Top-k identification accuracy among the ``n`` stimuli by cosine similarity.

    Parameters
    ----------
    predicted, true : array-like of shape (n, n_dims)
        Predicted and true embeddings, row ``i`` of each for the same stimulus.
    top_k : int, default=1
        A prediction counts as correct when its stimulus is among the ``top_k``
        most similar candidates.

    Returns
    -------
    float
        Fraction correct; chance is ``top_k / n``.
    """
    top_k = check_positive_int("top_k", top_k)
    ranks = identification_rank(predicted, true)
    if top_k > ranks.size:
        raise ParameterError(
            f"top_k must be at most the number of candidates ({ranks.size}); got {top_k}"
        )
    return float(np.mean(ranks < top_k))


def pairwise_identification(predicted, true) -> float:
    """Two-way identification: how often a prediction is closer to its own stimulus.

    For every pair of stimuli ``(i, j)``, prediction ``i`` is correct when
    ``cos(pred_i, true_i) > cos(pred_i, true_j)`` (ties count one half). The
    accuracy averages over all ordered pairs; chance is 0.5.

    Parameters
    ----------
    predicted, true : array-like of shape (n, n_dims)
        Predicted and true embeddings, row ``i`` of each for the same stimulus.

    Returns
    -------
    float
        Fraction of pairs identified.
    """
    sim = _paired_similarity(predicted, true)
    n = sim.shape[0]
    own = np.diag(sim)[:, None]
    wins = (own > sim).sum() + 0.5 * ((own == sim).sum() - n)
    return float(wins / (n * (n - 1)))


def identification_scores(predicted, true, top_k=(1, 5)) -> dict:
    """Identification metrics and their chance levels.

    Parameters
    ----------
    predicted, true : array-like of shape (n, n_dims)
        Predicted and true embeddings, row ``i`` of each for the same stimulus.
    top_k : sequence of int, default=(1, 5)
        Top-k accuracies to report (those above ``n`` are left out).

    Returns
    -------
    dict
        ``{metric: (value, chance)}`` with ``top1``, ``top5`` ... and ``pairwise``.
        Chance is that of a prediction unrelated to its stimulus: ``k / n`` for top-k
        (ties count against the truth, so a tied prediction scores at most this)
        and 0.5 for pairwise (ties count one half).
    """
    ranks = identification_rank(predicted, true)
    n = ranks.size
    out = {f"top{k}": (float(np.mean(ranks < k)), k / n) for k in top_k if k <= n}
    out["pairwise"] = (pairwise_identification(predicted, true), 0.5)
    return out


def _paired_similarity(predicted, true) -> np.ndarray:
    p = _rows("predicted", predicted)
    t = _rows("true", true)
    if p.shape != t.shape:
        raise DataError(
            f"predicted and true must have the same shape (one row per stimulus); "
            f"got {p.shape} and {t.shape}"
        )
    if p.shape[0] < 2:
        raise DataError(f"identification needs at least 2 stimuli; got {p.shape[0]}")
    return cosine_similarity(p, t)


def _rows(name: str, a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise DataError(f"{name} must be a 2-D array (stimuli x dimensions); got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise DataError(f"{name} contains NaN or infinite values")
    return a


def _unit(a: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(a, axis=1, keepdims=True)
    return np.divide(a, norm, out=np.zeros_like(a), where=norm > 0)


def identification_null(sim, permutations, top_k=(1, 5)) -> dict:
    """Identification scores when the stimuli are shuffled: a permutation null.

    Prediction ``i`` is scored as if its stimulus were ``permutation[i]``: the
    metrics a decoder without information would get on these very predictions
    and candidates (same similarity structure, shuffled correspondence). Scores
    are read off the rank of every candidate in every row, computed once, so each
    permutation costs ``O(n)``.

    Parameters
    ----------
    sim : array-like of shape (n, n)
        Similarity of prediction ``i`` (rows) with candidate ``j`` (columns); the
        diagonal holds the true pairs.
    permutations : array-like of int, shape (n_permutations, n)
        Each row a permutation of ``range(n)``.
    top_k : sequence of int
        Top-k accuracies (those above ``n`` are left out).

    Returns
    -------
    dict of str -> ndarray of shape (n_permutations,)
        ``top<k>`` and ``pairwise`` under each permutation, with the ties rules of
        :func:`identification_rank` and :func:`pairwise_identification` (the
        identity permutation gives exactly their values).
    """
    sim = np.asarray(sim, dtype=np.float64)
    perms = np.asarray(permutations, dtype=np.intp)
    n = sim.shape[0]
    if sim.shape != (n, n) or n < 2 or perms.ndim != 2 or perms.shape[1] != n:
        raise DataError(
            f"Expected an n x n similarity (n >= 2) and permutations of shape "
            f"(n_permutations, n); got {sim.shape} and {perms.shape}."
        )
    ordered = np.sort(sim, axis=1)
    below = np.stack([np.searchsorted(ordered[i], sim[i], "left") for i in range(n)])
    upto = np.stack([np.searchsorted(ordered[i], sim[i], "right") for i in range(n)])
    rank = n - below - 1  # candidates at least as similar, the candidate left out
    pair = (below + 0.5 * (upto - below - 1)) / (n - 1)
    rows = np.arange(n)
    ranks = rank[rows, perms]  # (n_permutations, n)
    out = {f"top{k}": (ranks < k).mean(axis=1) for k in top_k if k <= n}
    out["pairwise"] = pair[rows, perms].mean(axis=1)
    return out
