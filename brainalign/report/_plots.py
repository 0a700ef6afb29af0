"""Figures of the report, drawn with matplotlib's object API and embedded as data URIs.

No ``pyplot`` state is touched (``matplotlib.figure.Figure`` draws on its own Agg canvas),
except by :func:`mne.viz.plot_topomap`, which only draws on the axes it is given.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

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


def short_model(spec: str) -> str:
    """Short label of a model spec (``torch:pkg.mod:Net@0`` -> ``Net@0``)."""
    return str(spec).split(":")[-1]


def _grid(n: int, ncols: int = 4) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return math.ceil(n / ncols), ncols


def layer_profiles(mean: pd.DataFrame, layers: list, rois: list):
    """Small multiples, one per ROI: mean r against layer, one line per model.

    Parameters
    ----------
    mean : pandas.DataFrame
        ``model, layer, roi, mean_r`` (averaged over subjects).
    layers : list of str
        Layer order (depth).
    rois : list of str
        ROIs to draw, in order.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    models = list(pd.unique(mean["model"]))
    shared = all(set(mean.loc[mean["model"] == m, "layer"]) == set(layers) for m in models)
    nrows, ncols = _grid(len(rois))
    fig = new_figure(3.0 * ncols, 2.3 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True).ravel()
    for ax, roi in zip(axes, rois, strict=False):
        for model in models:
            part = mean[(mean["model"] == model) & (mean["roi"] == roi)]
            order = [layer for layer in layers if layer in set(part["layer"])]
            y = part.set_index("layer").loc[order, "mean_r"].to_numpy()
            x = [layers.index(layer) for layer in order]
            if not shared:  # layers differ between models: relative depth
                x = np.linspace(0, 1, len(order)) if len(order) > 1 else [0.0]
            ax.plot(x, y, marker="o", markersize=3, label=short_model(model))
        ax.set_title(str(roi), fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[len(rois) :]:
        ax.set_visible(False)
    if shared:
        axes[0].set_xticks(range(len(layers)), [str(la) for la in layers], rotation=45)
    for ax in axes:
        ax.tick_params(labelsize=7)
    fig.supxlabel("layer" if shared else "relative depth", fontsize=9)
    fig.supylabel("mean r", fontsize=9)
    if len(models) > 1:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=3)
    return fig


def model_roi_heatmap(best: pd.DataFrame, models: list, rois: list):
    """Model x ROI heatmap of the best layer's mean r, each cell naming that layer.

    Parameters
    ----------
    best : pandas.DataFrame
        ``model, roi, layer, mean_r``: one row per (model, ROI), the best layer.
    models, rois : list of str
        Row and column order.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    table = best.set_index(["model", "roi"])
    cells = [
        (i, j, table.loc[(model, roi)])
        for i, model in enumerate(models)
        for j, roi in enumerate(rois)
        if (model, roi) in table.index
    ]
    values = np.full((len(models), len(rois)), np.nan)
    for i, j, row in cells:
        values[i, j] = row["mean_r"]
    fig = new_figure(max(4.0, 0.45 * len(rois) + 2.5), max(2.0, 0.6 * len(models) + 1.8))
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(rois)), [str(r) for r in rois], rotation=90, fontsize=8)
    ax.set_yticks(range(len(models)), [short_model(m) for m in models], fontsize=8)
    text = {"ha": "center", "va": "center", "fontsize": 6, "rotation": 90 if len(rois) > 8 else 0}
    for i, j, row in cells if len(cells) <= 600 else ():  # name the best layer in each cell
        dark = image.norm(values[i, j]) > 0.6  # a light cell: dark text
        ax.text(j, i, str(row["layer"]), color="black" if dark else "white", **text)
    fig.colorbar(image, ax=ax, label="best layer's mean r")
    return fig


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


def decoding_over_time(table: pd.DataFrame):
    """One panel per metric: value against time, one line per ROI, chance dashed.

    Parameters
    ----------
    table : pandas.DataFrame
        ``label, metric, time, value`` and optionally ``chance``.

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
        ax.axvline(0.0, color="gray", lw=0.5)
        ax.set_title(str(metric), fontsize=9)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    return fig


def r_over_time(per_channel: pd.DataFrame, means: dict, peaks):
    """r(t): one thin line per channel, the channel mean in bold, peaks marked.

    Parameters
    ----------
    per_channel : pandas.DataFrame
        Index ``time``, one column per channel (the best model and layer).
    means : dict
        Label -> Series of the channel mean over time (one per model and layer).
    peaks : sequence of float
        Peak latencies to mark.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    fig = new_figure(8.0, 3.2)
    ax = fig.add_subplot()
    for channel in per_channel.columns:
        ax.plot(per_channel.index, per_channel[channel], lw=0.7, alpha=0.35, color="tab:gray")
    for k, (label, curve) in enumerate(means.items()):
        ax.plot(curve.index, curve.to_numpy(), lw=2, color=f"C{k}", label=f"mean: {label}")
    for latency in peaks:
        ax.axvline(latency, color="tab:red", ls=":", lw=1)
    ax.axhline(0.0, color="black", lw=0.5)
    ax.axvline(0.0, color="black", lw=0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("r")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig


def topomaps(values: np.ndarray, info, latencies):
    """One topomap of r per peak latency (MNE), on a shared symmetric colour scale.

    Parameters
    ----------
    values : ndarray of shape (n_latencies, n_channels)
        r per channel at each latency, channels in ``info`` order.
    info : mne.Info
        Channels with positions.
    latencies : sequence of float
        Latencies, for the titles.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from mne.viz import plot_topomap

    vmax = float(np.nanmax(np.abs(values))) or 1.0
    fig = new_figure(2.6 * len(latencies) + 0.8, 2.8)
    axes = fig.subplots(1, len(latencies), squeeze=False).ravel()
    image = None
    for ax, row, latency in zip(axes, values, latencies, strict=True):
        image, _ = plot_topomap(
            row, info, axes=ax, show=False, cmap="RdBu_r", vlim=(-vmax, vmax), contours=0
        )
        ax.set_title(f"{latency * 1000:.0f} ms", fontsize=9)
    fig.colorbar(image, ax=list(axes), label="r", shrink=0.8)
    return fig
