"""Figures of the report, drawn with matplotlib's object API and embedded as data URIs.

No ``pyplot`` state is touched (``matplotlib.figure.Figure`` draws on its own Agg canvas).
The sweep's figures come from :mod:`brainalign.compare` and the topomaps from
:mod:`brainalign.maps`, as in the runs' own figures.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign.compare._sweep_plots import short_model as short_model  # re-exported

#: Resolution of the embedded PNGs.
DPI = 80
#: Longest side of a top-image thumbnail, in pixels.
THUMBNAIL_SIZE = 160
_MIME = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".gif": "gif", ".webp": "webp"}


def new_figure(width: float, height: float):
    """Return a matplotlib figure with a constrained layout (no pyplot).

    Parameters
    ----------
    width, height : float
        Size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def figure_uri(fig) -> str:
    """Encode a figure as a base64 PNG data URI.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.

    Returns
    -------
    str
        ``data:image/png;base64,...``.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def file_uri(path: Path) -> str:
    """Encode an image file as a data URI (its bytes unchanged).

    Parameters
    ----------
    path : Path
        A PNG, JPEG, GIF or WebP file.

    Returns
    -------
    str
        ``data:image/<type>;base64,...``.
    """
    kind = _MIME.get(Path(path).suffix.lower(), "png")
    return f"data:image/{kind};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def thumbnail_uri(path: Path, size: int = THUMBNAIL_SIZE) -> str:
    """Shrink an image to a thumbnail and encode it as a PNG data URI.

    Re-encoding also guarantees that what is embedded is an image.

    Parameters
    ----------
    path : Path
        Any image Pillow reads.
    size : int
        Longest side in pixels.

    Returns
    -------
    str
        ``data:image/png;base64,...``.

    Raises
    ------
    OSError
        If the file is missing or not an image.
    """
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((size, size))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _grid(n: int, ncols: int = 4) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return math.ceil(n / ncols), ncols


def decoding_bars(table: pd.DataFrame):
    """One panel per metric: a bar per ROI, its chance level marked.

    Parameters
    ----------
    table : pandas.DataFrame
        ``label, metric, value`` and optionally ``chance``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    metrics = list(pd.unique(table["metric"]))
    nrows, ncols = _grid(len(metrics), 3)
    labels = list(pd.unique(table["label"]))
    fig = new_figure(max(3.0, 0.35 * len(labels) + 1.5) * ncols, 2.8 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        part = table[table["metric"] == metric]
        x = np.arange(len(part))
        ax.bar(x, part["value"], color="tab:blue")
        if "chance" in part and part["chance"].notna().any():
            ax.scatter(x, part["chance"], marker="_", s=300, color="black", label="chance")
            ax.legend(fontsize=7)
        ax.set_xticks(x, part["label"].astype(str), rotation=90, fontsize=7)
        ax.set_title(str(metric), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    return fig


def decoding_over_time(table: pd.DataFrame, bands=None):
    """One panel per metric: value against time, one line per ROI, chance dashed.

    Parameters
    ----------
    table : pandas.DataFrame
        ``label, metric, time, value`` and optionally ``chance``.
    bands : dict, optional
        Metric -> family-wise chance band (upper limit), drawn dotted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    metrics = list(pd.unique(table["metric"]))
    nrows, ncols = _grid(len(metrics), 2)
    fig = new_figure(4.5 * ncols, 2.8 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        part = table[table["metric"] == metric]
        for label, line in part.groupby("label", sort=False):
            line = line.sort_values("time")
            ax.plot(line["time"], line["value"], label=str(label))
        if "chance" in part and part["chance"].notna().any():
            ax.axhline(float(part["chance"].mean()), color="gray", ls="--", lw=1, label="chance")
        band = (bands or {}).get(metric, float("nan"))
        if np.isfinite(band):
            ax.axhline(band, color="black", ls=":", lw=1, label="95 % family-wise band")
        ax.axvline(0.0, color="gray", lw=0.5)
        ax.set_title(str(metric), fontsize=9)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    return fig


def r_over_time(per_channel: pd.DataFrame, curves: dict, peaks, chance=None):
    """r(t): one thin line per channel, the peak curve (maximum over channels) in bold.

    Parameters
    ----------
    per_channel : pandas.DataFrame
        Index ``time``, one column per channel (the best model and layer).
    curves : dict
        Label -> Series of the peak curve over time (one per model and layer).
    peaks : sequence of float
        Peak latencies to mark.
    chance : float, optional
        Family-wise chance level of the peak curve, drawn dashed.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    fig = new_figure(8.0, 3.2)
    ax = fig.add_subplot()
    for channel in per_channel.columns:
        ax.plot(per_channel.index, per_channel[channel], lw=0.7, alpha=0.35, color="tab:gray")
    for k, (label, curve) in enumerate(curves.items()):
        ax.plot(curve.index, curve.to_numpy(), lw=2, color=f"C{k}", label=f"max: {label}")
    for latency in peaks:
        ax.axvline(latency, color="tab:red", ls=":", lw=1)
    if chance is not None:
        label = f"95 % family-wise chance level of the max: r = {chance:.2f}"
        ax.axhline(chance, color="black", ls="--", lw=1, label=label)
    ax.axhline(0.0, color="black", lw=0.5)
    ax.axvline(0.0, color="black", lw=0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("r (Pearson, test images)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig
