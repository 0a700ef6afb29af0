"""RSA inside a sweep: each task's ROI and layer RDMs on disk, and the table across tasks."""

from __future__ import annotations

import numpy as np

from brainalign._utils import atomic_path
from brainalign.runs._rundir import RunDir


def write_task_rdms(run: RunDir, task: str, test, features, method: str) -> None:
    """Write the RDMs a fit task can give: its subject's ROIs and its layer.

    File names carry the dissimilarity (:meth:`RunDir.rdm_path`), so a sweep rerun
    with another ``rsa`` method never reads RDMs of the first one, and a task is
    finished only when its RDMs of the requested method exist.

    Parameters
    ----------
    run : RunDir
        The sweep's run directory.
    task : str
        Task name.
    test : BrainData
        The task's held-out data.
    features : FeatureSet
        The task's features.
    method : str
        Dissimilarity.
    """
    from brainalign.compare import compute_rdm

    for roi in test.roi_names():
        part = test.select_rois(roi)
        if part.n_targets < 2:
            continue
        rdm = compute_rdm(part.responses, part.stimulus_ids, method=method)
        _save(run.rdm_path(task, method, roi), rdm, roi)
    feats = features.align(test.stimulus_ids)
    _save(run.rdm_path(task, method), compute_rdm(feats, test.stimulus_ids, method))


def task_rdms(run: RunDir, tasks, method: str):
    """Read the layer and ROI RDMs of finished tasks.

    Returns
    -------
    tuple of (dict, dict)
        ``layers[(model, layer)][subject]`` and ``rois[roi][subject]`` RDMs.
    """
    rois, layers = {}, {}
    for t in tasks:
        path = run.rdm_path(t["name"], method)
        if not path.exists():
            continue
        layers.setdefault((t["model"], t["layer"]), {})[t["subject"]] = _load(path)[0]
        for roi_path in run.roi_rdms(t["name"], method):
            rdm, roi = _load(roi_path)
            rois.setdefault(roi, {}).setdefault(t["subject"], rdm)
    return layers, rois


def write_rsa_table(run: RunDir, parameters: dict, done) -> object:
    """Compare every finished task's RDMs and write ``rsa.parquet``."""
    from brainalign.compare import rsa_table

    tasks = []
    for name in done:
        params = run.task(name).record.read()["parameters"]
        tasks.append({"name": name, **{k: params[k] for k in ("subject", "model", "layer")}})
    layers, rois = task_rdms(run, tasks, parameters["rsa"])
    table = rsa_table(
        layers,
        rois,
        n_bootstraps=parameters["n_bootstraps"],
        comparison=parameters["rsa_comparison"],
        seed=parameters["seed"],
    )
    return run.write_table("rsa", table)


def _save(path, rdm, roi: str = "") -> None:
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            dissimilarities=rdm.dissimilarities,
            stimulus_ids=rdm.stimulus_ids,
            method=rdm.method,
            roi=roi,
        )


def _load(path):
    from brainalign.compare import RDM

    with np.load(path, allow_pickle=False) as f:
        rdm = RDM(f["dissimilarities"], f["stimulus_ids"], method=str(f["method"]))
        return rdm, str(f["roi"])
