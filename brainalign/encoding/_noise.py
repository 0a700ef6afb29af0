"""Noise ceilings from repeated presentations, when a dataset ships no ncsnr."""

from __future__ import annotations

import numpy as np

from brainalign.exceptions import DataError


def split_half_ncsnr(data) -> np.ndarray:
    """Estimate NSD-style ncsnr per target from split halves of repeated trials.

    For every stimulus shown at least twice, its trials are split alternately into
    two halves and averaged; ``rho`` is the correlation of the halves across
    stimuli. With signal variance ``s`` (noise variance 1) and halves of ``1/a`` and
    ``1/b`` trials, ``rho = s / sqrt((s + a)(s + b))``; solving for ``s`` gives
    ``ncsnr = sqrt(s)``. Equal halves of ``k`` trials reduce to the Spearman-Brown
    form ``s = rho / (k (1 - rho))``; odd counts (NSD's 3 repeats: halves of 2 and
    1) are handled exactly. :func:`~brainalign.data.noise_ceiling_from_ncsnr` then
    gives the ceiling for any number of averaged trials.

    Parameters
    ----------
    data : BrainData
        Single-trial responses (before averaging repetitions).

    Returns
    -------
    ndarray of shape (n_targets,)
        ncsnr estimates (0 where the halves do not correlate positively).
    """
    ids = np.asarray(data.stimulus_ids)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    counts = np.diff(np.r_[starts, len(ids)])
    usable = counts >= 2
    if usable.sum() < 3:
        raise DataError(
            f"A split-half noise ceiling needs at least 3 stimuli shown twice or more; "
            f"found {int(usable.sum())}."
        )
    rank = np.arange(len(ids)) - np.repeat(starts, counts)  # 0, 1, 2 ... within stimulus
    row_rank = np.empty_like(rank)
    row_rank[order] = rank
    group = np.empty(len(ids), dtype=np.int64)
    group[order] = np.repeat(np.arange(len(starts)), counts)
    keep = usable[group]
    halves, inverse_n = [], []
    for parity in (0, 1):
        rows = keep & (row_rank % 2 == parity)
        sums = np.zeros((len(starts), data.n_targets))
        np.add.at(sums, group[rows], data.responses[rows])
        n = np.bincount(group[rows], minlength=len(starts))[usable]
        halves.append(sums[usable] / n[:, None])
        inverse_n.append(np.mean(1.0 / n))
    h1, h2 = (h - h.mean(0) for h in halves)
    rho = (h1 * h2).sum(0) / np.sqrt((h1**2).sum(0) * (h2**2).sum(0))
    rho = np.clip(np.nan_to_num(rho, nan=0.0), 0.0, 0.999)
    a, b = inverse_n  # mean noise variance of each half (in units of one trial's)
    r2 = rho**2  # solve (1 - r2) s^2 - r2 (a + b) s - r2 a b = 0 for s >= 0
    s = (r2 * (a + b) + np.sqrt(r2**2 * (a + b) ** 2 + 4 * (1 - r2) * r2 * a * b)) / (2 * (1 - r2))
    return np.sqrt(s)
