"""Noise ceilings from repeated presentations, when a dataset ships no ncsnr."""

from __future__ import annotations

import numpy as np

from brainalign.exceptions import DataError

_COLUMNS_PER_BLOCK = 128  # bounds the float64 copies to n_rows x 128
_MAX_RATIO = 1e12  # signal / noise variance where the repeats are identical (NC = 100 %)


def split_half_ncsnr(data) -> np.ndarray:
    """Estimate a signed, unbiased NSD-style ncsnr per target from repeated trials.

    The signal variance ``s`` of a stimulus-driven response is the covariance between
    two independent presentations of the same stimulus. The estimate averages that
    split-half covariance over every pair of distinct trials of each stimulus, which
    is the classic one-way ANOVA estimator ``s = var(stimulus means) - noise / n``
    with the noise variance pooled from the spread of each stimulus's trials around
    its mean. ``s`` is unbiased, so it is **negative** for about half of the targets
    without signal, and it is never clipped: a ceiling averaged over targets (an ROI,
    a pre-stimulus window) is then unbiased too, where clipping at 0 would give pure
    noise a positive floor (about 10 % for 80-trial averages).

    Stimuli are grouped by their number of trials ``n`` (e.g. THINGS-EEG2: 4 for
    training images, 80 for test images); ``s`` is estimated within each group (each
    centred on its own mean, with its own noise variance) and the groups are combined
    with the weights ``(n_stimuli - 1) * n**2`` that minimise the variance of ``s``
    when signal is weak, so that the 80-trial test images, whose means are the least
    noisy, dominate. The result is ``sign(s) * sqrt(|s| / noise)``;
    :func:`~brainalign.data.noise_ceiling_from_ncsnr` turns it into the ceiling for
    any number of averaged trials, negative where ``s`` is.

    Parameters
    ----------
    data : BrainData
        Single-trial responses (before averaging repetitions).

    Returns
    -------
    ndarray of shape (n_targets,)
        Signed ncsnr: ``sqrt(s / noise)`` where the signal variance estimate is
        positive, ``-sqrt(-s / noise)`` where it is negative (0 for constant targets).
        Clip at 0 (``np.clip(ncsnr, 0, None)``) only to display an NSD-style ncsnr.

    Notes
    -----
    NSD's shipped ncsnr clips ``s`` at 0; ceilings from it are kept as they are.
    """
    ids = np.asarray(data.stimulus_ids)
    _, group, counts = np.unique(ids, return_inverse=True, return_counts=True)
    usable = counts >= 2
    if usable.sum() < 3:
        raise DataError(
            f"A split-half noise ceiling needs at least 3 stimuli shown twice or more; "
            f"found {int(usable.sum())}."
        )
    keep = usable[group]
    group = np.unique(group[keep], return_inverse=True)[1]
    counts = counts[usable]
    order = np.argsort(group, kind="stable")
    rows = np.flatnonzero(keep)[order]
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    sizes, n_per_size = np.unique(counts, return_counts=True)
    if (n_per_size < 2).all():
        raise DataError(
            "A split-half noise ceiling needs at least 2 stimuli shown the same number "
            f"of times (twice or more); found repeat counts {sizes.tolist()}."
        )
    out = np.empty(data.n_targets)
    for start in range(0, data.n_targets, _COLUMNS_PER_BLOCK):
        cols = slice(start, start + _COLUMNS_PER_BLOCK)
        block = data.responses[rows, cols].astype(np.float64)
        out[cols] = _signed_ncsnr(block, starts, counts)
    return out


def _signed_ncsnr(x, starts, counts):
    """Signed ncsnr of trials ``x`` sorted by stimulus (``counts`` trials each)."""
    x = x - x.mean(0)
    means = np.add.reduceat(x, starts, axis=0) / counts[:, None]
    within = np.add.reduceat((x - np.repeat(means, counts, axis=0)) ** 2, starts, axis=0)
    noise = within.sum(0) / (counts - 1).sum()  # pooled single-trial noise variance
    signal, weights = np.zeros(x.shape[1]), 0.0
    for n in np.unique(counts):
        members = counts == n
        n_stim = int(members.sum())
        if n_stim < 2:
            continue
        noise_n = within[members].sum(0) / (n_stim * (n - 1))
        signal_n = means[members].var(0, ddof=1) - noise_n / n
        weight = (n_stim - 1) * float(n) ** 2
        signal += weight * signal_n
        weights += weight
    signal /= weights
    ratio = np.divide(signal, noise, out=np.zeros_like(signal), where=noise > 0)
    ratio[(noise <= 0) & (signal > 0)] = _MAX_RATIO
    ratio = np.clip(np.nan_to_num(ratio, nan=0.0), -_MAX_RATIO, _MAX_RATIO)
    return np.sign(ratio) * np.sqrt(np.abs(ratio))
