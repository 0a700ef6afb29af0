"""The surface part of the embedded NSD sample: every cortex voxel is one vertex.

Each hemisphere's cortex voxels (label volumes >= 0, ``lh`` = the low-X half, as in the
sample's ``lh.<roi>.nii.gz``) become the vertices of a small closed mesh: the voxel
directions from the slab centre, triangulated by their convex hull (an icosphere-like
sphere), with the cut across the midline left open. Surface betas, labels and ncsnr
are the volume's values at those voxels, so the planted ROI -> layer truth is identical
on the surface. Files follow NSD's surface layout (``datasets/nsd.md``).
"""

from __future__ import annotations

import numpy as np

from brainalign._utils import atomic_path
from brainalign.data import _nsd_layout as L
from brainalign.data._surface import HEMIS

#: Surfaces written per hemisphere (FreeSurfer geometry files).
SURFACES = ("white", "pial", "inflated", "sphere")


def plan_surface(shape, geometry: dict) -> dict:
    """Map each hemisphere's cortex voxels to the vertices of a small mesh.

    Parameters
    ----------
    shape : tuple of int
        Sample volume shape.
    geometry : dict
        Output of ``plan_geometry`` (``rois``, ``affine``).

    Returns
    -------
    dict
        Per hemisphere: ``ijk`` (voxel of each vertex), ``faces`` (triangles) and
        ``coords`` (surface name -> vertex coordinates in mm).
    """
    from scipy.spatial import ConvexHull

    cortex = next(iter(geometry["rois"].values())) >= 0
    ijk = np.argwhere(cortex)
    centre = (np.asarray(shape) - 1) / 2
    half = shape[0] // 2
    rng = np.random.default_rng(7)
    out = {}
    for hemi, side, sign in (("lh", ijk[:, 0] < half, 1.0), ("rh", ijk[:, 0] >= half, -1.0)):
        vox = ijk[side]
        d = (vox - centre) / np.linalg.norm(vox - centre, axis=1, keepdims=True)
        d = d + rng.normal(0, 1e-3, d.shape)  # separate voxels on the same ray
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        hull = ConvexHull(d)
        faces = hull.simplices.copy()
        normal = np.cross(d[faces[:, 1]] - d[faces[:, 0]], d[faces[:, 2]] - d[faces[:, 0]])
        flip = (normal * hull.equations[:, :3]).sum(1) < 0
        faces[flip] = faces[flip][:, ::-1]  # outward-facing triangles
        faces = faces[sign * hull.equations[:, 0] < 0.9]  # open the midline cut
        white = (np.c_[vox, np.ones(len(vox))] @ geometry["affine"].T)[:, :3]
        shift = np.array([-sign * 45.0, 0.0, 0.0])
        out[hemi] = {
            "ijk": vox,
            "faces": faces.astype(np.int32),
            "coords": {
                "white": white,
                "pial": white + 1.5 * d,
                "inflated": 40.0 * d + shift,
                "sphere": 100.0 * d,
            },
        }
    return out


def write_fsaverage(out, surface: dict, rois: dict, roi_names: dict) -> None:
    """Write the group-level files: ``fsaverage`` meshes, labels and ctab tables.

    Parameters
    ----------
    out : Path
        Sample root.
    surface : dict
        Output of :func:`plan_surface`.
    rois : dict
        ROI file -> label volume.
    roi_names : dict
        ROI file -> label names (ctab order 1..N).
    """
    _write_meshes(out, surface, L.surf_dir(1, "fsaverage"))
    _write_labels(out, surface, rois, roi_names, 1, "fsaverage")


def write_subject_surface(out, surface, rois, roi_names, betas, ncsnr, subject, n_sessions):
    """Write one subject's surface betas, ncsnr, native labels and meshes.

    Betas go to fsaverage (.mgh, float32) and nativesurface (.hdf5, int16 x 300).

    Parameters
    ----------
    out : Path
        Sample root.
    surface : dict
        Output of :func:`plan_surface`.
    rois, roi_names : dict
        ROI label volumes and names.
    betas : ndarray of shape (n_trials, X, Y, Z), int16
        The subject's volume betas (percent signal change x 300).
    ncsnr : ndarray of shape (X, Y, Z)
        The subject's volume ncsnr.
    subject : int
        1-based subject number.
    n_sessions : int
        Sessions of 750 trials in ``betas``.
    """
    import h5py

    _write_meshes(out, surface, L.surf_dir(subject, "nativesurface"))
    _write_labels(out, surface, rois, roi_names, subject, "nativesurface")
    for hemi in HEMIS:
        i, j, k = surface[hemi]["ijk"].T
        values = betas[:, i, j, k]  # (n_trials, n_vertices) int16
        for space in L.SURFACE_SPACES:
            _save_mgh(ncsnr[i, j, k], out / L.surface_ncsnr_file(subject, hemi, space))
        for s in range(n_sessions):
            block = values[s * 750 : (s + 1) * 750]
            path = out / L.surface_betas_file(subject, hemi, s + 1, "fsaverage")
            _save_mgh((block.T / 300.0).astype(np.float32), path)
            path = out / L.surface_betas_file(subject, hemi, s + 1, "nativesurface")
            with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
                f.create_dataset("betas", data=block)


def _write_meshes(out, surface, folder) -> None:
    import nibabel as nib

    for hemi in HEMIS:
        for name in SURFACES:
            with atomic_path(out / folder / f"{hemi}.{name}") as tmp:
                nib.freesurfer.write_geometry(
                    str(tmp), surface[hemi]["coords"][name], surface[hemi]["faces"]
                )


def _write_labels(out, surface, rois, roi_names, subject, space) -> None:
    for fname, vol in rois.items():
        for hemi in HEMIS:
            i, j, k = surface[hemi]["ijk"].T
            _save_mgh(vol[i, j, k], out / L.surface_label_file(subject, hemi, fname, space))
        if space == "fsaverage":
            lines = ["0 Unknown"] + [f"{n} {name}" for n, name in enumerate(roi_names[fname], 1)]
            with atomic_path(out / L.surface_ctab_file(subject, fname, space)) as tmp:
                tmp.write_text("\n".join(lines) + "\n")


def _save_mgh(values, path) -> None:
    """Save per-vertex values (n,) or frames (n, T) as NSD does: (n, 1, 1[, T])."""
    import nibabel as nib

    values = np.asarray(values, dtype=np.float32)
    data = values.reshape((values.shape[0], 1, 1) + values.shape[1:])
    with atomic_path(path) as tmp:
        nib.MGHImage(data, np.eye(4)).to_filename(str(tmp))
