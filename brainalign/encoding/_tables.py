"""Score tables of a fit: per target (held-out r, R2, noise ceiling, p) and per ROI.

Two kinds of score sit side by side. ``r``, ``r2``, ``ncr2`` and ``p`` are computed on
the held-out test stimuli; ``cv_r2`` is the inner cross-validated R² of the chosen
penalty on the training stimuli only. Anything *chosen* across fits (best layer, best
model, caption units) is chosen on ``cv_r2`` so that the test score of the choice is
not inflated by the choice (see :func:`brainalign.compare.best_layers`).
"""

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


#: Bootstrap samples over test stimuli for the confidence interval of an ROI's mean r.
N_BOOTSTRAPS = 1000

#: Targets whose bootstrap r are computed at once (bounds memory: B x chunk float64).
_BOOT_CHUNK = 2048


def inner_cv_r2(estimator, train_responses) -> np.ndarray:
    """Inner cross-validated R² of each target on the training stimuli.

    The ridge engines score each penalty by the negative mean squared error of the
    held-out folds of the training data (``cv_scores_``, averaged over folds); dividing
    by each target's training variance turns the chosen penalty's score into an R².

    Parameters
    ----------
    estimator : fitted estimator
        Its ``cv_scores_`` (negative MSE per target), when it has them.
    train_responses : ndarray of shape (n_train, n_targets)
        The training responses it was fitted on.

    Returns
    -------
    ndarray of shape (n_targets,)
        ``1 - MSE_cv / var(y_train)``; NaN where the estimator keeps no CV scores or a
        target is constant.
    """
    y = np.asarray(train_responses, dtype=np.float64)
    scores = getattr(estimator, "cv_scores_", None)
    if scores is None or np.size(scores) != y.shape[1]:
        return np.full(y.shape[1], np.nan)
    var = y.var(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var > 0, 1.0 + np.asarray(scores, dtype=np.float64).ravel() / var, np.nan)


def score_table(test, pred, alphas, n_permutations, seed, cv_r2=None) -> pd.DataFrame:
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
    cv_r2 : ndarray of shape (n_targets,), optional
        Inner cross-validated R² on the training stimuli (:func:`inner_cv_r2`); NaN
        when not given.

    Returns
    -------
    pandas.DataFrame
        ``target, roi, i, j, k, r, r2, nc, ncr2, cv_r2, alpha, p, p_fdr`` (EEG:
        ``channel, time`` in place of ``i, j, k``; surfaces: ``hemi, vertex``).
    """
    r = pearson_r(test.responses, pred)
    nc = test.noise_ceiling()
    nc = np.full(test.n_targets, np.nan) if nc is None else nc
    p, p_fdr = permutation_test(
        test.responses, pred, n_permutations, seed, stimulus_ids=test.stimulus_ids
    )
    table = pd.DataFrame({"target": np.arange(test.n_targets), "roi": voxel_rois(test)})
    if test.space is not None:  # where each target is: i, j, k / hemi, vertex / channel, time
        for name, values in test.space.score_columns().items():
            table[name] = values.to_numpy()
    table["r"] = r
    table["r2"] = r2_per_target(test.responses, pred)
    table["nc"] = nc
    table["ncr2"] = noise_normalized_r2(r, nc)
    table["cv_r2"] = np.full(test.n_targets, np.nan) if cv_r2 is None else cv_r2
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


def roi_bootstrap_r(y_true, y_pred, masks, n_bootstraps=N_BOOTSTRAPS, seed=0) -> np.ndarray:
    """Mean r of each ROI on bootstrap resamples of the test stimuli.

    Every resample draws the test stimuli with replacement (the same draws for every
    ROI and, with the same ``seed`` and test set, for every fit: resamples are paired
    across layers and models). Each target's r is recomputed on the resample from
    weighted moments (one matrix product per moment), then averaged over the ROI.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n_test, n_targets)
        Held-out responses (one row per stimulus) and predictions.
    masks : ndarray of shape (n_rois, n_targets), bool
        Targets of each ROI.
    n_bootstraps : int
        Resamples.
    seed : int
        Seed of the resamples.

    Returns
    -------
    ndarray of shape (n_rois, n_bootstraps)
        ROI mean r per resample (r of a constant column counts 0, as in
        :func:`~brainalign.encoding.pearson_r`).
    """
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    masks = np.asarray(masks, dtype=np.float64).reshape(-1, t.shape[1])
    n = len(t)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=int(n_bootstraps)) / n
    sums = np.zeros((int(n_bootstraps), len(masks)))
    for start in range(0, t.shape[1], _BOOT_CHUNK):
        cols = slice(start, start + _BOOT_CHUNK)
        if not masks[:, cols].any():
            continue
        a = t[:, cols] - t[:, cols].mean(0)
        b = p[:, cols] - p[:, cols].mean(0)
        ma, mb = weights @ a, weights @ b
        saa = weights @ (a * a) - ma**2
        sbb = weights @ (b * b) - mb**2
        sab = weights @ (a * b) - ma * mb
        denom = np.sqrt(np.clip(saa * sbb, 0, None))
        ok = denom > 1e-12 * (np.abs(saa) + np.abs(sbb) + 1e-300)
        r = np.where(ok, sab / np.where(ok, denom, 1.0), 0.0)
        sums += r @ masks[:, cols].T
    return (sums / np.maximum(masks.sum(1), 1)).T


def roi_table(
    scores: pd.DataFrame,
    data,
    alpha: float = 0.05,
    bootstrap: np.ndarray | None = None,
) -> pd.DataFrame:
    """Summarise scores per ROI (every label and ROI file of the data).

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`score_table` (plus subject, model, layer).
    data : BrainData
        The scored data (for ROI membership).
    alpha : float
        FDR level for ``frac_significant``.
    bootstrap : ndarray of shape (n_rois, n_bootstraps), optional
        :func:`roi_bootstrap_r` of ``data.roi_names()`` (rows in that order, ROIs
        without targets included): gives the 95 % interval of ``mean_r``.

    Returns
    -------
    pandas.DataFrame
        ``subject, model, layer, roi, mean_r, mean_r_low, mean_r_high, median_r,
        mean_cv_r2, mean_ncr2, n_ncr2, frac_significant, n_targets``: ``mean_r`` and
        its percentile bootstrap interval over test stimuli (NaN without
        ``bootstrap``), ``mean_cv_r2`` the mean inner-CV R² on the training stimuli
        (what choices across fits are made on), ``mean_ncr2`` the mean over the
        ``n_ncr2`` targets whose ncR² is defined (noise ceiling above the threshold of
        :func:`~brainalign.encoding.noise_normalized_r2`).
    """
    rows = []
    for index, name in enumerate(data.roi_names()):
        mask = data.roi_mask(name)
        if not mask.any():
            continue
        part = scores[mask]
        low = high = np.nan
        if bootstrap is not None:
            low, high = np.nanpercentile(bootstrap[index], [2.5, 97.5])
        cv = part["cv_r2"] if "cv_r2" in part else pd.Series(np.nan, index=part.index)
        rows.append(
            {
                "subject": part["subject"].iloc[0],
                "model": part["model"].iloc[0],
                "layer": part["layer"].iloc[0],
                "roi": name,
                "mean_r": part["r"].mean(),
                "mean_r_low": float(low),
                "mean_r_high": float(high),
                "median_r": part["r"].median(),
                "mean_cv_r2": cv.mean(),
                "mean_ncr2": part["ncr2"].mean(),
                "n_ncr2": int(part["ncr2"].notna().sum()),
                "frac_significant": float((part["p_fdr"] < alpha).mean()),
                "n_targets": int(mask.sum()),
            }
        )
    return pd.DataFrame(rows)
