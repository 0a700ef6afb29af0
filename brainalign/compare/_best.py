"""Best layer and best model per ROI from a sweep's ROI table."""

from __future__ import annotations

import pandas as pd


def best_layers(roi_scores: pd.DataFrame, metric: str = "mean_r") -> pd.DataFrame:
    """Best layer per (subject, model, ROI), and the best model per (subject, ROI).

    Parameters
    ----------
    roi_scores : pandas.DataFrame
        Sweep table (``subject, model, layer, roi`` and ``metric``).
    metric : str
        Column to maximise.

    Returns
    -------
    pandas.DataFrame
        ``subject, model, roi, best_layer, best_<metric>, best_model`` where
        ``best_model`` marks the model whose best layer scores highest for the ROI.
    """
    idx = roi_scores.groupby(["subject", "model", "roi"], sort=True)[metric].idxmax()
    best = roi_scores.loc[idx, ["subject", "model", "roi", "layer", metric]]
    best = best.rename(columns={"layer": "best_layer", metric: f"best_{metric}"})
    top = best.groupby(["subject", "roi"])[f"best_{metric}"].transform("max")
    best["best_model"] = best[f"best_{metric}"] == top
    return best.reset_index(drop=True)
