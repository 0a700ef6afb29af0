"""NSD surface betas (fsaverage .mgh, nativesurface .hdf5) and the SurfaceSpace."""

import json

import nibabel as nib
import numpy as np
import pytest

from brainalign import load_dataset
from brainalign.data import SurfaceSpace
from brainalign.data import _nsd_layout as L
from brainalign.data._surface import read_mgh
from brainalign.exceptions import DataError, ParameterError

DROPPED = "Dropped 4 of 1380 vertices"


@pytest.fixture(scope="module")
def raw_fsaverage(nsd_sample):
    with pytest.warns(UserWarning, match=DROPPED):  # NaN ncsnr of the invalid voxels
        return load_dataset(
            "nsd", root=nsd_sample, subject=2, sessions=[1], zscore=False, space="fsaverage"
        )


def vertex_voxels(truth, hemi):
    return np.asarray(truth["surface"]["vertex_ijk"][hemi])


def test_mgh_betas_equal_the_generators_volume_betas(raw_fsaverage, nsd_sample, ground_truth):
    # Each sample vertex is one cortex voxel: its .mgh betas are the int16 volume / 300.
    volume = np.asarray(nib.load(nsd_sample / L.betas_file(2, 1, "nii.gz")).dataobj)
    space = raw_fsaverage.space
    for hemi in ("lh", "rh"):
        cols = np.flatnonzero(space.hemi == hemi)
        i, j, k = vertex_voxels(ground_truth, hemi)[space.vertex[cols]].T
        expected = (volume[i, j, k].T / 300.0).astype(np.float32)
        np.testing.assert_allclose(raw_fsaverage.responses[:, cols], expected, rtol=0, atol=1e-6)
    mgh = read_mgh(nsd_sample / L.surface_betas_file(2, "lh", 1, "fsaverage"))
    assert mgh.shape == (1380, 1, 1, 750) and mgh.dtype == np.dtype(">f4")  # as NSD's files
    cols = np.flatnonzero(space.hemi == "lh")
    np.testing.assert_array_equal(raw_fsaverage.responses[:, cols], mgh[space.vertex[cols], 0, 0].T)


def test_nativesurface_hdf5_equals_fsaverage_mgh(raw_fsaverage, nsd_sample):
    with pytest.warns(UserWarning, match=DROPPED):
        native = load_dataset(
            "nsd-nativesurface", root=nsd_sample, subject=2, sessions=[1], zscore=False
        )
    assert native.info["space"] == "nativesurface" and native.space.mesh == "subj02"
    np.testing.assert_allclose(native.responses, raw_fsaverage.responses, atol=1e-6)


def test_surface_labels_and_ncsnr_match_the_volume(nsd_sample, ground_truth):
    with pytest.warns(UserWarning, match=DROPPED):
        surf = load_dataset("nsd", root=nsd_sample, subject=1, sessions=[1, 2], space="fsaverage")
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        vol = load_dataset("nsd", root=nsd_sample, subject=1, sessions=[1, 2])
    index = {tuple(v): n for n, v in enumerate(vol.space.ijk)}
    order = [
        index[tuple(vertex_voxels(ground_truth, h)[v])]
        for h, v in zip(surf.space.hemi, surf.space.vertex, strict=True)
    ]
    assert surf.n_targets == vol.n_targets == len(order)
    for col in ("floc-faces", "prf-visualrois", "nsdgeneral", "streams"):
        assert surf.col_meta[col].tolist() == vol.col_meta[col].iloc[order].tolist()
    np.testing.assert_allclose(surf.col_meta["ncsnr"], vol.col_meta["ncsnr"].iloc[order])
    np.testing.assert_allclose(surf.responses, vol.responses[:, order], atol=1e-5)
    assert surf.roi_mask("FFA-1").sum() == ground_truth["rois"]["FFA-1"]["n_voxels"]
    lh = surf.select_rois("FFA-1").space
    assert set(lh.hemi) == {"lh", "rh"} and lh.mesh_files["lh"]["inflated"].endswith("lh.inflated")


def test_label_with_a_wrong_vertex_count_names_both_counts(sample_clone):
    rel = L.surface_label_file(1, "rh", "floc-faces", "fsaverage")
    root = sample_clone(str(rel))
    nib.MGHImage(np.zeros((100, 1, 1), np.float32), np.eye(4)).to_filename(str(root / rel))
    with pytest.raises(DataError, match=r"rh.floc-faces.mgz has 100 vertices .* have 1380"):
        load_dataset("nsd", root=root, subject=1, sessions=[1], space="fsaverage")


def test_unknown_space_and_missing_surface_betas(nsd_sample, sample_clone):
    with pytest.raises(ParameterError, match="'space'.*fsaverage.*'flat'"):
        load_dataset("nsd", root=nsd_sample, subject=1, space="flat")
    rel = [str(L.surface_betas_file(1, "rh", s, "fsaverage")) for s in range(1, 5)]
    root = sample_clone(*rel)
    with pytest.raises(DataError, match=r"No fsaverage betas for subject 1.*rh"):
        load_dataset("nsd", root=root, subject=1, space="fsaverage")


def test_surface_space_round_trip_and_images():
    space = SurfaceSpace({"lh": 5, "rh": 4}, ["lh", "lh", "rh"], [4, 0, 3], mesh="m")
    arrays = space.to_arrays(np.array([1.0, 2.0, 3.0]), fill=-1)
    assert arrays["lh"].tolist() == [2, -1, -1, -1, 1] and arrays["rh"].tolist() == [-1] * 3 + [3]
    images = space.to_image(np.ones((3, 2)))
    assert images["lh"].shape == (5, 1, 1, 2) and images["rh"].shape == (4, 1, 1, 2)
    sub = space.select([2])
    assert sub.n_targets == 1 and sub.col_meta().to_dict("list") == {"hemi": ["rh"], "vertex": [3]}
    with pytest.raises(DataError, match=r"outside 0..3"):
        SurfaceSpace({"lh": 5, "rh": 4}, ["rh"], [4])
    with pytest.raises(ParameterError, match=r"expected \(3,\)"):
        space.to_arrays(np.ones(4))


def test_sample_truth_records_the_surface(ground_truth):
    assert ground_truth["config"]["format_version"] == 4
    assert ground_truth["surface"]["n_vertices"] == {"lh": 1380, "rh": 1380}
    json.dumps(ground_truth)
