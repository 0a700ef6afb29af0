"""Best layer and best model per ROI, chosen on training data and scored on test data.

Choosing the layer with the highest *test* score and reporting that same score is
optimistic: with several equally good layers the maximum of their noisy test scores
exceeds what the chosen layer scores on fresh data (24 % in a simulation with eight
equal layers). Here the choice is made on the inner cross-validated score of the
training images (``mean_cv_r2``, computed by every fit) and the test score of the
chosen layer is reported, with its bootstrap interval over test stimuli and how often
each layer would win on resampled test stimuli (how stable the ranking is).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Column the choice is made on (inner-CV R² on the training images).
SELECT_ON = "mean_cv_r2"

#: What ``selected_on`` says of a choice.
ON_TRAIN = "inner CV (train)"
ON_TEST = "test (optimistic)"


def selection_column(frame: pd.DataFrame, select_on: str = SELECT_ON, metric="mean_r") -> str:
    """Return the column choices are made on: ``select_on`` when the table has it.

    Tables of runs written before fits recorded their inner-CV scores have no
    ``select_on`` values; their choices fall back to ``metric`` (the test score), and
    :func:`best_layers` says so in ``selected_on``.
    """
    if select_on in frame.columns and frame[select_on].notna().any():
        return select_on
    return metric


def choose_rows(frame: pd.DataFrame, keys, select_on: str = SELECT_ON, metric="mean_r"):
    """Keep, per group of ``keys``, the row with the highest selection score.

    Parameters
    ----------
    frame : pandas.DataFrame
        Scores, one row per candidate (layer, model ...).
    keys : sequence of str
        Columns of a group (one row is kept per group).
    select_on : str
        Column the choice is made on (NaN last); :func:`selection_column` falls back
        to ``metric`` when the table lacks it.
    metric : str
        Test score column (the fallback).

    Returns
    -------
    pandas.DataFrame
        The chosen rows, in their original order.
    """
    column = selection_column(frame, select_on, metric)
    ranked = frame.assign(_score=frame[column].astype(float).fillna(-np.inf))
    ranked = ranked.sort_values("_score", ascending=False, kind="stable")
    return ranked.drop_duplicates(list(keys)).sort_index().drop(columns="_score")


def best_layers(
    roi_scores: pd.DataFrame,
    metric: str = "mean_r",
    select_on: str = SELECT_ON,
    bootstrap: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Best layer per (subject, model, ROI), and the best model per (subject, ROI).

    The layer (and the model) is chosen on ``select_on``, the inner cross-validated
    score of the training images; the reported score is the chosen layer's test
    ``metric``. The choice never sees the test stimuli.

    Parameters
    ----------
    roi_scores : pandas.DataFrame
        Sweep table (``subject, model, layer, roi``, ``metric`` and ``select_on``;
        ``<metric>_low``/``<metric>_high`` when the fits bootstrapped their test
        scores).
    metric : str
        Test score reported for the choice.
    select_on : str
        Column the choice is made on. Without it (runs from before it was recorded)
        the choice falls back to ``metric`` and ``selected_on`` says it is optimistic.
    bootstrap : pandas.DataFrame, optional
        ``subject, model, layer, roi, resample, mean_r``: every fit's ROI mean r on
        the same bootstrap resamples of the test stimuli (a sweep's
        ``roi_bootstrap`` tables): gives ``selection_frequency``.

    Returns
    -------
    pandas.DataFrame
        ``subject, model, roi, best_layer, best_<metric>`` (test score of the chosen
        layer), ``best_<metric>_low``/``_high`` (its 95 % bootstrap interval over test
        stimuli, NaN when not bootstrapped), ``selection_score`` (the chosen layer's
        ``select_on``), ``selected_on``, ``selection_frequency`` (share of test
        resamples in which the chosen layer has the model's highest mean r; NaN
        without ``bootstrap``) and ``best_model`` (the model whose chosen layer has
        the highest selection score for the subject and ROI).
    """
    column = selection_column(roi_scores, select_on, metric)
    chosen = choose_rows(roi_scores, ["subject", "model", "roi"], column, metric)
    best = pd.DataFrame(
        {
            "subject": chosen["subject"],
            "model": chosen["model"],
            "roi": chosen["roi"],
            "best_layer": chosen["layer"],
            f"best_{metric}": chosen[metric],
        }
    )
    for end in ("low", "high"):
        source = f"{metric}_{end}"
        best[f"best_{metric}_{end}"] = chosen[source] if source in chosen else np.nan
    best["selection_score"] = chosen[column].astype(float)
    best["selected_on"] = ON_TRAIN if column == select_on else ON_TEST
    best["selection_frequency"] = np.nan
    if bootstrap is not None and len(bootstrap):
        freq = layer_selection_frequency(bootstrap)
        best["selection_frequency"] = frequency_of(best, freq, "best_layer").fillna(0.0)
    score = best["selection_score"].fillna(-np.inf)
    top = score.groupby([best["subject"], best["roi"]]).transform("max")
    best["best_model"] = score == top
    return best.sort_values(["subject", "model", "roi"], kind="stable").reset_index(drop=True)


def frequency_of(rows: pd.DataFrame, frequencies: pd.DataFrame, layer: str = "layer"):
    """Look up each row's layer in a :func:`layer_selection_frequency` table.

    Parameters
    ----------
    rows : pandas.DataFrame
        ``subject, model, roi`` and the ``layer`` column.
    frequencies : pandas.DataFrame
        ``subject, model, roi, layer, frequency``.
    layer : str
        Column of ``rows`` naming the layer.

    Returns
    -------
    pandas.Series
        The frequency of each row, on the index of ``rows`` (NaN where the table has
        none).
    """
    keys = ["subject", "model", "roi", "layer"]
    table = frequencies.assign(layer=frequencies["layer"].astype(str))
    found = table.set_index(keys)["frequency"]
    wanted = rows[["subject", "model", "roi", layer]].set_axis(keys, axis=1)
    index = pd.MultiIndex.from_frame(wanted.assign(layer=wanted["layer"].astype(str)))
    return pd.Series(found.reindex(index).to_numpy(), index=rows.index)


def layer_selection_frequency(bootstrap: pd.DataFrame) -> pd.DataFrame:
    """How often each layer has a model's highest ROI mean r on resampled test stimuli.

    Every fit of a subject scored its ROIs on the same bootstrap resamples of the
    test stimuli (paired resamples), so in each resample one layer of each model
    wins each ROI. A frequency near 1 says the ranking is stable; frequencies spread
    over the layers (near ``1 / n_layers``) say the layers cannot be told apart on
    these stimuli, whatever layer is named best.

    Parameters
    ----------
    bootstrap : pandas.DataFrame
        ``subject, model, layer, roi, resample, mean_r``.

    Returns
    -------
    pandas.DataFrame
        ``subject, model, roi, layer, frequency`` (frequencies of a (subject, model,
        ROI) add up to 1; layers that never win have 0).
    """
    keys = ["subject", "model", "roi", "resample"]
    frame = bootstrap.assign(_score=bootstrap["mean_r"].astype(float).fillna(-np.inf))
    winners = frame.loc[frame.groupby(keys, sort=False)["_score"].idxmax()]
    counts = winners.groupby(["subject", "model", "roi", "layer"], sort=False).size()
    totals = winners.groupby(["subject", "model", "roi"], sort=False).size()
    layers = bootstrap[["subject", "model", "roi", "layer"]].drop_duplicates()
    out = layers.merge(counts.rename("n").reset_index(), how="left")
    out = out.merge(totals.rename("total").reset_index(), how="left")
    out["frequency"] = out["n"].fillna(0) / out["total"]
    return out.drop(columns=["n", "total"]).reset_index(drop=True)
