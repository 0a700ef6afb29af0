"""Orthogonal Procrustes and hyperalignment (Haxby et al. 2011) into a k-dim template."""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_positive_int
from brainalign.alignment._srm import check_subject_arrays, polar
from brainalign.exceptions import DataError


def orthogonal_procrustes(source, target, scaling: bool = False) -> tuple[np.ndarray, float]:
    """Orthogonal Procrustes: the map with orthonormal columns that best aligns two sets.

    ``R`` maximises ``trace(R^T source^T target)``: with equal widths it is the rotation
    minimising ``||s * source @ R - target||``; with a narrower target it is the
    orthonormal ``R`` minimising ``||source - target @ R^T / s||`` (the target, seen
    through ``R^T``, generating the source, as in SRM and hyperalignment).

    Parameters
    ----------
    source : array-like of shape (n_stimuli, n_source)
        Responses to rotate (rows: stimuli).
    target : array-like of shape (n_stimuli, n_target), n_target <= n_source
        Responses to match, same stimuli in the same order.
    scaling : bool
        Also fit one scale ``s`` (else ``s = 1``).

    Returns
    -------
    R : ndarray of shape (n_source, n_target)
        Orthonormal columns (a rotation when both widths are equal; equals
        ``scipy.linalg.orthogonal_procrustes(source, target)[0]`` then).
    scale : float
        ``s``.
    """
    a = np.asarray(source, dtype=np.float64)
    b = np.asarray(target, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise DataError(
            "'source' and 'target' must be 2-D with one row per stimulus each; got shapes "
            f"{a.shape} and {b.shape}."
        )
    if b.shape[1] > a.shape[1]:
        raise DataError(
            f"'target' has more columns ({b.shape[1]}) than 'source' ({a.shape[1]}): a map "
            "with orthonormal columns cannot widen the space."
        )
    u, sv, vt = np.linalg.svd(a.T @ b, full_matrices=False)
    rotation = u @ vt
    norm = float(np.sum(a**2))
    scale = float(sv.sum() / norm) if scaling and norm > 0 else 1.0
    return rotation, scale


def hyperalign(responses, n_components: int | None = None, n_iter: int = 2) -> dict:
    """Hyperalign subjects into a common template by iterated Procrustes.

    The three levels of Haxby et al. (2011), in a template of ``k`` dimensions so
    that voxel counts may differ: (1) the template starts as subject 0's responses
    in its top-``k`` principal axes; each further subject is rotated onto it and
    averaged in; (2) ``n_iter`` times, every subject is rotated onto the mean of the
    *other* subjects' aligned responses, and the template becomes the mean of all;
    (3) each subject's final rotation maps it onto that template.

    Parameters
    ----------
    responses : sequence of array-like of shape (n_stimuli, n_voxels_i)
        Responses to the same stimuli, e.g. z-scored per voxel.
    n_components : int, optional
        Template dimensions (default: the smallest voxel count, at most the stimuli).
    n_iter : int
        Passes of level 2.

    Returns
    -------
    dict
        ``bases`` (list of (n_voxels_i, k) maps with orthonormal columns),
        ``shared`` ((n_stimuli, k) template).
    """
    arrays = check_subject_arrays(responses)
    k = min(min(x.shape[1] for x in arrays), arrays[0].shape[0])
    k = k if n_components is None else check_positive_int("n_components", n_components)
    arrays = check_subject_arrays(arrays, k)
    n_iter = check_positive_int("n_iter", n_iter)
    _, _, vt = np.linalg.svd(arrays[0], full_matrices=False)
    template = arrays[0] @ vt[:k].T
    for i, x in enumerate(arrays[1:], start=1):  # level 1: incremental template
        aligned = x @ orthogonal_procrustes(x, template)[0]
        template = (i * template + aligned) / (i + 1)
    aligned = [x @ orthogonal_procrustes(x, template)[0] for x in arrays]
    for _ in range(n_iter):  # level 2: leave-one-out templates
        total = np.sum(aligned, axis=0)
        aligned = [
            x @ orthogonal_procrustes(x, (total - a) / (len(arrays) - 1))[0]
            for x, a in zip(arrays, aligned, strict=True)
        ]
    template = np.mean(aligned, axis=0)
    bases = [polar(x.T @ template) for x in arrays]  # level 3
    return {"bases": bases, "shared": template}
