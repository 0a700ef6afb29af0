"""Embedding banks: cached, memory-mapped embeddings of an image or caption collection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from brainalign._utils import atomic_path, check_positive_int
from brainalign.exceptions import DataError, ParameterError

#: Default rows scored at once.
DEFAULT_CHUNK = 65536


class EmbeddingBank:
    """Embeddings of a collection (images or captions), one row per item.

    Parameters
    ----------
    embeddings : array-like of shape (n_items, n_dims)
        Embeddings (may be a read-only memory map: it is read chunk by chunk).
    ids : array-like of shape (n_items,)
        Item ids (stimulus ids for images).
    captions : sequence of str, optional
        One caption per item (an image's first caption, or the caption itself).
    kind : {"image", "text"}
        What the rows embed.
    """

    def __init__(self, embeddings, ids, captions=None, kind="image"):
        self.embeddings = np.asanyarray(embeddings)
        self.ids = np.asarray(ids)
        if self.embeddings.ndim != 2 or len(self.ids) != self.embeddings.shape[0]:
            raise DataError(
                f"A bank needs (n, d) embeddings with one id per row; got "
                f"{self.embeddings.shape} and {len(self.ids)} ids."
            )
        if captions is not None and len(captions) != len(self.ids):
            raise DataError(f"Got {len(captions)} captions for {len(self.ids)} bank rows.")
        self.captions = None if captions is None else [str(c) for c in captions]
        self.kind = kind

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"EmbeddingBank(kind={self.kind!r}, shape={self.embeddings.shape})"

    def chunks(self, chunk_size=DEFAULT_CHUNK):
        """Yield ``(start, block)`` with ``block`` a float64 copy of rows ``start:start+n``."""
        chunk_size = check_positive_int("chunk_size", chunk_size)
        for start in range(0, len(self), chunk_size):
            yield start, np.asarray(self.embeddings[start : start + chunk_size], dtype=np.float64)

    def save(self, folder) -> Path:
        """Write ``embeddings.npy``, ``ids.npy`` and ``bank.json`` (captions) atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "ids.npy") as tmp:
            np.save(tmp, self.ids, allow_pickle=False)
        with atomic_path(folder / "bank.json") as tmp:
            tmp.write_text(json.dumps({"kind": self.kind, "captions": self.captions}))
        with atomic_path(folder / "embeddings.npy") as tmp:  # written last: marks completion
            out = np.lib.format.open_memmap(tmp, "w+", np.float32, self.embeddings.shape)
            for start, block in self.chunks():
                out[start : start + len(block)] = block
            out.flush()
            del out
        return folder

    @classmethod
    def load(cls, folder) -> EmbeddingBank:
        """Open a saved bank (embeddings memory-mapped)."""
        folder = Path(folder)
        if not (folder / "embeddings.npy").exists():
            raise DataError(f"No embedding bank in {folder} (embeddings.npy is missing).")
        meta = json.loads((folder / "bank.json").read_text())
        return cls(
            np.load(folder / "embeddings.npy", mmap_mode="r"),
            np.load(folder / "ids.npy", allow_pickle=False),
            meta.get("captions"),
            meta.get("kind", "image"),
        )


def build_bank(
    extractor,
    stimuli,
    ids,
    out,
    layer="embedding",
    pooling="auto",
    captions=None,
    cache_dir=None,
    fit_ids=None,
    seed=0,
    progress=True,
) -> EmbeddingBank:
    """Embed a collection with a feature extractor and cache it as a bank.

    Reuses a bank already in ``out``; features go through the extractor's cache, so
    an interrupted build resumes.

    Parameters
    ----------
    extractor : FeatureExtractor
        Extractor (image tower for images, text tower for captions).
    stimuli : images, store or sequence of str
        The collection (see :meth:`FeatureExtractor.extract`).
    ids : array-like
        Item ids.
    out : str or Path
        Bank folder.
    layer, pooling : str
        Layer and pooling (those of the encoding model, for an image bank).
    captions : sequence of str, optional
        One caption per item (stored with the bank).
    cache_dir : str or Path, optional
        Feature cache.
    fit_ids : array-like, optional
        Ids on which ``pca``/``srp`` poolings are fitted (those of the encoding fit).
    seed : int
        Seed of reductions.
    progress : bool
        Show a progress bar.

    Returns
    -------
    EmbeddingBank
        The bank, memory-mapped from ``out``.
    """
    out = Path(out)
    if (out / "embeddings.npy").exists():
        bank = EmbeddingBank.load(out)
        if len(bank) == len(ids) and np.array_equal(bank.ids, np.asarray(ids)):
            return bank
    feats = extractor.extract(
        stimuli,
        ids=ids,
        layers=[layer],
        pooling=pooling,
        cache_dir=cache_dir,
        fit_ids=fit_ids,
        progress=progress,
        seed=seed,
    )[layer]
    kind = getattr(extractor.bundle, "modality", "image")
    EmbeddingBank(feats.align(ids), ids, captions, kind).save(out)
    return EmbeddingBank.load(out)


def _affine(weights, offsets, n_dims):
    w = np.asarray(weights, dtype=np.float64)
    w = w[None] if w.ndim == 1 else w
    if w.ndim != 2 or w.shape[1] != n_dims:
        raise ParameterError(
            f"Invalid shape for 'weights': expected (n_units, {n_dims}); got {np.shape(weights)}."
        )
    b = np.zeros(len(w)) if offsets is None else np.broadcast_to(offsets, (len(w),))
    return w, np.asarray(b, dtype=np.float64)


def score_bank(bank, weights, offsets=None, chunk_size=DEFAULT_CHUNK) -> np.ndarray:
    """All scores ``embeddings @ weights.T + offsets`` (needs ``n_items x n_units`` memory).

    Parameters
    ----------
    bank : EmbeddingBank
        The bank.
    weights : array-like of shape (n_units, n_dims)
        One direction per unit.
    offsets : array-like of shape (n_units,), optional
        Added to each unit's scores.
    chunk_size : int
        Rows read at once.

    Returns
    -------
    numpy.ndarray of shape (n_items, n_units)
        Scores.
    """
    w, b = _affine(weights, offsets, bank.embeddings.shape[1])
    out = np.empty((len(bank), len(w)))
    for start, block in bank.chunks(chunk_size):
        out[start : start + len(block)] = block @ w.T + b
    return out


def top_k(bank, weights, k, offsets=None, chunk_size=DEFAULT_CHUNK):
    """Find the ``k`` best-scoring bank rows per unit, never holding all scores at once.

    Rows are ranked by score, ties by row index, so the result does not depend on
    ``chunk_size``.

    Parameters
    ----------
    bank : EmbeddingBank
        The bank.
    weights : array-like of shape (n_units, n_dims)
        One direction per unit.
    k : int
        Rows kept per unit.
    offsets : array-like of shape (n_units,), optional
        Added to each unit's scores.
    chunk_size : int
        Rows scored at once (memory: ``(chunk_size + k) x n_units``).

    Returns
    -------
    index : numpy.ndarray of int, shape (n_units, k)
        Bank rows, best first.
    score : numpy.ndarray of shape (n_units, k)
        Their scores.
    """
    k = min(check_positive_int("k", k), len(bank))
    w, b = _affine(weights, offsets, bank.embeddings.shape[1])
    best_s = np.empty((len(w), 0))
    best_i = np.empty((len(w), 0), dtype=np.int64)
    for start, block in bank.chunks(chunk_size):
        s = np.concatenate([best_s, (block @ w.T + b).T], axis=1)
        rows = np.arange(start, start + len(block))
        i = np.concatenate([best_i, np.broadcast_to(rows, (len(w), len(rows)))], axis=1)
        order = np.lexsort((i, -s), axis=1)[:, :k]
        best_s = np.take_along_axis(s, order, 1)
        best_i = np.take_along_axis(i, order, 1)
    return best_i, best_s
