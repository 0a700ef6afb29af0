"""Pooling of layer outputs to one vector per stimulus, and fitted reductions."""

from __future__ import annotations

import numpy as np

from brainalign.exceptions import ParameterError
from brainalign.features._spec import Pooling


def pool(x, pooling: str | Pooling, attention_mask=None):
    """Pool a batch of layer outputs to ``(n, d)``.

    Parameters
    ----------
    x : torch.Tensor
        Layer output, batch first: ``(n, d)``, tokens ``(n, L, d)`` or maps
        ``(n, c, h, w)``.
    pooling : str or Pooling
        ``auto``, ``cls``, ``mean``, ``spatial``, ``flatten`` (or ``pca:<k>``/``srp:<k>``,
        which flatten here and reduce later, see :func:`fit_reduction`).
    attention_mask : torch.Tensor of shape (n, L), optional
        Padding mask of text tokens; ``mean`` averages only real tokens.

    Returns
    -------
    torch.Tensor of shape (n, d)
        Pooled features.
    """
    pooling = Pooling.parse(pooling)
    if pooling.token_width:
        return x.reshape(x.shape[0], -1)
    method = pooling.method
    if x.ndim == 2:
        if method in ("auto", "mean", "cls"):
            return x
        raise ParameterError(
            f"Pooling {method!r} needs tokens or maps; got shape {tuple(x.shape)}."
        )
    if method == "auto":
        method = "mean" if x.ndim == 3 else "spatial"
    if method == "cls":
        _expect(x, 3, method)
        return x[:, 0]
    if method == "mean":
        _expect(x, 3, method)
        if attention_mask is not None and attention_mask.shape == x.shape[:2]:
            w = attention_mask.to(x.dtype).unsqueeze(-1)
            return (x * w).sum(1) / w.sum(1).clamp(min=1e-9)
        return x.mean(1)
    _expect(x, 4, method)
    return x.mean(dim=_spatial_dims(tuple(x.shape)))


def _spatial_dims(shape: tuple) -> tuple[int, int]:
    """Spatial axes of a 4-D map: (2, 3) for (n, c, h, w), (1, 2) for (n, h, w, c).

    Square maps decide it (timm's Swin and ConvNeXt-V2 stages are channels-last);
    a map that is square both ways or neither is ambiguous and refused.
    """
    first, last = shape[2] == shape[3], shape[1] == shape[2]
    if first != last:
        return (2, 3) if first else (1, 2)
    raise ParameterError(
        f"Cannot tell the channel axis of a map of shape {shape}; use pooling='flatten' "
        "or a reduction (pca:<k>, srp:<k>) for this layer."
    )


def _expect(x, ndim: int, method: str) -> None:
    if x.ndim != ndim:
        kind = {3: "tokens (n, L, d)", 4: "maps (n, c, h, w)"}[ndim]
        raise ParameterError(
            f"Pooling {method!r} expects {kind}; the layer gives shape {tuple(x.shape)}."
        )


def fit_reduction(method: str, k: int, rows, seed: int = 0, chunk: int = 1024) -> dict:
    """Fit a PCA or sparse random projection on training rows.

    Parameters
    ----------
    method : {"pca", "srp"}
        Reduction.
    k : int
        Output dimensions.
    rows : ndarray of shape (n_train, d)
        Flattened training features (may be memory-mapped).
    seed : int
        Random state.
    chunk : int
        Rows per incremental PCA step.

    Returns
    -------
    dict
        ``mean`` (d,) and ``components`` (k, d) arrays: ``(x - mean) @ components.T``.
    """
    n, d = rows.shape
    if k > min(n, d) and method == "pca":
        raise ParameterError(
            f"Invalid value for 'pooling': pca:{k} needs at most min(n_train, n_features) "
            f"= {min(n, d)} components."
        )
    if method == "pca":
        from sklearn.decomposition import IncrementalPCA

        pca = IncrementalPCA(n_components=k)
        n_steps = max(1, n // max(chunk, k))  # every step has >= k rows
        for part in np.array_split(np.arange(n), n_steps):
            pca.partial_fit(np.asarray(rows[part[0] : part[-1] + 1], dtype=np.float64))
        return {
            "mean": pca.mean_.astype(np.float32),
            "components": pca.components_.astype(np.float32),
        }
    from sklearn.random_projection import SparseRandomProjection

    # the projection depends only on the input width (and the seed)
    srp = SparseRandomProjection(n_components=k, random_state=seed).fit(np.zeros((1, d)))
    comps = srp.components_.toarray().astype(np.float32)
    return {"mean": np.zeros(d, dtype=np.float32), "components": comps}


def apply_reduction(reduction: dict, rows, chunk: int = 4096) -> np.ndarray:
    """Project rows with a fitted reduction, chunk by chunk.

    Parameters
    ----------
    reduction : dict
        Output of :func:`fit_reduction`.
    rows : ndarray of shape (n, d)
        Flattened features.
    chunk : int
        Rows per step.

    Returns
    -------
    ndarray of shape (n, k), float32
        Reduced features.
    """
    mean, comps = reduction["mean"], reduction["components"]
    out = np.empty((rows.shape[0], comps.shape[0]), dtype=np.float32)
    for start in range(0, rows.shape[0], chunk):
        out[start : start + chunk] = (np.asarray(rows[start : start + chunk]) - mean) @ comps.T
    return out
