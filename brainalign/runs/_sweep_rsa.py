"""RSA inside a sweep: each task's ROI and layer RDMs on disk, and the table across tasks."""

from __future__ import annotations

import numpy as np

from brainalign._utils import atomic_path
from brainalign.runs._rundir import RunDir

#: Training images per subject on which RSA best layers are chosen (a seeded subsample:
#: an RDM grows with the square of its stimuli).
N_SELECTION_STIMULI = 500


def write_task_rdms(run: RunDir, task: str, test, features, method: str, train=None) -> None:
    """Write the RDMs a fit task can give: its subject's ROIs and its layer.

    File names carry the dissimilarity (:meth:`RunDir.rdm_path`), so a sweep rerun
    with another ``rsa`` method never reads RDMs of the first one, and a task is
    finished only when its RDMs of the requested method exist. With ``train``, the
    same RDMs on a seeded subsample of its training images (the same subsample for
    every task of a subject) are written too: best layers are chosen on those.

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
    train : BrainData, optional
        The task's training data.
    """
    splits = [("test", test)]
    if train is not None:
        splits.append(("train", _subsample(train, N_SELECTION_STIMULI)))
    for split, data in splits:
        _write_rdms(run, task, data, features, method, split)


def _subsample(data, n: int):
    """At most ``n`` stimuli of ``data``, drawn with a fixed seed from its sorted ids."""
    ids = np.sort(np.asarray(data.stimulus_ids))
    if len(ids) <= n:
        return data
    keep = np.random.default_rng(0).choice(len(ids), n, replace=False)
    return data.select_stimuli(ids[np.sort(keep)])


def _write_rdms(run: RunDir, task: str, data, features, method: str, split: str) -> None:
    from brainalign.compare import compute_rdm

    for roi in data.roi_names():
        part = data.select_rois(roi)
        if part.n_targets < 2:
            continue
        rdm = compute_rdm(part.responses, part.stimulus_ids, method=method)
        _save(run.rdm_path(task, method, roi, split), rdm, roi)
    feats = features.align(data.stimulus_ids)
    rdm = compute_rdm(feats, data.stimulus_ids, method)
    _save(run.rdm_path(task, method, split=split), rdm)


def task_rdms(run: RunDir, tasks, method: str, split: str = "test"):
    """Read the layer and ROI RDMs of finished tasks.

    Returns
    -------
    tuple of (dict, dict)
        ``layers[(model, layer)][subject]`` and ``rois[roi][subject]`` RDMs.
    """
    rois, layers = {}, {}
    for t in tasks:
        path = run.rdm_path(t["name"], method, split=split)
        if not path.exists():
            continue
        layers.setdefault((t["model"], t["layer"]), {})[t["subject"]] = _load(path)[0]
        for roi_path in run.roi_rdms(t["name"], method, split):
            rdm, roi = _load(roi_path)
            rois.setdefault(roi, {}).setdefault(t["subject"], rdm)
    return layers, rois


def write_rsa_table(run: RunDir, parameters: dict, done) -> object:
    """Compare every finished task's RDMs and write ``rsa.parquet``."""
    from brainalign.compare import rsa_table
    from brainalign.runs._common import resolved_model

    tasks = []
    for name in done:
        task = run.task(name)
        params = task.record.read()["parameters"]
        model = resolved_model(task.read_table("roi_scores", columns=["model"]), params["model"])
        tasks.append({"name": name, "subject": params["subject"], "model": model,
                      "layer": params["layer"]})  # fmt: skip
    layers, rois = task_rdms(run, tasks, parameters["rsa"])
    selection = task_rdms(run, tasks, parameters["rsa"], split="train")
    table = rsa_table(
        layers,
        rois,
        n_bootstraps=parameters["n_bootstraps"],
        comparison=parameters["rsa_comparison"],
        seed=parameters["seed"],
        selection=selection if selection[0] else None,
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
