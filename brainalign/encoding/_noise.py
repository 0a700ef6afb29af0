"""Noise ceilings from repeated presentations, when a dataset ships no ncsnr."""

from __future__ import annotations

import numpy as np

from brainalign.exceptions import DataError


def split_half_ncsnr(data) -> np.ndarray:
    """Estimate NSD-style ncsnr per target from split halves of repeated trials.

    For every stimulus shown at least twice, its trials are split alternately into
    two halves and averaged; the correlation ``rho`` of the halves across stimuli is
    the reliability of a ``k``-trial average (``k`` = mean trials per half). With
    ``rho_k = s / (s + 1/k)``, ``ncsnr**2 = s = rho_k / (k (1 - rho_k))``, so
    :func:`~brainalign.data.noise_ceiling_from_ncsnr` gives the ceiling for any
    number of averaged trials.

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
    halves = []
    for parity in (0, 1):
        rows = keep & (row_rank % 2 == parity)
        sums = np.zeros((len(starts), data.n_targets))
        np.add.at(sums, group[rows], data.responses[rows])
        n = np.bincount(group[rows], minlength=len(starts))
        halves.append(sums[usable] / n[usable, None])
    a, b = (h - h.mean(0) for h in halves)
    rho = (a * b).sum(0) / np.sqrt((a**2).sum(0) * (b**2).sum(0))
    k = counts[usable].mean() / 2
    rho = np.clip(np.nan_to_num(rho, nan=0.0), 0.0, 0.999)
    return np.sqrt(rho / (k * (1 - rho)))
