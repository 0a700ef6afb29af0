"""Sections of decoding results and time-resolved (EEG) encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainalign.report import _plots
from brainalign.report._items import Section, figure, table, varying, with_keys

#: Peak latencies given a topomap.
N_PEAKS = 3
#: A local maximum counts as a peak when it stands out by this fraction of the curve's range.
PEAK_PROMINENCE = 0.2


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
        frame["above_chance"] = frame["value"].astype(float) - frame["chance"].astype(float)
    return frame


_DECODING_VALUES = [
    ("value", "value", 3),
    ("chance", "chance", 3),
    ("above_chance", "value − chance", 3),
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
        "beside their chance level.",
    )
    if (~timed).any():
        section.items += _static_items(frame[~timed])
    if timed.any():
        section.items += _timed_items(frame[timed])
    return section


def peak_latencies(curve: pd.Series, n: int = N_PEAKS) -> list[float]:
    """Find the latencies of the highest peaks of a curve (its maximum always among them).

    Parameters
    ----------
    curve : pandas.Series
        Values indexed by time, in time order.
    n : int
        Most peaks returned.

    Returns
    -------
    list of float
        Peak times, in time order.
    """
    from scipy.signal import find_peaks

    values = curve.to_numpy(dtype=float)
    if not np.isfinite(values).any():
        return []
    values = np.where(np.isfinite(values), values, np.nanmin(values))
    span = float(values.max() - values.min())
    found, _ = find_peaks(values, prominence=PEAK_PROMINENCE * span if span > 0 else None)
    candidates = set(found.tolist()) | {int(np.argmax(values))}
    best = sorted(candidates, key=lambda i: values[i], reverse=True)[:n]
    return sorted(float(curve.index[i]) for i in best)


def sensor_info(channels):
    """MNE ``Info`` with 10-20 positions for the channels that have one.

    Parameters
    ----------
    channels : sequence of str
        Channel names (matched to the montage without regard to case).

    Returns
    -------
    info : mne.Info or None
        The placed channels (montage spelling), or ``None`` when fewer than 3 are placed.
    placed : list of str
        The run's names of the placed channels, in ``info`` order.
    """
    import mne

    builtin = mne.channels.get_builtin_montages()
    name = "colin27_1020" if "colin27_1020" in builtin else "standard_1020"  # renamed in MNE 1.13
    montage = mne.channels.make_standard_montage(name)
    lookup = {ch.lower(): ch for ch in montage.ch_names}
    placed = {}
    for channel in channels:
        match = lookup.get(str(channel).lower())
        if match is not None and match not in placed.values():
            placed[channel] = match
    if len(placed) < 3:
        return None, list(placed)
    info = mne.create_info(list(placed.values()), sfreq=1000.0, ch_types="eeg", verbose=False)
    info.set_montage(montage, verbose=False)
    return info, list(placed)


def _topomap_items(per_channel: pd.DataFrame, peaks, section: Section) -> None:
    if not peaks:
        section.notes.append("No topomaps: r is not finite at any time point.")
        return
    channels = list(per_channel.columns)
    info, placed = sensor_info(channels)
    unplaced = [str(c) for c in channels if c not in placed]
    if info is None:
        section.notes.append(
            f"No topomaps: only {len(placed)} of {len(channels)} channels have a standard "
            f"10-20 position (at least 3 are needed)."
        )
        return
    if unplaced:
        section.notes.append(f"Left out of the topomaps (no 10-20 position): {', '.join(unplaced)}")
    values = np.stack([per_channel.loc[t, placed].to_numpy(dtype=float) for t in peaks])
    fig = _plots.topomaps(values, info, peaks)
    caption = "Topomaps of r at the peak latencies."
    section.items.append(figure(_plots.figure_uri(fig), caption, "eeg-topomaps"))


def _peak_table(mean: pd.Series, per_channel: pd.DataFrame, peaks, caption: str) -> dict:
    rows = pd.DataFrame(
        {
            "time": peaks,
            "mean_r": [mean.loc[t] for t in peaks],
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


def eeg_section(contents) -> Section | None:
    """Show EEG runs: r(t) per channel and its mean, peak latencies, topomaps at the peaks.

    With several models or layers, the channels and topomaps are those of the one whose
    channel-mean r peaks highest; every one's mean curve is drawn.
    """
    if contents.eeg_scores is None or contents.eeg_scores.empty:
        return None
    frame = with_keys(contents.eeg_scores)
    groups = frame.groupby(["model", "layer"], sort=False)
    means = {key: part.groupby("time")["r"].mean() for key, part in groups}
    best = max(means, key=lambda key: _highest(means[key]))
    per_channel = groups.get_group(best).pivot_table(
        index="time", columns="channel", values="r", sort=False
    )
    per_channel = per_channel.sort_index()
    peaks = peak_latencies(means[best])
    labels = {key: " ".join(filter(None, (_plots.short_model(key[0]), key[1]))) for key in means}
    section = Section(
        "eeg",
        "Time-resolved encoding (EEG)",
        "Held-out correlation per channel and time point (grey: channels; bold: their mean).",
    )
    curves = {labels[key] or "channels": curve for key, curve in means.items()}
    fig = _plots.r_over_time(per_channel, curves, peaks)
    section.items.append(figure(_plots.figure_uri(fig), "r(t)", "eeg-curves"))
    caption = f"Peaks ({labels[best] or 'r'})"
    section.items.append(_peak_table(means[best], per_channel, peaks, caption))
    _topomap_items(per_channel, peaks, section)
    return section
