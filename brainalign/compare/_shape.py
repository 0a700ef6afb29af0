"""Generalized shape metrics (Williams et al. 2021): Procrustes and angular distances.

Two representations of the same stimuli (rows) are centred, partially whitened and
scaled to unit Frobenius norm, then compared after the best rotation of one onto the
other. With ``alpha = 1`` (no whitening) the angular distance is the Procrustes
angle between the centred, normalised representations; with ``alpha = 0`` (full
whitening) only the linear span of each representation matters, as for CCA. For
every ``alpha`` both distances are metrics: zero for representations equal up to
rotation (and, before normalisation, scale), symmetric, and obeying the triangle
inequality, so they can be averaged, clustered and embedded as distances.
"""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_option
from brainalign.exceptions import DataError, ParameterError

#: Distances of :func:`shape_distance`.
SHAPE_DISTANCES = ("angular", "procrustes")


def shape_distance(x, y, x_ids=None, y_ids=None, *, alpha=1.0, kind="angular") -> float:
    """Generalized shape distance between two representations of the same stimuli.

    Each representation ``X`` (stimuli x units) is centred over stimuli, scaled to
    unit Frobenius norm, transformed by ``X (alpha I + (1 - alpha) (X^T X)^(-1/2))``
    (partial whitening; singular values below ``1e-10`` of the largest are dropped)
    and scaled to unit Frobenius norm again. With ``S`` the nuclear norm of ``X^T Y`` (the largest
    ``tr(X Q Y^T)`` over rotations ``Q``), the angular distance is ``arccos(S)`` and the
    Procrustes distance is ``sqrt(2 - 2 S)``: the Frobenius distance after the best
    rotation. Representations of different widths are compared as if the narrower
    one were padded with zero units.

    Parameters
    ----------
    x : array-like of shape (n_stimuli, n_units_x)
        First representation.
    y : array-like of shape (n_stimuli, n_units_y)
        Second representation.
    x_ids, y_ids : array-like of shape (n_stimuli,), optional
        Stimulus ids of the rows (give both to join by id, neither to pair by row).
    alpha : float
        Whitening: 1 none (shape up to rotation and scale), 0 full (up to any
        invertible linear map).
    kind : {"angular", "procrustes"}
        Distance.

    Returns
    -------
    float
        Angular distance in radians (0..pi/2) or Procrustes distance (0..sqrt(2)).

    Raises
    ------
    ParameterError
        If ``alpha`` is outside [0, 1] or ``kind`` unknown.
    DataError
        If shapes or ids disagree, values are not finite, or a representation is
        constant across stimuli.
    """
    from brainalign.compare._cka import _joined, _matrix

    check_option("kind", kind, SHAPE_DISTANCES)
    alpha = _check_alpha(alpha)
    x, y = _joined(_matrix(x, "x"), _matrix(y, "y"), x_ids, y_ids)
    a, b = normalised_shape(x, alpha, "x"), normalised_shape(y, alpha, "y")
    similarity = min(1.0, float(np.linalg.svd(a.T @ b, compute_uv=False).sum()))
    if kind == "angular":
        return float(np.arccos(similarity))
    return float(np.sqrt(max(0.0, 2.0 - 2.0 * similarity)))


def normalised_shape(x, alpha: float = 1.0, name: str = "x") -> np.ndarray:
    """Return a representation centred, partially whitened and of unit Frobenius norm.

    Parameters
    ----------
    x : ndarray of shape (n_stimuli, n_units)
        Representation (finite).
    alpha : float
        Whitening (see :func:`shape_distance`).
    name : str
        Name for error messages.

    Returns
    -------
    ndarray of shape (n_stimuli, rank)
        The transformed representation in the basis of its principal axes (a
        rotation of ``X (alpha I + (1 - alpha) (X^T X)^(-1/2))``, which no distance
        sees).
    """
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(0)
    norm = np.linalg.norm(x)
    if norm == 0:
        raise DataError(f"Invalid value for {name!r}: the representation is constant.")
    u, s, _ = np.linalg.svd(x / norm, full_matrices=False)  # unit norm: alpha is unitless
    keep = s > 1e-10 * s[0]
    u, s = u[:, keep], s[keep]
    # X = U S V^T, (X^T X)^(-1/2) = V S^-1 V^T, so the transform is U (alpha S + 1 - alpha)
    scaled = u * (alpha * s + (1.0 - alpha))
    return scaled / np.linalg.norm(scaled)


def _check_alpha(alpha) -> float:
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(alpha, bool) or not 0.0 <= value <= 1.0:
        raise ParameterError(
            f"Invalid value for 'alpha': expected a number in [0, 1]; got {alpha!r}."
        )
    return value
