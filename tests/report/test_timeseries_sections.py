"""EEG and decoding sections: peaks above chance, display names, long tables folded."""

import re

import numpy as np
import pandas as pd
import pytest

HASHED = "torch:brainalign.data.sample:SampleNet@state:" + "fc60b5aa72f3" + "0" * 52
METRICS = (("mean_r", 0.0), ("top1", 0.01), ("top5", 0.05), ("pairwise", 0.5))


def _eeg_with_a_noise_bump(builder, n_test=100):
    """Planted effect at 170 ms; a one-channel bump of r = 0.2 at 450 ms, below the band."""
    builder.record()  # n_test 100
    frame = builder.eeg_scores(peak=0.17)
    bump = frame["channel"].eq("Fz")
    frame.loc[bump, "r"] += 0.2 * np.exp(-(((frame.loc[bump, "time"] - 0.45) / 0.02) ** 2))
    frame.to_parquet(builder.path / "scores.parquet")
    return frame


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}">')
    return html[start : html.index("</section>", start)]


def test_encoding_peaks_are_those_above_the_family_wise_band(builder, render):
    from brainalign.encoding import peak_latencies, r_chance_level

    frame = _eeg_with_a_noise_bump(builder)
    curve = frame.groupby("time")["r"].max()
    assert peak_latencies(curve) == pytest.approx([0.17, 0.45])  # without a band
    html, page = render(builder.path)
    band = r_chance_level(100, frame["r"].notna().sum())  # 7 channels x 60 times
    assert peak_latencies(curve, chance=band) == pytest.approx([0.17])
    assert [r["latency (s)"] for r in page.rows("eeg-peaks")] == ["0.170"]
    assert f"95 % family-wise chance level r = {band:.2f}" in html
    assert "Šidák over 7 channels × 60 times" in html
    assert {"eeg-curves", "eeg-topomaps"} <= page.ids


def test_no_band_without_a_record_and_no_peak_below_it(builder, render):
    frame = _eeg_with_a_noise_bump(builder)
    (builder.path / "run.json").unlink()
    html, page = render(builder.path)
    assert [r["latency (s)"] for r in page.rows("eeg-peaks")] == ["0.170", "0.450"]
    assert "no chance band: the run record gives no number of test images" in html
    builder.record()
    frame.assign(r=frame["r"] * 0.3).to_parquet(builder.path / "scores.parquet")  # all weak
    html, page = render(builder.path)
    assert page.rows("eeg-peaks") == [] and "eeg-topomaps" not in page.ids
    assert "No encoding peak: the highest r never exceeds" in html
    assert "No topomaps: no latency where the highest r is above chance." in html


def test_the_r_over_time_figure_draws_the_band():
    from brainalign.report import _plots

    times = np.round(np.arange(-0.1, 0.5, 0.01), 3)
    grid = pd.DataFrame({"Oz": np.sin(times)}, index=times)
    fig = _plots.r_over_time(grid, {"m": grid["Oz"]}, [0.2], chance=0.31)
    (line,) = [ln for ln in fig.axes[0].lines if "chance level" in ln.get_label()]
    assert set(line.get_ydata()) == {0.31} and "r = 0.31" in line.get_label()


def test_the_eeg_section_names_the_model_without_its_hash(builder, render):
    frame = builder.eeg_scores()
    frame.assign(model=HASHED).to_parquet(builder.path / "scores.parquet")
    html, _ = render(builder.path)
    eeg = _section(html, "eeg")
    assert "SampleNet@state:fc60b5aa layer6" in eeg
    assert "fc60b5aa72f3" not in eeg  # headings, captions, alt texts: no full hash


def _long_decoding(builder, n_rois=21):
    rows = [
        (f"ROI{k:02d}", metric, chance + 0.01 * k, chance)
        for k in range(n_rois)
        for metric, chance in METRICS
    ]
    frame = pd.DataFrame(rows, columns=["roi", "metric", "value", "chance"])
    frame.to_parquet(builder.path / "decoding.parquet", index=False)
    return frame


def test_a_long_decoding_table_is_summarised_and_folded(builder, render):
    _long_decoding(builder)
    html, page = render(builder.path)
    summary = page.rows("decoding-summary")
    assert len(summary) == 21 and list(summary[0]) == [
        "ROI",
        "mean_r (chance 0.000)",
        "top1 (chance 0.010)",
        "top5 (chance 0.050)",
        "pairwise (chance 0.500)",
    ]
    assert summary[3]["ROI"] == "ROI03" and summary[3]["pairwise (chance 0.500)"] == "0.530"
    assert len(page.rows("decoding-table")) == 84  # all of it, folded
    folded = re.search(r'<details class="long-table"><summary>([^<]*)</summary>(.*?)</details>',
                       html, re.S)  # fmt: skip
    assert folded.group(1) == "Decoding scores (84 rows)"
    assert 'id="decoding-table"' in folded.group(2) and 'class="sortable"' in folded.group(2)
    assert "decoding-summary" not in folded.group(2)  # the summary stays open


def test_a_short_decoding_table_is_shown_open(builder, render):
    builder.decoding()
    html, page = render(builder.path)
    assert "decoding-summary" not in page.ids and '<details class="long-table">' not in html
    assert len(page.rows("decoding-table")) == 4


def test_a_chance_that_varies_by_roi_gets_its_own_column(builder, render):
    frame = _long_decoding(builder)
    frame.loc[frame["metric"] == "top5", "chance"] += 0.001 * np.arange(21)
    frame.to_parquet(builder.path / "decoding.parquet", index=False)
    _, page = render(builder.path)
    row = page.rows("decoding-summary")[2]
    assert row["top5"] == "0.070" and row["top5 chance"] == "0.052"


def test_table_items_fold_when_asked_or_long():
    from brainalign.report._items import LONG_TABLE_ROWS, table

    frame = pd.DataFrame({"x": np.arange(LONG_TABLE_ROWS + 1)})
    assert table(frame, [("x", "x", 0)], "t")["collapsed"] is False  # the default: open
    assert table(frame, [("x", "x", 0)], "t", collapsed=None)["collapsed"] is True
    assert (
        table(frame.head(LONG_TABLE_ROWS), [("x", "x", 0)], "t", collapsed=None)["collapsed"]
        is False
    )
    assert table(frame.head(2), [("x", "x", 0)], "t", collapsed=True)["collapsed"] is True


def test_decoding_peaks_over_time_are_only_those_above_the_band(builder, render):
    from brainalign.encoding import identification_chance_level

    times = np.round(np.arange(-0.2, 0.8, 0.01), 3)
    rng = np.random.default_rng(0)
    pairwise = 0.5 + 0.1 * np.exp(-0.5 * ((times - 0.18) / 0.03) ** 2)
    top1 = rng.binomial(200, 1 / 200, times.size) / 200
    top1[np.isclose(times, 0.76)] = 0.02  # the largest, but below the band (0.03)
    rows = [("pairwise", t, v, 0.5) for t, v in zip(times, pairwise, strict=True)]
    rows += [("top1", t, v, 1 / 200) for t, v in zip(times, top1, strict=True)]
    frame = pd.DataFrame(rows, columns=["metric", "time", "value", "chance"])
    frame.assign(n_candidates=200, roi="all").to_parquet(builder.path / "decoding.parquet")
    html, page = render(builder.path)
    peaks = {r["metric"]: r for r in page.rows("decoding-peaks")}
    assert peaks["pairwise"]["peak time (s)"] == "0.180"
    assert peaks["top1"]["peak time (s)"] == "–" and peaks["top1"]["windows above the band"] == "0"
    band = identification_chance_level("top1", 200, times.size)
    assert peaks["top1"]["95 % family-wise band"] == f"{band:.3f}"
    assert "Not the encoding peaks of the EEG section" in html


def test_decoding_names_models_by_their_display_name(builder, render):
    frame = _long_decoding(builder, n_rois=3)
    other = frame.assign(model="open_clip:ViT-B-32@random")
    pd.concat([frame.assign(model=HASHED), other]).to_parquet(builder.path / "decoding.parquet")
    html, page = render(builder.path)
    labels = {r["ROI"] for r in page.rows("decoding-summary")}
    assert "ROI00 · SampleNet@state:fc60b5aa" in labels
    assert "fc60b5aa72f3" not in _section(html, "decoding")
