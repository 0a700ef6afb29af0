"""One peak-latency function: planted peaks, noise, and one EEG run seen everywhere."""

import json

import numpy as np
import pandas as pd
import pytest

from brainalign.encoding import (
    decoding_peaks,
    identification_chance_level,
    peak_curve,
    peak_latencies,
    r_chance_level,
    significant_peaks,
)
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


# -- peaks only above the chance band ---------------------------------------------------
N_TEST, N_CHANNELS = 200, 17


def _noisy_grid(seed=0, planted=((slice(3, 7), 0.17, 0.6),)):
    """Held-out r per channel x time: null noise of 200 test images plus planted effects."""
    rng = np.random.default_rng(seed)
    grid = rng.standard_normal((N_CHANNELS, TIMES.size)) / np.sqrt(N_TEST - 3)
    for channels, latency, height in planted:
        grid[channels] += _bump(latency, height, width=0.03)
    return grid


def test_the_r_chance_level_is_the_family_wise_fisher_z_band():
    from scipy import stats

    z = stats.norm.isf(1 - 0.95 ** (1 / 1700)) / np.sqrt(197)
    assert r_chance_level(200, 1700) == pytest.approx(np.tanh(z)) == pytest.approx(0.278, abs=1e-3)
    assert r_chance_level(200) == pytest.approx(np.tanh(stats.norm.isf(0.05) / np.sqrt(197)))
    assert r_chance_level(200, 1700, n_averaged=4) < r_chance_level(200, 1700)
    with pytest.raises(ParameterError, match="'n_test': expected at least 4; got 3"):
        r_chance_level(3)
    with pytest.raises(ParameterError, match="'alpha'"):
        r_chance_level(200, alpha=1.5)


def test_the_band_holds_the_null_maximum_at_its_level():
    band = r_chance_level(N_TEST, N_CHANNELS * TIMES.size)
    null = [peak_latencies(peak_curve(_noisy_grid(s, ())), TIMES, chance=band) for s in range(400)]
    false = np.mean([len(found) > 0 for found in null])
    assert 0.01 < false <= 0.07  # 5 % family-wise (conservative for correlated cells)
    without = [peak_latencies(peak_curve(_noisy_grid(s, ())), TIMES) for s in range(20)]
    assert all(len(found) >= 1 for found in without)  # without a band: noise peaks, always


@pytest.mark.parametrize("seed", range(20))
def test_a_planted_effect_passes_the_band(seed):
    band = r_chance_level(N_TEST, N_CHANNELS * TIMES.size)
    curve = peak_curve(_noisy_grid(seed))
    found = peak_latencies(curve, TIMES, chance=band)
    assert min(abs(t - 0.17) for t in found) <= 0.03  # noise of 0.07 shifts the top
    assert all(abs(t - 0.17) <= 0.07 for t in found)  # only on the effect, none in the noise


def test_a_noise_maximum_below_the_band_is_not_reported():
    planted = _bump(0.17, 0.2)
    wiggle = 0.17 * (np.abs(TIMES - 0.76) < 0.005)  # 760 ms: below the band
    curve = planted + wiggle
    assert peak_latencies(curve, TIMES, height=0, prominence=0) == [0.17, 0.76]
    assert peak_latencies(curve, TIMES, height=0, prominence=0, chance=0.18) == [0.17]
    assert peak_latencies(wiggle, TIMES) == [0.76]  # without a band: the maximum, always
    assert peak_latencies(wiggle, TIMES, chance=0.18) == []
    band = np.where(TIMES > 0.5, 0.1, 0.25)  # a band per time point (NaN: no limit)
    assert peak_latencies(curve, TIMES, height=0, prominence=0, chance=band) == [0.76]
    assert peak_latencies(wiggle, TIMES, chance=np.full(TIMES.size, np.nan)) == [0.76]


def test_significant_peaks_tabulate_the_peaks_with_their_values():
    curve = _bump(0.17, 0.5) + _bump(0.3, 0.3)
    table = significant_peaks(curve, TIMES, chance=0.2)
    assert table["time"].tolist() == pytest.approx([0.17, 0.3])
    assert table["value"].tolist() == pytest.approx([0.5, 0.3], abs=1e-3)
    assert table["band"].tolist() == [0.2, 0.2]
    assert significant_peaks(curve, TIMES, chance=0.6).empty


def test_identification_chance_levels():
    from scipy import stats

    level = 1 - 0.95 ** (1 / 100)
    assert identification_chance_level("top1", 200, 100) == stats.binom.isf(level, 200, 0.005) / 200
    assert identification_chance_level("top5", 200, 100) == pytest.approx(0.07)
    sd = np.sqrt(201 / (12 * 199 * 200))
    expected = 0.5 + stats.norm.isf(level) * sd
    assert identification_chance_level("pairwise", 200, 100) == pytest.approx(expected)
    assert np.isnan(identification_chance_level("mean_r", 200, 100))


def _decoding_table(n=200, seed=0):
    """Make decoding over time: a planted 2-way effect at 180 ms, chance-level top-1 noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in TIMES:
        pairwise = 0.5 + 0.1 * np.exp(-0.5 * ((t - 0.18) / 0.03) ** 2)
        rows.append(("pairwise", t, pairwise + 0.003 * rng.standard_normal(), 0.5))
        rows.append(("top1", t, rng.binomial(n, 1 / n) / n, 1 / n))
    frame = pd.DataFrame(rows, columns=["metric", "time", "value", "chance"])
    frame.loc[(frame["metric"] == "top1") & np.isclose(frame["time"], 0.76), "value"] = (
        5 / n
    )  # = the band
    return frame.assign(n_candidates=n)


def test_decoding_peaks_only_above_the_band():
    peaks = decoding_peaks(_decoding_table()).set_index("metric")
    assert peaks.loc["pairwise", "time"] == pytest.approx(0.18)
    assert peaks.loc["pairwise", "n_above"] > 0
    assert np.isnan(peaks.loc["top1", "time"]) and peaks.loc["top1", "n_above"] == 0
    assert peaks.loc["top1", "band"] == identification_chance_level("top1", 200, TIMES.size)
    unknown = decoding_peaks(_decoding_table().drop(columns="n_candidates"))
    assert unknown.set_index("metric").loc["top1", "time"] == pytest.approx(0.76)  # no band
    own = _decoding_table().assign(significant=lambda f: f["time"].between(0.7, 0.8))
    assert decoding_peaks(own).set_index("metric").loc["top1", "time"] == pytest.approx(0.76)


def test_the_decode_printout_follows_the_same_rule(capsys):
    from brainalign.cli._decode import _print_time_resolved

    table = _decoding_table().assign(scope="time")
    epoch = pd.DataFrame({"scope": "epoch", "metric": ["pairwise", "top1"], "value": 0.6})
    _print_time_resolved(pd.concat([table, epoch]))
    out = capsys.readouterr().out
    assert "pairwise: peak 0.600 at 180 ms" in out or "pairwise: peak 0.6" in out
    assert "top1: no time window above the chance band" in out and "760 ms" not in out


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
    from brainalign.maps import peak_times
    from brainalign.maps._topomaps import _table_space
    from brainalign.report._contents import read_contents
    from brainalign.report._timeseries import eeg_section
    from brainalign.runs._figures import draw_run_figures

    draw_run_figures(eeg_run)  # the run's figures, with n_test from its record
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
    band = r_chance_level(200, scores["r"].notna().sum())
    assert peak_times(scores["r"].to_numpy(), space, chance=band) == maps_latencies  # above it
    assert f"r = {band:.2f}" in peaks["caption"]


def test_the_fit_object_reports_the_same_peaks(eeg_root):
    from brainalign.data import load_dataset
    from brainalign.encoding import time_resolved_encoding

    pytest.importorskip("torch")
    data = load_dataset("things-eeg2", root=eeg_root, subject=1)
    rng = np.random.default_rng(0)
    ids = np.unique(data.stimulus_ids)
    from brainalign.features import FeatureSet

    noise = FeatureSet(rng.standard_normal((ids.size, 8)).astype(np.float32), ids)
    fit = time_resolved_encoding(data, noise, cv=3)  # features without information
    assert fit.peak_chance() == pytest.approx(r_chance_level(200, fit.r.size))
    assert fit.peak_latencies() == []  # the noise maximum is not a peak
    assert len(fit.peak_latencies(alpha=None)) >= 1  # without a band: it would be
