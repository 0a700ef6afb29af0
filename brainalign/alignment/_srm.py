"""The shared response model (Chen et al. 2015), deterministic and probabilistic.

Each subject's responses ``X_i`` (stimuli x voxels, voxel counts may differ) are
modelled as a shared response ``S`` (stimuli x k) seen through an orthonormal basis
``W_i`` (voxels x k): ``X_i ~ S W_i^T``. The updates are those of ``fastsrm``'s
``detsrm`` / ``probsrm`` (Richard et al. 2019; diagonal shared covariance), written
for per-subject voxel counts; with equal counts and the same seed the deterministic
model gives ``fastsrm``'s numbers (``tests/alignment/test_srm.py``). The probabilistic
M-step adds the posterior variance ``trace(V)`` to each subject's noise variance, as
the EM derivation has it (``fastsrm`` adds ``sum(V**2)``); its test is an EM written
out independently.
"""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_option, check_positive_int
from brainalign.exceptions import DataError

#: SRM variants.
SRM_METHODS = ("deterministic", "probabilistic")


def polar(a: np.ndarray) -> np.ndarray:
    """Return the nearest matrix with orthonormal columns (``U V^T`` of the thin SVD).

    Parameters
    ----------
    a : ndarray of shape (m, k), m >= k
        Any matrix.

    Returns
    -------
    ndarray of shape (m, k)
        Its polar factor: ``argmin ||a - Q||`` over ``Q^T Q = I``.
    """
    u, _, vt = np.linalg.svd(a, full_matrices=False)
    return u @ vt


def check_subject_arrays(responses, n_components: int | None = None) -> list[np.ndarray]:
    """Validate a list of (stimuli x voxels) arrays that share their stimulus rows.

    Parameters
    ----------
    responses : sequence of array-like
        One 2-D array per subject; the same number of rows (stimuli, in the same
        order), any number of columns.
    n_components : int, optional
        Dimensions of the shared space: every subject needs at least that many voxels
        and the stimuli must number at least that many.

    Returns
    -------
    list of ndarray (float64)
        The arrays.
    """
    arrays = [np.asarray(x, dtype=np.float64) for x in responses]
    if len(arrays) < 2:
        raise DataError(f"A shared space needs at least 2 subjects; got {len(arrays)}.")
    for i, x in enumerate(arrays):
        if x.ndim != 2:
            raise DataError(
                f"Subject {i}'s responses must be 2-D (stimuli x voxels); got shape {x.shape}."
            )
        if not np.isfinite(x).all():
            raise DataError(f"Subject {i}'s responses hold NaN or infinite values.")
    rows = {x.shape[0] for x in arrays}
    if len(rows) != 1:
        raise DataError(
            "Every subject's responses must have one row per shared stimulus (same order); "
            f"got row counts {[x.shape[0] for x in arrays]}."
        )
    if n_components is not None:
        small = [(i, x.shape[1]) for i, x in enumerate(arrays) if x.shape[1] < n_components]
        if small or arrays[0].shape[0] < n_components:
            raise DataError(
                f"n_components={n_components} exceeds the data: it needs at least that many "
                f"stimuli (got {arrays[0].shape[0]}) and voxels per subject "
                f"(fewer in subject(s) {small})."
            )
    return arrays


def srm(
    responses,
    n_components: int,
    method: str = "deterministic",
    n_iter: int = 100,
    tol: float = 1e-5,
    random_state=0,
) -> dict:
    """Fit a shared response model.

    Parameters
    ----------
    responses : sequence of array-like of shape (n_stimuli, n_voxels_i)
        Each subject's responses to the same stimuli (same row order), e.g. z-scored
        per voxel.
    n_components : int
        Dimensions ``k`` of the shared space.
    method : {"deterministic", "probabilistic"}
        Deterministic SRM (alternating Procrustes, the least-squares fit) or
        probabilistic SRM (EM with per-subject noise variances and a diagonal shared
        covariance).
    n_iter : int
        Maximum iterations.
    tol : float
        Deterministic: stop when the largest gradient entry falls below it;
        probabilistic: when the negative log-likelihood changes by less.
    random_state : int or numpy.random.RandomState
        Seed of the random initial shared response (``RandomState(seed).randn``, as
        ``fastsrm``).

    Returns
    -------
    dict
        ``bases`` (list of (n_voxels_i, k) arrays with orthonormal columns),
        ``shared`` ((n_stimuli, k) shared response), ``n_iter`` (iterations run),
        ``converged`` (bool); probabilistic also ``sigmas`` (noise variance per
        subject) and ``shared_variance`` ((k,) diagonal of the shared covariance).
    """
    from sklearn.utils import check_random_state

    check_option("method", method, SRM_METHODS)
    k = check_positive_int("n_components", n_components)
    n_iter = check_positive_int("n_iter", n_iter)
    arrays = [x.T for x in check_subject_arrays(responses, k)]  # voxels x stimuli inside
    init = check_random_state(random_state).randn(k, arrays[0].shape[1])
    fit = _deterministic if method == "deterministic" else _probabilistic
    out = fit(arrays, init, n_iter, tol)
    out["bases"] = [np.ascontiguousarray(w) for w in out["bases"]]
    out["shared"] = np.ascontiguousarray(out["shared"].T)
    return out


class _Subject:
    """One subject's responses ``x`` (voxels x stimuli), projected onto a shared response.

    ``project(S)`` returns ``W^T x`` and ``trace(W^T x S^T)`` for ``W = polar(x S^T)``;
    ``basis(S)`` returns ``W``. With fewer stimuli than voxels (NSD: 1,000 shared
    images, 15,000 voxels) both come from the stimulus Gram matrix ``G = x^T x``:
    ``A = x S^T`` has ``A^T A = S G S^T``, so ``W = A (A^T A)^(-1/2)`` and ``W^T x =
    (A^T A)^(-1/2) S G`` cost ``k n^2`` instead of ``k n v`` per iteration; the SVD of
    ``A`` is used when ``A`` is nearly rank-deficient or voxels are fewer.
    """

    def __init__(self, x: np.ndarray):
        self.x = x
        self.gram = x.T @ x if x.shape[1] < x.shape[0] else None
        self.sq_norm = float(np.trace(self.gram)) if self.gram is not None else float(np.sum(x**2))

    def _root(self, S):
        """``(S G, (A^T A)^(-1/2), sum of sqrt eig)``, or None when ``A`` is ill-conditioned."""
        if self.gram is None:
            return None
        sg = S @ self.gram
        evals, evecs = np.linalg.eigh(sg @ S.T)
        if evals.min() <= evals.max() * 1e-10:
            return None
        inv_root = (evecs / np.sqrt(evals)) @ evecs.T
        return sg, inv_root, float(np.sqrt(evals).sum())

    def project(self, S) -> tuple[np.ndarray, float]:
        """Return ``W^T x`` and ``trace(W^T x S^T)`` for the basis of ``S``."""
        root = self._root(S)
        if root is None:
            xst = self.x @ S.T
            w = polar(xst)
            return w.T @ self.x, float(np.trace(xst.T @ w))
        sg, inv_root, trace = root
        return inv_root @ sg, trace

    def basis(self, S) -> np.ndarray:
        """Return ``W = polar(x S^T)``."""
        root = self._root(S)
        if root is None:
            return polar(self.x @ S.T)
        return (self.x @ S.T) @ root[1]


def _deterministic(X, S, n_iter, tol) -> dict:
    m = len(X)
    subjects = [_Subject(x) for x in X]
    Y = [sub.project(S)[0] for sub in subjects]
    fitted_on, gnorm, it = S, np.inf, 0
    for it in range(n_iter):  # noqa: B007 - the count is returned
        gnorm = np.max(np.abs(m * S - np.sum(Y, axis=0)))
        if gnorm < tol:
            break
        S = np.mean(Y, axis=0)
        Y = [sub.project(S)[0] for sub in subjects]
        fitted_on = S
    W = [sub.basis(fitted_on) for sub in subjects]
    return {"bases": W, "shared": S, "n_iter": it + 1, "converged": bool(gnorm < tol)}


def _probabilistic(X, S, n_iter, tol) -> dict:
    m, n = len(X), X[0].shape[1]
    k = S.shape[0]
    subjects = [_Subject(x) for x in X]
    Y = [sub.project(S)[0] for sub in subjects]  # W_i^T X_i of the current bases
    fitted_on = S
    n_vox = np.array([x.shape[0] for x in X], dtype=np.float64)
    norm_x = [sub.sq_norm for sub in subjects]
    sigmas, shared_var = np.ones(m), np.ones(k)
    nll, diff, it = np.inf, np.inf, 0
    for it in range(n_iter):  # noqa: B007 - the count is returned
        V = 1.0 / (np.sum(1.0 / sigmas) + 1.0 / shared_var)
        S = V[:, None] * np.sum([y / s for y, s in zip(Y, sigmas, strict=True)], 0)
        previous, nll = (
            nll,
            (
                np.sum(n_vox / 2 * np.log(sigmas))
                + np.sum(np.log(shared_var)) / 2
                - np.sum(np.log(V)) / 2
                + np.sum([nx / s for nx, s in zip(norm_x, sigmas, strict=True)]) / (2 * n)
                - np.sum(S**2 / V[:, None]) / (2 * n)
            ),
        )
        diff = abs(previous - nll)
        if diff < tol:
            break
        norm_s = np.sum(S**2)
        for i, sub in enumerate(subjects):
            Y[i], trace = sub.project(S)
            resid = norm_x[i] + norm_s - 2 * trace
            # E||s_t||^2 adds the posterior variance trace(V) (fastsrm adds sum(V**2))
            sigmas[i] = (resid / n + np.sum(V)) / n_vox[i]
        fitted_on = S
        shared_var = V + np.diag(S @ S.T) / n
    return {
        "bases": [sub.basis(fitted_on) for sub in subjects],
        "shared": S,
        "sigmas": sigmas.copy(),
        "shared_variance": shared_var,
        "n_iter": it + 1,
        "converged": bool(diff < tol),
    }
