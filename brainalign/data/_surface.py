"""Surface space: cortical vertices of two hemispheres as the columns of a BrainData.

Each column is one vertex ``(hemi, vertex)`` of a hemisphere mesh with a known number
of vertices (fsaverage: 163,842 per hemisphere; a subject's native surface: its own
count). :class:`SurfaceSpace` turns a column vector back into one full-length array per
hemisphere, or into FreeSurfer ``.mgh`` images (shape ``(n_vertices, 1, 1)``), and knows
the mesh files (``white``, ``pial``, ``inflated``, ``sphere``) that maps are drawn on.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign.exceptions import DataError, ParameterError

#: Hemisphere names, in column order.
HEMIS = ("lh", "rh")
#: FreeSurfer surface files looked for beside a subject's ``surf`` folder.
MESH_NAMES = ("inflated", "white", "pial", "sphere", "flat")


class SurfaceSpace:
    """Vertices of a left and a right hemisphere mesh, and the vertex of each column.

    Parameters
    ----------
    n_vertices : dict of str -> int
        Number of vertices of each hemisphere's mesh (``{"lh": N, "rh": M}``).
    hemi : array-like of str, shape (n_targets,)
        Hemisphere (``"lh"`` or ``"rh"``) of each column.
    vertex : array-like of int, shape (n_targets,)
        0-based vertex index of each column in its hemisphere.
    mesh : str
        Name of the mesh the vertices belong to (``"fsaverage"``, ``"subj01"``).
    mesh_files : dict of str -> dict of str -> str, optional
        Per hemisphere, surface name -> FreeSurfer geometry file (``{"lh": {"inflated":
        ".../lh.inflated"}}``), used to draw maps.
    """

    kind = "surface"

    def __init__(self, n_vertices, hemi, vertex, mesh="fsaverage", mesh_files=None):
        self.n_vertices = {str(h): int(n) for h, n in dict(n_vertices).items()}
        unknown = sorted(set(self.n_vertices) - set(HEMIS))
        if unknown:
            raise ParameterError(
                f"Invalid value for 'n_vertices': hemispheres must be 'lh' or 'rh'; got {unknown}."
            )
        self.hemi = np.asarray(hemi, dtype=str).ravel()
        self.vertex = np.asarray(vertex, dtype=np.int64).ravel()
        if self.hemi.shape != self.vertex.shape:
            raise DataError(
                f"'hemi' and 'vertex' must have one entry per column; got {self.hemi.size} "
                f"and {self.vertex.size}."
            )
        for h in np.unique(self.hemi):
            if h not in self.n_vertices:
                raise DataError(
                    f"Columns name hemisphere {h!r}, which has no vertex count in "
                    f"'n_vertices' ({sorted(self.n_vertices)})."
                )
            v = self.vertex[self.hemi == h]
            if (v < 0).any() or (v >= self.n_vertices[h]).any():
                raise DataError(
                    f"Vertex indices of {h} fall outside 0..{self.n_vertices[h] - 1} "
                    f"(got {v.min()}..{v.max()})."
                )
        self.mesh = str(mesh)
        self.mesh_files = {h: dict(files) for h, files in (mesh_files or {}).items()}

    @property
    def n_targets(self) -> int:
        """Number of vertices (columns)."""
        return self.vertex.size

    def col_meta(self) -> pd.DataFrame:
        """Column metadata: ``hemi, vertex`` of every column.

        Returns
        -------
        pandas.DataFrame
            One row per column.
        """
        return pd.DataFrame({"hemi": self.hemi, "vertex": self.vertex})

    def select(self, columns) -> SurfaceSpace:
        """Return the space of a subset of columns.

        Parameters
        ----------
        columns : array-like of int or bool
            Column indices or boolean mask.

        Returns
        -------
        SurfaceSpace
            Same meshes, fewer columns.
        """
        return SurfaceSpace(
            self.n_vertices, self.hemi[columns], self.vertex[columns], self.mesh, self.mesh_files
        )

    def to_arrays(self, values, fill=0.0, dtype=np.float32) -> dict[str, np.ndarray]:
        """Put one value per column back on each hemisphere's full vertex list.

        Parameters
        ----------
        values : array-like of shape (n_targets,) or (n_targets, n_maps)
            One value (or one value per map) per column.
        fill : float
            Value of vertices without a column.
        dtype : numpy dtype
            Data type of the arrays.

        Returns
        -------
        dict of str -> ndarray of shape (n_vertices,) or (n_vertices, n_maps)
            One array per hemisphere of ``n_vertices``.
        """
        values = np.asarray(values)
        if values.shape[:1] != (self.n_targets,) or values.ndim > 2:
            raise ParameterError(
                f"Invalid shape for 'values': expected ({self.n_targets},) or "
                f"({self.n_targets}, n_maps); got {values.shape}."
            )
        out = {}
        for h, n in self.n_vertices.items():
            arr = np.full((n,) + values.shape[1:], fill, dtype=dtype)
            cols = self.hemi == h
            arr[self.vertex[cols]] = values[cols]
            out[h] = arr
        return out

    def to_image(self, values, fill=0.0, dtype=np.float32) -> dict:
        """Put one value per column into one FreeSurfer ``.mgh`` image per hemisphere.

        Parameters
        ----------
        values : array-like of shape (n_targets,) or (n_targets, n_maps)
            Values.
        fill : float
            Value of vertices without a column.
        dtype : numpy dtype
            Data type of the images.

        Returns
        -------
        dict of str -> nibabel.MGHImage
            Images of shape ``(n_vertices, 1, 1)`` (or ``(n_vertices, 1, 1, n_maps)``),
            the layout of NSD's surface files.
        """
        import nibabel as nib

        images = {}
        for h, arr in self.to_arrays(values, fill=fill, dtype=dtype).items():
            data = arr.reshape((arr.shape[0], 1, 1) + arr.shape[1:])
            images[h] = nib.MGHImage(data, np.eye(4))
        return images

    def __repr__(self) -> str:
        counts = ", ".join(f"{h}={n}" for h, n in self.n_vertices.items())
        return f"SurfaceSpace(mesh={self.mesh!r}, {counts}, n_targets={self.n_targets})"


def find_meshes(surf_dir, hemis=HEMIS) -> dict[str, dict[str, str]]:
    """FreeSurfer surface files present in a ``surf`` folder.

    Parameters
    ----------
    surf_dir : str or Path
        Folder holding ``lh.inflated``, ``rh.white``, ...
    hemis : sequence of str
        Hemispheres to look for.

    Returns
    -------
    dict of str -> dict of str -> str
        Per hemisphere, surface name -> path (only those found).
    """
    surf_dir = Path(surf_dir)
    return {
        h: {m: str(surf_dir / f"{h}.{m}") for m in MESH_NAMES if (surf_dir / f"{h}.{m}").exists()}
        for h in hemis
    }


@contextlib.contextmanager
def open_mgh(path):
    """Open a FreeSurfer ``.mgh``/``.mgz`` image whose data can be read inside the block.

    ``nibabel.load`` leaves ``.mgh`` files open (a ResourceWarning in nibabel 5.4); here
    the file is closed when the block ends.

    Parameters
    ----------
    path : str or Path
        The image file.

    Yields
    ------
    nibabel.MGHImage
        The image, its ``dataobj`` readable until the block ends.
    """
    import nibabel as nib
    from nibabel.fileholders import FileHolder
    from nibabel.openers import ImageOpener

    with ImageOpener(str(path), "rb") as f:
        yield nib.MGHImage.from_file_map({"image": FileHolder(str(path), fileobj=f)})


def read_mgh(path) -> np.ndarray:
    """Read the whole data array of a ``.mgh``/``.mgz`` file (and close it).

    Parameters
    ----------
    path : str or Path
        The image file.

    Returns
    -------
    ndarray
        The data, shape as stored (e.g. ``(n_vertices, 1, 1, n_frames)``).
    """
    with open_mgh(path) as img:
        return np.asarray(img.dataobj)


def read_mgh_vector(path) -> np.ndarray:
    """Read a per-vertex ``.mgh``/``.mgz`` file (shape ``(n, 1, 1)``) as a 1-D array.

    Parameters
    ----------
    path : str or Path
        File of one value per vertex (labels, ncsnr).

    Returns
    -------
    ndarray of shape (n_vertices,)
        The values (file dtype, or float64 when the file is scaled).
    """
    data = read_mgh(path)
    if data.ndim < 1 or int(np.prod(data.shape[1:])) != 1:
        raise DataError(f"{path} must hold one value per vertex; got shape {data.shape}.")
    return data.reshape(-1)


def read_mgh_rows(path, vertices: np.ndarray, block: int = 50) -> np.ndarray:
    """Read the vertices ``vertices`` of every frame of a surface ``.mgh``, by blocks.

    NSD's surface betas are ``(n_vertices, 1, 1, n_trials)`` images; frames are read
    ``block`` at a time, so memory holds ``block`` frames of the full hemisphere at most.

    Parameters
    ----------
    path : str or Path
        ``.mgh`` file of shape ``(n_vertices, 1, 1, T)``.
    vertices : ndarray of int, shape (n_columns,)
        0-based vertex indices to keep, in output column order.
    block : int
        Frames per read.

    Returns
    -------
    ndarray of shape (T, n_columns)
        Raw values (file dtype).
    """
    with open_mgh(path) as img:
        return _read_frames(img, path, vertices, block)


def _read_frames(img, path, vertices, block) -> np.ndarray:
    shape = img.shape
    if len(shape) != 4 or shape[1:3] != (1, 1):
        raise DataError(f"Expected surface frames (n_vertices, 1, 1, T) in {path}; got {shape}.")
    n, t = shape[0], shape[3]
    vertices = np.asarray(vertices, dtype=np.int64)
    if vertices.size and vertices.max() >= n:
        raise DataError(
            f"Vertex count mismatch: {path} has {n} vertices but vertex {vertices.max()} "
            "was requested."
        )
    lo = int(vertices.min()) if vertices.size else 0
    hi = int(vertices.max()) + 1 if vertices.size else 0
    out = np.empty((t, vertices.size), dtype=img.get_data_dtype().newbyteorder("="))
    for start in range(0, t, block):
        stop = min(start + block, t)
        chunk = np.asarray(img.dataobj[lo:hi, 0, 0, start:stop])  # (n_span, n_frames)
        out[start:stop] = chunk[vertices - lo].T
    return out


def read_surface_hdf5(path, vertices: np.ndarray, dataset: str = "betas") -> np.ndarray:
    """Read vertices from an NSD native-surface HDF5 (``/betas``: trials x vertices).

    Parameters
    ----------
    path : str or Path
        ``{lh,rh}.betas_sessionNN.hdf5``.
    vertices : ndarray of int, shape (n_columns,)
        0-based vertex indices to keep.
    dataset : str
        Name of the dataset.

    Returns
    -------
    ndarray of shape (T, n_columns)
        Raw values (file dtype, int16 in NSD).
    """
    import h5py

    vertices = np.asarray(vertices, dtype=np.int64)
    with h5py.File(path, "r") as f:
        if dataset not in f:
            raise DataError(f"{path} has no dataset {dataset!r}; found {list(f)}.")
        ds = f[dataset]
        if ds.ndim != 2:
            raise DataError(f"Expected a 2-D (trials, vertices) dataset in {path}; got {ds.shape}.")
        if vertices.size and vertices.max() >= ds.shape[1]:
            raise DataError(
                f"Vertex count mismatch: {path} has {ds.shape[1]} vertices but vertex "
                f"{vertices.max()} was requested."
            )
        lo = int(vertices.min()) if vertices.size else 0
        hi = int(vertices.max()) + 1 if vertices.size else 0
        return ds[:, lo:hi][:, vertices - lo]


def n_frames(path) -> int:
    """Return the number of frames (trials) of a surface betas file, from its header."""
    if Path(path).suffix == ".hdf5":
        import h5py

        with h5py.File(path, "r") as f:
            return int(f["betas"].shape[0])
    with open_mgh(path) as img:
        shape = img.shape
    return int(shape[3]) if len(shape) == 4 else 1


def n_vertices_of(path) -> int:
    """Return the number of vertices of a surface betas file, from its header."""
    if Path(path).suffix == ".hdf5":
        import h5py

        with h5py.File(path, "r") as f:
            return int(f["betas"].shape[1])
    with open_mgh(path) as img:
        return int(img.shape[0])
