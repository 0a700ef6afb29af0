"""Figures of a sweep: layer profiles per ROI and the model x ROI heatmap.

The one implementation of both figures: ``brainalign compare`` saves them under the
sweep's ``figures/`` and the report embeds them (it draws them when a run has none).
Figures are drawn with matplotlib's object API (no pyplot state).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path
from brainalign.compare._best import choose_rows, selection_column

#: Resolution of the saved PNGs.
DPI = 100


def short_model(spec) -> str:
    """Return the display name of a model spec (:func:`brainalign.features.model_label`).

    Parameters
    ----------
    spec : str
        Model spec (``torch:pkg.mod:Net@state:<hex>`` -> ``Net@state:<8 hex>``).

    Returns
    -------
    str
        The one name every figure, table and report shows for the model.
    """
    from brainalign.features import model_label

    return model_label(spec)


def plot_layer_profiles(roi_scores, rois=None, metric="mean_r", path=None, *, layers=None):
    """Score against layer depth: one panel per ROI, one line per model (mean over subjects).

    When the models have different layers, each model's layers are spread over a
    relative depth from 0 to 1.

    Parameters
    ----------
    roi_scores : pandas.DataFrame
        Sweep table (``model, layer, roi`` and ``metric``, optionally ``subject``;
        ``layer_index`` orders the layers when present).
    rois : sequence of str, optional
        ROIs to show, in order (default: all, in the table's order).
    metric : str
        Column to plot.
    path : str or Path, optional
        Also save the figure there (PNG, written atomically).
    layers : sequence of str, optional
        Layer order by depth (default: by ``layer_index``, else as in the table).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    table = _mean_over_subjects(roi_scores, metric)
    layers = _layer_order(roi_scores) if layers is None else [str(la) for la in layers]
    rois = list(pd.unique(table["roi"])) if rois is None else list(rois)
    models = list(pd.unique(table["model"]))
    shared = all(set(table.loc[table["model"] == m, "layer"]) == set(layers) for m in models)
    nrows, ncols = _grid(len(rois))
    fig = _figure(3.0 * ncols, 2.3 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True).ravel()
    for ax, roi in zip(axes, rois, strict=False):
        for model in models:
            part = table[(table["model"] == model) & (table["roi"] == roi)]
            x, y = _profile(part, metric, layers, shared)
            ax.plot(x, y, marker="o", markersize=3, label=short_model(model))
        ax.set_title(str(roi), fontsize=9)
        ax.axhline(0.0, color="0.7", lw=0.5)
        ax.grid(alpha=0.3)
        if shared:
            ax.set_xticks(range(len(layers)), layers, rotation=45, ha="right")
        ax.tick_params(labelsize=7)
    for ax in axes[len(rois) :]:
        ax.set_visible(False)
    for ax in axes[max(0, len(rois) - ncols) : len(rois)]:  # lowest panel of each column
        ax.tick_params(labelbottom=True)
    fig.supxlabel("layer" if shared else "relative depth", fontsize=9)
    fig.supylabel(_label(metric), fontsize=9)
    if len(models) > 1:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=3)
    return _save(fig, path)


def plot_model_roi_heatmap(roi_scores, metric="mean_r", path=None, *, models=None, rois=None):
    """Best-layer score of every model (rows) in every ROI (columns), each cell naming it.

    Scores are averaged over subjects first; the best layer of a (model, ROI) is
    then the one with the highest mean inner-CV score on the training images
    (:func:`~brainalign.compare.best_layers`), and the colour is that layer's mean
    test score (not the maximum over layers of the test scores).

    Parameters
    ----------
    roi_scores : pandas.DataFrame
        Sweep table (``model, layer, roi`` and ``metric``, optionally ``subject``).
    metric : str
        Column to show.
    path : str or Path, optional
        Also save the figure there (PNG, written atomically).
    models, rois : sequence of str, optional
        Row and column order (default: all, in the table's order).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    best = _best_layers(_mean_over_subjects(roi_scores, metric), metric)
    models = list(pd.unique(roi_scores["model"])) if models is None else list(models)
    rois = list(pd.unique(roi_scores["roi"])) if rois is None else list(rois)
    cells = best.set_index(["model", "roi"])
    values = np.full((len(models), len(rois)), np.nan)
    named = []
    for i, model in enumerate(models):
        for j, roi in enumerate(rois):
            if (model, roi) in cells.index:
                values[i, j] = cells.loc[(model, roi), metric]
                named.append((i, j, str(cells.loc[(model, roi), "layer"])))
    fig = _figure(max(4.0, 0.45 * len(rois) + 2.5), max(2.0, 0.6 * len(models) + 1.8))
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(rois)), [str(r) for r in rois], rotation=90, fontsize=8)
    ax.set_yticks(range(len(models)), [short_model(m) for m in models], fontsize=8)
    text = {"ha": "center", "va": "center", "fontsize": 6, "rotation": 90 if len(rois) > 8 else 0}
    for i, j, layer in named if len(named) <= 600 else ():  # name the best layer
        light = image.norm(values[i, j]) > 0.6  # dark text on a light cell
        ax.text(j, i, layer, color="black" if light else "white", **text)
    fig.colorbar(image, ax=ax, label=f"chosen layer's test {_label(metric)}")
    return _save(fig, path)


def _mean_over_subjects(roi_scores, metric) -> pd.DataFrame:
    """``model, layer, roi, <metric>`` (and the selection column): means over subjects."""
    frame = roi_scores.assign(layer=roi_scores["layer"].astype(str))
    columns = list(dict.fromkeys([metric, selection_column(frame, metric=metric)]))
    mean = frame.groupby(["model", "layer", "roi"], sort=False)[columns].mean()
    return mean.reset_index()


def _layer_order(roi_scores) -> list[str]:
    if "layer_index" in roi_scores.columns:
        roi_scores = roi_scores.sort_values("layer_index", kind="stable")
    return [str(la) for la in pd.unique(roi_scores["layer"].astype(str))]


def _best_layers(mean, metric) -> pd.DataFrame:
    """Per (model, ROI), the row of the layer chosen on the inner-CV score (NaN last)."""
    return choose_rows(mean, ["model", "roi"], metric=metric)


def _profile(part, metric, layers, shared) -> tuple[list, np.ndarray]:
    """Return one model's line in one ROI: x (layer position or relative depth), y."""
    order = [layer for layer in layers if layer in set(part["layer"])]
    order += [layer for layer in pd.unique(part["layer"]) if layer not in order]
    y = part.set_index("layer").loc[order, metric].to_numpy(dtype=float)
    if shared:
        return [layers.index(layer) for layer in order], y
    return list(np.linspace(0, 1, len(order)) if len(order) > 1 else [0.0]), y


def _label(metric: str) -> str:
    return {"mean_r": "mean r", "median_r": "median r", "mean_ncr2": "mean ncR² (%)"}.get(
        metric, metric
    )


def _grid(n: int, ncols: int = 4) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return math.ceil(n / ncols), ncols


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, path):
    if path is not None:
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI)
    return fig
