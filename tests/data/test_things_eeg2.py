import json
import os
import pickle

import numpy as np
import pytest

from brainalign.data import load_dataset, load_pickled_dict
from brainalign.data.sample import EFFECTS, THINGS_EEG2_CHANNELS, write_things_eeg2_sample
from brainalign.exceptions import DataError, MissingFileError


def test_sample_has_the_release_layout(eeg_sample, eeg_truth):
    sub = eeg_sample / "preprocessed_data" / "sub-01"
    record = np.load(sub / "preprocessed_eeg_training.npy", allow_pickle=True).item()
    assert set(record) == {"preprocessed_eeg_data", "ch_names", "times"}
    assert record["preprocessed_eeg_data"].shape == (300, 4, 17, 100)
    assert record["ch_names"] == list(THINGS_EEG2_CHANNELS)
    np.testing.assert_allclose(record["times"][[0, -1]], [-0.2, 0.79])
    test = np.load(sub / "preprocessed_eeg_test.npy", allow_pickle=True).item()
    assert test["preprocessed_eeg_data"].shape == (200, 10, 17, 100)
    meta = np.load(eeg_sample / "image_set" / "image_metadata.npy", allow_pickle=True).item()
    first = eeg_sample / "image_set" / "training_images" / meta["train_img_concepts"][0]
    assert (first / meta["train_img_files"][0]).exists()
    assert len(meta["test_img_files"]) == 200
    assert [e["latency_s"] for e in eeg_truth["effects"]] == [e["latency_s"] for e in EFFECTS]
    assert {"seed", "model", "rois", "noise_sd", "subjects", "effects"} <= set(eeg_truth)


def test_adapter_maps_rows_to_image_ids(eeg_sample):
    data = load_dataset("things-eeg2", root=eeg_sample, subject=2)
    assert data.n_rows == 300 * 4 + 200 * 10
    assert data.n_targets == 17 * 100
    assert data.space.ch_names == list(THINGS_EEG2_CHANNELS)
    assert data.test_ids.size == 200
    raw = np.load(
        eeg_sample / "preprocessed_data/sub-02/preprocessed_eeg_training.npy", allow_pickle=True
    ).item()["preprocessed_eeg_data"]
    # row 4 * i + r is image i, repetition r; column c * 100 + t is channel c at time t
    np.testing.assert_array_equal(data.responses[4 * 7 + 3, 5 * 100 + 30], raw[7, 3, 5, 30])
    assert data.stimulus_ids[4 * 7] == "thing0002_03b"
    assert data.row_meta.loc[4 * 7 + 3, "repetition"] == 3
    image = data.stimuli.images(["probe0001_01s"])[0]
    assert image.shape == (170, 170, 3) and image.dtype == np.uint8
    train, test = data.average_repetitions().split()
    assert (train.n_rows, test.n_rows) == (300, 200)


def test_channel_and_time_selection(eeg_sample):
    data = load_dataset("things-eeg2", root=eeg_sample, roi=["Oz", "O1"], tmin=0.0, tmax=0.2)
    assert set(data.col_meta["channel"]) == {"O1", "Oz"}
    assert data.n_targets == 2 * 21


def test_unsafe_pickles_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "preprocessed_eeg_training.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "|O", "fortran_order": False, "shape": ()}
        )
        pickle.dump(np.array({"x": Evil()}, dtype=object), f, protocol=3)
    with pytest.raises(DataError, match="Refusing to unpickle"):
        load_pickled_dict(path)
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(DataError, match="plain array"):
        load_pickled_dict(tmp_path / "plain.npy")


def test_missing_subject_names_what_exists(eeg_sample):
    with pytest.raises(MissingFileError, match=r"subjects found: \[1, 2\]"):
        load_dataset("things-eeg2", root=eeg_sample, subject=7)


def test_sample_is_reused_and_never_overwrites_other_folders(eeg_sample, tmp_path):
    stamp = (eeg_sample / "ground_truth.json").stat().st_mtime_ns
    write_things_eeg2_sample(eeg_sample, seed=0)
    assert (eeg_sample / "ground_truth.json").stat().st_mtime_ns == stamp
    (tmp_path / "precious.txt").write_text("data")
    with pytest.raises(DataError, match="Refusing to write"):
        write_things_eeg2_sample(tmp_path, seed=0)


def test_describe_summarises_the_sample(eeg_sample):
    from brainalign.data import get_dataset

    summary = get_dataset("things-eeg2", eeg_sample).describe(subject=1)
    assert list(summary.subjects) == [1]
    assert summary.subjects[1].n_trials == 3200
    assert summary.stimuli["n_test_images"] == 200
    assert summary.extra["sfreq"] == pytest.approx(100.0)
    json.dumps(summary.to_dict())
