"""One peak-latency function: planted peaks, noise, and one EEG run seen everywhere."""

import json

import numpy as np
import pandas as pd
import pytest

from brainalign.encoding import peak_curve, peak_latencies
from brainalign.exceptions import ParameterError

TIMES = np.round(np.arange(-0.1, 0.8, 0.01), 6)
#: Planted peaks: latency (s) -> height.
PLANTED = {0.09: 0.5, 0.18: 0.3, 0.28: 0.4}
MODEL = "torch:brainalign.data.sample:SampleNet@0"


def _bump(latency, height, width=0.015):
    return height * np.exp(-0.5 * ((TIMES - latency) / width) ** 2)


def _planted(seed=0, noise=0.01):
    rng = np.random.default_rng(seed)
    curve = sum(_bump(t, h) for t, h in PLANTED.items())
    return curve + noise * rng.standard_normal(TIMES.size)


@pytest.mark.parametrize("seed", range(5))
def test_planted_peaks_are_recovered_within_one_sample(seed):
    found = peak_latencies(_planted(seed), TIMES)
    assert len(found) == 3
    np.testing.assert_allclose(found, sorted(PLANTED), atol=0.01 + 1e-9)


def test_a_bump_below_the_prominence_is_not_a_peak():
    curve = _planted() + _bump(0.6, 0.06)  # 0.06 < 0.2 x range (about 0.5)
    assert len(peak_latencies(curve, TIMES, n_peaks=5)) == 3
    curve = _planted() + _bump(0.6, 0.2)  # the same bump, well above the threshold
    assert peak_latencies(curve, TIMES, n_peaks=5)[-1] == pytest.approx(0.6, abs=0.011)


def test_a_prominent_wiggle_on_the_baseline_is_not_a_peak():
    dips = _bump(0.55, -0.2, width=0.02) + _bump(0.7, -0.2, width=0.02)
    curve = _planted() + dips + _bump(0.625, 0.05, width=0.01)  # between two dips
    assert len(peak_latencies(curve, TIMES, n_peaks=5, height=0)) == 4  # prominent
    assert len(peak_latencies(curve, TIMES, n_peaks=5)) == 3  # but not above the baseline


def test_the_maximum_is_always_reported_and_peaks_are_apart():
    rising = np.linspace(0.0, 1.0, TIMES.size)
    assert peak_latencies(rising, TIMES) == [TIMES[-1]]  # at the edge: no local maximum
    twin = _bump(0.2, 0.5) + _bump(0.24, 0.3, width=0.005)
    assert peak_latencies(twin, TIMES) == [pytest.approx(0.2)]  # 40 ms < 50 ms apart
    assert len(peak_latencies(twin, TIMES, min_separation=0.02)) == 2
    assert peak_latencies(_planted(), TIMES, n_peaks=1) == [pytest.approx(0.09, abs=0.011)]


def test_a_series_carries_its_times_and_nan_is_ignored():
    curve = _planted()
    curve[:5] = np.nan
    assert peak_latencies(pd.Series(curve, index=TIMES)) == peak_latencies(curve, TIMES)
    assert peak_latencies(np.full(4, np.nan), TIMES[:4]) == []
    assert peak_latencies(np.zeros(4), TIMES[:4]) == [TIMES[0]]  # flat: its first maximum


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ParameterError, match="'times': expected 90 times"):
        peak_latencies(_planted(), TIMES[:10])
    with pytest.raises(ParameterError, match="'times'.*got None"):
        peak_latencies(_planted())
    with pytest.raises(ParameterError, match="'prominence'/'height'.*got 2, 0.3"):
        peak_latencies(_planted(), TIMES, prominence=2)


def test_the_channel_maximum_keeps_focal_effects_apart():
    rng = np.random.default_rng(0)
    grid = 0.07 * rng.standard_normal((17, TIMES.size))  # held-out r noise, 200 images
    grid[:3] += _bump(0.1, 0.6, width=0.025)  # occipital at 100 ms
    grid[3:7] += _bump(0.17, 0.8, width=0.03)  # lateral at 170 ms
    grid[5, 40:] = np.nan  # a channel with missing cells
    found = peak_latencies(peak_curve(grid), TIMES)  # up to 3: no third from the noise
    np.testing.assert_allclose(found, [0.1, 0.17], atol=0.01 + 1e-9)
    assert np.isnan(peak_curve(np.full((2, 3), np.nan))).all()


# -- one EEG run: the same latencies in the topomaps and in the report ----------------
@pytest.fixture(scope="module")
def eeg_root(tmp_path_factory):
    from brainalign.cli import main

    root = tmp_path_factory.getbasetemp() / "things-eeg2"  # shared with the data tests
    assert main(["sample", "things-eeg2", "--out", str(root), "-q"]) == 0
    return root


@pytest.fixture(scope="module")
def eeg_run(eeg_root, tmp_path_factory):
    from brainalign.cli import main

    out = tmp_path_factory.mktemp("run") / "eeg"
    argv = ["fit", "--dataset", "things-eeg2", "--root", str(eeg_root), "--subject", "1"]
    argv += ["--model", MODEL, "--layer", "layer6", "--out", str(out), "-q"]
    assert main(argv) == 0
    return out


@pytest.fixture
def drawn(monkeypatch):
    """Record the latencies of every topomap figure drawn (maps and report alike)."""
    import brainalign.maps
    from brainalign.maps import _topomaps

    calls = []
    real = _topomaps.plot_topomap_panels

    def spy(values, info, latencies, *args, **kwargs):
        calls.append([float(t) for t in latencies])
        return real(values, info, latencies, *args, **kwargs)

    monkeypatch.setattr(_topomaps, "plot_topomap_panels", spy)
    monkeypatch.setattr(brainalign.maps, "plot_topomap_panels", spy)
    return calls


def test_one_eeg_run_shows_the_same_latencies_everywhere(eeg_run, eeg_root, drawn):
    from brainalign.maps import peak_times, plot_run_topomaps
    from brainalign.maps._topomaps import _table_space
    from brainalign.report._contents import read_contents
    from brainalign.report._timeseries import eeg_section

    plot_run_topomaps(eeg_run)
    (maps_latencies,) = drawn
    section = eeg_section(read_contents(eeg_run))
    assert drawn[1] == maps_latencies  # the report's topomaps
    (peaks,) = [item for item in section.items if item.get("id") == "eeg-peaks"]
    shown = [float(row[0]["text"]) for row in peaks["rows"]]
    assert shown == [round(t, 3) for t in maps_latencies]  # the report's peak table
    scores = pd.read_parquet(eeg_run / "scores.parquet")
    space = _table_space(scores, None)
    assert peak_times(scores["r"].to_numpy(), space) == maps_latencies
    truth = json.loads((eeg_root / "ground_truth.json").read_text())
    planted = next(e["latency_s"] for e in truth["effects"] if e["layer"] == "layer6")
    assert min(abs(t - planted) for t in maps_latencies) <= 0.015
