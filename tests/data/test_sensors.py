import numpy as np
import pytest

from brainalign.data import BrainData, SensorSpace, crop_times, epochs_array, sensor_data
from brainalign.exceptions import DataError, ParameterError

CHANNELS = ["O1", "Oz", "O2"]
TIMES = np.round(np.arange(-0.1, 0.3, 0.1), 6)  # -0.1, 0.0, 0.1, 0.2


def make_data(n=6, seed=0):
    rng = np.random.default_rng(seed)
    epochs = rng.standard_normal((n, len(CHANNELS), TIMES.size))
    ids = np.repeat(np.arange(n // 2), 2)
    return epochs, sensor_data(epochs, ids, CHANNELS, TIMES, montage="standard_1005")


def test_flattening_is_channel_major_and_described_by_col_meta():
    epochs, data = make_data()
    assert data.responses.shape == (6, 12)
    assert data.responses.dtype == np.float32
    # column c * n_times + t holds channel c at time t
    np.testing.assert_allclose(data.responses[:, 1 * 4 + 2], epochs[:, 1, 2], rtol=1e-6)
    assert data.col_meta.loc[6, "channel"] == "Oz"
    assert data.col_meta.loc[6, "time"] == pytest.approx(0.1)
    assert data.space.sfreq == pytest.approx(10.0)
    np.testing.assert_allclose(epochs_array(data), epochs, rtol=1e-6)


def test_space_round_trips_values_to_the_grid_after_selection():
    _, data = make_data()
    sub = data.select_rois(["O2", "O1"])
    assert sub.n_targets == 8
    grid = sub.space.to_array(np.arange(8.0))
    assert np.isnan(grid[1]).all()  # Oz was not selected
    np.testing.assert_array_equal(grid[0], [0, 1, 2, 3])
    np.testing.assert_array_equal(grid[2], [4, 5, 6, 7])
    assert [c.size for c in sub.space.time_columns()] == [2, 2, 2, 2]


def test_crop_and_average_keep_the_space():
    epochs, data = make_data()
    cropped = crop_times(data, 0.0, 0.1)
    assert sorted(set(cropped.col_meta["time"].round(6))) == [0.0, 0.1]
    avg = cropped.average_repetitions()
    assert avg.n_rows == 3
    expected = epochs[:2, :, 1:3].mean(0).ravel()
    np.testing.assert_allclose(avg.responses[0], expected, rtol=1e-5)
    assert avg.space.n_targets == avg.n_targets == 6
    with pytest.raises(ParameterError, match="no time point in"):
        crop_times(data, 1.0, 2.0)


def test_montage_gives_positions_and_an_evoked():
    _, data = make_data()
    info = data.space.create_info()
    pos = np.array([ch["loc"][:3] for ch in info["chs"]])
    assert np.all(np.abs(pos).sum(1) > 0)
    assert pos[0, 0] < 0 < pos[2, 0]  # O1 on the left, O2 on the right
    evoked = data.space.to_evoked(np.arange(12.0))
    assert evoked.data.shape == (3, 4)
    assert evoked.times[0] == pytest.approx(-0.1)


def test_volume_behaviour_is_unchanged():
    data = BrainData(np.ones((2, 3)), ["a", "b"])
    assert data.space is None
    assert "space=None" in repr(data)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ch_names": ["A", "A"], "times": [0, 1]}, "unique channel names"),
        ({"ch_names": ["A"], "times": [0, 1], "ch_types": ["eeg", "eeg"]}, "'ch_types'"),
        ({"ch_names": ["A"], "times": [0, 0.1, 0.3]}, "evenly spaced"),
        ({"ch_names": ["A"], "times": [0, 1], "columns": [[1, 0]]}, "outside"),
    ],
)
def test_space_errors_name_the_problem(kwargs, message):
    with pytest.raises(DataError, match=message):
        SensorSpace(**kwargs)


def test_wrong_epoch_shapes_are_data_errors():
    with pytest.raises(DataError, match="3-D"):
        sensor_data(np.zeros((2, 3)), [0, 1], CHANNELS, TIMES)
    with pytest.raises(DataError, match="3 channel names"):
        sensor_data(np.zeros((2, 2, 4)), [0, 1], CHANNELS, TIMES)
    with pytest.raises(ParameterError, match="'values'"):
        make_data()[1].space.to_array(np.zeros(5))
