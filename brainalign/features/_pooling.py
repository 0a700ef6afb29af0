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
        ``auto``, ``cls``, ``mean``, ``spatial``, ``flatten``, ``tokens`` (the patch
        tokens on their grid, flattened row by row: see :func:`token_layout`), or
        ``pca:<k>``/``srp:<k>``, which flatten here and reduce later (see
        :func:`fit_reduction`).
    attention_mask : torch.Tensor of shape (n, L), optional
        Padding mask of text tokens; ``mean`` averages only real tokens.

    Returns
    -------
    torch.Tensor of shape (n, d)
        Pooled features.
    """
    pooling = Pooling.parse(pooling)
    if pooling.method == "tokens":
        return patch_tokens(x).reshape(x.shape[0], -1)
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


#: Leading tokens dropped before the grid: none, a class token, class + distillation
#: (DeiT), class + 4 registers (DINOv2-reg, timm ``*_reg4``).
PREFIX_TOKENS = (0, 1, 2, 5)


def token_layout(shape) -> dict:
    """Return the patch grid of a layer output (without its batch axis).

    Token outputs ``(L, d)`` keep their last ``h * w`` tokens: the ``L - h * w``
    leading tokens (class, distillation or register tokens: 0, 1, 2 or 5 of them,
    :data:`PREFIX_TOKENS`) are dropped, with ``h = w``. Maps ``(c, h, w)`` (or
    channels-last ``(h, w, c)``) become ``h * w`` tokens of ``c`` channels, row by row.

    Parameters
    ----------
    shape : sequence of int
        Output shape after the batch axis: ``(L, d)``, ``(c, h, w)`` or ``(h, w, c)``.

    Returns
    -------
    dict
        ``grid`` ([rows, columns]), ``dim`` (channels per token) and ``prefix``
        (leading tokens dropped).

    Raises
    ------
    ParameterError
        If the output has no patch grid (a vector, or a token count that is not a
        square after 0, 1, 2 or 5 leading tokens: a non-square grid is refused, not
        guessed).
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 3:
        first = _spatial_dims((1, *shape)) == (2, 3)
        c, h, w = shape if first else (shape[2], shape[0], shape[1])
        return {"grid": [h, w], "dim": c, "prefix": 0}
    if len(shape) == 2:
        for prefix in PREFIX_TOKENS:
            side = int(round(np.sqrt(max(shape[0] - prefix, 0))))
            if side >= 1 and side * side == shape[0] - prefix:
                return {"grid": [side, side], "dim": shape[1], "prefix": prefix}
    raise ParameterError(
        "Pooling 'tokens' needs a patch grid: tokens (L, d) with L = h*h plus 0, 1, 2 or 5 "
        f"leading tokens, or maps (c, h, w); the layer gives {shape}."
    )


def patch_tokens(x):
    """Return the patch tokens ``(n, h * w, d)`` of a batch of layer outputs.

    Parameters
    ----------
    x : torch.Tensor
        Tokens ``(n, L, d)`` or maps ``(n, c, h, w)`` / ``(n, h, w, c)``.

    Returns
    -------
    torch.Tensor of shape (n, h * w, d)
        Tokens on the grid of :func:`token_layout`, row by row.
    """
    layout = token_layout(x.shape[1:])
    if x.ndim == 3:
        return x[:, layout["prefix"] :]
    if _spatial_dims(tuple(x.shape)) == (2, 3):
        x = x.permute(0, 2, 3, 1)
    return x.reshape(x.shape[0], -1, x.shape[-1])


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
