"""Volume -> surface projection: NSD transforms, white/pial meshes (vs nilearn), masks."""

import nibabel as nib
import numpy as np
import pytest

from brainalign.data import SurfaceProjection
from brainalign.data import _nsd_layout as L
from brainalign.data._projection import nsd_projections
from brainalign.data._surface import read_mgh_vector
from brainalign.exceptions import DataError, MissingFileError, ParameterError


@pytest.fixture(scope="module")
def grid(nsd_sample):
    img = nib.load(nsd_sample / L.ncsnr_file(1))
    return np.asarray(img.dataobj, dtype=np.float64), img.affine


def surf(root, subject, hemi, name):
    return root / L.surf_dir(subject, "nativesurface") / f"{hemi}.{name}"


def test_white_transform_samples_each_vertex_voxel_exactly(nsd_sample, grid):
    # Each sample vertex is one voxel; func1pt8-to-white points at its centre, so
    # the projected volume ncsnr equals NSD's surface ncsnr file.
    ncsnr, _ = grid
    proj = SurfaceProjection.from_nsd(nsd_sample, 1, depths=("white",))
    for hemi, values in proj.project(ncsnr).items():
        expected = read_mgh_vector(nsd_sample / L.surface_ncsnr_file(1, hemi, "nativesurface"))
        assert values.shape == expected.shape == (1380,)
        np.testing.assert_array_equal(np.isnan(values), np.isnan(expected))
        np.testing.assert_allclose(values, expected, rtol=1e-6, equal_nan=True)


def test_mesh_projection_equals_nilearn_vol_to_surf(nsd_sample, grid):
    from nilearn import surface

    _, affine = grid
    volume = np.random.default_rng(0).normal(size=grid[0].shape)
    img = nib.Nifti1Image(volume.astype(np.float32), affine)
    meshes = {
        name: {h: nib.freesurfer.read_geometry(surf(nsd_sample, 1, h, name)) for h in ("lh", "rh")}
        for name in ("white", "pial")
    }
    proj = SurfaceProjection.from_meshes(affine, meshes["white"], meshes["pial"])
    ours = proj.project(volume.astype(np.float32))
    for hemi in ("lh", "rh"):
        ref = surface.vol_to_surf(
            img,
            meshes["pial"][hemi],
            inner_mesh=meshes["white"][hemi],
            kind="depth",
            depth=[0.25, 0.5, 0.75],
            interpolation="linear",
        )
        np.testing.assert_allclose(ours[hemi], ref, atol=1e-5)
    # NSD's layerB1-3 transforms of the sample are the same points
    nsd = SurfaceProjection.from_nsd(nsd_sample, 1).project(volume.astype(np.float32))
    for hemi in ("lh", "rh"):
        np.testing.assert_allclose(nsd[hemi], ours[hemi], atol=1e-4)


def test_freesurfer_files_are_moved_by_their_cras(tmp_path, grid):
    _, affine = grid
    coords = np.array([[0.0, 0.0, 0.0], [1.8, 0.0, 0.0], [0.0, 1.8, 0.0]])
    faces = np.array([[0, 1, 2]])
    cras = np.array([1.8, -3.6, 0.0])
    info = {
        "head": [2, 0, 20],
        "valid": "1  # volume info valid",
        "filename": "vol.nii",
        "volume": [10, 10, 10],
        "voxelsize": [1.0, 1.0, 1.0],
        "xras": [-1.0, 0.0, 0.0],
        "yras": [0.0, 0.0, -1.0],
        "zras": [0.0, 1.0, 0.0],
        "cras": cras,
    }
    path = tmp_path / "lh.white"
    nib.freesurfer.write_geometry(str(path), coords, faces, volume_info=info)
    proj = SurfaceProjection.from_meshes(affine, {"lh": path}, {"lh": path}, depths=(0.5,))
    expected = (coords + cras) @ np.linalg.inv(affine)[:3, :3].T + np.linalg.inv(affine)[:3, 3]
    np.testing.assert_allclose(proj.coords["lh"][0], expected)


def test_masked_voxels_never_leak_into_vertices(nsd_sample, grid):
    ncsnr, _ = grid
    proj = SurfaceProjection.from_nsd(nsd_sample, 1)
    mask = np.zeros(ncsnr.shape, dtype=bool)
    mask[: ncsnr.shape[0] // 2] = True  # the lh half of the slab
    volume = np.where(mask, 1.0, 1e6)
    out = proj.project(volume, mask=mask)
    assert np.nanmax(out["lh"]) == pytest.approx(1.0) and np.nanmin(out["lh"]) == pytest.approx(1.0)
    assert np.isnan(out["rh"]).mean() > 0.9  # the rh vertices sample only masked voxels
    nearest = proj.project(volume, mask=mask, interpolation="nearest")
    assert set(np.unique(nearest["lh"][np.isfinite(nearest["lh"])])) == {1.0}


def test_fsaverage_takes_the_native_vertex_of_white_to_fsaverage(sample_clone, grid):
    ncsnr, _ = grid
    rel = {h: L.native_to_fsaverage_file(1, h) for h in ("lh", "rh")}
    root = sample_clone(*rel.values())
    order = np.random.default_rng(1).permutation(1380)
    for path in rel.values():
        img = nib.MGHImage((order + 1).astype(np.int32).reshape(-1, 1, 1), np.eye(4))
        img.to_filename(str(root / path))
    native, fsavg = nsd_projections(root, 1)
    assert (native.name, fsavg.name, fsavg.mesh) == ("fsnative", "fsaverage", "fsaverage")
    a, b = native.project(ncsnr), fsavg.project(ncsnr)
    for hemi in ("lh", "rh"):
        np.testing.assert_array_equal(b[hemi], a[hemi][order])
    # an index beyond the native surface names both numbers
    bad = nib.MGHImage(np.full((1380, 1, 1), 5000, dtype=np.int32), np.eye(4))
    bad.to_filename(str(root / rel["lh"]))
    with pytest.raises(DataError, match=r"5000\.\.5000.*1380 vertices"):
        nsd_projections(root, 1)


def test_no_transforms_no_projection_and_clear_errors(sample_clone, nsd_sample, grid):
    files = [L.volume_to_surface_file(1, "rh", d) for d in ("layerB2", "white")]
    root = sample_clone(*files)
    assert nsd_projections(root, 1) == []  # neither layerB1-3 nor white+pial complete
    with pytest.raises(MissingFileError, match="rh.func1pt8-to-layerB2.mgz"):
        SurfaceProjection.from_nsd(root, 1)
    bad = nib.MGHImage(np.zeros((1380, 1, 1, 2), dtype=np.float32), np.eye(4))
    bad.to_filename(str(root / files[0]))
    with pytest.raises(DataError, match="3 voxel coordinates per vertex"):
        SurfaceProjection.from_nsd(root, 1)
    proj = SurfaceProjection.from_nsd(nsd_sample, 1)
    with pytest.raises(ParameterError, match="'interpolation'.*'cubic'"):
        proj.project(grid[0], interpolation="cubic")
    with pytest.raises(ParameterError, match=r"'mask'.*\(2, 2, 2\)"):
        proj.project(grid[0], mask=np.ones((2, 2, 2), dtype=bool))
    with pytest.raises(ParameterError, match="'space'"):
        SurfaceProjection.from_nsd(nsd_sample, 1, space="mni")


def test_a_broken_transform_costs_the_surface_maps_not_the_fit(sample_clone, tmp_path):
    from brainalign.runs import RunSpec
    from brainalign.runs._fit import _dataset_capability

    path = L.native_to_fsaverage_file(1, "lh")
    root = sample_clone(path)
    nib.MGHImage(np.zeros((1380, 1, 1), np.int32), np.eye(4)).to_filename(str(root / path))
    spec = RunSpec(
        dataset="nsd", root=root, subject=1, model="torch:brainalign.data.sample:SampleNet@0"
    )
    with pytest.warns(UserWarning, match=r"No surface maps: .*white-to-fsaverage.mgz names"):
        assert _dataset_capability(spec, "surface_projections", 1) is None
