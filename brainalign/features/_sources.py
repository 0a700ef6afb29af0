"""Stimulus sources for extraction: images or texts, each with ids and a fingerprint."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from brainalign.exceptions import DataError, ParameterError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class ImageSource:
    """Images by id, loaded on demand as uint8 ``(H, W, 3)`` arrays.

    Parameters
    ----------
    ids : array-like
        Stimulus ids, in extraction order.
    loader : callable
        ``loader(positions) -> list of arrays`` for row positions into ``ids``.
    fingerprint : str
        Content identity of the images (part of the cache key).
    """

    modality = "image"

    def __init__(self, ids, loader, fingerprint: str):
        self.ids = np.asarray(ids)
        self._loader = loader
        self.fingerprint = fingerprint

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, positions) -> list[np.ndarray]:
        """Return the images at row positions (uint8, RGB)."""
        return [_as_rgb_uint8(img) for img in self._loader(np.asarray(positions))]


class TextSource:
    """Texts by id (e.g. captions).

    Parameters
    ----------
    ids : array-like
        Stimulus ids.
    texts : sequence of str
        One text per id.
    """

    modality = "text"

    def __init__(self, ids, texts):
        self.ids = np.asarray(ids)
        self.texts = [str(t) for t in texts]
        if len(self.texts) != len(self.ids):
            raise DataError(f"Got {len(self.texts)} texts for {len(self.ids)} ids.")
        self.fingerprint = _sha("\x1f".join(self.texts).encode())

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, positions) -> list[str]:
        """Return the texts at row positions."""
        return [self.texts[i] for i in positions]


def image_source(stimuli, ids=None) -> ImageSource:
    """Wrap images for extraction.

    Parameters
    ----------
    stimuli : ndarray, sequence, str, Path or store
        ``(n, H, W, 3)`` uint8 array; a list of arrays or PIL images; a folder of
        image files (ids = file names without suffix); or a store with an
        ``images(ids)`` method (e.g. ``BrainData.stimuli`` of NSD, read by id).
    ids : array-like, optional
        Stimulus ids (required for a store; default ``0..n-1`` otherwise).

    Returns
    -------
    ImageSource
        The source.
    """
    if hasattr(stimuli, "images"):
        if ids is None:
            raise ParameterError("Invalid value for 'ids': a stimulus store needs the ids to read.")
        ids = np.asarray(ids)
        ident = stimuli.fingerprint() if hasattr(stimuli, "fingerprint") else repr(stimuli)
        return ImageSource(ids, lambda pos: list(stimuli.images(ids[pos])), _sha(ident.encode()))
    if isinstance(stimuli, (str, Path)):
        return _folder_source(Path(stimuli), ids)
    if isinstance(stimuli, np.ndarray):
        if stimuli.ndim != 4:
            raise ParameterError(
                f"Invalid shape for 'stimuli': expected (n, height, width, 3); got {stimuli.shape}."
            )
        items = stimuli
    else:
        items = [_as_rgb_uint8(s) for s in stimuli]
    digest = _array_digest(items)
    ids = np.arange(len(items)) if ids is None else np.asarray(ids)
    if len(ids) != len(items):
        raise DataError(f"Got {len(items)} images for {len(ids)} ids.")
    return ImageSource(ids, lambda pos: [items[i] for i in pos], digest)


def _folder_source(folder: Path, ids) -> ImageSource:
    if not folder.is_dir():
        raise DataError(f"Missing image folder: expected {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"No image files ({', '.join(IMAGE_SUFFIXES)}) in {folder}.")
    by_id = {str(p.relative_to(folder).with_suffix("")): p for p in files}
    ids = np.array(list(by_id)) if ids is None else np.asarray(ids).astype(str)
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise DataError(f"No image file for id(s) {missing[:10]} in {folder}.")
    paths = [by_id[i] for i in ids]
    ident = "\n".join(f"{p}|{p.stat().st_size}|{p.stat().st_mtime_ns}" for p in paths)
    return ImageSource(ids, lambda pos: [_read_image(paths[i]) for i in pos], _sha(ident.encode()))


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def _as_rgb_uint8(image) -> np.ndarray:
    if not isinstance(image, np.ndarray):  # PIL image
        image = np.asarray(image.convert("RGB"))
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise DataError(
            f"Expected uint8 RGB images (H, W, 3); got {image.dtype} of shape {image.shape}."
        )
    return image


def _array_digest(items) -> str:
    """SHA-256 over each image's shape, dtype and bytes, one image at a time."""
    h = hashlib.sha256()
    for item in items:
        item = np.ascontiguousarray(item)
        h.update(f"{item.shape}|{item.dtype.str}|".encode())
        h.update(memoryview(item).cast("B"))
    return h.hexdigest()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
