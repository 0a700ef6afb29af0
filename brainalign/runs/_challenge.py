"""Score a finished ``algonauts2023`` fit run as the challenge does."""

from __future__ import annotations

import numpy as np

from brainalign.exceptions import DataError, ParameterError
from brainalign.runs._rundir import RunDir


def run_challenge_scores(run_dir, rois=None):
    """Score a fit run's ``scores.parquet`` as the Algonauts 2023 challenge does.

    Parameters
    ----------
    run_dir : str, Path or RunDir
        Run directory of a fit on the ``algonauts2023`` dataset.
    rois : pandas.DataFrame, optional
        ROI label columns row-aligned with the scores (default: read from the
        challenge's ``roi_masks`` under the run's dataset root).

    Returns
    -------
    pandas.DataFrame
        As :func:`brainalign.encoding.challenge_scores`.
    """
    from brainalign.data import get_dataset
    from brainalign.data._algonauts_challenge import ALL_VERTICES
    from brainalign.encoding import challenge_scores

    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    params = (run.record.read_or_none() or {}).get("parameters", {})
    try:
        adapter = get_dataset(params["dataset"], params.get("root"))
    except (KeyError, ParameterError):  # no dataset recorded, or none at that root
        adapter = None
    if adapter is None or not adapter.has("extra_scores") or not hasattr(adapter, "vertex_table"):
        raise DataError(
            f"{run.path} is not the run directory of an algonauts2023 fit: its run.json names "
            f"dataset {params.get('dataset')!r}."
        )
    scores = run.read_table("scores")
    if rois is None:
        table = adapter.vertex_table(int(params["subject"]))
        keys = scores[["hemi", "vertex"]].astype({"hemi": str, "vertex": np.int64})
        rois = keys.merge(table, on=["hemi", "vertex"], how="left")
        if rois[ALL_VERTICES].isna().any():
            raise DataError(
                f"The vertices of {run.scores} are not all challenge vertices of "
                f"subject {params['subject']} under {params['root']}."
            )
    return challenge_scores(scores, rois)
