"""Stimulus stores: images read lazily by id, and their captions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from brainalign._utils import require_file
from brainalign.data import _nsd_layout as L
from brainalign.data._reading import reading
from brainalign.exceptions import DataError


def read_images(locate, ids, what: str) -> list[np.ndarray]:
    """Read image files as uint8 RGB arrays, in the order of ``ids``.

    Parameters
    ----------
    locate : callable
        Stimulus id -> image file (``None`` for an unknown id).
    ids : iterable
        Stimulus ids (keys of ``paths``).
    what : str
        What the images are, for error messages (e.g. ``"THINGS image"``).

    Returns
    -------
    list of ndarray of shape (H, W, 3), dtype uint8
        The images.
    """
    from PIL import Image

    out = []
    for i in ids:
        path = locate(i)
        if path is None:
            raise DataError(f"Unknown {what} id {i!r}.")
        with reading(require_file(path, what), what), Image.open(path) as img:
            out.append(np.asarray(img.convert("RGB")))
    return out


class NSDStimuli:
    """NSD images from ``nsd_stimuli.hdf5`` (``imgBrick``), read lazily by 73k id.

    Only the requested images are read; the file is opened per call, so the object
    is cheap to pickle (e.g. to Dask workers).

    Parameters
    ----------
    hdf5_path : str or Path
        ``nsd_stimuli.hdf5``.
    stim_info_path : str or Path, optional
        ``nsd_stim_info_merged.csv`` (maps 73k ids to COCO ids for captions).
    annotations_dir : str or Path, optional
        Folder of ``captions_{train,val}2017.json``.
    """

    def __init__(self, hdf5_path, stim_info_path=None, annotations_dir=None):
        self.hdf5_path = Path(hdf5_path)
        self.stim_info_path = None if stim_info_path is None else Path(stim_info_path)
        self.annotations_dir = None if annotations_dir is None else Path(annotations_dir)
        self._captions = None

    @classmethod
    def from_root(cls, root) -> NSDStimuli:
        """Build the store of an NSD root folder.

        Parameters
        ----------
        root : str or Path
            NSD root.

        Returns
        -------
        NSDStimuli
            The store (files are checked when first read).
        """
        root = Path(root)
        return cls(
            root / L.STIMULI_HDF5, root / L.STIM_INFO, root / L.captions_json("train2017").parent
        )

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_captions"] = None
        return state

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``imgBrick`` (n_images, height, width, 3)."""
        import h5py

        path = require_file(self.hdf5_path, "NSD stimulus file")
        with reading(path, "NSD stimulus file"), h5py.File(path, "r") as f:
            return tuple(_brick(f, path).shape)

    def images(self, ids) -> np.ndarray:
        """Read images by 0-based 73k id, in the order given.

        Parameters
        ----------
        ids : array-like of int
            Image ids (repeats allowed).

        Returns
        -------
        ndarray of shape (len(ids), height, width, 3), dtype uint8
            The images.
        """
        import h5py

        ids = np.asarray(ids, dtype=np.int64).ravel()
        path = require_file(self.hdf5_path, "NSD stimulus file")
        with reading(path, "NSD stimulus file"), h5py.File(path, "r") as f:
            brick = _brick(f, path)
            bad = ids[(ids < 0) | (ids >= brick.shape[0])]
            if bad.size:
                raise DataError(
                    f"Image id(s) {bad[:10].tolist()} are outside 0..{brick.shape[0] - 1} "
                    f"of {path.name}."
                )
            uniq, inverse = np.unique(ids, return_inverse=True)
            data = np.empty((uniq.size,) + brick.shape[1:], dtype=brick.dtype)
            for row, image_id in enumerate(uniq):  # h5py fancy indexing is far slower
                brick.read_direct(data, np.s_[image_id], np.s_[row])
        return data[inverse.ravel()]

    def captions(self, ids) -> list[list[str]]:
        """COCO captions of images by 0-based 73k id.

        Parameters
        ----------
        ids : array-like of int
            Image ids.

        Returns
        -------
        list of list of str
            The captions of each image (empty list when none is found).
        """
        table = self._caption_table()
        return [table.get(int(i), []) for i in np.asarray(ids).ravel()]

    def _caption_table(self) -> dict[int, list[str]]:
        if self._captions is not None:
            return self._captions
        import pandas as pd

        if self.stim_info_path is None or self.annotations_dir is None:
            raise DataError("This stimulus store has no caption files configured.")
        info_path = require_file(self.stim_info_path, "NSD stimulus information file")
        with reading(info_path, "NSD stimulus information file"):
            info = pd.read_csv(info_path, usecols=["nsdId", "cocoId"])
        by_coco = {}
        for split in ("train2017", "val2017"):
            path = self.annotations_dir / f"captions_{split}.json"
            if path.exists():
                with reading(path, "COCO captions file"):
                    captions = json.loads(path.read_text())
                if not isinstance(captions, dict) or "annotations" not in captions:
                    raise DataError(f"{path.name} holds no 'annotations' list ({path}).")
                for ann in captions["annotations"]:
                    by_coco.setdefault(int(ann["image_id"]), []).append(ann["caption"].strip())
        if not by_coco:
            raise DataError(f"No COCO caption files in {self.annotations_dir}.")
        nsd, coco = info["nsdId"].to_numpy(), info["cocoId"].to_numpy()
        self._captions = {
            int(n): by_coco[int(c)] for n, c in zip(nsd, coco, strict=True) if int(c) in by_coco
        }
        return self._captions

    def fingerprint(self) -> str:
        """Identity of the image file (path, size, modification time).

        Returns
        -------
        str
            Changes whenever the file is replaced or modified.
        """
        stat = require_file(self.hdf5_path, "NSD stimulus file").stat()
        return f"{self.hdf5_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"

    def summary(self) -> dict:
        """Describe the store (file, shape) without reading images.

        Returns
        -------
        dict
            ``path`` and ``shape`` (None when the file is missing).
        """
        exists = self.hdf5_path.exists()
        return {"path": str(self.hdf5_path), "shape": list(self.shape) if exists else None}


def _brick(f, path):
    """Return the ``imgBrick`` dataset of an open ``nsd_stimuli.hdf5``."""
    if "imgBrick" not in f:
        raise DataError(f"{path.name} has no dataset 'imgBrick'; found {list(f)} ({path}).")
    return f["imgBrick"]
