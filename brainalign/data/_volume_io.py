"""Masked reads of 4-D volumes, a volume or a slab at a time (never the whole series)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainalign.data._reading import reading, truncated
from brainalign.exceptions import DataError


def nifti_shape(path: str | Path, what: str = "NIfTI image") -> tuple[int, ...]:
    """Shape of a NIfTI image, read from its header only."""
    import nibabel as nib

    with reading(path, what):
        return tuple(nib.load(str(path)).shape)


def read_nifti_masked(path, ijk: np.ndarray, what: str = "NIfTI image") -> np.ndarray:
    """Read the voxels ``ijk`` of every volume of a 4-D NIfTI, streaming the file.

    The header gives the data offset, type and scaling; volumes are then read one at
    a time from the (gzip) stream, so memory holds one volume of the file at most.
    A file shorter than its header says raises a DataError that counts the volumes
    read ("expected 750 volumes, read 412").

    Parameters
    ----------
    path : str or Path
        ``.nii`` or ``.nii.gz`` file, shape ``(X, Y, Z, T)``.
    ijk : ndarray of shape (n_voxels, 3)
        Voxels to keep, in output column order.
    what : str
        What the file is, for messages (e.g. ``"NSD betas file"``).

    Returns
    -------
    ndarray of shape (T, n_voxels)
        Raw values (file dtype; float64 when the header sets a scaling).
    """
    import nibabel as nib

    with reading(path, what):
        img = nib.load(str(path))
        if len(img.shape) != 4:
            raise DataError(f"Expected a 4-D image in {path}; got shape {img.shape}.")
        _check_in_grid(ijk, img.shape[:3], path)
        out = _stream_volumes(img, path, ijk, what)
        slope, inter = img.dataobj.slope, img.dataobj.inter
    if slope != 1 or inter != 0:
        out = out * slope + inter
    return out


def _stream_volumes(img, path, ijk, what) -> np.ndarray:
    from nibabel.openers import ImageOpener

    x, y, z, t = img.shape
    dtype = img.header.get_data_dtype()
    flat = ijk[:, 0] + x * (ijk[:, 1] + y * ijk[:, 2])  # Fortran order in the file
    size = x * y * z * dtype.itemsize
    out = np.empty((t, len(ijk)), dtype=dtype.newbyteorder("="))
    with ImageOpener(str(path), "rb") as f:
        f.seek(int(img.dataobj.offset))
        for v in range(t):
            try:
                buf = f.read(size)
            except EOFError:  # gzip stream cut short
                buf = b""
            if len(buf) != size:
                raise truncated(path, what, t, v, "volumes")
            out[v] = np.frombuffer(buf, dtype)[flat]
    return out


def read_hdf5_masked(
    path, ijk: np.ndarray, dataset: str = "betas", what: str = "HDF5 file"
) -> np.ndarray:
    """Read the voxels ``ijk`` from an NSD-style HDF5 (axes reversed: T, Z, Y, X).

    Reads one Z slab (bounding box of the voxels in that slab) at a time.

    Parameters
    ----------
    path : str or Path
        HDF5 file with a dataset of shape ``(T, Z, Y, X)``.
    ijk : ndarray of shape (n_voxels, 3)
        Voxels ``(i, j, k)`` of the ``(X, Y, Z)`` grid to keep.
    dataset : str
        Name of the dataset.
    what : str
        What the file is, for messages.

    Returns
    -------
    ndarray of shape (T, n_voxels)
        Raw values (file dtype).
    """
    import h5py

    with reading(path, what), h5py.File(path, "r") as f:
        ds = _dataset(f, dataset, path)
        if ds.ndim != 4:
            raise DataError(f"Expected a 4-D dataset in {path}; got shape {ds.shape}.")
        t, z, y, x = ds.shape
        _check_in_grid(ijk, (x, y, z), path)
        out = np.empty((t, len(ijk)), dtype=ds.dtype)
        for k in np.unique(ijk[:, 2]):
            cols = np.flatnonzero(ijk[:, 2] == k)
            i, j = ijk[cols, 0], ijk[cols, 1]
            slab = ds[:, k, j.min() : j.max() + 1, i.min() : i.max() + 1]
            out[:, cols] = slab[:, j - j.min(), i - i.min()]
    return out


def hdf5_grid(path, dataset: str = "betas", what: str = "HDF5 file") -> tuple[int, ...]:
    """Spatial grid ``(X, Y, Z)`` of an NSD-style HDF5 betas file."""
    import h5py

    with reading(path, what), h5py.File(path, "r") as f:
        shape = _dataset(f, dataset, path).shape
    return tuple(shape[:0:-1])


def _dataset(f, name: str, path):
    if name not in f:
        raise DataError(f"{Path(path).name} has no dataset {name!r}; found {list(f)} ({path}).")
    return f[name]


def _check_in_grid(ijk, grid, path):
    if len(ijk) and (ijk.max(axis=0) >= np.asarray(grid)).any():
        raise DataError(
            f"Volume shape mismatch: {path} has grid {tuple(grid)} but the mask "
            f"reaches voxel {tuple(ijk.max(axis=0))}."
        )
