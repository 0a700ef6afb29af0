"""NSD's volume -> surface transforms for the embedded sample.

NSD ships, per subject, ``transforms/{lh,rh}.func1pt8-to-<surface>.mgz`` (the 1-based
func1pt8mm voxel coordinate of every vertex of ``<surface>``) and
``{lh,rh}.white-to-fsaverage.mgz`` (the native vertex nearest each fsaverage vertex).
The sample's meshes are in the volume's world space, so these are the meshes' vertices
mapped through the inverse affine; the sample's fsaverage is the same mesh as the
subject's, so ``white-to-fsaverage`` is the identity.
"""

from __future__ import annotations

import numpy as np

from brainalign.data import _nsd_layout as L
from brainalign.data._projection import MESH_DEPTHS, NSD_DEPTHS
from brainalign.data._surface import HEMIS
from brainalign.data.sample._surface import save_mgh


def write_transforms(out, surface: dict, affine, subject: int) -> None:
    """Write one subject's func1pt8 -> surface and white -> fsaverage transforms.

    Parameters
    ----------
    out : Path
        Sample root.
    surface : dict
        Output of ``plan_surface`` (per hemisphere ``coords`` of ``white`` and ``pial``).
    affine : ndarray of shape (4, 4)
        The func1pt8mm voxel -> world affine.
    subject : int
        1-based subject number.
    """
    from nibabel.affines import apply_affine

    inverse = np.linalg.inv(affine)
    for hemi in HEMIS:
        white = surface[hemi]["coords"]["white"]
        pial = surface[hemi]["coords"]["pial"]
        points = {"white": white, "pial": pial}
        points.update(
            {
                name: pial + f * (white - pial)
                for name, f in zip(NSD_DEPTHS, MESH_DEPTHS, strict=True)
            }
        )
        for name, world in points.items():
            voxel = apply_affine(inverse, world) + 1.0  # NSD: 1-based
            save_mgh(voxel, out / L.volume_to_surface_file(subject, hemi, name))
        index = np.arange(1, len(white) + 1)
        save_mgh(index, out / L.native_to_fsaverage_file(subject, hemi), dtype=np.int32)
