"""Masked reads of 4-D volumes, a block of volumes at a time (never the whole series)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainalign.exceptions import DataError


def nifti_shape(path: str | Path) -> tuple[int, ...]:
    """Shape of a NIfTI image, read from its header only."""
    import nibabel as nib

    return tuple(nib.load(str(path)).shape)


def read_nifti_masked(path, ijk: np.ndarray, block: int = 50) -> np.ndarray:
    """Read the voxels ``ijk`` of every volume of a 4-D NIfTI, streaming the file.

    The header gives the data offset, type and scaling; volumes are then read in
    blocks from the (gzip) stream, so memory holds ``block`` volumes at most.

    Parameters
    ----------
    path : str or Path
        ``.nii`` or ``.nii.gz`` file, shape ``(X, Y, Z, T)``.
    ijk : ndarray of shape (n_voxels, 3)
        Voxels to keep, in output column order.
    block : int
        Volumes per read.

    Returns
    -------
    ndarray of shape (T, n_voxels)
        Raw values (file dtype; float64 when the header sets a scaling).
    """
    import nibabel as nib
    from nibabel.openers import ImageOpener

    img = nib.load(str(path))
    if len(img.shape) != 4:
        raise DataError(f"Expected a 4-D image in {path}; got shape {img.shape}.")
    x, y, z, t = img.shape
    _check_in_grid(ijk, (x, y, z), path)
    dtype = img.header.get_data_dtype()
    flat = ijk[:, 0] + x * (ijk[:, 1] + y * ijk[:, 2])  # Fortran order in the file
    n_vox = x * y * z
    out = np.empty((t, len(ijk)), dtype=dtype.newbyteorder("="))
    with ImageOpener(str(path), "rb") as f:
        f.seek(int(img.dataobj.offset))
        for start in range(0, t, block):
            n = min(block, t - start)
            buf = f.read(n * n_vox * dtype.itemsize)
            if len(buf) != n * n_vox * dtype.itemsize:
                raise DataError(f"{path} is truncated: volumes {start}-{start + n} missing.")
            out[start : start + n] = np.frombuffer(buf, dtype).reshape(n, n_vox)[:, flat]
    slope, inter = img.dataobj.slope, img.dataobj.inter
    if slope != 1 or inter != 0:
        out = out * slope + inter
    return out


def read_hdf5_masked(path, ijk: np.ndarray, dataset: str = "betas") -> np.ndarray:
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

    Returns
    -------
    ndarray of shape (T, n_voxels)
        Raw values (file dtype).
    """
    import h5py

    with h5py.File(path, "r") as f:
        if dataset not in f:
            raise DataError(f"{path} has no dataset {dataset!r}; found {list(f)}.")
        ds = f[dataset]
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


def hdf5_grid(path, dataset: str = "betas") -> tuple[int, ...]:
    """Spatial grid ``(X, Y, Z)`` of an NSD-style HDF5 betas file."""
    import h5py

    with h5py.File(path, "r") as f:
        shape = f[dataset].shape
    return tuple(shape[:0:-1])


def _check_in_grid(ijk, grid, path):
    if len(ijk) and (ijk.max(axis=0) >= np.asarray(grid)).any():
        raise DataError(
            f"Volume shape mismatch: {path} has grid {tuple(grid)} but the mask "
            f"reaches voxel {tuple(ijk.max(axis=0))}."
        )
