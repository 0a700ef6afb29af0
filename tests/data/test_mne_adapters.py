"""MNE adapters on the real recordings of ../shared/data (read in place, never modified)."""

from pathlib import Path

import numpy as np
import pytest

from brainalign.data import load_dataset
from brainalign.data._mne import from_epochs, read_muse_csv, read_raw
from brainalign.exceptions import DataError, ParameterError

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

FORMATS = SHARED_DATA / "eeg_formats"
N170 = SHARED_DATA / "n170_faces_houses" / "N170"


@pytest.fixture(scope="module")
def formats():
    if not FORMATS.exists():
        pytest.skip(f"real data not found at {FORMATS}")
    return FORMATS


def test_eeglab_raw_with_annotations_maps_events_to_ids(formats):
    data = load_dataset("mne", root=formats / "EEGLAB/test_raw.set", event_map={"square": "target"})
    assert data.n_rows == 80
    assert set(data.stimulus_ids) == {"target"}
    assert data.space.sfreq == pytest.approx(128.0)
    assert data.space.n_channels == 32
    assert data.space.times[0] == pytest.approx(-0.2, abs=1 / 128)
    # baseline correction: the pre-stimulus mean of every epoch and channel is ~0
    pre = data.responses[:, data.col_meta["time"].to_numpy() <= 0]
    assert np.abs(pre.reshape(80, 32, -1).mean(-1)).max() < 1e-9


def test_eeglab_channel_locations_reach_the_space(formats):
    data = load_dataset(
        "mne",
        root=formats / "EEGLAB/test_raw_chanloc.set",
        tmin=0.0,
        tmax=0.5,
        baseline=None,
        reject_by_annotation=False,
    )
    assert data.space.n_channels == 61
    assert np.isfinite(data.space.positions).all()


def test_eeglab_epochs_file(formats):
    data = load_dataset("mne", root=formats / "EEGLAB/test_epochs.set")
    assert data.n_rows == 4
    assert data.space.n_channels == 2


def test_brainvision_and_edf_through_mne_readers(formats):
    vhdr = load_dataset(
        "mne",
        root=formats / "mne-python_io_tests/test.vhdr",
        event_map={"Stimulus/S255": "s255", "Stimulus/S253": "s253"},
        tmin=-0.1,
        tmax=0.3,
    )
    assert sorted(np.unique(vhdr.stimulus_ids, return_counts=True)[1]) == [2, 5]
    raw = read_raw(formats / "mne-python_io_tests/test.vhdr")
    assert vhdr.space.sfreq == raw.info["sfreq"]
    edf = load_dataset(
        "mne", root=formats, files="mne-python_io_tests/test.edf", event_map={4096: "a"}
    )
    assert set(edf.stimulus_ids) == {"a"} and edf.n_rows == 6


def test_epochs_object_and_fif_round_trip(formats, tmp_path):
    raw = read_raw(formats / "EEGLAB/test_raw.set")
    raw.save(tmp_path / "rec_raw.fif")
    data = load_dataset("mne", root=tmp_path, files="rec_raw.fif", event_map={"square": "sq"})
    from brainalign.data._mne import epochs_from_raw

    epochs, ids = epochs_from_raw(raw, {"square": "sq"})
    epochs.save(tmp_path / "rec-epo.fif")
    again = load_dataset("mne", root=tmp_path / "rec-epo.fif", event_map={"square": "sq"})
    np.testing.assert_allclose(again.responses, data.responses, rtol=1e-5, atol=1e-12)
    direct = from_epochs(epochs, stimulus_ids=ids)
    np.testing.assert_array_equal(direct.stimulus_ids, data.stimulus_ids)
    with pytest.raises(DataError, match="no stimulus id for event code"):
        from_epochs(epochs, event_map={"other": "x"})


def test_muse_csv_reads_into_raw_and_epochs():
    if not N170.exists():
        pytest.skip(f"real data not found at {N170}")
    files = sorted((N170 / "subject1" / "session1").glob("*.csv"))
    raw = read_muse_csv(files[:1])
    assert raw.info["sfreq"] == 256.0
    assert raw.get_channel_types() == ["eeg"] * 4 + ["misc", "stim"]
    import pandas as pd

    table = pd.read_csv(files[0])
    np.testing.assert_allclose(raw.get_data(picks="TP9")[0] * 1e6, table["TP9"], rtol=1e-9)
    data = load_dataset(
        "muse", root=N170, subject=1, event_map={1: "house", 2: "face"}, tmin=-0.1, tmax=0.4
    )
    counts = dict(zip(*np.unique(data.stimulus_ids, return_counts=True), strict=True))
    assert counts["face"] > 500 and counts["house"] > 500  # ~1170 trials, 6 files
    assert data.space.ch_names == ["TP9", "AF7", "AF8", "TP10"]
    assert np.isfinite(data.space.positions).all()


def test_adapter_errors(formats):
    with pytest.raises(ParameterError, match="unknown recording type"):
        read_raw(formats / "SOURCE_COMMITS")
    with pytest.raises(DataError, match="No event matches"):
        load_dataset("mne", root=formats / "EEGLAB/test_raw.set", event_map={"nope": "x"})
    with pytest.raises(ParameterError, match="name the recording"):
        load_dataset("mne", root=formats)
    with pytest.raises(ParameterError, match="Invalid epoching parameters"):
        load_dataset("mne", root=formats / "EEGLAB/test_raw.set", tmin=0.5, tmax=0.1)


def test_bids_eeg_reads_the_same_epochs_as_the_recording(formats, tmp_path):
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    source = formats / "mne-python_io_tests/test.vhdr"
    raw = mne.io.read_raw_brainvision(source, preload=False, verbose="error")
    bids_path = BIDSPath(subject="01", task="visual", root=tmp_path / "bids", datatype="eeg")
    with mne.utils.use_log_level("error"):
        write_raw_bids(raw, bids_path, verbose=False)
    event_map = {"Stimulus/S255": "s255", "Stimulus/S253": "s253"}
    bids = load_dataset("bids-eeg", root=tmp_path / "bids", subject=1, task="visual",
                        event_map=event_map, tmin=-0.1, tmax=0.3)  # fmt: skip
    direct = load_dataset("mne", root=source, event_map=event_map, tmin=-0.1, tmax=0.3)
    assert bids.n_rows == direct.n_rows == 7
    assert list(bids.stimulus_ids) == list(direct.stimulus_ids)
    np.testing.assert_allclose(bids.responses, direct.responses, rtol=1e-5, atol=1e-12)
    assert list(bids.space.ch_names) == list(direct.space.ch_names)
    with pytest.raises(DataError, match="No eeg recording"):
        load_dataset("bids-eeg", root=tmp_path / "bids", subject=2, task="visual")
