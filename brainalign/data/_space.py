"""Spaces: the way from a column vector back to a brain image.

Every space (:class:`VolumeSpace`, :class:`~brainalign.data.SurfaceSpace`,
:class:`~brainalign.data.SensorSpace`) follows the :class:`Space` protocol, so code
above the data layer never asks which kind of space it holds: it asks the space for
its columns, its per-target score columns and its maps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path
from brainalign.exceptions import DataError, ParameterError


@runtime_checkable
class Space(Protocol):
    """What every space of a :class:`~brainalign.data.BrainData` provides.

    Attributes
    ----------
    n_targets : int
        Number of columns.
    time_resolved : bool
        True when columns are channel x time cells (decoders run over time).
    voxel_grid : bool
        True when columns are voxels of a 3-D grid (maps are drawn as slices over
        the subject's anatomy).
    """

    time_resolved: bool
    voxel_grid: bool

    @property
    def n_targets(self) -> int:
        """Number of columns."""

    def select(self, columns) -> Space:
        """Return the space of a subset of columns."""

    def col_meta(self) -> pd.DataFrame:
        """Return the metadata of every column (one row per column)."""

    def score_columns(self) -> pd.DataFrame:
        """Return the columns that locate each target in a score table."""

    def write_maps(self, values: dict, out, stem: str, projections=(), projected=None) -> dict:
        """Write one map per statistic of ``values`` under ``out``, named from ``stem``.

        ``projections`` (volume -> surface) apply to volume spaces; other spaces
        ignore them.
        """


def check_map_values(space, values: dict) -> dict[str, np.ndarray]:
    """Validate a ``stat -> values`` mapping against a space (float32 arrays).

    Parameters
    ----------
    space : Space
        The space the values belong to.
    values : dict of str -> array-like of shape (n_targets,)
        One value per column and statistic.

    Returns
    -------
    dict of str -> ndarray
        The values as float32 arrays.
    """
    out = {}
    for stat, v in dict(values).items():
        arr = np.asarray(v, dtype=np.float32)
        if arr.shape != (space.n_targets,):
            raise ParameterError(
                f"Invalid shape for 'values[{stat!r}]': expected ({space.n_targets},); "
                f"got {arr.shape}."
            )
        out[str(stat)] = arr
    return out


class VolumeSpace:
    """Voxels of a 3-D volume: grid shape, affine and the voxel of each column.

    Parameters
    ----------
    shape : tuple of int
        Grid shape ``(X, Y, Z)``.
    affine : array-like of shape (4, 4)
        Voxel-to-world affine.
    ijk : array-like of shape (n_targets, 3)
        Voxel indices of each column.
    """

    kind = "volume"
    time_resolved = False
    voxel_grid = True

    def __init__(self, shape, affine, ijk):
        self.shape = tuple(int(s) for s in shape)
        self.affine = np.asarray(affine, dtype=np.float64)
        self.ijk = np.asarray(ijk, dtype=np.int64).reshape(-1, 3)
        if len(self.shape) != 3 or self.affine.shape != (4, 4):
            raise ParameterError(
                "VolumeSpace expects a 3-D 'shape' and a 4 x 4 'affine'; got "
                f"shape={self.shape} and affine of shape {self.affine.shape}."
            )
        if self.ijk.size and ((self.ijk < 0).any() or (self.ijk >= np.array(self.shape)).any()):
            raise DataError(f"Voxel indices 'ijk' fall outside the grid {self.shape}.")

    @classmethod
    def from_mask(cls, mask, affine):
        """Build the space of the non-zero voxels of ``mask`` (C order).

        Parameters
        ----------
        mask : ndarray of shape (X, Y, Z)
            Boolean or numeric mask.
        affine : array-like of shape (4, 4)
            Voxel-to-world affine.

        Returns
        -------
        VolumeSpace
            One column per voxel of the mask.
        """
        mask = np.asarray(mask)
        return cls(mask.shape, affine, np.argwhere(mask != 0))

    @property
    def n_targets(self) -> int:
        """Number of voxels (columns)."""
        return len(self.ijk)

    def select(self, columns) -> VolumeSpace:
        """Return the space of a subset of columns.

        Parameters
        ----------
        columns : array-like of int or bool
            Column indices or boolean mask.

        Returns
        -------
        VolumeSpace
            The sub-space.
        """
        return VolumeSpace(self.shape, self.affine, self.ijk[columns])

    def col_meta(self) -> pd.DataFrame:
        """Column metadata: voxel indices ``i, j, k`` of every column.

        Returns
        -------
        pandas.DataFrame
            One row per column.
        """
        return pd.DataFrame({name: self.ijk[:, axis] for axis, name in enumerate("ijk")})

    def score_columns(self) -> pd.DataFrame:
        """Columns locating each target in a score table: ``i, j, k``."""
        return self.col_meta()

    def write_maps(
        self, values: dict, out, stem: str, projections=(), projected=None
    ) -> dict[str, Path]:
        """Write one NIfTI volume per statistic, and its projections on surfaces.

        Files: ``<out>/<stem>_stat-<stat>.nii.gz``; for each projection (e.g. NSD's
        func1pt8mm -> fsnative transforms), ``<out>/<stem>_hemi-L_space-<name>_stat-
        <stat>.mgh`` (and ``hemi-R``) with ``<out>/surface.json`` recording each
        projection, its meshes and how many vertices have data. Vertices without a
        voxel of the space within reach hold 0, as vertices without data in surface
        maps; voxels outside the columns never leak into a vertex.

        Parameters
        ----------
        values : dict of str -> array-like of shape (n_targets,)
            One value per voxel and statistic (0 outside the columns).
        out : str or Path
            Folder of the maps (created).
        stem : str
            File name before ``_stat-<stat>``.
        projections : sequence of SurfaceProjection
            Volume -> surface projections to apply.
        projected : sequence of str, optional
            Statistics to project (default: all of ``values``).

        Returns
        -------
        dict of str -> Path
            ``map_<stat>`` (and ``map_<stat>_<hemi>_<space>``, ``surface``) -> file.
        """
        values = check_map_values(self, values)
        paths = {}
        for stat, v in values.items():
            path = Path(out) / f"{stem}_stat-{stat}.nii.gz"
            with atomic_path(path) as tmp:
                self.to_image(v).to_filename(tmp)
            paths[f"map_{stat}"] = path
        if projections:
            stats = list(values) if projected is None else list(projected)
            paths.update(self._write_projections(values, out, stem, projections, stats))
        return paths

    def _write_projections(self, values, out, stem, projections, stats) -> dict[str, Path]:
        import nibabel as nib

        from brainalign._utils import write_json_atomic

        mask = np.zeros(self.shape, dtype=bool)
        mask[tuple(self.ijk.T)] = True
        stack = np.stack([self.to_image(values[s]).get_fdata(dtype=np.float32) for s in stats], -1)
        paths, records = {}, {}
        for proj in projections:
            projected = proj.project(stack, mask=mask)
            for hemi, maps in projected.items():
                for k, stat in enumerate(stats):
                    data = np.nan_to_num(maps[:, k]).astype(np.float32).reshape(-1, 1, 1)
                    name = f"{stem}_hemi-{hemi[0].upper()}_space-{proj.name}_stat-{stat}.mgh"
                    with atomic_path(Path(out) / name) as tmp:
                        nib.MGHImage(data, np.eye(4)).to_filename(str(tmp))
                    paths[f"map_{stat}_{hemi}_{proj.name}"] = Path(out) / name
            covered = {h: int(np.isfinite(m[:, 0]).sum()) for h, m in projected.items()}
            records[proj.name] = {**proj.record(), "vertices_with_data": covered}
        record = {"projections": records}
        paths["surface"] = write_json_atomic(Path(out) / "surface.json", record)
        return paths

    def mask_image(self):
        """Return the mask of the columns as a NIfTI image (uint8).

        Returns
        -------
        nibabel.Nifti1Image
            1 at each column's voxel, 0 elsewhere.
        """
        return self.to_image(np.ones(self.n_targets, dtype=np.uint8), dtype=np.uint8)

    def to_image(self, values, fill=0.0, dtype=np.float32):
        """Put one value per column back into a NIfTI volume.

        Parameters
        ----------
        values : array-like of shape (n_targets,) or (n_targets, n_maps)
            One value (or one value per map) per column.
        fill : float
            Value of voxels outside the columns.
        dtype : numpy dtype
            Data type of the image.

        Returns
        -------
        nibabel.Nifti1Image
            A 3-D image, or 4-D with ``n_maps`` volumes.
        """
        import nibabel as nib

        values = np.asarray(values)
        if values.shape[:1] != (self.n_targets,) or values.ndim > 2:
            raise ParameterError(
                f"Invalid shape for 'values': expected ({self.n_targets},) or "
                f"({self.n_targets}, n_maps); got {values.shape}."
            )
        extra = values.shape[1:]
        data = np.full(self.shape + extra, fill, dtype=dtype)
        i, j, k = self.ijk.T
        data[i, j, k] = values
        img = nib.Nifti1Image(data, self.affine)
        img.header.set_xyzt_units("mm")
        return img

    def __repr__(self) -> str:
        return f"VolumeSpace(shape={self.shape}, n_targets={self.n_targets})"
