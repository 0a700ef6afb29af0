"""Preferred directions of voxels and ROIs from a fitted encoding model."""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_option, check_positive_int
from brainalign.exceptions import DataError

#: How an ROI's direction is formed from its voxels' directions.
ROI_METHODS = ("mean", "pca")


def voxel_directions(coef, scale=None) -> np.ndarray:
    """Voxel weight vectors in the original feature space.

    An encoding model fitted on standardised features predicts
    ``((x - mean) / scale) @ coef + b``, i.e. ``x @ (coef / scale) + b'``: the
    direction of voxel ``v`` in feature space is ``coef[:, v] / scale``.

    Parameters
    ----------
    coef : array-like of shape (n_features, n_targets)
        Weights on standardised features (``EncodingModel.coef_``).
    scale : array-like of shape (n_features,), optional
        Feature scales (``EncodingModel.scale_``; default: ones).

    Returns
    -------
    numpy.ndarray of shape (n_targets, n_features)
        One direction per voxel (rows).
    """
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim != 2:
        raise DataError(f"coef must be (n_features, n_targets); got shape {coef.shape}.")
    if scale is None:
        return coef.T.copy()
    scale = np.asarray(scale, dtype=np.float64).ravel()
    if scale.shape[0] != coef.shape[0]:
        raise DataError(f"scale has {scale.shape[0]} entries for {coef.shape[0]} features in coef.")
    return (coef / scale[:, None]).T


def unit_rows(x) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def roi_direction(directions, method: str = "mean", n_components: int = 1) -> np.ndarray:
    """Direction(s) of an ROI from its voxels' directions.

    Parameters
    ----------
    directions : array-like of shape (n_voxels, n_features)
        Voxel directions (:func:`voxel_directions` rows of the ROI's voxels).
    method : {"mean", "pca"}
        ``mean``: the mean of the unit-norm voxel directions; ``pca``: the top
        principal directions of the unit-norm voxel directions (uncentred, so the
        first one is the dominant shared direction), each signed to agree with the
        mean, for ROIs that hold several concepts.
    n_components : int
        Principal directions returned by ``pca``.

    Returns
    -------
    numpy.ndarray of shape (n_features,) for ``mean``, (n_components, n_features) for ``pca``
        The ROI direction(s).
    """
    check_option("method", method, ROI_METHODS)
    units = unit_rows(directions)
    if units.ndim != 2 or units.shape[0] == 0:
        raise DataError(f"An ROI needs at least one voxel direction; got shape {units.shape}.")
    mean = units.mean(0)
    if method == "mean":
        return mean
    n_components = check_positive_int("n_components", n_components)
    _, _, vt = np.linalg.svd(units, full_matrices=False)
    comps = vt[: min(n_components, vt.shape[0])]
    signs = np.where(comps @ mean < 0, -1.0, 1.0)
    return comps * signs[:, None]
