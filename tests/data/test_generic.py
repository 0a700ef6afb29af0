import numpy as np
import pandas as pd
import pytest

from brainalign import list_datasets, load_dataset
from brainalign.data import VolumeSpace
from brainalign.exceptions import DataError, MissingFileError, ParameterError


def test_haxby_loads_through_the_nifti_adapter(haxby_dir):
    data = load_dataset("nifti", root=haxby_dir / "slice", labels="attributes_literal.txt")
    assert (data.n_rows, data.n_targets) == (1452, 530)
    ids, counts = np.unique(data.stimulus_ids, return_counts=True)
    assert dict(zip(ids, counts, strict=True)) == {
        "rest": 588,
        "face": 108,
        "house": 108,
        "shoe": 108,
        "cat": 108,
        "scissors": 108,
        "scrambledpix": 108,
        "bottle": 108,
        "chair": 108,
    }
    assert data.row_meta["run"].value_counts().sort_index().tolist() == [121] * 12
    assert data.to_image(np.ones(530)).shape == (40, 20, 1)


def test_haxby_values_equal_a_plain_nibabel_read(haxby_dir):
    import nibabel as nib

    data = load_dataset("nifti", root=haxby_dir / "slice")
    bold = np.asarray(nib.load(haxby_dir / "slice" / "bold.nii.gz").dataobj)
    mask = np.asarray(nib.load(haxby_dir / "slice" / "mask.nii.gz").dataobj) > 0
    np.testing.assert_array_equal(data.responses, bold[mask].T.astype(np.float32))
    literal = [
        line.split()[0]
        for line in (haxby_dir / "slice" / "attributes_literal.txt").read_text().splitlines()
    ]
    codes = {"rest": "0", "face": "1", "house": "2"}
    for word, code in codes.items():
        np.testing.assert_array_equal(np.array(literal) == word, data.stimulus_ids == code)


def test_haxby_bids_events_give_the_same_labels(haxby_dir):
    runs = sorted((haxby_dir / "haxby2001" / "sub001" / "BOLD").glob("task001_run*"))
    data = load_dataset(
        "nifti",
        bold=[r / "bold_1slice.nii.gz" for r in runs],
        events=[r / "bold_events.tsv" for r in runs],
        mask=haxby_dir / "slice" / "mask.nii.gz",
    )
    reference = load_dataset("nifti", root=haxby_dir / "slice", labels="attributes_literal.txt")
    assert data.n_rows == 1452
    agree = np.mean(data.stimulus_ids == reference.stimulus_ids)
    assert agree > 0.97, agree
    np.testing.assert_array_equal(data.row_meta["run"], reference.row_meta["run"])
    np.testing.assert_array_equal(data.responses, reference.responses)


def test_attributes_with_wrong_length(haxby_dir, tmp_path):
    lines = (haxby_dir / "slice" / "attributes.txt").read_text().splitlines()[:-2]
    (tmp_path / "short.txt").write_text("\n".join(lines))
    with pytest.raises(DataError, match="has 1450 lines but the bold data have 1452 volumes"):
        load_dataset("nifti", root=haxby_dir / "slice", labels=tmp_path / "short.txt")


def test_mask_grid_mismatch(haxby_dir, tmp_path):
    import nibabel as nib

    nib.Nifti1Image(np.ones((40, 19, 1), np.uint8), np.eye(4)).to_filename(tmp_path / "m.nii.gz")
    with pytest.raises(DataError, match=r"\(40, 20, 1\).*\(40, 19, 1\)"):
        load_dataset("nifti", root=haxby_dir / "slice", mask=tmp_path / "m.nii.gz")


def test_arrays_adapter_npy_with_id_file_and_mask(tmp_path):
    import nibabel as nib

    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((6, 4))
    np.save(tmp_path / "responses.npy", matrix)
    (tmp_path / "ids.txt").write_text("a\nb\nc\na\nb\nc\n")
    mask = np.zeros((3, 2, 2), np.uint8)
    mask[0, 1, 1] = mask[1, 0, 0] = mask[2, 1, 0] = mask[2, 1, 1] = 1
    nib.Nifti1Image(mask, np.eye(4)).to_filename(tmp_path / "mask.nii.gz")
    data = load_dataset("arrays", root=tmp_path, stimulus_ids="ids.txt", mask="mask.nii.gz")
    np.testing.assert_allclose(data.responses, matrix.astype(np.float32))
    assert data.stimulus_ids.tolist() == list("abcabc")
    np.testing.assert_array_equal(data.space.ijk, np.argwhere(mask))
    assert data.average_repetitions().n_rows == 3


def test_arrays_adapter_npz_and_csv(tmp_path):
    matrix = np.arange(12, dtype=float).reshape(4, 3) ** 1.5
    np.savez(tmp_path / "r.npz", responses=matrix, stimulus_ids=np.array([3, 1, 2, 0]))
    data = load_dataset("arrays", responses=tmp_path / "r.npz")
    assert data.stimulus_ids.tolist() == [3, 1, 2, 0]
    frame = pd.DataFrame(matrix, columns=["v1", "v2", "v3"])
    frame.insert(0, "stimulus_id", ["x", "y", "z", "w"])
    frame.to_csv(tmp_path / "r.csv", index=False)
    data = load_dataset("arrays", responses=tmp_path / "r.csv")
    assert data.col_meta["name"].tolist() == ["v1", "v2", "v3"]
    np.testing.assert_allclose(data.responses, matrix.astype(np.float32))


def test_arrays_adapter_drops_bad_columns_and_checks_inputs(tmp_path):
    matrix = np.random.default_rng(1).standard_normal((5, 4))
    matrix[:, 1] = 2.0
    matrix[3, 2] = np.nan
    np.save(tmp_path / "responses.npy", matrix)
    with pytest.warns(UserWarning, match="Dropped 2 of 4 targets"):
        data = load_dataset("arrays", root=tmp_path, stimulus_ids=list(range(5)))
    np.testing.assert_allclose(data.responses, matrix[:, [0, 3]].astype(np.float32))
    with pytest.raises(DataError, match="5 rows but 4 stimulus ids"):
        load_dataset("arrays", root=tmp_path, stimulus_ids=[1, 2, 3, 4])
    with pytest.raises(ParameterError, match="carries no ids"):
        load_dataset("arrays", root=tmp_path)
    with pytest.raises(MissingFileError, match="nope.npy"):
        load_dataset("arrays", root=tmp_path, responses="nope.npy", stimulus_ids=[1])


def test_registry_lists_and_rejects_unknown_names():
    assert {"nsd", "arrays", "nifti"} <= set(list_datasets())
    assert list_datasets("n*") == ["nifti", "nsd", "nsd-fsaverage", "nsd-nativesurface"]
    with pytest.raises(ParameterError, match="Unknown dataset 'nds'.*arrays, .*nifti, nsd.*'nsd'"):
        load_dataset("nds", root=".")


def test_volume_space_rejects_out_of_grid_indices():
    with pytest.raises(DataError, match="outside the grid"):
        VolumeSpace((2, 2, 2), np.eye(4), [[0, 0, 2]])


def test_zero_duration_events_label_the_volume_at_their_onset(tmp_path):
    import nibabel as nib

    img = nib.Nifti1Image(np.random.default_rng(0).standard_normal((2, 2, 1, 10)), np.eye(4))
    img.header.set_zooms((1.0, 1.0, 1.0, 2.0))
    img.to_filename(tmp_path / "bold.nii.gz")
    nib.Nifti1Image(np.ones((2, 2, 1), np.uint8), np.eye(4)).to_filename(tmp_path / "m.nii.gz")
    pd.DataFrame({"onset": [4.0, 9.0], "duration": [0.0, 4.0], "trial_type": ["a", "b"]}).to_csv(
        tmp_path / "events.tsv", sep="\t", index=False
    )
    data = load_dataset("nifti", root=tmp_path, events="events.tsv", mask="m.nii.gz")
    assert data.stimulus_ids.tolist() == [
        "rest",
        "rest",
        "a",
        "rest",
        "rest",
        "b",
        "b",
        "rest",
        "rest",
        "rest",
    ]
