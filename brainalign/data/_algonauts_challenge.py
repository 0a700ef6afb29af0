"""The Algonauts 2023 challenge score of a fit: overall, per hemisphere and per ROI.

The challenge scores a subject by the median, over the challenge vertices of both
hemispheres, of the noise-normalised accuracy ``100 * max(r, 0)**2 / NC`` (clipped at
100; :func:`brainalign.data.algonauts_score`). A fit on the ``algonauts2023`` dataset
already holds every ingredient in ``scores.parquet``: ``r`` on the test images and
``nc``, the challenge's ``*_noise_ceiling.npy`` in percent (the adapter keeps it as
an ncsnr for 3 trials, which gives the file's values back). The adapter offers the
score as its ``extra_scores`` capability.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainalign.data._algonauts import ROI_CLASSES, algonauts_score
from brainalign.exceptions import DataError, ParameterError

#: Stem of the table a fit writes beside ``scores.parquet``.
CHALLENGE_NAME = "challenge_scores"
#: File a fit writes beside ``scores.parquet``.
CHALLENGE_FILE = f"{CHALLENGE_NAME}.parquet"
#: Key of the headline scores in ``run.json``.
RECORD_KEY = "challenge_score"
#: Hemisphere scopes of the table: both hemispheres together (the challenge's), then each.
HEMI_SCOPES = ("both", "lh", "rh")
ALL_VERTICES = "all-vertices"


def challenge_scores(scores: pd.DataFrame, rois=None) -> pd.DataFrame:
    """Score a fit as the Algonauts 2023 challenge does, overall and per ROI.

    Parameters
    ----------
    scores : pandas.DataFrame
        Per-vertex scores of a fit (``r``, ``nc`` in percent and ``hemi`` columns,
        as in ``scores.parquet``).
    rois : pandas.DataFrame, optional
        One label column per ROI class (``"floc-faces"`` ...; ``""`` outside its
        labels), row-aligned with ``scores``, such as the fitted data's
        ``col_meta``. Default: none (overall and per-hemisphere scores only).

    Returns
    -------
    pandas.DataFrame
        One row per ROI and hemisphere scope: ``subject``, ``model``, ``layer``
        (when ``scores`` has them), ``roi``, ``roi_class``, ``hemi`` (``"both"``,
        ``"lh"``, ``"rh"``), ``score`` (median accuracy, percent) and ``n_targets``.
        The first row (``roi="all-vertices"``, ``hemi="both"``) is the challenge's
        score of the subject; then ROI classes, then the labels of each class.

    Raises
    ------
    DataError
        When a vertex has no noise ceiling.
    """
    r, nc, hemi = _check_scores(scores, rois)
    _, acc = algonauts_score(r, nc, per_target=True)
    rows = []
    for roi, roi_class, mask in _roi_masks(len(r), rois):
        for scope in HEMI_SCOPES:
            keep = mask if scope == "both" else mask & (hemi == scope)
            if keep.any():
                rows.append(
                    {
                        "roi": roi,
                        "roi_class": roi_class,
                        "hemi": scope,
                        "score": float(np.median(acc[keep])),
                        "n_targets": int(keep.sum()),
                    }
                )
    table = pd.DataFrame(rows)
    for column in ("layer", "model", "subject"):
        if column in scores:
            table.insert(0, column, scores[column].iloc[0])
    return table


def headline_scores(table: pd.DataFrame) -> dict[str, float]:
    """Return the challenge score of both hemispheres and of each, from a score table.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`challenge_scores`.

    Returns
    -------
    dict
        ``{"both": ..., "lh": ..., "rh": ...}`` (hemispheres without vertices left out).
    """
    overall = table[table["roi"] == ALL_VERTICES]
    return {str(h): float(s) for h, s in zip(overall["hemi"], overall["score"], strict=True)}


def challenge_summary(table: pd.DataFrame) -> str:
    """Format the challenge score of a fit for the command line.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`challenge_scores`.

    Returns
    -------
    str
        One line for the score (and per hemisphere), one for the ROI classes.
    """
    head = headline_scores(table)
    hemis = ", ".join(f"{h} {head[h]:.1f}" for h in HEMI_SCOPES[1:] if h in head)
    lines = [f"Algonauts 2023 challenge score: {head['both']:.1f} ({hemis})"]
    classes = table[(table["roi"] == table["roi_class"]) & (table["hemi"] == "both")]
    classes = classes[classes["roi"] != ALL_VERTICES]
    if len(classes):
        parts = ", ".join(
            f"{r} {s:.1f}" for r, s in zip(classes["roi"], classes["score"], strict=True)
        )
        lines.append(f"  per ROI class: {parts}")
    return "\n".join(lines)


def _check_scores(scores, rois):
    """Return ``r``, ``nc`` and ``hemi`` of a score table, validated."""
    if not isinstance(scores, pd.DataFrame):
        raise ParameterError(
            f"Invalid value for 'scores': expected a DataFrame; got {type(scores).__name__}."
        )
    missing = [c for c in ("r", "nc", "hemi") if c not in scores]
    if missing:
        raise ParameterError(
            f"Invalid value for 'scores': expected columns r, nc and hemi (a surface fit's "
            f"scores.parquet); missing {', '.join(missing)}."
        )
    if rois is not None and len(rois) != len(scores):
        raise ParameterError(
            f"Invalid value for 'rois': expected one row per score ({len(scores)}); "
            f"got {len(rois)}."
        )
    nc = scores["nc"].to_numpy(dtype=np.float64)
    if not np.isfinite(nc).all():
        raise DataError(
            f"The challenge score needs a noise ceiling for every vertex "
            f"(test_split/noise_ceiling/{{lh,rh}}_noise_ceiling.npy); "
            f"{int((~np.isfinite(nc)).sum())} of {nc.size} vertices have none."
        )
    return scores["r"].to_numpy(dtype=np.float64), nc, scores["hemi"].astype(str).to_numpy()


def _roi_masks(n: int, rois):
    """Yield ``(roi, roi_class, mask)``: every vertex, each ROI class, then its labels."""
    yield ALL_VERTICES, ALL_VERTICES, np.ones(n, dtype=bool)
    classes = [c for c in ROI_CLASSES if rois is not None and c in rois]
    labels = {c: rois[c].fillna("").astype(str).to_numpy() for c in classes}
    for cls in classes:
        yield cls, cls, labels[cls] != ""
    for cls in classes:
        for name in sorted(set(labels[cls]) - {""}):
            yield name, cls, labels[cls] == name
