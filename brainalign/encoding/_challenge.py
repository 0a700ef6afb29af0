"""The Algonauts 2023 challenge score of a fit, from a score table or a run directory.

The computation lives in :mod:`brainalign.data._algonauts_challenge` (the
``algonauts2023`` adapter offers it as its ``extra_scores`` capability); this module
re-exports it, reads run directories, and writes a dataset's extra scores into a run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path, write_json_atomic
from brainalign.data._algonauts import Algonauts2023
from brainalign.data._algonauts_challenge import (
    ALL_VERTICES,
    CHALLENGE_FILE,
    CHALLENGE_NAME,
    HEMI_SCOPES,
    challenge_summary,
    headline_scores,
)
from brainalign.data._algonauts_challenge import challenge_scores as _score_table
from brainalign.exceptions import DataError

__all__ = [
    "CHALLENGE_FILE",
    "HEMI_SCOPES",
    "challenge_scores",
    "challenge_summary",
    "headline_scores",
    "write_challenge_scores",
]


def challenge_scores(scores, rois=None) -> pd.DataFrame:
    """Score a fit as the Algonauts 2023 challenge does, overall and per ROI.

    Parameters
    ----------
    scores : pandas.DataFrame or str or Path
        Per-vertex scores of a fit (``r``, ``nc`` in percent and ``hemi`` columns,
        as in ``scores.parquet``), or the run directory of an ``algonauts2023`` fit.
    rois : pandas.DataFrame, optional
        One label column per ROI class, row-aligned with ``scores``, such as the
        fitted data's ``col_meta``. Default: none for a table (overall and
        per-hemisphere scores only); for a run directory, read from the challenge's
        ``roi_masks``.

    Returns
    -------
    pandas.DataFrame
        The table of :func:`brainalign.data._algonauts_challenge.challenge_scores`:
        one row per ROI and hemisphere scope, the challenge's score first.

    Raises
    ------
    DataError
        When a vertex has no noise ceiling, or a run is not an ``algonauts2023`` fit.
    """
    if isinstance(scores, (str, Path)):
        scores, rois = _read_run(Path(scores), rois)
    return _score_table(scores, rois)


def write_challenge_scores(out, scores, data) -> pd.DataFrame | None:
    """Write the extra scores of the fitted data's dataset into its run.

    Writes ``<out>/<name>.parquet`` for each of the adapter's
    :meth:`~brainalign.data.DatasetAdapter.extra_scores` and records each headline
    in ``<out>/run.json``; for ``algonauts2023`` data with a noise ceiling, that is
    ``challenge_scores.parquet`` and ``challenge_score``. Datasets without the
    capability, and data without a noise ceiling, are left alone.

    Parameters
    ----------
    out : str or Path
        Run directory (``run.json`` already written).
    scores : pandas.DataFrame
        The run's per-vertex scores.
    data : BrainData
        The scored (test) data, whose ``info`` names the dataset and its root.

    Returns
    -------
    pandas.DataFrame or None
        The challenge's table, or None when the dataset gave none.
    """
    extras = _extra_scores(scores, data)
    if not extras:
        return None
    out = Path(out)
    record = json.loads((out / "run.json").read_text())
    for extra in extras:
        with atomic_path(out / f"{extra.name}.parquet") as tmp:
            extra.table.to_parquet(tmp, index=False)
        record[extra.record_key] = extra.headline
    write_json_atomic(out / "run.json", record)
    return next((e.table for e in extras if e.name == CHALLENGE_NAME), None)


def _extra_scores(scores, data) -> list:
    """Return the extra scores of the data's dataset (none without the capability)."""
    from brainalign.data import get_dataset, list_datasets

    name, root = data.info.get("dataset"), data.info.get("root")
    if name not in list_datasets() or root is None:
        return []
    adapter = get_dataset(name, root)
    return adapter.extra_scores(scores, data) if adapter.has("extra_scores") else []


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
        if rois[ALL_VERTICES].isna().any():
            raise DataError(
                f"The vertices of {run / 'scores.parquet'} are not all challenge vertices of "
                f"subject {params['subject']} under {params['root']}."
            )
    return scores, rois
