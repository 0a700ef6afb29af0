import numpy as np
import pytest

from brainalign.data import SensorSpace
from brainalign.exceptions import DataError
from brainalign.maps import peak_times, plot_time_courses, plot_topomaps

CHANNELS = ["O1", "Oz", "O2", "P7", "P8", "Pz"]
TIMES = np.round(np.arange(-0.1, 0.5, 0.01), 6)


def planted_values(space):
    grid = np.zeros((space.n_channels, space.n_times))
    grid[:3] += np.exp(-0.5 * ((TIMES - 0.1) / 0.02) ** 2)  # occipital at 100 ms
    grid[3:5] += 0.8 * np.exp(-0.5 * ((TIMES - 0.3) / 0.02) ** 2)  # lateral at 300 ms
    return grid.ravel()


def test_peak_times_find_the_planted_latencies():
    space = SensorSpace(CHANNELS, TIMES, montage="standard_1005")
    assert peak_times(planted_values(space), space, n_peaks=2) == pytest.approx([0.1, 0.3])


def test_topomap_figure_has_one_panel_per_latency():
    import matplotlib.pyplot as plt

    space = SensorSpace(CHANNELS, TIMES, montage="standard_1005")
    fig = plot_topomaps(planted_values(space), space, n_peaks=2)
    assert len(fig.axes) == 3
    assert fig.axes[0].get_title() == "r at 100 ms"
    plt.close(fig)
    fig = plot_time_courses(planted_values(space), space, channels=["O1", "P7"])
    assert len(fig.axes[0].lines) == 4  # two channels + the two zero lines
    plt.close(fig)


def test_channels_without_positions_are_left_out_with_a_warning():
    space = SensorSpace([*CHANNELS, "AUX"], TIMES, montage="standard_1005")
    values = np.concatenate([planted_values(SensorSpace(CHANNELS, TIMES)), np.ones(TIMES.size)])
    with pytest.warns(UserWarning, match=r"without a position.*AUX"):
        fig = plot_topomaps(values, space, times=[0.1])
    import matplotlib.pyplot as plt

    plt.close(fig)
    with pytest.raises(DataError, match="at least 3 channels with positions"):
        plot_topomaps(np.ones(2 * TIMES.size), SensorSpace(["A", "B"], TIMES))
