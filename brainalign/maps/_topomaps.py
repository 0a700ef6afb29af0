"""Topomaps and time courses of time-resolved scores (sensor space, MNE + matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainalign._utils import atomic_path, warn
from brainalign.exceptions import DataError, ParameterError


def peak_times(values, space, n_peaks: int = 3, min_separation: float = 0.05) -> list[float]:
    """Latencies of the largest peaks of the across-channel maximum of ``values``.

    Parameters
    ----------
    values : array-like of shape (n_targets,)
        One value per column of ``space`` (e.g. r).
    space : SensorSpace
        The columns' channels and times.
    n_peaks : int
        How many latencies to return at most.
    min_separation : float
        Minimum distance between returned latencies, in seconds.

    Returns
    -------
    list of float
        Latencies in seconds, sorted in time.
    """
    grid = space.to_array(np.asarray(values, dtype=np.float64))
    curve = np.nanmax(np.where(np.isnan(grid), -np.inf, grid), axis=0)
    chosen = []
    for k in np.argsort(curve)[::-1]:
        if not np.isfinite(curve[k]):
            break
        t = float(space.times[k])
        if all(abs(t - c) >= min_separation for c in chosen):
            chosen.append(t)
        if len(chosen) == n_peaks:
            break
    return sorted(chosen)


def plot_topomaps(values, space, times=None, n_peaks=3, title="r", cmap="RdBu_r", vlim=None):
    """Topomaps of one value per channel x time cell at chosen or peak latencies.

    Channels without a known position are left out (with a warning).

    Parameters
    ----------
    values : array-like of shape (n_targets,)
        Values per column of ``space`` (e.g. held-out r).
    space : SensorSpace
        Channels (with montage or positions) and times.
    times : sequence of float, optional
        Latencies in seconds (nearest time point); default: :func:`peak_times`.
    n_peaks : int
        Number of peak latencies when ``times`` is None.
    title : str
        Colour bar label and figure title prefix.
    cmap : str
        Colour map.
    vlim : tuple of float, optional
        Colour limits (default: symmetric around 0 at the largest absolute value).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per latency plus a colour bar.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mne

    grid = space.to_array(np.asarray(values, dtype=np.float64))
    info = space.create_info()
    pos = np.array([ch["loc"][:3] for ch in info["chs"]])
    placed = np.isfinite(pos).all(1) & (np.abs(pos).sum(1) > 0) & np.isfinite(grid).any(1)
    if placed.sum() < 3:
        raise DataError(
            f"A topomap needs at least 3 channels with positions; {int(placed.sum())} of "
            f"{space.n_channels} have one (set a montage on the data)."
        )
    if not placed.all():
        skipped = [c for c, ok in zip(space.ch_names, placed, strict=True) if not ok]
        warn(f"Topomap leaves out channels without a position or values: {skipped}.")
    times = peak_times(values, space, n_peaks) if times is None else list(times)
    if not times:
        raise ParameterError("Invalid value for 'times': expected at least one latency.")
    sub = mne.pick_info(info, np.flatnonzero(placed))
    limit = np.nanmax(np.abs(grid[placed])) if vlim is None else None
    vlim = (-limit, limit) if vlim is None else tuple(vlim)
    fig, axes = plt.subplots(1, len(times) + 1, figsize=(2.6 * len(times) + 0.8, 2.8))
    for ax, t in zip(axes[:-1], times, strict=True):
        k = int(np.argmin(np.abs(space.times - t)))
        data = np.nan_to_num(grid[placed, k])
        im, _ = mne.viz.plot_topomap(data, sub, axes=ax, show=False, cmap=cmap, vlim=vlim)
        ax.set_title(f"{title} at {1000 * space.times[k]:.0f} ms")
    fig.colorbar(im, cax=axes[-1], label=title)
    axes[-1].set_box_aspect(8)
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


def plot_run_topomaps(run_dir, stat="r", times=None, montage="standard_1005") -> list[Path]:
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

    from brainalign.data import SensorSpace

    run_dir = Path(run_dir)
    scores = pd.read_parquet(run_dir / "scores.parquet")
    if not {"channel", "time"} <= set(scores.columns):
        return []
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # plotting is optional: say so, do not crash
        warn(f"No figures: {exc}.")
        return []
    channels = list(pd.unique(scores["channel"]))
    tgrid = np.unique(scores["time"].to_numpy())
    columns = np.column_stack(
        [
            pd.Index(channels).get_indexer(scores["channel"]),
            np.searchsorted(tgrid, scores["time"].to_numpy()),
        ]
    )
    space = SensorSpace(channels, tgrid, montage=montage, columns=columns)
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
