"""FeatureSet: one layer's features, one row per stimulus id, with provenance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from brainalign.exceptions import DataError


class FeatureSet:
    """Features of one layer: ``(n_stimuli, n_features)`` plus ids and metadata.

    Parameters
    ----------
    features : array-like of shape (n_stimuli, n_features)
        Features (float32; may be a read-only memory map).
    stimulus_ids : array-like of shape (n_stimuli,)
        Stimulus of each row.
    metadata : dict, optional
        Model id, weights, layer, original shape, pooling, preprocessing, cache key.
    """

    def __init__(self, features, stimulus_ids, metadata=None):
        self.features = np.asanyarray(features)  # keeps memory maps
        self.stimulus_ids = np.asarray(stimulus_ids)
        if self.features.ndim != 2 or self.features.shape[0] != self.stimulus_ids.shape[0]:
            raise DataError(
                f"FeatureSet needs (n, d) features with one id per row; got features "
                f"{self.features.shape} and {self.stimulus_ids.shape[0]} ids."
            )
        self.metadata = dict(metadata or {})

    @property
    def layer(self) -> str | None:
        """Layer name."""
        return self.metadata.get("layer")

    @property
    def token_shape(self) -> tuple[int, int] | None:
        """``(n_tokens, n_channels)`` of token features (``pooling="tokens"``), else None."""
        layout = self.metadata.get("tokens")
        if not layout:
            return None
        rows, cols = layout["grid"]
        return int(rows) * int(cols), int(layout["dim"])

    @property
    def token_grid(self) -> tuple[int, int] | None:
        """``(rows, columns)`` of the patch grid of token features, else None."""
        layout = self.metadata.get("tokens")
        return None if not layout else tuple(int(v) for v in layout["grid"])

    def tokens(self, ids=None) -> np.ndarray:
        """Return token features as ``(n, n_tokens, n_channels)`` (rows joined by id).

        Parameters
        ----------
        ids : array-like, optional
            Stimulus ids (see :meth:`align`); default: every row in stored order.

        Returns
        -------
        ndarray of shape (n, n_tokens, n_channels)
            The patch tokens, row by row over the grid (:attr:`token_grid`).

        Raises
        ------
        DataError
            If the features were not pooled with ``pooling="tokens"``.
        """
        shape = self.token_shape
        if shape is None:
            raise DataError(
                f"Layer {self.layer!r} was pooled with {self.metadata.get('pooling')!r}; "
                "token features need pooling='tokens'."
            )
        rows = self.features if ids is None else self.align(ids)
        return rows.reshape(len(rows), *shape)

    def __repr__(self) -> str:
        return (
            f"FeatureSet(model={self.metadata.get('model')!r}, layer={self.layer!r}, "
            f"shape={self.features.shape})"
        )

    def align(self, ids) -> np.ndarray:
        """Return the feature rows of ``ids`` in that order (repeats allowed).

        Parameters
        ----------
        ids : array-like
            Stimulus ids, e.g. ``BrainData.stimulus_ids``.

        Returns
        -------
        ndarray of shape (len(ids), n_features)
            Rows joined by id.

        Raises
        ------
        DataError
            If an id has no features; the message names the missing ids.
        """
        ids = np.asarray(ids)
        order = np.argsort(self.stimulus_ids, kind="stable")
        sorted_ids = self.stimulus_ids[order]
        pos = np.searchsorted(sorted_ids, ids)
        pos = np.clip(pos, 0, max(len(sorted_ids) - 1, 0))
        found = (sorted_ids[pos] == ids) if len(sorted_ids) else np.zeros(len(ids), bool)
        if not found.all():
            missing = np.unique(ids[~found])
            raise DataError(
                f"{missing.size} stimulus id(s) have no features in layer {self.layer!r}: "
                f"{', '.join(map(repr, missing[:10].tolist()))}"
                f"{' ...' if missing.size > 10 else ''}."
            )
        return self.features[order[pos]]

    def save(self, folder) -> Path:
        """Write ``features.npy``, ``stimulus_ids.npy`` and ``meta.json`` into a folder.

        Parameters
        ----------
        folder : str or Path
            Destination (created).

        Returns
        -------
        Path
            The folder.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "features.npy", np.ascontiguousarray(self.features, dtype=np.float32))
        np.save(folder / "stimulus_ids.npy", self.stimulus_ids, allow_pickle=False)
        (folder / "meta.json").write_text(json.dumps(self.metadata, indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder, mmap: bool = True) -> FeatureSet:
        """Read a saved FeatureSet (features memory-mapped by default).

        Parameters
        ----------
        folder : str or Path
            Folder written by :meth:`save`.
        mmap : bool
            Memory-map the features instead of reading them.

        Returns
        -------
        FeatureSet
            The features.
        """
        folder = Path(folder)
        features = np.load(folder / "features.npy", mmap_mode="r" if mmap else None)
        ids = np.load(folder / "stimulus_ids.npy", allow_pickle=False)
        return cls(features, ids, json.loads((folder / "meta.json").read_text()))
