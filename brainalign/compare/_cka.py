"""Linear centred kernel alignment (CKA), standard and debiased, joined by stimulus id."""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_option, check_positive_int, check_type, warn
from brainalign.compare._rsa import _check_ids, same_ids
from brainalign.exceptions import DataError, ParameterError

#: How :func:`linear_cka` computes its inner products.
CKA_FORMS = ("auto", "gram", "feature")


def linear_cka(
    x, y, x_ids=None, y_ids=None, *, debiased=False, form="auto", max_elements=2**24
) -> float:
    """Linear CKA between two representations of the same stimuli.

    ``CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with linear kernels
    ``K = X X^T`` and ``L = Y Y^T`` (Kornblith et al. 2019). The standard estimator
    uses the biased HSIC, ``tr(K H L H)``; it is 1 for identical representations but
    is inflated above 0 for unrelated ones when features outnumber stimuli. The
    debiased estimator uses the unbiased HSIC of Song et al. (2012) (as in Nguyen
    et al. 2021), which is near 0 for independent representations.

    Parameters
    ----------
    x : array-like of shape (n_stimuli, n_features_x)
        First representation (features of a layer, or responses).
    y : array-like of shape (n_stimuli, n_features_y)
        Second representation.
    x_ids, y_ids : array-like of shape (n_stimuli,), optional
        Stimulus ids of the rows of ``x`` and ``y`` (unique). Give both to join the
        rows by id (the sets must match); give neither to pair rows by position.
    debiased : bool
        Use the unbiased HSIC estimator (needs at least 4 stimuli).
    form : {"auto", "gram", "feature"}
        ``"gram"``: through the ``(n_stimuli, n_stimuli)`` Gram matrices (for many
        features), ``"feature"``: through feature-by-feature cross products (for many
        stimuli), ``"auto"``: whichever needs fewer operations. Both give the same
        value.
    max_elements : int
        Float64 elements of each block of features (or cross products) held at once.

    Returns
    -------
    float
        CKA, in [0, 1] for the standard estimator (the debiased one can dip below 0);
        NaN, with a warning, when a debiased self-similarity is not positive.

    Raises
    ------
    ParameterError
        If an option is invalid or only one of ``x_ids`` and ``y_ids`` is given.
    DataError
        If shapes or ids disagree, values are not finite, or a representation is
        constant across stimuli.
    """
    check_type("debiased", debiased, bool)
    check_option("form", form, CKA_FORMS)
    max_elements = check_positive_int("max_elements", max_elements)
    x, y = _joined(_matrix(x, "x"), _matrix(y, "y"), x_ids, y_ids)
    n = x.shape[0]
    if n < (4 if debiased else 2):
        raise DataError(
            f"{'Debiased' if debiased else 'Linear'} CKA needs at least "
            f"{4 if debiased else 2} stimuli; got {n}."
        )
    _check_varies(x, "x", max_elements)
    _check_varies(y, "y", max_elements)
    if form == "auto":
        form = _cheaper_form(n, x.shape[1], y.shape[1])
    if form == "gram":
        xy, xx, yy = _gram_terms(x, y, debiased, max_elements)
    else:
        xy, xx, yy = _feature_terms(x, y, debiased, max_elements)
    return _ratio(xy, xx, yy)


def _matrix(a, name: str):
    a = np.asanyarray(a)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise DataError(f"{name!r} must be 2-D (n_stimuli, n_features); got shape {a.shape}.")
    if not np.issubdtype(a.dtype, np.number):
        raise DataError(f"{name!r} must be numeric; got dtype {a.dtype}.")
    if a.shape[1] < 1:
        raise DataError(f"{name!r} has no features (columns).")
    return a


def _check_varies(a, name: str, max_elements: int):
    """Raise if every column of ``a`` is constant across stimuli (CKA undefined)."""
    size = max(1, max_elements // max(a.shape[0], 1))
    for start in range(0, a.shape[1], size):
        if np.ptp(np.asarray(a[:, start : start + size]), axis=0).any():
            return
    raise DataError(f"CKA is undefined: {name!r} is constant across stimuli.")


def _joined(x, y, x_ids, y_ids):
    """Rows of ``y`` in the order of ``x``, by stimulus id when ids are given."""
    if (x_ids is None) != (y_ids is None):
        raise ParameterError(
            "Give both 'x_ids' and 'y_ids' (to join by stimulus id) or neither; "
            f"got {'x_ids' if y_ids is None else 'y_ids'} only."
        )
    if x_ids is not None:
        xi, yi = _check_ids(x_ids, "x_ids"), _check_ids(y_ids, "y_ids")
        for ids, a, name in ((xi, x, "x"), (yi, y, "y")):
            if ids.size != a.shape[0]:
                raise DataError(
                    f"'{name}_ids' must give one id per row of {name!r} ({a.shape[0]}); "
                    f"got {ids.size}."
                )
        y = y[same_ids(xi, yi, names=("x", "y"))]
    if x.shape[0] != y.shape[0]:
        raise DataError(
            f"'x' and 'y' must have the same number of stimuli (rows); got {x.shape[0]} "
            f"and {y.shape[0]}."
        )
    return x, y


def _cheaper_form(n: int, px: int, py: int) -> str:
    gram_cost = n * n * (px + py + 3)
    feature_cost = n * (px * py + px * px + py * py)
    return "gram" if gram_cost < feature_cost else "feature"


def _blocks(a, size: int):
    """Yield centred float64 blocks of columns of ``a``."""
    for start in range(0, a.shape[1], size):
        block = np.asarray(a[:, start : start + size], dtype=np.float64)
        if not np.isfinite(block).all():
            raise DataError("CKA inputs contain NaN or infinite values.")
        yield block - block.mean(0)


def _centred_gram(a, max_elements: int) -> np.ndarray:
    """``Xc Xc^T`` of the column-centred ``a``, accumulated over blocks of columns."""
    n = a.shape[0]
    gram = np.zeros((n, n))
    for block in _blocks(a, max(1, max_elements // n)):
        gram += block @ block.T
    return gram


def _gram_terms(x, y, debiased: bool, max_elements: int):
    k, l_ = _centred_gram(x, max_elements), _centred_gram(y, max_elements)
    hsic = _hsic_unbiased if debiased else _hsic_biased
    return hsic(k, l_), hsic(k, k), hsic(l_, l_)


def _hsic_biased(k, l_) -> float:
    """``tr(K H L H)`` up to the factor ``1 / (n - 1)^2`` (K and L already centred)."""
    return float(np.vdot(k, l_))


def _hsic_unbiased(k, l_) -> float:
    """Unbiased HSIC (Song et al. 2012, eq. 5), up to the factor ``1 / (n (n - 3))``."""
    n = k.shape[0]
    kt, lt = k.copy(), l_.copy()
    np.fill_diagonal(kt, 0.0)
    np.fill_diagonal(lt, 0.0)
    k_rows, l_rows = kt.sum(1), lt.sum(1)
    return float(
        np.vdot(kt, lt)
        + k_rows.sum() * l_rows.sum() / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * np.dot(k_rows, l_rows)
    )


def _feature_terms(x, y, debiased: bool, max_elements: int):
    """Return the three HSIC terms from feature cross products ``||A^T B||_F^2``."""
    xc = np.concatenate(list(_blocks(x, x.shape[1])), axis=1)
    yc = np.concatenate(list(_blocks(y, y.shape[1])), axis=1)
    xy = _cross_norm2(xc, yc, max_elements)
    xx = _cross_norm2(xc, xc, max_elements)
    yy = _cross_norm2(yc, yc, max_elements)
    if not debiased:
        return xy, xx, yy
    # With centred features, K 1 = 0: the unbiased HSIC reduces to row norms.
    rx, ry = np.einsum("ij,ij->i", xc, xc), np.einsum("ij,ij->i", yc, yc)
    return _debias(xy, rx, ry), _debias(xx, rx, rx), _debias(yy, ry, ry)


def _debias(cross: float, rows_a, rows_b) -> float:
    n = rows_a.size
    return float(
        cross
        - n / (n - 2) * np.dot(rows_a, rows_b)
        + rows_a.sum() * rows_b.sum() / ((n - 1) * (n - 2))
    )


def _cross_norm2(a, b, max_elements: int) -> float:
    """``||a^T b||_F^2``, over blocks of columns of ``b``."""
    size = max(1, max_elements // max(a.shape[1], 1))
    return float(sum(np.sum((a.T @ b[:, s : s + size]) ** 2) for s in range(0, b.shape[1], size)))


def _ratio(xy: float, xx: float, yy: float) -> float:
    if xx == 0 or yy == 0:
        raise DataError("CKA is undefined: a representation is constant across stimuli.")
    if xx < 0 or yy < 0:
        warn("Debiased CKA is undefined here (a self-similarity is not positive); returning NaN.")
        return float("nan")
    return xy / np.sqrt(xx * yy)
