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

    ROI RDMs (``rsa/sub-XX_roi-<roi>.npz``) are the same from every task of a
    subject and are written once; the layer RDM (``rsa/<task>_features.npz``) is
    built on the task's test images.
    """
    folder = Path(out) / "rsa"
    method = options["rsa"]
    for roi in roi_names:
        path = folder / f"sub-{int(task['subject']):02d}_roi-{_clean(roi)}.npz"
        if path.exists():
            continue
        part = test.select_rois(roi)
        if part.n_targets < 2:
            continue
        _save(path, compute_rdm(part.responses, part.stimulus_ids, method=method), roi)
    feats = features.align(test.stimulus_ids)
    _save(folder / f"{task['name']}_features.npz", compute_rdm(feats, test.stimulus_ids, method))


def rsa_table(out, tasks, n_bootstraps=0, comparison="spearman", seed=0) -> pd.DataFrame:
    """Compare every finished layer's RDM with every ROI's RDM, across subjects.

    Parameters
    ----------
    out : str or Path
        Sweep run directory.
    tasks : list of dict
        Finished tasks (``subject, model, layer, name``).
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
    folder = Path(out) / "rsa"
    rois = _roi_rdms(folder)
    ceilings = {
        roi: noise_ceiling(list(by_subject.values()), method=comparison)
        if len(by_subject) > 1
        else (np.nan, np.nan)
        for roi, by_subject in rois.items()
        if _common(by_subject.values())
    }
    layers = {}
    for t in tasks:
        path = folder / f"{t['name']}_features.npz"
        if path.exists():
            layers.setdefault((t["model"], t["layer"]), {})[t["subject"]] = _load(path)[0]
    rows = []
    for (model, layer), by_subject in sorted(layers.items()):
        for roi, subject_rdms in sorted(rois.items()):
            subjects = sorted(set(by_subject) & set(subject_rdms))
            if not subjects or roi not in ceilings:
                continue
            values = [compare_rdms(by_subject[s], subject_rdms[s], comparison) for s in subjects]
            low = high = np.nan
            if n_bootstraps:
                model_rdm = by_subject[subjects[0]]
                data = [subject_rdms[s] for s in subjects]
                boot = bootstrap_compare(model_rdm, data, comparison, n_bootstraps, seed=seed)
                low, high = boot.low, boot.high
            lower, upper = ceilings[roi]
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
                    "n_stimuli": by_subject[subjects[0]].n_stimuli,
                }
            )
    return pd.DataFrame(rows)


def _roi_rdms(folder: Path) -> dict:
    rois = {}
    for path in sorted(folder.glob("sub-*_roi-*.npz")):
        rdm, roi = _load(path)
        subject = int(path.name[4:6])
        rois.setdefault(roi, {})[subject] = rdm
    return rois


def _common(rdms) -> bool:
    """Whether the subjects' RDMs share their stimuli (a noise ceiling needs that)."""
    ids = [set(np.asarray(r.stimulus_ids).tolist()) for r in rdms]
    return all(i == ids[0] for i in ids)


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
