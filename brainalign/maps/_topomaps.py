"""Topomaps and time courses of time-resolved scores (sensor space, MNE + matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainalign._utils import atomic_path, warn
from brainalign.data._sensors import DEFAULT_MONTAGE, place_channels
from brainalign.exceptions import DataError, ParameterError


def peak_times(values, space, chance=None, **options) -> list[float]:
    """Peak latencies of the maximum of ``values`` over channels, above a chance band.

    A thin wrapper of :func:`brainalign.encoding.peak_latencies` on
    :func:`brainalign.encoding.peak_curve`: the latencies the report shows too.

    Parameters
    ----------
    values : array-like of shape (n_targets,)
        One value per column of ``space`` (e.g. r).
    space : SensorSpace
        The columns' channels and times.
    chance : float, optional
        Chance band of the peak curve (e.g. :func:`brainalign.encoding.r_chance_level`):
        peaks only where the curve exceeds it. Default: no band.
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
    return peak_latencies(curve, space.times, chance=chance, **options)


def _sensor_chance(values, n_test, alpha=0.05) -> float:
    """Family-wise chance level of the highest r over the finite channel x time cells.

    Parameters
    ----------
    values : array-like of shape (n_targets,)
        Held-out r per channel x time cell (NaN: not scored).
    n_test : int
        Test stimuli behind each r.
    alpha : float
        Family-wise error rate.

    Returns
    -------
    float
        :func:`brainalign.encoding.r_chance_level` over the scored cells.
    """
    from brainalign.encoding import r_chance_level

    n_cells = int(np.isfinite(np.asarray(values, dtype=np.float64)).sum())
    return r_chance_level(n_test, max(1, n_cells), alpha)


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


def plot_topomaps(
    values, space, times=None, n_peaks=None, stat="r", cmap=None, vlim=None, chance=None, title=None
):
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
    stat : str
        Statistic drawn (its name, colour-bar label and colour map come from
        :func:`brainalign.maps._style.style_of`).
    cmap : str, optional
        Colour map (default: the statistic's).
    vlim : tuple of float, optional
        Colour limits (default: symmetric around 0 at the largest absolute value).
    chance : float, optional
        Chance band of the peak curve; peak latencies only above it.
    title : str, optional
        Figure title (e.g. model, layer and subject).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per latency plus a colour bar (see :func:`plot_topomap_panels`).

    Raises
    ------
    ParameterError
        If there is no latency to draw (none given, or no peak above ``chance``).
    """
    grid = space.to_array(np.asarray(values, dtype=np.float64))
    info, rows = _placed_rows(space, grid)
    if times is None:
        options = {} if n_peaks is None else {"n_peaks": n_peaks}
        times = peak_times(values, space, chance=chance, **options)
    times = list(times)
    if not times:
        raise ParameterError("Invalid value for 'times': expected at least one latency.")
    index = [int(np.argmin(np.abs(space.times - t))) for t in times]
    panels = grid[np.ix_(rows, index)].T
    return plot_topomap_panels(panels, info, space.times[index], stat, cmap, vlim, title)


def plot_topomap_panels(values, info, latencies, stat="r", cmap=None, vlim=None, title=None):
    """Draw one topomap per latency on a shared colour scale (no pyplot state).

    Values are drawn only inside the convex hull of the sensors (marked as dots):
    nothing is extrapolated beyond the channels that were measured.

    Parameters
    ----------
    values : array-like of shape (n_latencies, n_channels)
        Value per channel at each latency, channels in ``info`` order (NaN -> 0).
    info : mne.Info
        Channels with positions (e.g. from :func:`~brainalign.data._sensors.place_channels`).
    latencies : sequence of float
        Latencies in seconds, for the panel titles.
    stat : str
        Statistic drawn: panel titles in words (``"Held-out r at 180 ms"``) and the
        colour-bar label with units come from :func:`brainalign.maps._style.style_of`.
    cmap : str, optional
        Colour map (default: the statistic's).
    vlim : tuple of float, optional
        Colour limits (default: symmetric around 0 at the largest absolute value).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per latency plus a colour bar.
    """
    from matplotlib.figure import Figure

    from brainalign.maps._style import colormap, style_of

    style = style_of(stat)
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if vlim is None:
        limit = float(np.nanmax(np.abs(values), initial=0.0)) or 1.0
        vlim = (-limit, limit)
    n = len(latencies)
    fig = Figure(figsize=(2.6 * n + 1.2, 3.1 if title else 2.8), layout="constrained")
    axes = fig.subplots(1, n + 1, width_ratios=[1.0] * n + [0.08])
    for ax, row, latency in zip(axes[:-1], values, latencies, strict=True):
        image = _hull_topomap(ax, row, info, cmap or colormap(stat), tuple(vlim))
        ax.set_title(f"{style.name} at {1000 * latency:.0f} ms", fontsize=9)
    fig.colorbar(image, cax=axes[-1], label=style.label)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _hull_topomap(ax, row, info, cmap, vlim):
    """Draw one topomap, its image and contours clipped to the sensors' convex hull."""
    from matplotlib.patches import Polygon
    from mne.viz import plot_topomap
    from scipy.spatial import ConvexHull

    image, contours = plot_topomap(
        np.nan_to_num(row),
        info,
        axes=ax,
        show=False,
        cmap=cmap,
        vlim=vlim,
        sensors="ko",  # a format string: MNE draws the sensors as one Line2D
        extrapolate="local",
    )
    (sensors,) = [line for line in ax.lines if line.get_marker() == "o"]
    sensors.set_markersize(2.5)
    positions = np.column_stack(sensors.get_data())
    hull = Polygon(
        positions[ConvexHull(positions).vertices],
        closed=True,
        transform=ax.transData,
        facecolor="none",
        edgecolor="0.6",
        lw=0.6,
    )
    ax.add_patch(hull)
    image.set_clip_path(hull)
    if contours is not None:
        contours.set_clip_path(hull)
    return image


def plot_time_courses(
    values, space, channels=None, title="r", chance=None, peaks=(), suptitle=None
):
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
    chance : float, optional
        Family-wise chance level of the highest value over channels, drawn as a
        dashed line.
    peaks : sequence of float
        Peak latencies (s), marked by dotted lines.
    suptitle : str, optional
        Figure title.

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
    fig, ax = plt.subplots(figsize=(8.5, 3.5))
    for name in names:
        c = space.ch_names.index(name)
        if np.isfinite(grid[c]).any():
            ax.plot(1000 * space.times, grid[c], lw=1, label=name)
    ax.axvline(0, color="k", lw=0.5)
    ax.axhline(0, color="k", lw=0.5)
    if chance is not None:
        label = f"95 % family-wise chance level\nof the highest r: {chance:.2f}"
        ax.axhline(chance, color="0.3", ls="--", lw=1, label=label)
    for latency in peaks:
        ax.axvline(1000 * latency, color="tab:red", ls=":", lw=1)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(title)
    ax.legend(fontsize=6, ncol=2, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def plot_run_topomaps(
    run_dir, stat="r", times=None, montage=DEFAULT_MONTAGE, n_test=None
) -> list[Path]:
    """Draw topomaps and time courses of an EEG run's ``scores.parquet``.

    The default latencies are the peaks of the highest r over channels where it
    exceeds its 95 % family-wise chance level (:func:`_sensor_chance`, from
    ``n_test``; without it, no band), as in the report.

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
    n_test : int, optional
        Test stimuli behind each r (the run record's ``data.n_test``; the runs layer
        passes it), for the chance band.

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
    chance = None
    if stat == "r" and n_test is not None:
        chance = _sensor_chance(scores["r"].to_numpy(np.float64), int(n_test))
    if times is None:
        times = peak_times(values, space, chance=chance)
    stem = f"sub-{int(scores['subject'].iloc[0]):02d}_layer-{scores['layer'].iloc[0]}_stat-{stat}"
    written = []
    for kind, fig in _run_figures(values, space, times, stat, chance, _run_title(scores)):
        target = run_dir / "figures" / f"{stem}_{kind}.png"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=80)
        plt.close(fig)
        written.append(target)
    return written


def _run_figures(values, space, times, stat, chance, title):
    """(kind, figure) pairs of a run: topomaps at ``times`` (when any) and time courses."""
    from brainalign.maps._style import style_of

    figures = []
    if times:
        figures.append(("topomap", plot_topomaps(values, space, times, stat=stat, title=title)))
    else:
        band = "" if chance is None else f" above its chance level {chance:.3f}"
        warn(f"No topomaps: no peak of {stat}{band}.")
    label = style_of(stat).label
    courses = plot_time_courses(values, space, None, label, chance, times or (), title)
    figures.append(("timecourse", courses))
    return figures


def _run_title(scores) -> str:
    """Model (display name), layer and subject of a run's scores, in words."""
    from brainalign.features import model_label

    words = [model_label(str(scores["model"].iloc[0]))] if "model" in scores else []
    words += [str(scores["layer"].iloc[0])] if "layer" in scores else []
    subject = f", subject {int(scores['subject'].iloc[0])}" if "subject" in scores else ""
    return " ".join(words) + subject


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
