"""Sections of decoding results and time-resolved (EEG) encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainalign.report import _plots
from brainalign.report._items import Section, figure, table, varying, with_keys


def _labelled(decoding: pd.DataFrame) -> pd.DataFrame:
    """Add a ``label`` column: the ROI, plus subject/model (display name)/layer when they vary."""
    frame = with_keys(decoding)
    frame["model"] = frame["model"].map(lambda m: _plots.short_model(m) if m else m)
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


def _summary_table(frame: pd.DataFrame) -> dict:
    """One row per label (ROI): each metric's value, its chance in the header (or a column)."""
    wide = frame.pivot_table(index="label", columns="metric", values="value", sort=False)
    columns = [("label", "ROI", 0)]
    chance = None
    if "chance" in frame.columns:
        chance = frame.pivot_table(index="label", columns="metric", values="chance", sort=False)
    for metric in wide.columns:
        levels = chance[metric].dropna().unique() if chance is not None else []
        header = f"{metric} (chance {levels[0]:.3f})" if len(levels) == 1 else str(metric)
        columns.append((metric, header, 3))
        if len(levels) > 1:  # e.g. caption retrieval: a chance per decoder
            wide[f"{metric} chance"] = chance[metric]
            columns.append((f"{metric} chance", f"{metric} chance", 3))
    caption = "Decoding scores per ROI (summary; the full table is below)"
    return table(wide.reset_index(), columns, "decoding-summary", caption)


def _static_items(frame: pd.DataFrame) -> list:
    columns = [(c, c, 0) for c in varying(frame)] + [("roi", "ROI", 0), ("metric", "metric", 0)]
    values = list(_DECODING_VALUES)
    if "chance_high" in frame.columns and frame["chance_high"].notna().any():
        values[2:2] = [("chance_high", "95 % band (shuffled stimuli)", 3), ("p_fwe", "p", 3)]
    full = table(frame, columns + values, "decoding-table", "Decoding scores", None)
    items = [_summary_table(frame), full] if full["collapsed"] else [full]
    means = frame.groupby(["label", "metric"], sort=False)[["value"]].mean()
    if "chance" in frame.columns:
        means["chance"] = frame.groupby(["label", "metric"], sort=False)["chance"].mean()
    fig = _plots.decoding_bars(means.reset_index())
    caption = "Decoding scores; black marks: chance."
    items.append(figure(_plots.figure_uri(fig), caption, "decoding-bars"))
    return items


def _record_n_test(contents) -> int | None:
    """Test stimuli of the run (``run.json`` → ``data`` → ``n_test``), None if unknown."""
    data = (contents.record or {}).get("data") or {}
    n_test = data.get("n_test") if isinstance(data, dict) else None
    return int(n_test) if isinstance(n_test, (int, float)) and n_test >= 4 else None


def _timed_items(frame: pd.DataFrame, n_test, caption: str | None = None) -> list:
    from brainalign.encoding import decoding_peaks

    keys = ["label", "metric"]
    peaks = decoding_peaks(frame, keys, n_candidates=n_test)
    peaks["above_chance"] = peaks["value"] - peaks["chance"]
    columns = [("label", "ROI", 0), ("metric", "metric", 0), ("time", "peak time (s)", 3)]
    columns += _DECODING_VALUES[:2] + [("band", "95 % family-wise band", 3)]
    columns += [("n_above", "windows above the band", 0), _DECODING_VALUES[2]]
    caption = caption or (
        "Decoding peaks over time: the time window where the decoding score is highest "
        "among the windows above its 95 % family-wise chance band (the 95th percentile of "
        "the highest score over the windows when the test stimuli are shuffled, from the "
        "decode run; for older runs an approximation: binomial for top-k, normal for 2-way, "
        "Šidák over the windows); '–' where no window "
        "is above it, or no band where the metric's null is not known (then the highest "
        "window). Not the encoding peaks of the EEG section: those are latencies of the "
        "highest r over channels of an encoding model."
    )
    items = [table(peaks, columns, "decoding-peaks", caption)]
    agg = {"value": "mean"} | ({"chance": "mean"} if "chance" in frame.columns else {})
    curves = frame.groupby(keys + ["time"], sort=False).agg(agg).reset_index()
    bands = peaks.groupby("metric")["band"].max().to_dict()
    fig = _plots.decoding_over_time(curves, bands)
    caption = "Decoding over time; dashed: chance; dotted: its 95 % family-wise band."
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
        section.items += _timed_items(frame[timed], _record_n_test(contents))
    return section


def _topomap_items(per_channel: pd.DataFrame, peaks, section: Section, title: str) -> None:
    from brainalign.data._sensors import DEFAULT_MONTAGE, place_channels
    from brainalign.maps import plot_topomap_panels

    if not peaks:
        section.notes.append("No topomaps: no latency where the highest r is above chance.")
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
    fig = plot_topomap_panels(values, info, peaks, "r", title=title)
    caption = "Topomaps of r at the encoding peak latencies (those of the table)."
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


def _chance(contents, grid: pd.DataFrame, part: pd.DataFrame):
    """Family-wise chance level of the grid's peak curve, None without ``n_test``."""
    from brainalign.encoding import r_chance_level

    n_test = _record_n_test(contents)
    if n_test is None:
        return None
    n_cells = int(np.isfinite(grid.to_numpy(dtype=float)).sum())
    n_subjects = part["subject"].nunique() if "subject" in part else 1
    return r_chance_level(n_test, max(1, n_cells), n_averaged=max(1, n_subjects))


def _peaks_caption(label: str, chance, grid: pd.DataFrame) -> str:
    head = f"Encoding peaks of {label}: latencies of the peaks of the highest r over channels"
    if chance is None:
        return head + " (no chance band: the run record gives no number of test images)."
    n_channels, n_times = grid.shape[1], grid.shape[0]
    return (
        f"{head}, only where it exceeds its 95 % family-wise chance level r = {chance:.2f} "
        f"(Fisher z, Šidák over {n_channels} channels × {n_times} times)."
    )


def eeg_section(contents) -> Section | None:
    """Show EEG runs: r(t) per channel and its maximum, peak latencies, topomaps at the peaks.

    The peaks are those of the maximum r over channels (:func:`brainalign.encoding.peak_curve`
    and :func:`~brainalign.encoding.peak_latencies`) above its family-wise chance level
    (:func:`~brainalign.encoding.r_chance_level`, from the record's ``n_test``), as in the
    run's own topomaps. With several models or layers, the channels and topomaps are those
    of the one whose curve peaks highest; every one's curve is drawn.
    """
    from brainalign.encoding import peak_latencies

    if contents.eeg_scores is None or contents.eeg_scores.empty:
        return None
    frame = with_keys(contents.eeg_scores)
    groups = dict(list(frame.groupby(["model", "layer"], sort=False)))
    grids = {key: channel_grid(part) for key, part in groups.items()}
    curves = {key: _peak_curve(grid) for key, grid in grids.items()}
    best = max(curves, key=lambda key: _highest(curves[key]))
    per_channel = grids[best]
    chance = _chance(contents, per_channel, groups[best])
    peaks = peak_latencies(curves[best], chance=chance)
    labels = {key: " ".join(filter(None, (_plots.short_model(key[0]), key[1]))) for key in curves}
    section = Section(
        "eeg",
        "Time-resolved encoding (EEG)",
        "Encoding: held-out correlation between the model's predicted and the measured "
        "response per channel and time point (grey: channels; bold: their maximum, whose "
        "peaks above chance are marked and tabled; dashed: its chance level).",
    )
    named = {labels[key] or "channels": curve for key, curve in curves.items()}
    fig = _plots.r_over_time(per_channel, named, peaks, chance)
    caption = "Held-out r over time" + (f" ({labels[best]})" if labels[best] else "")
    section.items.append(figure(_plots.figure_uri(fig), caption, "eeg-curves"))
    label = labels[best] or "r"
    section.items.append(
        _peak_table(per_channel, peaks, _peaks_caption(label, chance, grids[best]))
    )
    if not peaks and chance is not None:
        section.notes.append(f"No encoding peak: the highest r never exceeds {chance:.2f}.")
    _topomap_items(per_channel, peaks, section, label)
    return section
