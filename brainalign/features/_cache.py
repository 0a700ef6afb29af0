"""Feature cache: entries keyed by everything that changes the numbers."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

#: Bumped whenever stored features would change for the same key.
CACHE_FORMAT = 1


def digest(obj) -> str:
    """SHA-256 of a JSON-serialisable object (sorted keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def ids_digest(ids) -> str:
    """SHA-256 of a list of stimulus ids (type and order matter)."""
    ids = np.asarray(ids)
    return hashlib.sha256(
        f"{ids.dtype.kind}|".encode() + "\x1f".join(map(str, ids)).encode()
    ).hexdigest()


def file_sha256(path, block: int = 1 << 20) -> str:
    """SHA-256 of a file's content, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def entry_dir(cache_dir, model_id: str, key: str) -> Path:
    """Folder of one cache entry: ``<cache>/<model>/<key>``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id)
    return Path(cache_dir) / safe / key


def publish(tmp: Path, final: Path) -> Path:
    """Move a completed temporary folder into place atomically.

    If another process published the same entry first, the temporary copy is
    discarded (both hold the same numbers).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, final)
    except OSError:
        if not final.exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def temp_dir(final: Path) -> Path:
    """Create a fresh temporary folder beside ``final``."""
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    return tmp


def save_batch(folder: Path, index: int, arrays: dict) -> None:
    """Write one finished batch (all layers) atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"batch_{index:06d}.npz"
    tmp = folder / f".batch_{index:06d}.{uuid.uuid4().hex[:8]}.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, final)


def load_batch(folder: Path, index: int) -> dict | None:
    """Read a finished batch, or None when it was not written."""
    path = folder / f"batch_{index:06d}.npz"
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def load_reduction(cache_dir, features) -> dict | None:
    """Return the fitted reduction (``pca``/``srp``) behind cached features, or None.

    Parameters
    ----------
    cache_dir : str or Path
        Feature cache the features were read from.
    features : FeatureSet
        Features returned by :meth:`FeatureExtractor.extract` with that cache.

    Returns
    -------
    dict or None
        ``mean`` (d,) and ``components`` (k, d): ``(x - mean) @ components.T``; None
        when the pooling fits nothing.

    Raises
    ------
    DataError
        When the pooling is fitted but the cache entry has no ``reduction.npz``.
    """
    from brainalign.exceptions import DataError
    from brainalign.features._spec import Pooling

    meta = features.metadata
    if not Pooling.parse(meta.get("pooling", "auto")).fitted:
        return None
    path = entry_dir(cache_dir, meta["model"], meta["key"]) / "reduction.npz"
    if not path.is_file():
        raise DataError(
            f"The {meta['pooling']} reduction of layer {meta.get('layer')!r} is not in the "
            f"feature cache {cache_dir} (no {path.name}); extract the layer again."
        )
    with np.load(path, allow_pickle=False) as npz:
        return {"mean": npz["mean"], "components": npz["components"]}
