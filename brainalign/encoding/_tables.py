"""Score tables of a fit: per target (held-out r, R2, noise ceiling, p) and per ROI."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainalign.encoding._scores import (
    noise_normalized_r2,
    pearson_r,
    permutation_test,
    r2_per_target,
)

#: ROI label columns consulted last when naming a voxel's ROI (they are coarse).
_COARSE = ("streams", "nsdgeneral", "all-vertices")


def score_table(test, pred, alphas, n_permutations, seed) -> pd.DataFrame:
    """Per-target held-out scores of one fit.

    Parameters
    ----------
    test : BrainData
        Held-out responses (averaged repetitions).
    pred : ndarray of shape (n_test, n_targets)
        Predictions.
    alphas : ndarray of shape (n_targets,)
        Chosen penalties.
    n_permutations : int
        Permutations for the p values.
    seed : int
        Permutation seed.

    Returns
    -------
    pandas.DataFrame
        ``target, roi, i, j, k, r, r2, nc, ncr2, alpha, p, p_fdr`` (EEG:
        ``channel, time`` in place of ``i, j, k``; surfaces: ``hemi, vertex``).
    """
    r = pearson_r(test.responses, pred)
    nc = test.noise_ceiling()
    nc = np.full(test.n_targets, np.nan) if nc is None else nc
    p, p_fdr = permutation_test(test.responses, pred, n_permutations=n_permutations, seed=seed)
    table = pd.DataFrame({"target": np.arange(test.n_targets), "roi": voxel_rois(test)})
    if test.space is not None:  # where each target is: i, j, k / hemi, vertex / channel, time
        for name, values in test.space.score_columns().items():
            table[name] = values.to_numpy()
    table["r"] = r
    table["r2"] = r2_per_target(test.responses, pred)
    table["nc"] = nc
    table["ncr2"] = noise_normalized_r2(r, nc)
    table["alpha"] = alphas
    table["p"] = p
    table["p_fdr"] = p_fdr
    return table


def voxel_rois(data) -> list[str]:
    """Name each target by its most specific ROI label (``""`` when unlabelled)."""
    columns = [c for c in data.roi_columns if c not in _COARSE]
    columns += [c for c in _COARSE if c in data.roi_columns]
    names = np.full(data.n_targets, "", dtype=object)
    for col in columns:
        values = data.col_meta[col].astype(str).to_numpy()
        names = np.where((names == "") & (values != ""), values, names)
    return names.tolist()


def roi_table(scores: pd.DataFrame, data, alpha: float = 0.05) -> pd.DataFrame:
    """Summarise scores per ROI (every label and ROI file of the data).

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`score_table` (plus subject, model, layer).
    data : BrainData
        The scored data (for ROI membership).
    alpha : float
        FDR level for ``frac_significant``.

    Returns
    -------
    pandas.DataFrame
        ``subject, model, layer, roi, mean_r, median_r, mean_ncr2, frac_significant,
        n_targets``.
    """
    rows = []
    for name in data.roi_names():
        mask = data.roi_mask(name)
        if not mask.any():
            continue
        part = scores[mask]
        rows.append(
            {
                "subject": part["subject"].iloc[0],
                "model": part["model"].iloc[0],
                "layer": part["layer"].iloc[0],
                "roi": name,
                "mean_r": part["r"].mean(),
                "median_r": part["r"].median(),
                "mean_ncr2": part["ncr2"].mean(),
                "frac_significant": float((part["p_fdr"] < alpha).mean()),
                "n_targets": int(mask.sum()),
            }
        )
    return pd.DataFrame(rows)
