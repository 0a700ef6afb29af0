"""Surface space: cortical vertices of two hemispheres as the columns of a BrainData.

Each column is one vertex ``(hemi, vertex)`` of a hemisphere mesh with a known number
of vertices (fsaverage: 163,842 per hemisphere; a subject's native surface: its own
count). :class:`SurfaceSpace` turns a column vector back into one full-length array per
hemisphere, or into FreeSurfer ``.mgh`` images (shape ``(n_vertices, 1, 1)``), and knows
the mesh files (``white``, ``pial``, ``inflated``, ``sphere``, and the flat patch
``full.flat.patch.3d``) that maps are drawn on. :func:`read_patch` and
:func:`write_patch` read and write FreeSurfer binary patch files (a flattened subset of
a hemisphere's vertices).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path
from brainalign.data._reading import is_truncation, reading, truncated
from brainalign.exceptions import DataError, MissingFileError, ParameterError

#: Hemisphere names, in column order.
HEMIS = ("lh", "rh")
#: FreeSurfer surface files looked for beside a subject's ``surf`` folder.
MESH_NAMES = ("inflated", "white", "pial", "sphere", "flat")
#: File name of each surface (``{hemi}`` is the hemisphere); others are ``{hemi}.<name>``.
MESH_FILES = {"flat": "{hemi}.full.flat.patch.3d"}
#: Magic number opening a FreeSurfer patch in the "new" format (float coordinates).
PATCH_MAGIC = -1
#: One point of a new-format patch: 1-based vertex number (negative: border) and x, y, z.
_PATCH_POINT = np.dtype([("vno", ">i4"), ("xyz", ">f4", (3,))])
#: One point of an old-format patch: vertex number and x, y, z in 1/100 mm (int16).
_OLD_PATCH_POINT = np.dtype([("vno", ">i4"), ("xyz", ">i2", (3,))])


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
    time_resolved = False
    voxel_grid = False

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

    def score_columns(self) -> pd.DataFrame:
        """Columns locating each target in a score table: ``hemi, vertex``."""
        return self.col_meta()

    def write_maps(
        self, values: dict, out, stem: str, projections=(), projected=None
    ) -> dict[str, Path]:
        """Write one ``.mgh`` per statistic and hemisphere, and ``surface.json``.

        Files: ``<out>/<stem>_hemi-L_stat-<stat>.mgh`` (and ``hemi-R``); vertices
        without a column hold 0. ``<out>/surface.json`` records the mesh, its vertex
        counts and its files, so figures can be drawn later.

        Parameters
        ----------
        values : dict of str -> array-like of shape (n_targets,)
            One value per vertex and statistic.
        out : str or Path
            Folder of the maps (created).
        stem : str
            File name before the ``_hemi-`` entity.
        projections, projected : optional
            Ignored: the maps are already on a surface.

        Returns
        -------
        dict of str -> Path
            ``map_<stat>_<hemi>`` -> file, and ``surface`` -> the record.
        """
        from brainalign._utils import write_json_atomic
        from brainalign.data._space import check_map_values

        paths = {}
        for stat, v in check_map_values(self, values).items():
            for hemi, img in self.to_image(v).items():
                path = Path(out) / f"{stem}_hemi-{hemi[0].upper()}_stat-{stat}.mgh"
                with atomic_path(path) as tmp:
                    img.to_filename(str(tmp))
                paths[f"map_{stat}_{hemi}"] = path
        record = {"mesh": self.mesh, "n_vertices": self.n_vertices, "mesh_files": self.mesh_files}
        paths["surface"] = write_json_atomic(Path(out) / "surface.json", record)
        return paths

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
        Folder holding ``lh.inflated``, ``rh.white``, ``lh.full.flat.patch.3d``, ...
    hemis : sequence of str
        Hemispheres to look for.

    Returns
    -------
    dict of str -> dict of str -> str
        Per hemisphere, surface name (:data:`MESH_NAMES`; ``"flat"`` is the flat patch
        ``{hemi}.full.flat.patch.3d``) -> path, only those found.
    """
    surf_dir = Path(surf_dir)
    found = {}
    for h in hemis:
        paths = {m: surf_dir / mesh_file_name(h, m) for m in MESH_NAMES}
        found[h] = {m: str(path) for m, path in paths.items() if path.exists()}
    return found


def mesh_file_name(hemi: str, name: str) -> str:
    """Return the FreeSurfer file name of a hemisphere's surface.

    Parameters
    ----------
    hemi : {"lh", "rh"}
        Hemisphere.
    name : str
        Surface name (``"inflated"``, ``"flat"``, ...).

    Returns
    -------
    str
        ``lh.inflated``, or ``lh.full.flat.patch.3d`` for ``"flat"``.
    """
    return MESH_FILES.get(name, "{hemi}." + name).format(hemi=hemi)


def read_patch(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a FreeSurfer binary patch file (e.g. ``lh.full.flat.patch.3d``).

    A patch lists a subset of a hemisphere's vertices with new coordinates (for a flat
    patch, the 2-D unfolding with z = 0). The file is big-endian. The "new" format
    (what FreeSurfer writes) is the int32 ``-1``, the int32 number of points, then per
    point the int32 1-based vertex number (negative for a vertex on the patch border)
    and three float32 x, y, z. The old format starts directly with the number of
    points, and stores x, y, z as int16 hundredths of a millimetre.

    Parameters
    ----------
    path : str or Path
        The patch file.

    Returns
    -------
    vertices : ndarray of int64, shape (n_points,)
        0-based vertex index of each point in the hemisphere's mesh.
    coords : ndarray of float64, shape (n_points, 3)
        Coordinates of each point.
    border : ndarray of bool, shape (n_points,)
        Whether each point lies on the patch border.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"Patch file not found: {path}.")
    raw = path.read_bytes()
    if len(raw) < 4:
        raise DataError(
            f"{path} is not a FreeSurfer patch: expected at least a 4-byte header, got "
            f"{len(raw)} bytes."
        )
    first = int(np.frombuffer(raw, ">i4", count=1)[0])
    if first == PATCH_MAGIC:
        points = _patch_points(raw, path, 8, _PATCH_POINT, _header_count(raw, path))
        coords = points["xyz"].astype(np.float64)
    elif first >= 0:
        points = _patch_points(raw, path, 4, _OLD_PATCH_POINT, first)
        coords = points["xyz"].astype(np.float64) / 100.0
    else:
        raise DataError(
            f"{path} is not a FreeSurfer patch: expected the magic number {PATCH_MAGIC} "
            f"or a non-negative point count, got {first}."
        )
    vertices, border = _patch_vertices(points["vno"].astype(np.int64), path)
    return vertices, coords, border


def _header_count(raw: bytes, path) -> int:
    """Return the number of points of a new-format patch (the int32 after the magic)."""
    if len(raw) < 8:
        raise DataError(
            f"{path} is a truncated FreeSurfer patch: expected an 8-byte header (magic "
            f"number and point count), got {len(raw)} bytes."
        )
    n = int(np.frombuffer(raw, ">i4", count=1, offset=4)[0])
    if n < 0:
        raise DataError(f"{path} is not a FreeSurfer patch: expected a point count >= 0, got {n}.")
    return n


def _patch_points(raw: bytes, path, offset: int, dtype: np.dtype, n: int) -> np.ndarray:
    """Return the ``n`` point records after the header, checking the file size first."""
    expected = offset + n * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "garbled"
        raise DataError(
            f"{path} is a {state} FreeSurfer patch: its header announces {n} points, "
            f"i.e. {expected} bytes, but the file has {len(raw)} bytes."
        )
    return np.frombuffer(raw, dtype, count=n, offset=offset)


def _patch_vertices(vno: np.ndarray, path) -> tuple[np.ndarray, np.ndarray]:
    """0-based vertex indices and border flags from signed 1-based vertex numbers."""
    if (vno == 0).any():
        k = int(np.flatnonzero(vno == 0)[0])
        raise DataError(
            f"{path} is a garbled FreeSurfer patch: expected non-zero 1-based vertex "
            f"numbers, got 0 at point {k}."
        )
    vertices = np.abs(vno) - 1
    if np.unique(vertices).size != vertices.size:
        raise DataError(
            f"{path} is a garbled FreeSurfer patch: expected each vertex once, got "
            f"{vertices.size - np.unique(vertices).size} repeated vertices."
        )
    return vertices, vno < 0


def write_patch(path, vertices, coords, border=None) -> None:
    """Write a FreeSurfer binary patch file in the new format (atomically).

    See :func:`read_patch` for the layout.

    Parameters
    ----------
    path : str or Path
        Destination (``lh.full.flat.patch.3d``).
    vertices : array-like of int, shape (n_points,)
        0-based vertex index of each point, each vertex at most once.
    coords : array-like of float, shape (n_points, 3) or (n_points, 2)
        Coordinates of each point (z = 0 when two columns are given).
    border : array-like of bool, shape (n_points,), optional
        Points on the patch border (stored as negative vertex numbers). Default: none.
    """
    vertices, coords, border = _check_patch(vertices, coords, border)
    points = np.empty(vertices.size, dtype=_PATCH_POINT)
    points["vno"] = np.where(border, -(vertices + 1), vertices + 1)
    points["xyz"] = coords
    header = np.array([PATCH_MAGIC, vertices.size], dtype=">i4")
    with atomic_path(path) as tmp:
        tmp.write_bytes(header.tobytes() + points.tobytes())


def _check_patch(vertices, coords, border):
    """Validate the arrays of :func:`write_patch`; return vertices, (n, 3) coords, border."""
    vertices = np.asarray(vertices)
    if vertices.ndim != 1 or (vertices.size and vertices.dtype.kind not in "iu"):
        raise ParameterError(
            f"Invalid value for 'vertices': expected a 1-D array of integer vertex indices; "
            f"got dtype {vertices.dtype} and shape {vertices.shape}."
        )
    vertices = vertices.astype(np.int64)
    if vertices.size and (vertices.min() < 0 or vertices.max() >= 2**31 - 1):
        raise ParameterError(
            f"Invalid value for 'vertices': expected 0-based indices in 0..{2**31 - 2}; "
            f"got {vertices.min()}..{vertices.max()}."
        )
    if np.unique(vertices).size != vertices.size:
        raise ParameterError(
            "Invalid value for 'vertices': expected each vertex once; got repeated vertices."
        )
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[0] != vertices.size or coords.shape[1] not in (2, 3):
        raise ParameterError(
            f"Invalid shape for 'coords': expected ({vertices.size}, 3) or "
            f"({vertices.size}, 2); got {coords.shape}."
        )
    if coords.shape[1] == 2:
        coords = np.c_[coords, np.zeros(len(coords))]
    border = np.zeros(vertices.size, bool) if border is None else np.asarray(border)
    if border.shape != vertices.shape or border.dtype != bool:
        raise ParameterError(
            f"Invalid value for 'border': expected a boolean array of shape "
            f"{vertices.shape}; got dtype {border.dtype} and shape {border.shape}."
        )
    return vertices, coords, border


@contextlib.contextmanager
def open_mgh(path, what: str = "MGH image"):
    """Open a FreeSurfer ``.mgh``/``.mgz`` image whose data can be read inside the block.

    ``nibabel.load`` leaves ``.mgh`` files open (a ResourceWarning in nibabel 5.4); here
    the file is closed when the block ends. A damaged file, read in the block or
    before, raises a one-line DataError naming it.

    Parameters
    ----------
    path : str or Path
        The image file.
    what : str
        What the file is, for messages.

    Yields
    ------
    nibabel.MGHImage
        The image, its ``dataobj`` readable until the block ends.
    """
    import nibabel as nib
    from nibabel.fileholders import FileHolder
    from nibabel.openers import ImageOpener

    with reading(path, what), ImageOpener(str(path), "rb") as f:
        yield nib.MGHImage.from_file_map({"image": FileHolder(str(path), fileobj=f)})


def read_mgh(path, what: str = "MGH image") -> np.ndarray:
    """Read the whole data array of a ``.mgh``/``.mgz`` file (and close it).

    Parameters
    ----------
    path : str or Path
        The image file.
    what : str
        What the file is, for messages.

    Returns
    -------
    ndarray
        The data, shape as stored (e.g. ``(n_vertices, 1, 1, n_frames)``).
    """
    with open_mgh(path, what) as img:
        return np.asarray(img.dataobj)


def read_mgh_vector(path, what: str = "MGH image") -> np.ndarray:
    """Read a per-vertex ``.mgh``/``.mgz`` file (shape ``(n, 1, 1)``) as a 1-D array.

    Parameters
    ----------
    path : str or Path
        File of one value per vertex (labels, ncsnr).
    what : str
        What the file is, for messages.

    Returns
    -------
    ndarray of shape (n_vertices,)
        The values (file dtype, or float64 when the file is scaled).
    """
    data = read_mgh(path, what)
    if data.ndim < 1 or int(np.prod(data.shape[1:])) != 1:
        raise DataError(f"{path} must hold one value per vertex; got shape {data.shape}.")
    return data.reshape(-1)


def read_mgh_rows(
    path, vertices: np.ndarray, block: int = 50, what: str = "MGH image"
) -> np.ndarray:
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
    what : str
        What the file is, for messages; a short file says how many frames it holds.

    Returns
    -------
    ndarray of shape (T, n_columns)
        Raw values (file dtype).
    """
    with open_mgh(path, what) as img:
        return _read_frames(img, path, vertices, block, what)


def _read_frames(img, path, vertices, block, what) -> np.ndarray:
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
        try:
            chunk = np.asarray(img.dataobj[lo:hi, 0, 0, start:stop])  # (n_span, n_frames)
        except Exception as exc:
            if not is_truncation(exc):
                raise
            found = _readable_frames(img, lo, hi, start, stop)
            raise truncated(path, what, t, found, "frames") from exc
        out[start:stop] = chunk[vertices - lo].T
    return out


def _readable_frames(img, lo: int, hi: int, start: int, stop: int) -> int:
    """Return how many frames a short file holds (those before the first unreadable one)."""
    for frame in range(start, stop):
        try:
            img.dataobj[lo:hi, 0, 0, frame]
        except Exception:
            return frame
    return stop


def read_surface_hdf5(
    path, vertices: np.ndarray, dataset: str = "betas", what: str = "HDF5 file"
) -> np.ndarray:
    """Read vertices from an NSD native-surface HDF5 (``/betas``: trials x vertices).

    Parameters
    ----------
    path : str or Path
        ``{lh,rh}.betas_sessionNN.hdf5``.
    vertices : ndarray of int, shape (n_columns,)
        0-based vertex indices to keep.
    dataset : str
        Name of the dataset.
    what : str
        What the file is, for messages.

    Returns
    -------
    ndarray of shape (T, n_columns)
        Raw values (file dtype, int16 in NSD).
    """
    import h5py

    vertices = np.asarray(vertices, dtype=np.int64)
    with reading(path, what), h5py.File(path, "r") as f:
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

        with reading(path, "surface betas file"), h5py.File(path, "r") as f:
            return int(f["betas"].shape[0])
    with open_mgh(path, "surface betas file") as img:
        shape = img.shape
    return int(shape[3]) if len(shape) == 4 else 1


def n_vertices_of(path) -> int:
    """Return the number of vertices of a surface betas file, from its header."""
    if Path(path).suffix == ".hdf5":
        import h5py

        with reading(path, "surface betas file"), h5py.File(path, "r") as f:
            return int(f["betas"].shape[1])
    with open_mgh(path, "surface betas file") as img:
        return int(img.shape[0])
