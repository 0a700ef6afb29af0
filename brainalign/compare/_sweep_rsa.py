"""RSA inside a sweep: RDMs of every ROI and layer on the test images, compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path
from brainalign.compare._rsa import RDM, compute_rdm
from brainalign.compare._rsa_compare import compare_rdms
from brainalign.compare._rsa_stats import bootstrap_compare, noise_ceiling


def write_task_rdms(out, task, test, features, roi_names, options) -> None:
    """Write the RDMs a fit task can give: its subject's ROIs and its layer.

    File names carry the dissimilarity (``rsa/<task>_features_<method>.npz``,
    ``rsa/<task>_roi-<roi>_<method>.npz``), so a sweep rerun with another ``rsa``
    method never reads RDMs of the first one, and a task is finished only when its
    RDMs of the requested method exist.
    """
    folder = Path(out) / "rsa"
    method = options["rsa"]
    for roi in roi_names:
        part = test.select_rois(roi)
        if part.n_targets < 2:
            continue
        rdm = compute_rdm(part.responses, part.stimulus_ids, method=method)
        _save(folder / f"{task['name']}_roi-{_clean(roi)}_{method}.npz", rdm, roi)
    feats = features.align(test.stimulus_ids)
    _save(features_path(out, task["name"], method), compute_rdm(feats, test.stimulus_ids, method))


def features_path(out, name: str, method: str) -> Path:
    """Return where a task's layer RDM of one dissimilarity is written."""
    return Path(out) / "rsa" / f"{name}_features_{method}.npz"


def rsa_table(out, tasks, method, n_bootstraps=0, comparison="spearman", seed=0) -> pd.DataFrame:
    """Compare every finished layer's RDM with every ROI's RDM, across subjects.

    Only the RDMs of ``tasks`` (this sweep's finished tasks) and of ``method`` are
    read. Subjects are compared on the test stimuli they all share (NSD subjects who
    saw part of shared1000 reduce the set; fewer than 3 shared stimuli leave the ROI
    out with a warning).

    Parameters
    ----------
    out : str or Path
        Sweep run directory.
    tasks : list of dict
        Finished tasks (``subject, model, layer, name``).
    method : str
        Dissimilarity of the RDMs (the sweep's ``rsa``).
    n_bootstraps : int
        Bootstrap samples over stimuli for the CI of the mean over subjects (0: none).
    comparison : str
        RDM comparison (see :data:`~brainalign.compare.RDM_COMPARISONS`).
    seed : int
        Bootstrap seed.

    Returns
    -------
    pandas.DataFrame
        One row per (model, layer, roi): ``value`` (mean over subjects of the
        comparison, each subject's layer RDM against its own ROI RDM),
        ``value_low``/``value_high`` (bootstrap CI, NaN without bootstrap),
        ``nc_lower``/``nc_upper`` (noise ceiling across subjects, NaN with one
        subject), ``n_subjects``, ``n_stimuli``.
    """
    from brainalign._utils import warn

    rois, layers = {}, {}
    for t in tasks:
        path = features_path(out, t["name"], method)
        if not path.exists():
            continue
        layers.setdefault((t["model"], t["layer"]), {})[t["subject"]] = _load(path)[0]
        for roi_path in sorted(path.parent.glob(f"{t['name']}_roi-*_{method}.npz")):
            rdm, roi = _load(roi_path)
            rois.setdefault(roi, {}).setdefault(t["subject"], rdm)
    rows = []
    for roi, subject_rdms in sorted(rois.items()):
        shared = _shared_ids(subject_rdms.values())
        if len(shared) < 3:
            warn(f"RSA leaves out ROI {roi!r}: its subjects share {len(shared)} test stimuli.")
            continue
        data = {s: r.select(shared) for s, r in subject_rdms.items()}
        lower, upper = (np.nan, np.nan)
        if len(data) > 1:
            lower, upper = noise_ceiling(list(data.values()), method=comparison)
        for (model, layer), by_subject in sorted(layers.items()):
            subjects = sorted(set(by_subject) & set(data))
            if not subjects:
                continue
            models = {s: by_subject[s].select(shared) for s in subjects}
            values = [compare_rdms(models[s], data[s], comparison) for s in subjects]
            low = high = np.nan
            if n_bootstraps:
                boot = bootstrap_compare(
                    models[subjects[0]], [data[s] for s in subjects], comparison,
                    n_bootstraps, seed=seed,
                )  # fmt: skip
                low, high = boot.low, boot.high
            rows.append(
                {
                    "model": model,
                    "layer": layer,
                    "roi": roi,
                    "comparison": comparison,
                    "value": float(np.mean(values)),
                    "value_low": low,
                    "value_high": high,
                    "nc_lower": lower,
                    "nc_upper": upper,
                    "n_subjects": len(subjects),
                    "n_stimuli": len(shared),
                }
            )
    return pd.DataFrame(rows)


def _shared_ids(rdms) -> np.ndarray:
    """Return the stimulus ids every RDM has (in the first RDM's order)."""
    rdms = list(rdms)
    common = set(np.asarray(rdms[0].stimulus_ids).tolist())
    for rdm in rdms[1:]:
        common &= set(np.asarray(rdm.stimulus_ids).tolist())
    return np.array([i for i in np.asarray(rdms[0].stimulus_ids).tolist() if i in common])


def _save(path: Path, rdm: RDM, roi: str = "") -> None:
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            dissimilarities=rdm.dissimilarities,
            stimulus_ids=rdm.stimulus_ids,
            method=rdm.method,
            roi=roi,
        )


def _load(path: Path):
    with np.load(path, allow_pickle=False) as f:
        rdm = RDM(f["dissimilarities"], f["stimulus_ids"], method=str(f["method"]))
        return rdm, str(f["roi"])


def _clean(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "" for c in str(text))
