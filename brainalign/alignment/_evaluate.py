"""What a shared space is worth: cross-subject encoders, subject-to-subject prediction.

Also the canonical correlations that compare a recovered space with a known latent.
"""

from __future__ import annotations

import numpy as np

from brainalign.alignment._space import SubjectMap, rows_of
from brainalign.exceptions import DataError


def canonical_correlations(a, b) -> np.ndarray:
    """Canonical correlations of two sets of variables over the same samples.

    Parameters
    ----------
    a : array-like of shape (n_samples, p)
    b : array-like of shape (n_samples, q)
        Same samples, in the same order.

    Returns
    -------
    ndarray of shape (min(rank a, rank b),)
        Correlations of the successive canonical pairs, largest first.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or len(a) != len(b):
        raise DataError(
            f"'a' and 'b' must be 2-D with the same rows; got shapes {a.shape} and {b.shape}."
        )
    qa, qb = _basis(a - a.mean(0)), _basis(b - b.mean(0))
    return np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), 0.0, 1.0)


def _basis(x: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the column space (rank-revealing: drops null directions)."""
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    keep = s > s.max(initial=0.0) * max(x.shape) * np.finfo(float).eps
    return u[:, keep]


def subject_predictivity(data: dict, train_ids, test_ids, alphas=None) -> dict:
    """How well each subject's responses predict another's (a ceiling for models).

    For every ordered pair (source, target), a ridge map from the source's voxels to
    the target's is fitted on ``train_ids`` (penalty per target voxel by 5-fold CV)
    and scored by Pearson r per target voxel on ``test_ids``; ``"others"`` maps all
    other subjects' voxels together.

    Parameters
    ----------
    data : dict of subject -> BrainData
        Responses (one row per stimulus) of subjects who all saw both id sets.
    train_ids, test_ids : array-like
        Stimuli to fit on and to score on (disjoint).
    alphas : sequence of float, optional
        Ridge penalties.

    Returns
    -------
    dict of (source, target) -> ndarray of shape (n_targets of target,)
        Held-out r per target voxel; ``source`` is a subject or ``"others"``.
    """
    from brainalign.encoding import EncodingModel, pearson_r

    train_ids, test_ids = np.asarray(train_ids), np.asarray(test_ids)
    if np.intersect1d(train_ids, test_ids).size:
        raise DataError(
            "'train_ids' and 'test_ids' overlap: the prediction would be scored "
            "on stimuli it was fitted on."
        )
    rows = {s: (rows_of(d, train_ids), rows_of(d, test_ids)) for s, d in data.items()}
    out = {}
    for target, (y_train, y_test) in rows.items():
        others = [s for s in rows if s != target]
        for source in [*others, "others"]:
            group = others if source == "others" else [source]
            x_train = np.hstack([rows[s][0] for s in group]).astype(np.float32)
            x_test = np.hstack([rows[s][1] for s in group]).astype(np.float32)
            est = EncodingModel(alphas=alphas, cv=min(5, len(x_train)))
            est.fit(x_train, y_train.astype(np.float32))
            out[(source, target)] = pearson_r(y_test, est.predict(x_test))
    return out


def stacked_shared(space, data: dict, ids: dict, features) -> tuple[np.ndarray, np.ndarray]:
    """Features and shared-space responses of several subjects' stimuli, stacked.

    Parameters
    ----------
    space : SharedSpace
        Fitted space holding every subject of ``data``.
    data : dict of subject -> BrainData
        Responses.
    ids : dict of subject -> array-like
        Each subject's stimuli to use.
    features : FeatureSet
        Features of every one of those stimuli (joined by id).

    Returns
    -------
    X : ndarray of shape (n_rows, n_features)
    Z : ndarray of shape (n_rows, n_components)
        One row per (subject, stimulus).
    groups : ndarray of shape (n_rows,)
        The stimulus of each row: folds that split by it keep a stimulus seen by
        several subjects on one side (its feature rows are identical).
    """
    xs, zs, groups = [], [], []
    for s, d in data.items():
        these = np.asarray(ids[s])
        xs.append(features.align(these))
        zs.append(space.transform(s, rows_of(d, these)))
        groups.append(these)
    x, z = np.vstack(xs).astype(np.float32), np.vstack(zs).astype(np.float32)
    return x, z, np.concatenate(groups)


class SharedSpaceEncoder:
    """An encoder fitted in the shared space, read out in one subject's targets.

    The shared-space ridge ``Z = ((F - mean) / scale) @ C + c`` composed with the
    subject's map ``X = (Z @ B + b) * s + m`` is itself one linear model of the
    subject's targets; its attributes are those of
    :class:`~brainalign.encoding.EncodingModel`, so a cross-subject fit is written,
    scored and captioned like any other.

    Parameters
    ----------
    encoder : EncodingModel
        Fitted from features to the shared space (on other subjects' stimuli).
    subject_map : SubjectMap
        The subject's maps.

    Attributes
    ----------
    coef_, intercept_, mean_, scale_ : ndarray
        As :class:`~brainalign.encoding.EncodingModel` (features standardised with
        ``mean_``/``scale_``, then ``@ coef_ + intercept_``).
    best_alphas_ : ndarray of shape (n_targets,)
        The penalty of the shared dimension that carries most of each target's
        predicted variance.
    """

    def __init__(self, encoder, subject_map: SubjectMap):
        back = subject_map.backward * subject_map.scale  # (k, n_targets), original units
        self.mean_, self.scale_ = encoder.mean_, encoder.scale_
        self.coef_ = (encoder.coef_.astype(np.float64) @ back).astype(np.float32)
        offset = subject_map.backward_offset * subject_map.scale + subject_map.mean
        self.intercept_ = (encoder.intercept_ @ back + offset).astype(np.float32)
        carried = np.abs(back) * np.linalg.norm(encoder.coef_, axis=0)[:, None]
        self.best_alphas_ = np.asarray(encoder.best_alphas_)[carried.argmax(0)]

    def predict(self, X) -> np.ndarray:
        """Predict the subject's targets from features."""
        X = np.asarray(X, dtype=np.float32)
        return ((X - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
