"""Representational dissimilarity matrices (RDMs) from responses or features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainalign._utils import check_option, check_positive_int
from brainalign.exceptions import DataError, ParameterError

#: Dissimilarity measures of :func:`compute_rdm`.
RDM_METHODS = ("correlation", "euclidean", "sqeuclidean", "crossnobis")


@dataclass(frozen=True, eq=False)
class RDM:
    """A representational dissimilarity matrix over named stimuli.

    Parameters
    ----------
    dissimilarities : array-like of shape (n_stimuli * (n_stimuli - 1) / 2,)
        Upper triangle of the matrix, row by row (``scipy.spatial.distance.squareform``
        order), stored as float64.
    stimulus_ids : array-like of shape (n_stimuli,)
        Unique id of each row and column.
    method : str
        How the dissimilarities were computed (free text for RDMs built elsewhere).

    See Also
    --------
    compute_rdm : Build an RDM from responses or features.
    RDM.from_matrix : Build an RDM from a square matrix.
    """

    dissimilarities: np.ndarray
    stimulus_ids: np.ndarray
    method: str = "custom"

    def __post_init__(self):
        values = np.asarray(self.dissimilarities, dtype=np.float64)
        ids = _check_ids(self.stimulus_ids, "stimulus_ids")
        if values.ndim != 1 or values.size != _n_pairs(ids.size):
            raise DataError(
                f"An RDM over {ids.size} stimuli needs {_n_pairs(ids.size)} condensed "
                f"dissimilarities; got an array of shape {values.shape}."
            )
        if ids.size < 2:
            raise DataError(f"An RDM needs at least 2 stimuli; got {ids.size}.")
        if not np.isfinite(values).all():
            raise DataError("RDM dissimilarities contain NaN or infinite values.")
        object.__setattr__(self, "dissimilarities", values)
        object.__setattr__(self, "stimulus_ids", ids)

    @classmethod
    def from_matrix(cls, matrix, stimulus_ids, method: str = "custom") -> RDM:
        """Build an RDM from a square symmetric matrix.

        Parameters
        ----------
        matrix : array-like of shape (n_stimuli, n_stimuli)
            Dissimilarities; symmetric (to 1e-10, relative). The diagonal is ignored.
        stimulus_ids : array-like of shape (n_stimuli,)
            Id of each row and column.
        method : str
            Label of the dissimilarity measure.

        Returns
        -------
        RDM
            The condensed RDM.

        Raises
        ------
        DataError
            If the matrix is not square and symmetric.
        """
        from scipy.spatial.distance import squareform

        m = np.asarray(matrix, dtype=np.float64)
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise DataError(f"An RDM matrix must be square; got shape {m.shape}.")
        scale = max(float(np.abs(m).max(initial=0.0)), 1.0)
        if not np.allclose(m, m.T, rtol=0, atol=1e-10 * scale, equal_nan=True):
            raise DataError("An RDM matrix must be symmetric; got an asymmetric matrix.")
        return cls(squareform(m, checks=False), stimulus_ids, method)

    @property
    def n_stimuli(self) -> int:
        """Number of stimuli (rows of the square matrix)."""
        return int(self.stimulus_ids.size)

    def to_matrix(self) -> np.ndarray:
        """Return the square symmetric matrix (zero diagonal).

        Returns
        -------
        ndarray of shape (n_stimuli, n_stimuli)
            Dissimilarities.
        """
        from scipy.spatial.distance import squareform

        return squareform(self.dissimilarities, checks=False)

    def select(self, stimulus_ids) -> RDM:
        """Return the RDM of some stimuli, in the order given.

        Parameters
        ----------
        stimulus_ids : array-like
            Ids to keep (unique, at least 2).

        Returns
        -------
        RDM
            The sub-RDM.

        Raises
        ------
        DataError
            If an id is not in this RDM; the message names the missing ids.
        """
        ids = _check_ids(stimulus_ids, "stimulus_ids")
        index = positions(self.stimulus_ids, ids, "this RDM")
        sub = self.to_matrix()[np.ix_(index, index)]
        return RDM.from_matrix(sub, ids, self.method)

    def __repr__(self) -> str:
        return f"RDM(method={self.method!r}, n_stimuli={self.n_stimuli})"


def compute_rdm(
    responses, stimulus_ids, method="correlation", partitions=None, max_elements=2**24
) -> RDM:
    """Compute an RDM from responses (or model features) joined by stimulus id.

    Rows sharing a stimulus id are repetitions. ``"correlation"``, ``"euclidean"``
    and ``"sqeuclidean"`` average them first; ``"crossnobis"`` cross-validates over
    them. Stimuli appear in the order of their first row.

    Parameters
    ----------
    responses : array-like of shape (n_rows, n_units)
        Responses (voxels, channels) or features; may be a float32 memory map. It is
        read in blocks of units, in float64.
    stimulus_ids : array-like of shape (n_rows,)
        Stimulus of each row (repeated for repetitions).
    method : {"correlation", "euclidean", "sqeuclidean", "crossnobis"}
        ``"correlation"``: 1 - Pearson r between stimulus patterns.
        ``"euclidean"``: Euclidean distance. ``"sqeuclidean"``: squared Euclidean
        distance divided by ``n_units`` (rsatoolbox's ``"euclidean"``).
        ``"crossnobis"``: cross-validated squared Euclidean distance divided by
        ``n_units``, ``(a_i - a_j) . (b_i - b_j)`` averaged over leave-one-partition-out
        folds, with ``a`` the mean of the held-out partition and ``b`` the mean of the
        other rows (rsatoolbox's ``"crossnobis"`` with an identity noise precision;
        unbiased, so it can be negative). Pre-whiten the responses (e.g. by the
        residual covariance) for a Mahalanobis metric.
    partitions : array-like of shape (n_rows,), optional
        Cross-validation fold of each row (run or session) for ``"crossnobis"``;
        default: the repetition number of each row (the k-th row of an id is in fold
        k). Every stimulus must occur in every partition.
    max_elements : int
        Float64 elements read at once (``n_rows`` times the block of units).

    Returns
    -------
    RDM
        The RDM, one row per unique stimulus id.

    Raises
    ------
    ParameterError
        If ``method`` is unknown or ``partitions`` is given with another method.
    DataError
        If shapes disagree, a pattern is constant (correlation) or not finite, or
        the partitions do not allow cross-validation.
    """
    check_option("method", method, RDM_METHODS)
    max_elements = check_positive_int("max_elements", max_elements)
    x = _check_responses(responses)
    ids, groups = _groups(stimulus_ids, len(x))
    if partitions is not None and method != "crossnobis":
        raise ParameterError(
            f"'partitions' is only used by method='crossnobis'; got method={method!r}."
        )
    if method == "crossnobis":
        folds = _folds(ids, groups, partitions)
        squared = _crossnobis(x, groups, ids, folds, max_elements)
    elif method == "correlation":
        squared = _correlation(x, groups, ids, max_elements)
    else:
        squared = _squared_euclidean(x, groups, ids, max_elements)
    return RDM(_finish(squared, method, x.shape[1]), ids, method)


def positions(have, want, where: str) -> np.ndarray:
    """Return the index in ``have`` of each id of ``want``.

    Parameters
    ----------
    have : ndarray
        Unique ids of the source.
    want : ndarray
        Ids to look up, in the order wanted.
    where : str
        Name of the source, used in the message.

    Returns
    -------
    ndarray of int
        Positions.

    Raises
    ------
    DataError
        If some ids of ``want`` are not in ``have``; the message names them.
    """
    lookup = {v: i for i, v in enumerate(have.tolist())}
    wanted = want.tolist()
    missing = [v for v in wanted if v not in lookup]
    if missing:
        raise DataError(
            f"{len(missing)} stimulus id(s) are missing from {where}: {_preview(missing)}."
        )
    return np.array([lookup[v] for v in wanted], dtype=np.intp)


def same_ids(first, second, names=("the first", "the second")) -> np.ndarray:
    """Return the index in ``second`` of each id of ``first``; both must hold the same ids.

    Parameters
    ----------
    first, second : ndarray
        Unique ids.
    names : tuple of str
        How to call the two sources in the message.

    Returns
    -------
    ndarray of int
        Positions in ``second``, in the order of ``first``.

    Raises
    ------
    DataError
        If the id sets differ; the message names the ids missing from each side.
    """
    a, b = set(first.tolist()), set(second.tolist())
    if a != b:
        parts = []
        for ids, where in ((a - b, names[1]), (b - a, names[0])):
            if ids:
                parts.append(f"{len(ids)} missing from {where}: {_preview(sorted(ids, key=str))}")
        raise DataError(f"Stimulus ids differ ({'; '.join(parts)}).")
    return positions(second, first, names[1])


def _preview(values, n: int = 10) -> str:
    values = list(values)
    text = ", ".join(repr(v) for v in values[:n])
    return text + (" ..." if len(values) > n else "")


def _n_pairs(n: int) -> int:
    return n * (n - 1) // 2


def _check_ids(ids, name: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise DataError(f"{name!r} must be one-dimensional; got shape {ids.shape}.")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise DataError(
            f"{name!r} must be unique; repeated: {_preview(uniq[counts > 1].tolist())}."
        )
    return ids


def _check_responses(responses) -> np.ndarray:
    x = np.asanyarray(responses)
    if x.ndim != 2:
        raise DataError(f"'responses' must be 2-D (n_rows, n_units); got shape {x.shape}.")
    if x.shape[1] < 1:
        raise DataError("'responses' has no units (columns).")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"'responses' must be numeric; got dtype {x.dtype}.")
    return x


def _groups(stimulus_ids, n_rows: int):
    """Return the unique ids (first-appearance order) and the group of each row."""
    ids = np.asarray(stimulus_ids)
    if ids.shape != (n_rows,):
        raise DataError(
            f"'stimulus_ids' must give one id per row of 'responses' ({n_rows}); "
            f"got shape {ids.shape}."
        )
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    if uniq.size < 2:
        raise DataError(f"An RDM needs at least 2 distinct stimulus ids; got {uniq.size}.")
    return uniq[order], rank[inverse.ravel()]


def _folds(ids, groups, partitions) -> list[np.ndarray]:
    """Return the rows of each cross-validation fold, checking every stimulus is in each."""
    n_rows = groups.size
    if partitions is None:
        order = np.argsort(groups, kind="stable")
        counts = np.bincount(groups, minlength=ids.size)
        starts = np.cumsum(counts) - counts
        labels = np.empty(n_rows, dtype=np.intp)
        labels[order] = np.arange(n_rows) - starts[groups[order]]
    else:
        labels = np.asarray(partitions)
        if labels.shape != (n_rows,):
            raise DataError(
                f"'partitions' must give one label per row of 'responses' ({n_rows}); "
                f"got shape {labels.shape}."
            )
    _, fold_of = np.unique(labels, return_inverse=True)
    fold_of = fold_of.ravel()
    n_folds = int(fold_of.max()) + 1
    if n_folds < 2:
        raise DataError(
            "method='crossnobis' needs at least 2 partitions (repetitions of the stimuli); got 1."
        )
    present = np.zeros((n_folds, ids.size), dtype=bool)
    present[fold_of, groups] = True
    if not present.all():
        fold, stim = np.nonzero(~present)
        names = np.unique(labels)
        where = [
            f"{ids[s].item()!r} (partition {names[f].item()!r})"
            for f, s in zip(fold, stim, strict=True)
        ]
        raise DataError(
            "method='crossnobis' needs every stimulus in every partition; "
            f"{np.unique(stim).size} stimulus id(s) are missing from some: "
            f"{', '.join(where[:10])}{' ...' if len(where) > 10 else ''}."
        )
    return [np.flatnonzero(fold_of == f) for f in range(n_folds)]


def _mean_matrix(groups, rows, n_groups: int):
    """Sparse (n_groups, n_rows_total) matrix averaging ``rows`` per group."""
    from scipy import sparse

    g = groups[rows]
    counts = np.bincount(g, minlength=n_groups)
    return sparse.csr_matrix(
        (1.0 / counts[g], (g, rows)), shape=(n_groups, groups.size), dtype=np.float64
    )


def _unit_blocks(x, max_elements: int):
    """Yield float64 blocks of columns of ``x``, ``max_elements`` at most."""
    step = max(1, max_elements // max(x.shape[0], 1))
    for start in range(0, x.shape[1], step):
        yield np.asarray(x[:, start : start + step], dtype=np.float64)


def _squared_euclidean(x, groups, ids, max_elements):
    """Sum of squared differences between stimulus means (n, n)."""
    n = ids.size
    mean = _mean_matrix(groups, np.arange(groups.size), n)
    gram = np.zeros((n, n))
    for block in _unit_blocks(x, max_elements):
        a = mean @ block
        gram += a @ a.T
    _check_finite(np.diag(gram), ids)
    d = np.diag(gram)
    return d[:, None] + d[None, :] - 2 * gram


def _correlation(x, groups, ids, max_elements):
    """Correlation distance between stimulus means (n, n)."""
    n = ids.size
    mean = _mean_matrix(groups, np.arange(groups.size), n)
    row_sum = np.zeros(n)
    for block in _unit_blocks(x, max_elements):
        row_sum += (mean @ block).sum(1)
    centre = row_sum / x.shape[1]
    gram = np.zeros((n, n))
    for block in _unit_blocks(x, max_elements):
        a = mean @ block - centre[:, None]
        gram += a @ a.T
    norm = np.sqrt(np.diag(gram))
    _check_finite(norm, ids)
    flat = norm == 0
    if flat.any():
        raise DataError(
            "Correlation distance is undefined for a constant pattern; stimulus id(s) "
            f"with constant responses: {_preview(ids[flat].tolist())}."
        )
    return 1.0 - gram / np.outer(norm, norm)


def _crossnobis(x, groups, ids, folds, max_elements):
    """Sum over folds of the cross-validated squared distances (n, n), one data pass."""
    n = ids.size
    all_rows = np.arange(groups.size)
    pairs = [
        (_mean_matrix(groups, rows, n), _mean_matrix(groups, np.setdiff1d(all_rows, rows), n))
        for rows in folds
    ]
    total = np.zeros((n, n))
    for block in _unit_blocks(x, max_elements):
        for test, train in pairs:
            k = (train @ block) @ (test @ block).T
            d = np.diag(k)
            total += d[:, None] + d[None, :] - k - k.T
    _check_finite(total.sum(1), ids)
    return total / len(folds)


def _check_finite(values, ids):
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(
            "'responses' contain NaN or infinite values (stimulus id(s) "
            f"{_preview(ids[bad].tolist())})."
        )


def _finish(squared, method: str, n_units: int) -> np.ndarray:
    """Condense the (n, n) squared distances into the method's dissimilarities."""
    from scipy.spatial.distance import squareform

    upper = squareform(squared, checks=False)
    if method == "euclidean":
        return np.sqrt(np.clip(upper, 0, None))
    if method == "sqeuclidean":
        return np.clip(upper, 0, None) / n_units
    if method == "crossnobis":
        return upper / n_units
    return upper
