"""Volume -> cortical surface projection of per-voxel maps.

A :class:`SurfaceProjection` knows, for every vertex of a hemisphere mesh and every
cortical depth it samples, the fractional voxel coordinate of that point in the
functional volume. Projecting a map interpolates the volume there (trilinear or
nearest) and averages the depths. Two sources of these coordinates:

* NSD's precomputed transforms (:meth:`SurfaceProjection.from_nsd`):
  ``nsddata/ppdata/subjAA/transforms/{lh,rh}.func1pt8-to-<surface>.mgz`` hold the
  1-based voxel coordinate of every vertex of ``<surface>`` (``white``, ``pial``,
  ``layerB1``-``layerB3``; ``9999`` where a vertex has no voxel), and
  ``{lh,rh}.white-to-fsaverage.mgz`` the native vertex (1-based) nearest to each
  fsaverage vertex, as ``nsd_mapdata`` reads them;
* any subject's ``white`` and ``pial`` meshes in the volume's world space
  (:meth:`SurfaceProjection.from_meshes`), sampled between the two surfaces as
  ``nilearn.surface.vol_to_surf(kind="depth")`` does.

Voxels outside the map's mask do not contribute: the trilinear weights of the masked
neighbours are renormalised, and a vertex with no valid neighbour at any depth has
no value (NaN).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from brainalign.data import _nsd_layout as L
from brainalign.data._reading import reading
from brainalign.data._surface import HEMIS, find_meshes, read_mgh
from brainalign.exceptions import DataError, MissingFileError, ParameterError

#: NSD's surfaces at three cortical depths (25 %, 50 %, 75 % of the way from pial to white).
NSD_DEPTHS = ("layerB1", "layerB2", "layerB3")
#: Fractions of the pial -> white distance sampled by :meth:`SurfaceProjection.from_meshes`.
MESH_DEPTHS = (0.25, 0.5, 0.75)
#: NSD's marker of a vertex without a voxel in its transform files.
_NO_VOXEL = 9999
_ORDERS = {"nearest": 0, "linear": 1}


class SurfaceProjection:
    """Where each vertex of two hemisphere meshes samples a functional volume.

    Parameters
    ----------
    coords : dict of str -> ndarray of shape (n_depths, n_vertices, 3)
        Per hemisphere, the 0-based fractional voxel coordinate of every vertex at
        every depth (NaN where a vertex has no voxel).
    name : str
        Space of the projected maps, used in file names (``fsnative``, ``fsaverage``).
    mesh : str
        Name of the mesh (``subj01``, ``fsaverage``).
    mesh_files : dict of str -> dict of str -> str, optional
        Per hemisphere, surface name -> geometry file, to draw the maps on.
    source : str
        Where the coordinates come from (recorded with the maps).
    """

    def __init__(self, coords, name="fsnative", mesh="", mesh_files=None, source=""):
        self.coords = {}
        for hemi, c in dict(coords).items():
            c = np.asarray(c, dtype=np.float64)
            if hemi not in HEMIS or c.ndim != 3 or c.shape[2] != 3:
                raise ParameterError(
                    "Invalid value for 'coords': expected 'lh'/'rh' arrays of shape "
                    f"(n_depths, n_vertices, 3); got {hemi!r} with shape {c.shape}."
                )
            self.coords[hemi] = c
        self.name = str(name)
        self.mesh = str(mesh)
        self.mesh_files = {h: dict(f) for h, f in (mesh_files or {}).items()}
        self.source = str(source)

    @property
    def n_vertices(self) -> dict[str, int]:
        """Vertices per hemisphere."""
        return {h: c.shape[1] for h, c in self.coords.items()}

    @classmethod
    def from_nsd(cls, root, subject: int, space="fsnative", depths=NSD_DEPTHS):
        """Read NSD's func1pt8mm -> surface transforms of one subject.

        Parameters
        ----------
        root : str or Path
            NSD root.
        subject : int
            1-based subject number.
        space : {"fsnative", "fsaverage"}
            The subject's own surface, or fsaverage (each fsaverage vertex takes the
            coordinates of its nearest native vertex, as ``nsd_mapdata`` does).
        depths : sequence of str
            Surfaces sampled and averaged (``white``, ``pial``, ``layerB1``...).

        Returns
        -------
        SurfaceProjection
        """
        if space not in ("fsnative", "fsaverage"):
            raise ParameterError(
                f"Invalid value for 'space': expected 'fsnative' or 'fsaverage'; got {space!r}."
            )
        root = Path(root)
        coords = {}
        for hemi in HEMIS:
            layers = [
                _read_voxel_coords(root / L.volume_to_surface_file(subject, hemi, d))
                for d in depths
            ]
            if len({c.shape for c in layers}) != 1:
                raise DataError(
                    f"NSD transforms of subject {subject} ({hemi}) have different vertex "
                    f"counts across depths {list(depths)}: {[len(c) for c in layers]}."
                )
            coords[hemi] = np.stack(layers)
            if space == "fsaverage":
                index = _read_index(
                    root / L.native_to_fsaverage_file(subject, hemi), len(layers[0])
                )
                coords[hemi] = coords[hemi][:, index]
        fs_space = "fsaverage" if space == "fsaverage" else "nativesurface"
        mesh = L.freesurfer_subject(subject, fs_space)
        return cls(
            coords,
            name=space,
            mesh=mesh,
            mesh_files=find_meshes(root / L.surf_dir(subject, fs_space)),
            source=f"NSD transforms func1pt8-to-{{{','.join(depths)}}}"
            + (" + white-to-fsaverage" if space == "fsaverage" else ""),
        )

    @classmethod
    def from_meshes(cls, affine, white, pial, depths=MESH_DEPTHS, name="fsnative", mesh=""):
        """Sample between each hemisphere's white and pial surfaces.

        Parameters
        ----------
        affine : array-like of shape (4, 4)
            Voxel -> world (mm) affine of the volume.
        white, pial : dict of str -> str, Path or (coords, faces)
            Per hemisphere, the inner and outer surface in the volume's world space.
            FreeSurfer files are moved from their tkr coordinates to scanner
            coordinates with the ``cras`` of their header.
        depths : sequence of float
            Fractions of the pial -> white distance (0: pial, 1: white).
        name, mesh : str
            Space name and mesh name of the projected maps.

        Returns
        -------
        SurfaceProjection
        """
        from nibabel.affines import apply_affine

        inverse = np.linalg.inv(np.asarray(affine, dtype=np.float64))
        coords, files = {}, {}
        for hemi in HEMIS:
            if hemi not in white or hemi not in pial:
                continue
            inner, outer = _world_vertices(white[hemi]), _world_vertices(pial[hemi])
            if inner.shape != outer.shape:
                raise DataError(
                    f"The {hemi} white and pial surfaces must have the same vertices; got "
                    f"{len(inner)} and {len(outer)}."
                )
            points = np.stack([outer + f * (inner - outer) for f in depths])
            coords[hemi] = apply_affine(inverse, points)
            files[hemi] = {
                k: str(v)
                for k, v in (("white", white[hemi]), ("pial", pial[hemi]))
                if not isinstance(v, tuple)
            }
        if not coords:
            raise ParameterError("Invalid values for 'white'/'pial': no hemisphere has both.")
        return cls(
            coords,
            name=name,
            mesh=mesh,
            mesh_files=files,
            source=f"white/pial at depths {list(depths)}",
        )

    def project(self, volume, mask=None, interpolation="linear") -> dict[str, np.ndarray]:
        """Sample a 3-D map (or a stack of maps) at every vertex.

        Parameters
        ----------
        volume : array-like of shape (X, Y, Z) or (X, Y, Z, n_maps)
            The map(s) on the functional grid.
        mask : array-like of bool, shape (X, Y, Z), optional
            Voxels with data (default: the finite voxels).
        interpolation : {"linear", "nearest"}
            Trilinear (masked neighbours renormalised away) or nearest voxel.

        Returns
        -------
        dict of str -> ndarray of shape (n_vertices,) or (n_vertices, n_maps)
            Per hemisphere, the mean over depths; NaN where no depth has a voxel.
        """
        from scipy import ndimage

        if interpolation not in _ORDERS:
            raise ParameterError(
                f"Invalid value for 'interpolation': expected one of {sorted(_ORDERS)}; "
                f"got {interpolation!r}."
            )
        volume = np.asarray(volume, dtype=np.float64)
        stack = volume[..., None] if volume.ndim == 3 else volume
        if stack.ndim != 4:
            raise ParameterError(
                "Invalid shape for 'volume': expected (X, Y, Z) or (X, Y, Z, n_maps); "
                f"got {volume.shape}."
            )
        valid = np.isfinite(stack).all(-1)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != stack.shape[:3]:
                raise ParameterError(
                    f"Invalid shape for 'mask': expected {stack.shape[:3]} (the volume's grid); "
                    f"got {mask.shape}."
                )
            valid &= mask
        order = _ORDERS[interpolation]
        weight_vol = valid.astype(np.float64)
        out = {}
        for hemi, coords in self.coords.items():
            points = coords.reshape(-1, 3).T
            inside = np.isfinite(points).all(0)
            pts = np.where(inside, points, -10.0)  # far outside: weight 0
            weight = ndimage.map_coordinates(
                weight_vol, pts, order=order, mode="constant", cval=0.0
            )
            weight[~inside] = 0.0
            sums = np.stack(
                [
                    ndimage.map_coordinates(
                        np.where(valid, stack[..., k], 0.0),
                        pts,
                        order=order,
                        mode="constant",
                        cval=0.0,
                    )
                    for k in range(stack.shape[-1])
                ],
                axis=-1,
            )
            n_depths, n_vert = coords.shape[:2]
            weight = weight.reshape(n_depths, n_vert, 1)
            sums = sums.reshape(n_depths, n_vert, -1)
            ok = weight > 1e-9
            per_depth = np.where(ok, sums / np.where(ok, weight, 1.0), 0.0)
            count = ok.sum(0)
            values = np.where(count > 0, per_depth.sum(0) / np.maximum(count, 1), np.nan)
            out[hemi] = values[:, 0] if volume.ndim == 3 else values
        return out

    def record(self) -> dict:
        """JSON-ready description (space, mesh, vertex counts, mesh files, source)."""
        return {
            "space": self.name,
            "mesh": self.mesh,
            "n_vertices": self.n_vertices,
            "mesh_files": self.mesh_files,
            "source": self.source,
        }


def nsd_projections(root, subject: int) -> list[SurfaceProjection]:
    """List the surface projections an NSD subject's files allow (none without transforms).

    Parameters
    ----------
    root : str or Path
        NSD root.
    subject : int
        1-based subject number.

    Returns
    -------
    list of SurfaceProjection
        ``fsnative`` when the func1pt8 -> layerB1..3 (or white and pial) transforms of
        both hemispheres exist, plus ``fsaverage`` when ``white-to-fsaverage`` does too.
    """
    root = Path(root)
    for depths in (NSD_DEPTHS, ("white", "pial")):
        if all(
            (root / L.volume_to_surface_file(subject, h, d)).exists() for h in HEMIS for d in depths
        ):
            break
    else:
        return []
    out = [SurfaceProjection.from_nsd(root, subject, "fsnative", depths)]
    if all((root / L.native_to_fsaverage_file(subject, h)).exists() for h in HEMIS):
        out.append(SurfaceProjection.from_nsd(root, subject, "fsaverage", depths))
    return out


def _read_voxel_coords(path: Path) -> np.ndarray:
    """Read a func -> surface transform as 0-based voxel coordinates (NaN for ``9999``)."""
    if not path.exists():
        raise MissingFileError(f"NSD transform not found: {path}.")
    data = read_mgh(path, "NSD transform").astype(np.float64)
    coords = data.reshape(data.shape[0], -1, order="F")
    if coords.shape[1] != 3:
        raise DataError(f"{path} must hold 3 voxel coordinates per vertex; got shape {data.shape}.")
    coords[(coords == _NO_VOXEL).any(1)] = np.nan
    return coords - 1.0  # NSD's coordinates are 1-based


def _read_index(path: Path, n_native: int) -> np.ndarray:
    """``white-to-fsaverage``: the 0-based native vertex of each fsaverage vertex."""
    if not path.exists():
        raise MissingFileError(f"NSD transform not found: {path}.")
    index = read_mgh(path, "NSD transform").reshape(-1).astype(np.int64) - 1
    if index.min() < 0 or index.max() >= n_native:
        raise DataError(
            f"{path} names native vertices {index.min() + 1}..{index.max() + 1}, but the "
            f"subject's surface has {n_native} vertices."
        )
    return index


def _world_vertices(surface) -> np.ndarray:
    """Vertex coordinates in scanner space: ``(coords, faces)``, GIfTI or FreeSurfer."""
    if isinstance(surface, tuple):
        return np.asarray(surface[0], dtype=np.float64)
    path = str(surface)
    if not Path(path).exists():
        raise MissingFileError(f"Surface file not found: {path}.")
    if path.endswith(".gii"):
        from nilearn import surface as nsurf

        with reading(path, "surface mesh"):
            return np.asarray(nsurf.load_surf_mesh(path).coordinates, dtype=np.float64)
    import nibabel as nib

    with reading(path, "surface mesh"), warnings.catch_warnings():  # no cras: no shift
        warnings.filterwarnings("ignore", message="Unknown extension code")
        warnings.filterwarnings("ignore", message="No volume information")
        coords, _, meta = nib.freesurfer.read_geometry(path, read_metadata=True)
    return np.asarray(coords, dtype=np.float64) + np.asarray(
        meta.get("cras", np.zeros(3)), dtype=np.float64
    )
