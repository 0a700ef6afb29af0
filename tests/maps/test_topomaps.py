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


def test_peak_times_are_those_of_the_channel_maximum():
    from brainalign.encoding import peak_curve, peak_latencies

    space = SensorSpace(CHANNELS, TIMES)
    values = planted_values(space)
    curve = peak_curve(space.to_array(values))
    np.testing.assert_array_equal(curve, space.to_array(values).max(0))
    assert peak_times(values, space) == peak_latencies(curve, TIMES)


def test_channels_are_placed_without_regard_to_case():
    from brainalign.data._sensors import place_channels

    info, placed = place_channels(["o1", "OZ", "XYZ1", "cz", "Oz"])
    assert placed == info.ch_names == ["o1", "cz", "Oz"]  # "OZ" would duplicate "Oz"
    reference, _ = place_channels(["O1", "Cz", "Oz"])
    for ours, theirs in zip(info["chs"], reference["chs"], strict=True):
        np.testing.assert_allclose(ours["loc"][:3], theirs["loc"][:3])
    positions = np.full((3, 3), np.nan)
    positions[1] = [0.01, 0.02, 0.03]
    info, placed = place_channels(["oz", "X", "Y"], positions=positions)
    assert placed == ["oz", "X"]
    np.testing.assert_allclose(info["chs"][1]["loc"][:3], positions[1])
    assert place_channels(["oz", "X", "Y"], montage=None, positions=positions)[1] == ["X"]
    info, placed = place_channels(["TP9", "AUX"], montage="standard_1020")
    assert placed == ["TP9"]


def test_topomaps_place_lower_case_names_like_the_report():
    space = SensorSpace([c.lower() for c in CHANNELS], TIMES, montage="standard_1005")
    fig = plot_topomaps(planted_values(space), space, times=[0.1])
    assert fig.axes[0].get_title() == "Held-out r at 100 ms"


def test_topomap_figure_has_one_panel_per_latency():
    import matplotlib.pyplot as plt

    space = SensorSpace(CHANNELS, TIMES, montage="standard_1005")
    fig = plot_topomaps(planted_values(space), space, n_peaks=2)
    assert len(fig.axes) == 3
    assert fig.axes[0].get_title() == "Held-out r at 100 ms"
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


# -- readable topomaps: values only inside the sensors, in words, with units ----------
def _rendered(fig):
    """Return the figure's RGB pixels as saved (origin top left) at its own dpi."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=int)


def _sensor_positions(channels):
    """Return where MNE places the channels on a topomap (its own 2-D layout and sphere)."""
    from mne.channels.layout import _find_topomap_coords

    from brainalign.data._sensors import place_channels

    info, _ = place_channels(channels, "standard_1005")
    return _find_topomap_coords(info, picks=None, sphere=None)[:, :2]


def _coloured_outside_hull(fig, positions, margin=3.0):
    """Count coloured (not grey) pixels inside each topomap's axes but outside the hull."""
    from matplotlib.path import Path
    from scipy.spatial import ConvexHull

    pixels = _rendered(fig)
    height = pixels.shape[0]
    coloured = pixels.max(axis=2) - pixels.min(axis=2) > 40  # grey, black, white: not
    counts = []
    for ax in fig.axes[:-1]:  # the panels, not the colour bar
        corners = ax.transData.transform(positions[ConvexHull(positions).vertices])
        hull = Path(np.column_stack([corners[:, 0], height - corners[:, 1]]))
        x0, y0, x1, y1 = ax.get_window_extent().extents
        ys, xs = np.mgrid[int(height - y1) : int(height - y0), int(x0) : int(x1)]
        points = np.column_stack([xs.ravel() + 0.5, ys.ravel() + 0.5])
        inside = hull.contains_points(points, radius=margin) | hull.contains_points(
            points, radius=-margin
        )
        counts.append(int((coloured[ys.ravel(), xs.ravel()] & ~inside).sum()))
    return counts


def test_topomap_values_stay_inside_the_sensor_hull():
    import matplotlib.pyplot as plt

    channels = ["O1", "Oz", "O2", "P7", "P8", "Pz", "PO7", "PO8", "P3", "P4"]
    space = SensorSpace(channels, TIMES, montage="standard_1005")
    grid = np.ones((len(channels), TIMES.size))  # strong everywhere: any spill shows
    grid[::2] = -1.0
    fig = plot_topomaps(grid.ravel(), space, times=[0.1, 0.2])
    positions = _sensor_positions(channels)
    for ax in fig.axes[:-1]:  # the sensors are marked where MNE interpolates from
        (markers,) = [line for line in ax.lines if line.get_marker() == "o"]
        np.testing.assert_allclose(np.column_stack(markers.get_data()), positions)
    assert _coloured_outside_hull(fig, positions) == [0, 0]
    assert _rendered(fig).max(axis=2).std() > 0  # and something was drawn
    plt.close(fig)


def test_topomaps_are_titled_in_words_with_units():
    space = SensorSpace(CHANNELS, TIMES, montage="standard_1005")
    title = "SampleNet@0 layer6, subject 1"
    fig = plot_topomaps(planted_values(space), space, times=[0.18], title=title)
    assert fig.axes[0].get_title() == "Held-out r at 180 ms"
    assert fig.axes[-1].get_ylabel() == "r (Pearson, test images)"  # the colour bar
    assert fig.get_suptitle() == title


def test_peak_times_skip_a_noise_maximum_below_the_band():
    space = SensorSpace(CHANNELS, TIMES, montage="standard_1005")
    values = planted_values(space) * 0.2  # effects of r = 0.2 (occipital) and 0.16
    assert peak_times(values, space) == pytest.approx([0.1, 0.3])
    assert peak_times(values, space, chance=0.18) == pytest.approx([0.1])
    assert peak_times(values, space, chance=0.25) == []
    with pytest.raises(Exception, match="at least one latency"):
        plot_topomaps(values, space, chance=0.25)
