"""Figures of a sweep: layer profiles per ROI and the model x ROI heatmap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path


def plot_layer_profiles(roi_scores: pd.DataFrame, rois=None, metric="mean_r", path=None):
    """Score of each layer, one panel per ROI, one line per model (mean over subjects).

    Parameters
    ----------
    roi_scores : pandas.DataFrame
        Sweep table (``subject, model, layer, roi`` and ``metric``; ``layer_index``
        orders the layers when present).
    rois : sequence of str, optional
        ROIs to show (default: all).
    metric : str
        Column to plot.
    path : str or Path, optional
        Also save the figure there (PNG, written atomically).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    table = _mean_over_subjects(roi_scores, metric)
    rois = sorted(table["roi"].unique()) if rois is None else list(rois)
    ncols = min(4, len(rois))
    nrows = int(np.ceil(len(rois) / ncols))
    fig = _figure(3.2 * ncols, 2.4 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    for ax, roi in zip(axes, rois, strict=False):
        for model, part in table[table["roi"] == roi].groupby("model", sort=False):
            ax.plot(part["layer"], part[metric], marker="o", label=_short(model))
        ax.set_title(roi, fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.axhline(0, color="0.7", lw=0.5)
    for ax in axes[len(rois) :]:
        ax.set_visible(False)
    axes[0].set_ylabel(metric)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def plot_model_roi_heatmap(roi_scores: pd.DataFrame, metric="mean_r", path=None):
    """Best-layer score of every model (rows) in every ROI (columns), mean over subjects.

    Parameters
    ----------
    roi_scores : pandas.DataFrame
        Sweep table.
    metric : str
        Column to show.
    path : str or Path, optional
        Also save the figure there.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    best = roi_scores.groupby(["subject", "model", "roi"])[metric].max().reset_index()
    grid = best.groupby(["model", "roi"])[metric].mean().unstack("roi")
    fig = _figure(max(4.0, 0.45 * grid.shape[1] + 2), max(2.0, 0.5 * grid.shape[0] + 1.5))
    ax = fig.subplots()
    image = ax.imshow(grid.to_numpy(), cmap="viridis", aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(grid.shape[0]), [_short(m) for m in grid.index], fontsize=8)
    for (i, j), value in np.ndenumerate(grid.to_numpy()):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color="w")
    fig.colorbar(image, ax=ax, label=f"best-layer {metric}")
    fig.tight_layout()
    return _save(fig, path)


def _mean_over_subjects(roi_scores, metric):
    keys = ["model", "roi", "layer"]
    order = "layer_index" if "layer_index" in roi_scores else None
    agg = roi_scores.groupby(keys + ([order] if order else []), sort=False)[metric].mean()
    table = agg.reset_index()
    return table.sort_values(["model", "roi", order or "layer"], kind="stable")


def _short(model: str) -> str:
    return model.split("@")[0]


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _save(fig, path):
    if path is not None:
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    return fig
