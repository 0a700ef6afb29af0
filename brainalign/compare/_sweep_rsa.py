"""RSA across a sweep's tasks: layer RDMs against ROI RDMs, across subjects."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainalign.compare._rsa_compare import compare_rdms
from brainalign.compare._rsa_stats import bootstrap_compare, noise_ceiling


def rsa_table(
    layers, rois, n_bootstraps=0, comparison="spearman", seed=0, selection=None
) -> pd.DataFrame:
    """Compare every layer's RDM with every ROI's RDM, across subjects.

    Subjects are compared on the test stimuli they all share (NSD subjects who
    saw part of shared1000 reduce the set; fewer than 3 shared stimuli leave the ROI
    out with a warning).

    Parameters
    ----------
    layers : dict of (model, layer) -> dict of subject -> RDM
        Each layer's RDM per subject (on that subject's test stimuli).
    rois : dict of str -> dict of subject -> RDM
        Each ROI's RDM per subject (same dissimilarity).
    n_bootstraps : int
        Bootstrap samples over stimuli for the CI of the mean over subjects (0: none).
    comparison : str
        RDM comparison (see :data:`~brainalign.compare.RDM_COMPARISONS`).
    seed : int
        Bootstrap seed.
    selection : tuple of (dict, dict), optional
        The same layer and ROI RDMs on training images (each subject's own
        subsample): ``value_train``, on which best layers are chosen, so the test
        ``value`` of a chosen layer is not inflated by the choice.

    Returns
    -------
    pandas.DataFrame
        One row per (model, layer, roi): ``value`` (mean over subjects of the
        comparison, each subject's layer RDM against its own ROI RDM, on test images),
        ``value_train`` (the same on training images; NaN without ``selection``),
        ``value_low``/``value_high`` (bootstrap CI, NaN without bootstrap),
        ``nc_lower``/``nc_upper`` (noise ceiling across subjects, NaN with one
        subject), ``n_subjects``, ``n_stimuli``.
    """
    from brainalign._utils import warn

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
                    "value_train": _train_value(selection, model, layer, roi, comparison),
                    "value_low": low,
                    "value_high": high,
                    "nc_lower": lower,
                    "nc_upper": upper,
                    "n_subjects": len(subjects),
                    "n_stimuli": len(shared),
                }
            )
    return pd.DataFrame(rows)


def _train_value(selection, model, layer, roi, comparison) -> float:
    """Mean over subjects of the layer-ROI comparison on training images (NaN: none)."""
    if selection is None:
        return np.nan
    layers, rois = selection
    by_subject, roi_rdms = layers.get((model, layer), {}), rois.get(roi, {})
    subjects = sorted(set(by_subject) & set(roi_rdms))
    if not subjects:
        return np.nan
    return float(np.mean([compare_rdms(by_subject[s], roi_rdms[s], comparison) for s in subjects]))


def _shared_ids(rdms) -> np.ndarray:
    """Return the stimulus ids every RDM has (in the first RDM's order)."""
    rdms = list(rdms)
    common = set(np.asarray(rdms[0].stimulus_ids).tolist())
    for rdm in rdms[1:]:
        common &= set(np.asarray(rdm.stimulus_ids).tolist())
    return np.array([i for i in np.asarray(rdms[0].stimulus_ids).tolist() if i in common])
