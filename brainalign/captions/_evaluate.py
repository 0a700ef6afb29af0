"""Scores of captions: LaVCa's sentence-level score and predicted activation, with baselines."""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_positive_int
from brainalign.captions._directions import unit_rows
from brainalign.exceptions import DataError


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


def shuffled_baseline(score_matrix, n_shuffles=50, seed=0) -> np.ndarray:
    """Mean score of other units' captions on each unit (the shuffled-caption baseline).

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
