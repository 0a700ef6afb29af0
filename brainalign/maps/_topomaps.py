"""Topomaps and time courses of time-resolved scores (sensor space, MNE + matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainalign._utils import atomic_path, warn
from brainalign.data._sensors import DEFAULT_MONTAGE, place_channels
from brainalign.exceptions import DataError, ParameterError


def peak_times(values, space, **options) -> list[float]:
    """Peak latencies of the maximum of ``values`` over channels.

    A thin wrapper of :func:`brainalign.encoding.peak_latencies` on
    :func:`brainalign.encoding.peak_curve`: the latencies the report shows too.

    Parameters
    ----------
    values : array-like of shape (n_targets,)
        One value per column of ``space`` (e.g. r).
    space : SensorSpace
        The columns' channels and times.
    **options
        ``n_peaks``, ``prominence``, ``height``, ``min_separation`` of
        :func:`~brainalign.encoding.peak_latencies` (its defaults otherwise).

    Returns
    -------
    list of float
        Latencies in seconds, sorted in time.
    """
    from brainalign.encoding import peak_curve, peak_latencies

    curve = peak_curve(space.to_array(np.asarray(values, dtype=np.float64)))
    return peak_latencies(curve, space.times, **options)


def _placed_rows(space, grid) -> tuple[object, list[int]]:
    """Channels with a position and a value: their mne.Info and their rows of ``grid``."""
    import mne

    info, placed = place_channels(space.ch_names, space.montage, space.positions, space.ch_types)
    rows = [space.ch_names.index(name) for name in placed]
    usable = [j for j, row in enumerate(rows) if np.isfinite(grid[row]).any()]
    if len(usable) < 3:
        raise DataError(
            f"A topomap needs at least 3 channels with positions; {len(usable)} of "
            f"{space.n_channels} have one (set a montage on the data)."
        )
    if len(usable) < space.n_channels:
        kept = {placed[j] for j in usable}
        skipped = [c for c in space.ch_names if c not in kept]
        warn(f"Topomap leaves out channels without a position or values: {skipped}.")
    return mne.pick_info(info, usable), [rows[j] for j in usable]


def plot_topomaps(values, space, times=None, n_peaks=None, title="r", cmap="RdBu_r", vlim=None):
    """Topomaps of one value per channel x time cell at chosen or peak latencies.

    Channels are placed by their known positions, else by the space's montage
    (names matched without regard to case, see :func:`~brainalign.data._sensors.place_channels`);
    channels without either are left out (with a warning).

    Parameters
    ----------
    values : array-like of shape (n_targets,)
        Values per column of ``space`` (e.g. held-out r).
    space : SensorSpace
        Channels (with montage or positions) and times.
    times : sequence of float, optional
        Latencies in seconds (nearest time point); default: :func:`peak_times`.
    n_peaks : int, optional
        Most peak latencies when ``times`` is None (default: that of
        :func:`~brainalign.encoding.peak_latencies`).
    title : str
        Colour bar label and panel title prefix.
    cmap : str
        Colour map.
    vlim : tuple of float, optional
        Colour limits (default: symmetric around 0 at the largest absolute value).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per latency plus a colour bar (see :func:`plot_topomap_panels`).
    """
    grid = space.to_array(np.asarray(values, dtype=np.float64))
    info, rows = _placed_rows(space, grid)
    if times is None:
        times = peak_times(values, space, **({} if n_peaks is None else {"n_peaks": n_peaks}))
    times = list(times)
    if not times:
        raise ParameterError("Invalid value for 'times': expected at least one latency.")
    index = [int(np.argmin(np.abs(space.times - t))) for t in times]
    panels = grid[np.ix_(rows, index)].T
    return plot_topomap_panels(panels, info, space.times[index], title, cmap, vlim)


def plot_topomap_panels(values, info, latencies, title="r", cmap="RdBu_r", vlim=None):
    """Draw one topomap per latency on a shared colour scale (no pyplot state).

    Parameters
    ----------
    values : array-like of shape (n_latencies, n_channels)
        Value per channel at each latency, channels in ``info`` order (NaN -> 0).
    info : mne.Info
        Channels with positions (e.g. from :func:`~brainalign.data._sensors.place_channels`).
    latencies : sequence of float
        Latencies in seconds, for the panel titles.
    title : str
        Colour bar label and panel title prefix.
    cmap : str
        Colour map.
    vlim : tuple of float, optional
        Colour limits (default: symmetric around 0 at the largest absolute value).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per latency (titled ``"<title> at <ms> ms"``) plus a colour bar.
    """
    from matplotlib.figure import Figure
    from mne.viz import plot_topomap

    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if vlim is None:
        limit = float(np.nanmax(np.abs(values), initial=0.0)) or 1.0
        vlim = (-limit, limit)
    n = len(latencies)
    fig = Figure(figsize=(2.6 * n + 0.8, 2.8), layout="constrained")
    axes = fig.subplots(1, n + 1, width_ratios=[1.0] * n + [0.08])
    for ax, row, latency in zip(axes[:-1], values, latencies, strict=True):
        image, _ = plot_topomap(
            np.nan_to_num(row),
            info,
            axes=ax,
            show=False,
            cmap=cmap,
            vlim=tuple(vlim),
            extrapolate="local",  # no values painted far from the sensors
        )
        ax.set_title(f"{title} at {1000 * latency:.0f} ms", fontsize=9)
    fig.colorbar(image, cax=axes[-1], label=title)
    return fig


def plot_time_courses(values, space, channels=None, title="r"):
    """r(t) (or any value) per channel, one line per channel.

    Parameters
    ----------
    values : array-like of shape (n_targets,)
        Values per column of ``space``.
    space : SensorSpace
        Channels and times.
    channels : sequence of str, optional
        Channels to draw (default: all with values).
    title : str
        y-axis label.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = space.to_array(np.asarray(values, dtype=np.float64))
    names = space.ch_names if channels is None else list(channels)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name in names:
        c = space.ch_names.index(name)
        if np.isfinite(grid[c]).any():
            ax.plot(1000 * space.times, grid[c], lw=1, label=name)
    ax.axvline(0, color="k", lw=0.5)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(title)
    ax.legend(fontsize=6, ncol=4, frameon=False)
    fig.tight_layout()
    return fig


def plot_run_topomaps(run_dir, stat="r", times=None, montage=DEFAULT_MONTAGE) -> list[Path]:
    """Draw topomaps and time courses of an EEG run's ``scores.parquet``.

    Parameters
    ----------
    run_dir : str or Path
        Run directory whose ``scores.parquet`` has ``channel`` and ``time`` columns.
    stat : str
        Score column to draw.
    times : sequence of float, optional
        Latencies (default: peaks).
    montage : str
        Montage placing the channels.

    Returns
    -------
    list of Path
        PNG files written under ``run_dir/figures`` (empty, with a warning, when
        matplotlib is missing or the run is not time-resolved).
    """
    import pandas as pd

    run_dir = Path(run_dir)
    scores = pd.read_parquet(run_dir / "scores.parquet")
    if not {"channel", "time"} <= set(scores.columns):
        return []
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # plotting is optional: say so, do not crash
        warn(f"No figures: {exc}.")
        return []
    space = _table_space(scores, montage)
    values = scores[stat].to_numpy(np.float64)
    stem = f"sub-{int(scores['subject'].iloc[0]):02d}_layer-{scores['layer'].iloc[0]}_stat-{stat}"
    written = []
    for kind, fig in (
        ("topomap", plot_topomaps(values, space, times, title=stat)),
        ("timecourse", plot_time_courses(values, space, title=stat)),
    ):
        target = run_dir / "figures" / f"{stem}_{kind}.png"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=80)
        plt.close(fig)
        written.append(target)
    return written


def _table_space(scores, montage):
    """SensorSpace of a score table's rows (``channel``, ``time``), channels in file order."""
    import pandas as pd

    from brainalign.data import SensorSpace

    channels = list(pd.unique(scores["channel"].astype(str)))
    tgrid = np.unique(scores["time"].to_numpy(np.float64))
    columns = np.column_stack(
        [
            pd.Index(channels).get_indexer(scores["channel"].astype(str)),
            np.searchsorted(tgrid, scores["time"].to_numpy(np.float64)),
        ]
    )
    return SensorSpace(channels, tgrid, montage=montage, columns=columns)
