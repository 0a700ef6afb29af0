"""Sections of decoding results and time-resolved (EEG) encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainalign.report import _plots
from brainalign.report._items import Section, figure, table, varying, with_keys


def _labelled(decoding: pd.DataFrame) -> pd.DataFrame:
    """Add a ``label`` column: the ROI, plus subject/model/layer when they vary."""
    frame = with_keys(decoding)
    if "roi" not in frame.columns:  # e.g. EEG: all channels together
        frame["roi"] = "all"
    label = frame["roi"].astype(str)
    for column in varying(frame):
        label = label + " · " + frame[column]
    frame["label"] = label
    if "chance" in frame.columns:
        gain = frame["value"].astype(float) - frame["chance"].astype(float)
        lower_is_better = frame["metric"].astype(str).str.contains("rank")
        frame["above_chance"] = gain.where(~lower_is_better, -gain)
    return frame


_DECODING_VALUES = [
    ("value", "value", 3),
    ("chance", "chance", 3),
    ("above_chance", "better than chance by", 3),
]


def _static_items(frame: pd.DataFrame) -> list:
    columns = [(c, c, 0) for c in varying(frame)] + [("roi", "ROI", 0), ("metric", "metric", 0)]
    items = [table(frame, columns + _DECODING_VALUES, "decoding-table", "Decoding scores")]
    means = frame.groupby(["label", "metric"], sort=False)[["value"]].mean()
    if "chance" in frame.columns:
        means["chance"] = frame.groupby(["label", "metric"], sort=False)["chance"].mean()
    fig = _plots.decoding_bars(means.reset_index())
    caption = "Decoding scores; black marks: chance."
    items.append(figure(_plots.figure_uri(fig), caption, "decoding-bars"))
    return items


def _timed_items(frame: pd.DataFrame) -> list:
    keys = ["label", "metric"]
    ranked = frame.sort_values("value", ascending=False, kind="stable")
    peaks = ranked.drop_duplicates(keys).sort_values(keys, kind="stable")
    columns = [("label", "ROI", 0), ("metric", "metric", 0), ("time", "peak time (s)", 3)]
    items = [table(peaks, columns + _DECODING_VALUES, "decoding-peaks", "Peak over time")]
    agg = {"value": "mean"} | ({"chance": "mean"} if "chance" in frame.columns else {})
    curves = frame.groupby(keys + ["time"], sort=False).agg(agg).reset_index()
    fig = _plots.decoding_over_time(curves)
    caption = "Decoding (identification accuracy) over time; dashed: chance."
    items.append(figure(_plots.figure_uri(fig), caption, "decoding-time"))
    return items


def decoding_section(contents) -> Section | None:
    """Show decoding scores per ROI and metric beside chance; over time when timed."""
    if contents.decoding is None or contents.decoding.empty:
        return None
    frame = _labelled(contents.decoding)
    timed = frame["time"].notna() if "time" in frame.columns else pd.Series(False, frame.index)
    section = Section(
        "decoding",
        "Decoding",
        "Brain responses decoded into model space: identification accuracy and other metrics "
        "beside their chance level. Chance is what a decoder without information scores "
        "on these test images: the expected value of the metric under the null (1 / n "
        "images for top-1, 5 / n for top-5, 0.5 for 2-way identification) and, for a "
        "median rank, the median of the null distribution. 'Better than chance by' is "
        "value − chance, or chance − value for ranks (where lower is better).",
    )
    if (~timed).any():
        section.items += _static_items(frame[~timed])
    if timed.any():
        section.items += _timed_items(frame[timed])
    return section


def _topomap_items(per_channel: pd.DataFrame, peaks, section: Section) -> None:
    from brainalign.data._sensors import DEFAULT_MONTAGE, place_channels
    from brainalign.maps import plot_topomap_panels

    if not peaks:
        section.notes.append("No topomaps: r is not finite at any time point.")
        return
    channels = [str(c) for c in per_channel.columns]
    info, placed = place_channels(channels, DEFAULT_MONTAGE)
    unplaced = [c for c in channels if c not in placed]
    if len(placed) < 3:
        section.notes.append(
            f"No topomaps: only {len(placed)} of {len(channels)} channels have a position in "
            f"the {DEFAULT_MONTAGE} montage (at least 3 are needed)."
        )
        return
    if unplaced:
        section.notes.append(
            f"Left out of the topomaps (no {DEFAULT_MONTAGE} position): {', '.join(unplaced)}"
        )
    grid = per_channel.set_axis(channels, axis=1)
    values = np.stack([grid.loc[t, placed].to_numpy(dtype=float) for t in peaks])
    fig = plot_topomap_panels(values, info, peaks)
    caption = "Topomaps of r at the peak latencies (those of the table)."
    section.items.append(figure(_plots.figure_uri(fig), caption, "eeg-topomaps"))


def _peak_table(per_channel: pd.DataFrame, peaks, caption: str) -> dict:
    rows = pd.DataFrame(
        {
            "time": peaks,
            "mean_r": [per_channel.loc[t].mean() for t in peaks],
            "channel": [per_channel.loc[t].idxmax() for t in peaks],
            "channel_r": [per_channel.loc[t].max() for t in peaks],
        }
    )
    columns = [
        ("time", "latency (s)", 3),
        ("mean_r", "mean r", 3),
        ("channel", "best channel", 0),
        ("channel_r", "its r", 3),
    ]
    return table(rows, columns, "eeg-peaks", caption)


def _highest(curve: pd.Series) -> float:
    return float(np.nanmax(np.append(curve.to_numpy(dtype=float), -np.inf)))


def channel_grid(part: pd.DataFrame) -> pd.DataFrame:
    """Tabulate r per time (rows, in order) and channel (columns, file order), over subjects.

    Parameters
    ----------
    part : pandas.DataFrame
        Score rows (``channel, time, r``) of one model and layer.

    Returns
    -------
    pandas.DataFrame
        Mean r over subjects, indexed by time.
    """
    grid = part.pivot_table(index="time", columns="channel", values="r", aggfunc="mean")
    return grid.reindex(columns=pd.unique(part["channel"])).sort_index()


def _peak_curve(grid: pd.DataFrame) -> pd.Series:
    from brainalign.encoding import peak_curve

    return pd.Series(peak_curve(grid.to_numpy(dtype=float).T), index=grid.index)


def eeg_section(contents) -> Section | None:
    """Show EEG runs: r(t) per channel and its maximum, peak latencies, topomaps at the peaks.

    The peaks are those of the maximum r over channels (:func:`brainalign.encoding.peak_curve`
    and :func:`~brainalign.encoding.peak_latencies`), as in the run's own topomaps. With
    several models or layers, the channels and topomaps are those of the one whose
    curve peaks highest; every one's curve is drawn.
    """
    from brainalign.encoding import peak_latencies

    if contents.eeg_scores is None or contents.eeg_scores.empty:
        return None
    frame = with_keys(contents.eeg_scores)
    groups = frame.groupby(["model", "layer"], sort=False)
    grids = {key: channel_grid(part) for key, part in groups}
    curves = {key: _peak_curve(grid) for key, grid in grids.items()}
    best = max(curves, key=lambda key: _highest(curves[key]))
    per_channel = grids[best]
    peaks = peak_latencies(curves[best])
    labels = {key: " ".join(filter(None, (_plots.short_model(key[0]), key[1]))) for key in curves}
    section = Section(
        "eeg",
        "Time-resolved encoding (EEG)",
        "Held-out correlation per channel and time point (grey: channels; bold: their "
        "maximum, whose peaks are marked and tabled).",
    )
    named = {labels[key] or "channels": curve for key, curve in curves.items()}
    fig = _plots.r_over_time(per_channel, named, peaks)
    section.items.append(figure(_plots.figure_uri(fig), "r(t)", "eeg-curves"))
    caption = f"Peaks of the highest r over channels ({labels[best] or 'r'})"
    section.items.append(_peak_table(per_channel, peaks, caption))
    _topomap_items(per_channel, peaks, section)
    return section
