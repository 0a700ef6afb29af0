"""The Algonauts 2023 challenge score of a fit: overall, per hemisphere and per ROI.

The challenge scores a subject by the median, over the challenge vertices of both
hemispheres, of the noise-normalised accuracy ``100 * max(r, 0)**2 / NC`` (clipped at
100; :func:`brainalign.data.algonauts_score`). A fit on the ``algonauts2023`` dataset
already holds every ingredient in ``scores.parquet``: ``r`` on the test images and
``nc``, the challenge's ``*_noise_ceiling.npy`` in percent (the adapter keeps it as
an ncsnr for 3 trials, which gives the file's values back).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path, write_json_atomic
from brainalign.data._algonauts import ROI_CLASSES, Algonauts2023, algonauts_score
from brainalign.exceptions import DataError, ParameterError

#: File written beside ``scores.parquet`` by :func:`write_challenge_scores`.
CHALLENGE_FILE = "challenge_scores.parquet"
#: Hemisphere scopes of the table: both hemispheres together (the challenge's), then each.
HEMI_SCOPES = ("both", "lh", "rh")
_ALL = "all-vertices"


def challenge_scores(scores, rois=None) -> pd.DataFrame:
    """Score a fit as the Algonauts 2023 challenge does, overall and per ROI.

    Parameters
    ----------
    scores : pandas.DataFrame or str or Path
        Per-vertex scores of a fit (``r``, ``nc`` in percent and ``hemi`` columns,
        as in ``scores.parquet``), or the run directory of an ``algonauts2023`` fit.
    rois : pandas.DataFrame, optional
        One label column per ROI class (``"floc-faces"`` ...; ``""`` outside its
        labels), row-aligned with ``scores``, such as the fitted data's
        ``col_meta``. Default: none for a table (overall and per-hemisphere scores
        only); for a run directory, read from the challenge's ``roi_masks``.

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
        When a vertex has no noise ceiling, or a run is not an ``algonauts2023`` fit.
    """
    if isinstance(scores, (str, Path)):
        scores, rois = _read_run(Path(scores), rois)
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
    overall = table[table["roi"] == _ALL]
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
    classes = classes[classes["roi"] != _ALL]
    if len(classes):
        parts = ", ".join(
            f"{r} {s:.1f}" for r, s in zip(classes["roi"], classes["score"], strict=True)
        )
        lines.append(f"  per ROI class: {parts}")
    return "\n".join(lines)


def write_challenge_scores(out, scores, data) -> pd.DataFrame | None:
    """Score an ``algonauts2023`` fit as the challenge does, and record it in its run.

    Writes ``<out>/challenge_scores.parquet`` and adds ``challenge_score`` (both
    hemispheres, ``lh``, ``rh``) to ``<out>/run.json``. Other datasets, and data
    without a noise ceiling, are left alone.

    Parameters
    ----------
    out : str or Path
        Run directory (``run.json`` already written).
    scores : pandas.DataFrame
        The run's per-vertex scores.
    data : BrainData
        The scored (test) data, for its dataset name, noise ceiling and ROI labels.

    Returns
    -------
    pandas.DataFrame or None
        The :func:`challenge_scores` table, or None when nothing was written.
    """
    if data.info.get("dataset") != "algonauts2023" or data.ncsnr is None:
        return None
    out = Path(out)
    table = challenge_scores(scores, data.col_meta)
    with atomic_path(out / CHALLENGE_FILE) as tmp:
        table.to_parquet(tmp, index=False)
    record = json.loads((out / "run.json").read_text())
    record["challenge_score"] = headline_scores(table)
    write_json_atomic(out / "run.json", record)
    return table


def _check_scores(scores, rois):
    """Return ``r``, ``nc`` and ``hemi`` of a score table, validated."""
    if not isinstance(scores, pd.DataFrame):
        raise ParameterError(
            f"Invalid value for 'scores': expected a DataFrame or a run directory; "
            f"got {type(scores).__name__}."
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
    yield _ALL, _ALL, np.ones(n, dtype=bool)
    classes = [c for c in ROI_CLASSES if rois is not None and c in rois]
    labels = {c: rois[c].fillna("").astype(str).to_numpy() for c in classes}
    for cls in classes:
        yield cls, cls, labels[cls] != ""
    for cls in classes:
        for name in sorted(set(labels[cls]) - {""}):
            yield name, cls, labels[cls] == name


def _read_run(run: Path, rois):
    """Read a run's scores and, unless given, the challenge's ROI labels of its vertices."""
    record = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    params = record.get("parameters", {})
    if params.get("dataset") != "algonauts2023":
        raise DataError(
            f"{run} is not the run directory of an algonauts2023 fit: its run.json names "
            f"dataset {params.get('dataset')!r}."
        )
    scores = pd.read_parquet(run / "scores.parquet")
    if rois is None:
        table = Algonauts2023(params["root"]).vertex_table(int(params["subject"]))
        keys = scores[["hemi", "vertex"]].astype({"hemi": str, "vertex": np.int64})
        rois = keys.merge(table, on=["hemi", "vertex"], how="left")
        if rois[_ALL].isna().any():
            raise DataError(
                f"The vertices of {run / 'scores.parquet'} are not all challenge vertices of "
                f"subject {params['subject']} under {params['root']}."
            )
    return scores, rois
