"""The surface part of the embedded NSD sample: every cortex voxel is one vertex.

Each hemisphere's cortex voxels (label volumes >= 0, ``lh`` = the low-X half, as in the
sample's ``lh.<roi>.nii.gz``) become the vertices of a small closed mesh: the voxel
directions from the slab centre, triangulated by their convex hull (an icosphere-like
sphere), with the cut across the midline left open. Surface betas, labels and ncsnr
are the volume's values at those voxels, so the planted ROI -> layer truth is identical
on the surface. Each hemisphere also gets a flat patch (``{hemi}.full.flat.patch.3d``):
its sphere unfolded by an equal-area projection around the hemisphere's centre
direction, every vertex in the patch and the open midline cut as its border. Files
follow NSD's surface layout (``datasets/nsd.md``).
"""

from __future__ import annotations

import numpy as np

from brainalign._utils import atomic_path
from brainalign.data import _nsd_layout as L
from brainalign.data._surface import HEMIS, mesh_file_name, write_patch

#: Surfaces written per hemisphere (FreeSurfer geometry files).
SURFACES = ("white", "pial", "inflated", "sphere")
#: Scale of the flat patch: its unit is that of the sphere (radius 100).
_FLAT_RADIUS = 100.0


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
            save_mgh(ncsnr[i, j, k], out / L.surface_ncsnr_file(subject, hemi, space))
        for s in range(n_sessions):
            block = values[s * 750 : (s + 1) * 750]
            path = out / L.surface_betas_file(subject, hemi, s + 1, "fsaverage")
            save_mgh((block.T / 300.0).astype(np.float32), path)
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
        flat, border = unfold_sphere(surface[hemi]["coords"]["sphere"], surface[hemi]["faces"])
        vertices = np.arange(len(flat))
        write_patch(out / folder / mesh_file_name(hemi, "flat"), vertices, flat, border)


def unfold_sphere(sphere, faces) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a spherical cap with an open rim, without folding any triangle.

    Vertices go first where a Lambert equal-area projection around the cap's centre
    direction puts them (the sphere's +z axis up, seen from outside, so outward-facing
    triangles turn counter-clockwise). The projection folds a few long triangles of the
    rim; so the rim is then laid on a circle and every other vertex placed at the
    mean-value average of its neighbours (Floater's parametrisation, which reproduces
    the projection wherever it is unfolded and never folds a triangle).

    Parameters
    ----------
    sphere : ndarray of shape (n_vertices, 3)
        Vertices on a sphere centred on the origin.
    faces : ndarray of shape (n_faces, 3)
        Outward-facing triangles of a mesh with one open rim (a topological disk).

    Returns
    -------
    coords : ndarray of shape (n_vertices, 3)
        Flat coordinates (z = 0), in units of a sphere of radius :data:`_FLAT_RADIUS`.
    border : ndarray of bool, shape (n_vertices,)
        Vertices of the rim (on an edge of only one triangle).
    """
    d = np.asarray(sphere, dtype=np.float64)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    faces = np.asarray(faces, dtype=np.int64)
    flat = _equal_area(d)
    loop = _rim_loop(faces)
    border = np.zeros(len(d), dtype=bool)
    if loop is not None:
        border[loop] = True
        flat = _floater(flat, d, faces, loop)
    return np.c_[flat, np.zeros(len(d))] * _FLAT_RADIUS, border


def _equal_area(d) -> np.ndarray:
    """Lambert azimuthal equal-area projection of unit vectors around their mean."""
    centre = d.mean(0) / np.linalg.norm(d.mean(0))
    up = np.eye(3)[2] if abs(centre[2]) < 0.9 else np.eye(3)[1]
    up = up - (up @ centre) * centre
    up /= np.linalg.norm(up)
    right = np.cross(up, centre)  # right x up = centre: a right-handed view from outside
    x, y = d @ right, d @ up
    r = np.sqrt(np.clip(2.0 * (1.0 - d @ centre), 0.0, None))  # chord = equal-area radius
    norm = np.hypot(x, y)
    scale = np.divide(r, norm, out=np.zeros_like(r), where=norm > 0)
    return np.c_[x * scale, y * scale]


def _rim_loop(faces) -> np.ndarray | None:
    """Vertices of the open rim in counter-clockwise order, or None unless one loop."""
    directed = np.r_[faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]
    key = np.sort(directed, axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    rim = directed[counts[inverse.ravel()] == 1]  # interior on the left of a -> b
    nxt = dict(zip(rim[:, 0].tolist(), rim[:, 1].tolist(), strict=False))
    if len(rim) < 3 or len(nxt) != len(rim):
        return None
    loop = [int(rim[0, 0])]
    while len(loop) <= len(rim):
        loop.append(nxt.get(loop[-1], -1))
        if loop[-1] == loop[0]:
            break
    return np.asarray(loop[:-1]) if len(loop) == len(rim) + 1 else None


def _floater(flat, d, faces, loop) -> np.ndarray:
    """Rim on a circle, other vertices at the mean-value average of their neighbours."""
    from scipy.sparse import coo_matrix, identity
    from scipy.sparse.linalg import spsolve

    n = len(flat)
    steps = np.linalg.norm(d[np.roll(loop, -1)] - d[loop], axis=1)
    start = np.arctan2(flat[loop[0], 1], flat[loop[0], 0])
    angle = start + 2 * np.pi * np.r_[0.0, np.cumsum(steps)[:-1]] / steps.sum()
    radius = np.linalg.norm(flat[loop], axis=1).mean()
    rows, cols, w = _mean_value_weights(flat, d, faces)
    inner = ~np.isin(np.arange(n), loop)
    keep = inner[rows]
    weights = coo_matrix((w[keep], (rows[keep], cols[keep])), shape=(n, n)).tocsr()
    weights = weights.multiply(1.0 / np.maximum(weights.sum(1), 1e-300)).tocsr()
    rhs = np.zeros((n, 2))
    rhs[loop] = radius * np.c_[np.cos(angle), np.sin(angle)]
    return spsolve((identity(n) - weights).tocsc(), rhs)


def _mean_value_weights(flat, d, faces):
    """Floater's mean-value weights of every directed edge, from the flat positions.

    A corner of a folded (clockwise) flat triangle takes its angle from the sphere, so
    every weight is positive.
    """
    a, b, c = (flat[faces[:, k]] for k in range(3))
    folded = (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0] <= 0
    rows, cols, w = [], [], []
    for k in range(3):
        i, j, m = faces[:, k], faces[:, (k + 1) % 3], faces[:, (k + 2) % 3]
        half = np.tan(np.where(folded, _angle(d, i, j, m), _angle(flat, i, j, m)) / 2)
        for other in (j, m):
            length = np.linalg.norm(flat[other] - flat[i], axis=1)
            rows.append(i), cols.append(other), w.append(half / np.maximum(length, 1e-12))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(w)


def _angle(x, i, j, m) -> np.ndarray:
    """Angle at vertex i of the triangles (i, j, m) of positions x (2-D or 3-D)."""
    u, v = x[j] - x[i], x[m] - x[i]
    cos = (u * v).sum(1) / np.maximum(np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1), 1e-300)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def _write_labels(out, surface, rois, roi_names, subject, space) -> None:
    for fname, vol in rois.items():
        for hemi in HEMIS:
            i, j, k = surface[hemi]["ijk"].T
            save_mgh(vol[i, j, k], out / L.surface_label_file(subject, hemi, fname, space))
        if space == "fsaverage":
            lines = ["0 Unknown"] + [f"{n} {name}" for n, name in enumerate(roi_names[fname], 1)]
            with atomic_path(out / L.surface_ctab_file(subject, fname, space)) as tmp:
                tmp.write_text("\n".join(lines) + "\n")


def save_mgh(values, path, dtype=np.float32) -> None:
    """Save per-vertex values (n,) or frames (n, T) as NSD does: (n, 1, 1[, T])."""
    import nibabel as nib

    values = np.asarray(values, dtype=dtype)
    data = values.reshape((values.shape[0], 1, 1) + values.shape[1:])
    with atomic_path(path) as tmp:
        nib.MGHImage(data, np.eye(4)).to_filename(str(tmp))
