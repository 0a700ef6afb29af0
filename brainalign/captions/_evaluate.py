"""Scores of captions: LaVCa's sentence-level score and predicted activation, with baselines."""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_positive_int
from brainalign.captions._directions import unit_rows
from brainalign.exceptions import DataError, ParameterError

#: Captions in the fixed random-caption pool of the shuffled baseline.
N_POOL = 100
#: Permutations of the test images behind a caption's p-value.
N_PERMUTATIONS = 1000
#: p-value below which a caption is called informative.
INFORMATIVE_P = 0.05


def _rank_z(x) -> np.ndarray:
    """Column ranks, centred and scaled to unit norm (zero columns stay zero)."""
    from scipy.stats import rankdata

    r = rankdata(x, axis=0)
    r -= r.mean(0)
    norm = np.sqrt((r**2).sum(0))
    return r / np.where(norm > 0, norm, 1.0)


def sentence_scores(caption_emb, image_caption_emb, responses) -> np.ndarray:
    """LaVCa sentence-level score of each (caption, unit) pair.

    The similarity of a caption to each test image's caption (cosine of sentence
    embeddings), correlated (Spearman) across test images with the unit's responses.

    Parameters
    ----------
    caption_emb : array-like of shape (n_captions, n_dims)
        Sentence embeddings of the captions.
    image_caption_emb : array-like of shape (n_images, n_dims)
        Sentence embeddings of the test images' captions.
    responses : array-like of shape (n_images, n_units)
        Measured (or predicted) responses of the units to the test images.

    Returns
    -------
    numpy.ndarray of shape (n_captions, n_units)
        Spearman correlation of caption ``c``'s similarities with unit ``u``'s responses.
    """
    sim = unit_rows(image_caption_emb) @ unit_rows(caption_emb).T  # (n_images, n_captions)
    resp = np.asarray(responses, dtype=np.float64)
    resp = resp[:, None] if resp.ndim == 1 else resp
    if resp.shape[0] != sim.shape[0]:
        raise DataError(
            f"responses have {resp.shape[0]} rows for {sim.shape[0]} test images' captions."
        )
    return _rank_z(sim).T @ _rank_z(resp)


def baseline_pool(captions, n_captions=N_POOL, seed=0) -> list:
    """Draw the fixed pool of random captions behind the shuffled baseline.

    A seeded draw, without replacement, of the distinct non-empty captions given
    (``caption_run`` passes every caption of the run's training images), so the
    baseline of a unit depends on the run and the seed only, not on which other
    units are captioned.

    Parameters
    ----------
    captions : sequence of str
        Captions to draw from, in a fixed order.
    n_captions : int
        Pool size (all captions when fewer).
    seed : int
        Seed of the draw.

    Returns
    -------
    list of str
        The pool.
    """
    n_captions = check_positive_int("n_captions", n_captions)
    distinct = list(dict.fromkeys(str(c) for c in captions if str(c).strip()))
    if not distinct:
        raise DataError("No caption to draw the shuffled-baseline pool from.")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(distinct), min(n_captions, len(distinct)), replace=False)
    return [distinct[i] for i in np.sort(pick)]


def caption_permutation_test(caption_emb, pool_emb, image_caption_emb, responses,
                             n_permutations=N_PERMUTATIONS, seed=0) -> dict:  # fmt: skip
    """Sentence score of each unit's caption, its pool baseline and a permutation p-value.

    The score is LaVCa's sentence score (:func:`sentence_scores`) of caption ``u``
    on unit ``u``; the baseline is the mean score of the pool's captions on the
    unit (what a random caption gets). The p-value tests the margin ``score -
    baseline`` against its null: the unit's responses permuted over the test
    images (caption and pool fixed), which is exact when the unit's responses are
    unrelated to the captions. ``p = (1 + #{null >= margin}) / (1 + n_permutations)``.

    Parameters
    ----------
    caption_emb : array-like of shape (n_units, n_dims)
        Sentence embedding of each unit's caption.
    pool_emb : array-like of shape (n_pool, n_dims)
        Sentence embeddings of the baseline pool (:func:`baseline_pool`).
    image_caption_emb : array-like of shape (n_images, n_dims)
        Sentence embeddings of the test images' captions.
    responses : array-like of shape (n_images, n_units)
        Measured responses of the units to the test images.
    n_permutations : int
        Permutations of the test images.
    seed : int
        Seed of the permutations.

    Returns
    -------
    dict
        Arrays of shape (n_units,): ``score``, ``baseline`` (pool mean),
        ``baseline_p95`` (the pool's 95th percentile, for reference) and
        ``p_value``.
    """
    n_permutations = check_positive_int("n_permutations", n_permutations)
    resp = np.asarray(responses, dtype=np.float64)
    resp = resp[:, None] if resp.ndim == 1 else resp
    if len(caption_emb) != resp.shape[1]:
        raise ParameterError(
            f"Invalid value for 'caption_emb': expected one caption per unit "
            f"({resp.shape[1]}); got {len(caption_emb)}."
        )
    own = _rank_z(_similarities(caption_emb, image_caption_emb, resp))  # (n_images, n_units)
    pool = _rank_z(_similarities(pool_emb, image_caption_emb, resp))  # (n_images, n_pool)
    ranked = _rank_z(resp)
    pool_scores = pool.T @ ranked  # (n_pool, n_units)
    contrast = own - pool.mean(1, keepdims=True)  # margin = contrast . ranked responses
    margin = (contrast * ranked).sum(0)
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((n_permutations, len(resp))), axis=1)
    null = np.stack([contrast[perms, u] @ ranked[:, u] for u in range(resp.shape[1])], axis=1)
    beaten = (null >= margin - 1e-12).sum(0)
    return {
        "score": (own * ranked).sum(0),
        "baseline": pool_scores.mean(0),
        "baseline_p95": np.quantile(pool_scores, 0.95, axis=0),
        "p_value": (1 + beaten) / (1 + n_permutations),
    }


def _similarities(caption_emb, image_caption_emb, resp) -> np.ndarray:
    sim = unit_rows(image_caption_emb) @ unit_rows(caption_emb).T  # (n_images, n_captions)
    if resp.shape[0] != sim.shape[0]:
        raise DataError(
            f"responses have {resp.shape[0]} rows for {sim.shape[0]} test images' captions."
        )
    return sim


def shuffled_baseline(score_matrix, n_shuffles=50, seed=0) -> np.ndarray:
    """Mean score of other units' captions on each unit.

    The former baseline of ``caption_run``: it changes with the units captioned
    together (and is undefined for one unit), so ``caption_run`` now uses the fixed
    pool of :func:`baseline_pool` and :func:`caption_permutation_test` instead.

    Parameters
    ----------
    score_matrix : array-like of shape (n_units, n_units)
        ``score_matrix[c, u]``: score of unit ``c``'s caption on unit ``u``.
    n_shuffles : int
        Other units drawn per unit (all when fewer).
    seed : int
        Seed of the draw.

    Returns
    -------
    numpy.ndarray of shape (n_units,)
        Baseline per unit (NaN when there is no other unit).
    """
    n_shuffles = check_positive_int("n_shuffles", n_shuffles)
    s = np.asarray(score_matrix, dtype=np.float64)
    rng = np.random.default_rng(seed)
    out = np.full(s.shape[1], np.nan)
    for u in range(s.shape[1]):
        others = np.delete(np.arange(s.shape[0]), u) if s.shape[0] == s.shape[1] else None
        others = np.arange(s.shape[0]) if others is None else others
        if others.size:
            pick = rng.choice(others, min(n_shuffles, others.size), replace=False)
            out[u] = s[pick, u].mean()
    return out


def predicted_activation(text_emb, directions, offsets=None, norm=None) -> np.ndarray:
    """Predicted activation of each unit to each caption's text embedding.

    ``text @ direction + offset``, with text embeddings rescaled to ``norm`` (e.g.
    the mean norm of the image embeddings the model was fitted on, since text and
    image embeddings of a joint space differ in norm).

    Parameters
    ----------
    text_emb : array-like of shape (n_captions, n_dims)
        Text embeddings in the encoding model's feature space.
    directions : array-like of shape (n_units, n_dims)
        Unit directions in the original feature space.
    offsets : array-like of shape (n_units,), optional
        Intercepts in the original feature space.
    norm : float, optional
        Norm given to each text embedding (default: unchanged).

    Returns
    -------
    numpy.ndarray of shape (n_captions, n_units)
        Predicted activations.
    """
    t = np.asarray(text_emb, dtype=np.float64)
    if norm is not None:
        t = unit_rows(t) * float(norm)
    w = np.asarray(directions, dtype=np.float64)
    if t.shape[1] != w.shape[1]:
        raise DataError(f"text embeddings have {t.shape[1]} dimensions; directions {w.shape[1]}.")
    out = t @ w.T
    return out if offsets is None else out + np.asarray(offsets, dtype=np.float64)
