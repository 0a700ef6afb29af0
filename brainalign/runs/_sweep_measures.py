"""Other measures inside a sweep (``compare --measures``): per task, per ROI, and across tasks.

Each task scores every requested measure of :func:`brainalign.compare.score_measure`
between its layer's features and each of its ROIs (fitted measures on the task's
training stimuli, every measure on its held-out stimuli, with the permutation null of
the sweep's ``n_permutations``) and writes ``RUN/tasks/<task>/measures.parquet``
before its ``run.json``; the sweep gathers them into ``RUN/measures.parquet``.
"""

from __future__ import annotations

import numpy as np

from brainalign.runs._rundir import RunDir

#: Table of the other measures, in each task and in the sweep.
TABLE = "measures"
#: Columns of the table.
COLUMNS = ("subject", "model", "layer", "roi", "measure", "value", "p", "null_mean",
           "null_high", "low", "high", "n_test", "n_targets")  # fmt: skip


def write_task_measures(task_run: RunDir, spec, model, test, features, train, measures) -> None:
    """Score each measure between a task's layer and each of its ROIs; write the table.

    Parameters
    ----------
    task_run : RunDir
        The task's run directory.
    spec : RunSpec
        The task's spec (subject, layer, alphas, seed, n_permutations).
    model : str
        The resolved model spec.
    test, train : BrainData
        The task's held-out and training data.
    features : FeatureSet
        The task's features (joined to the data by stimulus id).
    measures : sequence of str
        Measures of :data:`brainalign.compare.MEASURES`.
    """
    import pandas as pd

    from brainalign.compare import score_measure

    ids = np.concatenate([np.asarray(train.stimulus_ids), np.asarray(test.stimulus_ids)])
    x = features.align(ids)
    rows = []
    for roi in test.roi_names():
        mask = test.roi_mask(roi)
        if mask.sum() < 2:
            continue
        y = np.vstack([train.responses[:, mask], test.responses[:, mask]])
        for measure in measures:
            result = score_measure(
                measure, x, y, ids, ids, test.stimulus_ids, n_permutations=spec.n_permutations,
                seed=spec.seed, options={"alphas": spec.alphas},
            )  # fmt: skip
            rows.append({"subject": spec.subject, "model": model, "layer": spec.layer,
                         "roi": roi, **_fields(result), "n_targets": int(mask.sum())})  # fmt: skip
    task_run.write_table(TABLE, pd.DataFrame(rows, columns=list(COLUMNS)))


def _fields(result) -> dict:
    keys = ("measure", "value", "p", "null_mean", "null_high", "low", "high", "n_test")
    return {k: getattr(result, k) for k in keys}


def collect_measures(run: RunDir, done):
    """Concatenate the finished tasks' measure tables into ``RUN/measures.parquet``."""
    import pandas as pd

    parts = [run.task(name).read_table(TABLE) for name in done]
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return run.write_table(TABLE, pd.concat(parts, ignore_index=True))
