import json
import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainalign import load_dataset
from brainalign.data import _nsd_layout as L
from brainalign.data.sample._nsd import SampleConfig, plan_design
from brainalign.exceptions import DataError, MissingFileError, ParameterError

INVALID_WARNING = "Dropped 4 of"


@pytest.fixture(scope="module")
def subject1(nsd_sample):
    with pytest.warns(UserWarning, match=INVALID_WARNING):
        return load_dataset("nsd", root=nsd_sample, subject=1)


@pytest.fixture(scope="module")
def design():
    return plan_design(SampleConfig(seed=0))


def test_trial_to_image_mapping_matches_the_generator(subject1, design):
    # The generator planned 0-based ids per trial; the loader derives them from the
    # 1-based masterordering/subjectim and cross-checks the 1-based CSV trial numbers.
    np.testing.assert_array_equal(subject1.stimulus_ids, design["trial_ids"][1])
    np.testing.assert_array_equal(subject1.row_meta["trial"], np.arange(1, 3001))
    assert subject1.row_meta["session"].tolist() == list(np.repeat([1, 2, 3, 4], 750))


def test_repetitions_count_each_image_three_times_in_order(subject1):
    table = pd.DataFrame({"id": subject1.stimulus_ids, "rep": subject1.row_meta["repetition"]})
    assert table.groupby("id").size().eq(3).all()
    expected = table.groupby("id").cumcount()
    np.testing.assert_array_equal(table["rep"], expected)


def test_runs_follow_nsd_session_structure(subject1):
    runs = subject1.row_meta.query("session == 1")["run"].value_counts().sort_index()
    assert runs.tolist() == [63, 62] * 6


def test_shared1000_split(subject1, design):
    train, test = subject1.average_repetitions().split()
    assert set(test.stimulus_ids) == set(design["shared"])
    assert not set(train.stimulus_ids) & set(test.stimulus_ids)
    assert train.n_rows + test.n_rows == 1000
    assert (test.n_trials == 3).all()


def test_unscaled_betas_equal_int16_over_300(nsd_sample):
    with pytest.warns(UserWarning, match=INVALID_WARNING):  # NaN ncsnr
        data = load_dataset(
            "nsd", root=nsd_sample, subject=2, sessions=[1], zscore=False, betas_format="nifti"
        )
    raw = np.asarray(nib.load(nsd_sample / L.betas_file(2, 1, "nii.gz")).dataobj)
    assert raw.dtype == np.int16
    i, j, k = data.space.ijk.T
    expected = (raw[i, j, k].T / 300.0).astype(np.float32)
    np.testing.assert_array_equal(data.responses, expected)


def test_hdf5_and_nifti_betas_are_identical(nsd_sample):
    with pytest.warns(UserWarning, match=INVALID_WARNING):
        a = load_dataset("nsd", root=nsd_sample, subject=1, sessions=[1, 3], betas_format="hdf5")
    with pytest.warns(UserWarning, match=INVALID_WARNING):
        b = load_dataset("nsd", root=nsd_sample, subject=1, sessions=[1, 3], betas_format="nifti")
    assert a.info["betas_format"] == ["hdf5"] and b.info["betas_format"] == ["nifti"]
    np.testing.assert_array_equal(a.responses, b.responses)
    np.testing.assert_array_equal(a.stimulus_ids, b.stimulus_ids)


def test_zscored_per_session(subject1):
    for session in (1, 4):
        block = subject1.responses[subject1.row_meta["session"].to_numpy() == session]
        np.testing.assert_allclose(block.mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(block.std(0), 1, atol=1e-3)


def test_invalid_voxels_are_dropped(subject1, ground_truth):
    invalid = {tuple(v) for v in ground_truth["invalid_voxels"]["ijk"]}
    kept = {tuple(v) for v in subject1.space.ijk}
    assert not invalid & kept
    assert np.isfinite(subject1.responses).all()
    assert np.isfinite(subject1.noise_ceiling()).all()
    assert subject1.responses.flags.c_contiguous  # compacted in place, no strided view


def test_sessions_without_invalid_voxels_keep_every_voxel(nsd_sample, ground_truth):
    data = load_dataset("nsd", root=nsd_sample, subject=1, sessions=[1], roi="FFA-1")
    assert data.n_targets == ground_truth["rois"]["FFA-1"]["n_voxels"]


def test_roi_names_and_sizes_from_ctab(subject1, ground_truth):
    names = subject1.roi_names()
    assert {"nsdgeneral", "floc-faces", "FFA-1", "V1v", "PPA"} <= set(names)
    assert "mTL-faces" not in names  # listed in the ctab, but no voxels
    for roi, truth in ground_truth["rois"].items():
        assert subject1.select_rois(roi).n_targets == truth["n_voxels"], roi
    faces = subject1.select_rois("floc-faces").n_targets
    assert faces == sum(ground_truth["rois"][r]["n_voxels"] for r in ("OFA", "FFA-1", "FFA-2"))


def test_roi_argument_reads_only_those_voxels(nsd_sample, subject1):
    both = load_dataset("nsd", root=nsd_sample, subject=1, sessions=[1], roi=["FFA-1", "PPA"])
    ref = subject1.select_rois(["FFA-1", "PPA"])
    np.testing.assert_array_equal(both.space.ijk, ref.space.ijk)
    np.testing.assert_array_equal(both.responses, ref.responses[:750])


def test_noise_ceiling_matches_planted_truth(subject1, nsd_sample):
    avg = subject1.average_repetitions()
    truth = np.asarray(nib.load(nsd_sample / "true_noise_ceiling.nii.gz").dataobj)
    i, j, k = avg.space.ijk.T
    true_nc, nc = truth[i, j, k], avg.noise_ceiling()
    signal = true_nc > 0
    assert np.corrcoef(true_nc[signal], nc[signal])[0, 1] > 0.9
    assert np.median(np.abs(true_nc[signal] - nc[signal])) < 5
    assert np.median(nc[~signal]) < 5


def test_planted_attributes_drive_their_rois(subject1, ground_truth):
    # End to end through the real caption files: images whose caption names a
    # planted attribute evoke larger responses in that ROI; RSC carries no signal.
    avg = subject1.average_repetitions()
    captions = [" ".join(c) for c in avg.stimuli.captions(avg.stimulus_ids)]
    for roi, truth in ground_truth["rois"].items():
        response = avg.select_rois(roi).responses.mean(1)
        for word in truth["attributes"]:
            has = np.array([f" {word}" in f" {c}" for c in captions])
            if word == "face":
                has &= np.array(["faces" in c or " face " in f"{c} " for c in captions])
            effect = response[has].mean() - response[~has].mean()
            assert effect > 0.2, (roi, word, effect)
    rsc = avg.select_rois("RSC").responses.mean(1)
    assert abs(np.corrcoef(rsc, avg.select_rois("FFA-1").responses.mean(1))[0, 1]) < 0.15


def test_stimuli_are_read_lazily_by_id(subject1, nsd_sample):
    ids = subject1.stimulus_ids[[5, 0, 5]]
    images = subject1.stimuli.images(ids)
    assert images.shape == (3, 425, 425, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[0], images[2])
    assert images[0].std() > 0  # written, not the fill value
    with pytest.raises(DataError, match="outside 0..72999"):
        subject1.stimuli.images([73000])


def test_average_keeps_the_noise_ceiling_count(subject1):
    avg = subject1.average_repetitions()
    np.testing.assert_allclose(avg.noise_ceiling(), subject1.noise_ceiling(n_trials=3))


# -- bad input --------------------------------------------------------------------
def test_missing_design_file_names_the_path(sample_clone):
    root = sample_clone(str(L.EXPDESIGN))
    with pytest.raises(MissingFileError, match="nsd_expdesign.mat"):
        load_dataset("nsd", root=root, subject=1, sessions=[1])


def test_unknown_subject_lists_available(nsd_sample):
    with pytest.raises(DataError, match=r"available subjects: \[1, 2\]"):
        load_dataset("nsd", root=nsd_sample, subject=3)


def test_unknown_session_lists_available(nsd_sample):
    with pytest.raises(DataError, match=r"Session\(s\) \[7\].*available sessions: \[1, 2, 3, 4\]"):
        load_dataset("nsd", root=nsd_sample, subject=1, sessions=[1, 7])


def test_unknown_roi_suggests_close_names(nsd_sample):
    with pytest.raises(ParameterError, match="got 'FFA-3'.*Did you mean.*'FFA-1'"):
        load_dataset("nsd", root=nsd_sample, subject=1, sessions=[1], roi="FFA-3")


def test_betas_and_roi_shape_mismatch_names_both_shapes(sample_clone, nsd_sample):
    rel = L.betas_file(1, 1, "nii.gz")
    root = sample_clone(str(rel))
    img = nib.load(nsd_sample / rel)
    small = nib.Nifti1Image(np.asarray(img.dataobj)[:-1], img.affine, img.header)
    small.to_filename(root / rel)
    with pytest.raises(DataError, match=r"\(19, 24, 20\).*\(20, 24, 20\)"):
        load_dataset("nsd", root=root, subject=1, sessions=[1], betas_format="nifti")


def test_misaligned_stim_info_is_an_error(sample_clone, nsd_sample):
    root = sample_clone(str(L.STIM_INFO))
    info = pd.read_csv(nsd_sample / L.STIM_INFO, index_col=0)
    shown = np.flatnonzero(info["subject1_rep0"] > 0)
    a, b = shown[:2]  # swap the first-presentation trials of two images
    col = info["subject1_rep0"].to_numpy().copy()
    col[a], col[b] = col[b], col[a]
    info["subject1_rep0"] = col
    info.to_csv(root / L.STIM_INFO)
    with pytest.raises(DataError, match="misalignment"):
        load_dataset("nsd", root=root, subject=1)


def test_stim_info_without_subject_columns(sample_clone, nsd_sample):
    root = sample_clone(str(L.STIM_INFO))
    info = pd.read_csv(nsd_sample / L.STIM_INFO, index_col=0)
    info.drop(columns=[c for c in info if c.startswith("subject1")]).to_csv(root / L.STIM_INFO)
    with pytest.raises(DataError, match=r"lacks column\(s\).*subject1_rep0.*\['2'\]"):
        load_dataset("nsd", root=root, subject=1, sessions=[1])


def test_absent_stimulus_ids_are_named(subject1):
    with pytest.raises(DataError, match="absent from the data: 73001"):
        subject1.select_stimuli([subject1.stimulus_ids[0], 73001])


def test_truncated_hdf5_has_wrong_trial_count(sample_clone, nsd_sample):
    import h5py

    rel = L.betas_file(1, 1, "hdf5")
    root = sample_clone(str(rel))
    with h5py.File(nsd_sample / rel) as src, h5py.File(root / rel, "w") as dst:
        dst["betas"] = src["betas"][:700]
    with pytest.raises(DataError, match="holds 700 trials; an NSD session has 750"):
        load_dataset("nsd", root=root, subject=1, sessions=[1], betas_format="hdf5")


def test_root_must_exist(tmp_path):
    with pytest.raises(MissingFileError, match="NSD root folder"):
        load_dataset("nsd", root=tmp_path / "nowhere", subject=1)


def test_ncsnr_file_is_optional(sample_clone, nsd_sample):
    root = sample_clone(str(L.ncsnr_file(1)))
    data = load_dataset("nsd", root=root, subject=1, sessions=[1])
    assert data.noise_ceiling() is None


def test_ground_truth_schema(ground_truth):
    assert set(ground_truth) >= {"seed", "model", "rois", "noise_sd", "subjects"}
    assert ground_truth["model"] == "torch:brainalign.data.sample:SampleNet@0"
    assert all(set(v) == {"layer", "attributes", "n_voxels"} for v in ground_truth["rois"].values())
    json.dumps(ground_truth)


def test_sample_is_reused_and_deterministic(nsd_sample, tmp_path):
    from brainalign.data.sample import write_nsd_sample

    before = (nsd_sample / "ground_truth.json").stat().st_mtime_ns
    write_nsd_sample(nsd_sample, seed=0)
    assert (nsd_sample / "ground_truth.json").stat().st_mtime_ns == before
    a = plan_design(SampleConfig(seed=0))
    b = plan_design(SampleConfig(seed=1))
    assert not np.array_equal(a["trial_ids"][1], b["trial_ids"][1])
    again = plan_design(SampleConfig(seed=0))
    np.testing.assert_array_equal(a["trial_ids"][2], again["trial_ids"][2])


def test_interrupted_sample_is_rebuilt(tmp_path, nsd_sample):
    from brainalign.data.sample import write_nsd_sample

    root = tmp_path / "partial"
    shutil.copytree(nsd_sample, root, ignore=shutil.ignore_patterns("ground_truth.json"))
    write_nsd_sample(root, seed=0, n_sessions=1, n_subjects=1, n_shared=20)
    truth = json.loads((root / "ground_truth.json").read_text())
    assert truth["config"]["n_sessions"] == 1 and truth["subjects"] == [1]
    data = load_dataset("nsd", root=root, subject=1)  # no stale sessions 2-4 left
    assert data.n_rows == 750 and data.info["sessions"] == [1]


def test_sample_refuses_a_foreign_folder(tmp_path):
    from brainalign.data.sample import write_nsd_sample

    (tmp_path / "my_data.txt").write_text("precious")
    with pytest.raises(DataError, match="Refusing to write the sample"):
        write_nsd_sample(tmp_path, seed=0)
    assert (tmp_path / "my_data.txt").read_text() == "precious"


def test_stimulus_set_counts_only_images_of_sessions_on_disk(sample_clone, design):
    from brainalign.data import get_dataset

    gone = [str(L.betas_file(1, s, ext)) for s in (2, 3, 4) for ext in ("nii.gz", "hdf5")]
    root = sample_clone(*gone)
    stim = get_dataset("nsd", root).stimulus_set(1)
    np.testing.assert_array_equal(stim["ids"], np.unique(design["trial_ids"][1][:750]))
    assert set(stim["test_ids"]) <= set(design["shared"])
    assert not set(stim["train_ids"]) & set(stim["test_ids"])


def test_anatomy_is_a_t1_on_the_betas_grid(nsd_sample):
    from brainalign.data import get_dataset
    from brainalign.data.sample._nsd import synthetic_t1

    path = get_dataset("nsd", nsd_sample).anatomy(1)
    assert path == nsd_sample / L.t1_file(1) and path.name == "T1_to_func1pt8mm.nii.gz"
    t1, betas = nib.load(path), nib.load(nsd_sample / L.betas_file(1, 1, "nii.gz"))
    assert t1.shape == betas.shape[:3]
    np.testing.assert_allclose(t1.affine, betas.affine)
    data = np.asarray(t1.dataobj)
    brain = np.asarray(nib.load(nsd_sample / L.brainmask_file(1)).dataobj) > 0
    centre = tuple(s // 2 for s in data.shape)
    rim = brain & ~np.pad(brain, 1)[2:, 1:-1, 1:-1]  # brain voxels at its x edge
    assert data[centre] > 80 > data[rim].mean() > 40  # bright interior, darker cortex
    assert data[0, 0, 0] == 0  # nothing outside the head
    np.testing.assert_array_equal(data, synthetic_t1(data.shape, [0, 7, 1]))


def test_anatomy_falls_back_to_the_brain_mask(sample_clone):
    from brainalign.data import get_dataset

    root = sample_clone(str(L.t1_file(1)))
    assert get_dataset("nsd", root).anatomy(1) == root / L.brainmask_file(1)
    (root / L.brainmask_file(1)).unlink()
    assert get_dataset("nsd", root).anatomy(1) is None
