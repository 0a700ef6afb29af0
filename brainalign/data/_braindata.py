"""BrainData: responses with one stimulus id per row, target metadata and a space."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainalign._utils import check_option, closest_names, warn
from brainalign.exceptions import DataError, ParameterError


def noise_ceiling_from_ncsnr(ncsnr, n_trials) -> np.ndarray:
    """Noise ceiling in percent of explainable variance, from NSD's ncsnr.

    ``NC = 100 * ncsnr**2 / (ncsnr**2 + A)`` with ``A = mean(1 / n_trials)`` over the
    rows scored: ``A = 1/n`` when every row averages ``n`` trials, and the Algonauts
    2023 normalisation ``(n3/3 + n2/2 + n1/1) / (n3 + n2 + n1)`` for mixed counts.

    A negative ncsnr is a signed estimate (:func:`~brainalign.encoding.split_half_ncsnr`:
    ``-sqrt(-s)`` for an estimated signal variance ``s < 0``, in units of the noise
    variance). It gives the tangent of the formula at 0, ``NC = 100 * s / A``: negative,
    without a pole, and such that ceilings of targets without signal average to 0.
    NSD's shipped ncsnr is never negative, so its ceilings are the formula's.

    Parameters
    ----------
    ncsnr : array-like of shape (n_targets,)
        Noise-ceiling signal-to-noise ratio per target (signed).
    n_trials : int or array-like of int
        Number of trials averaged, one value or one per scored row.

    Returns
    -------
    ndarray of shape (n_targets,)
        Noise ceiling in percent: at most 100, negative where ``ncsnr`` is (clip at 0
        only to display it).
    """
    n_trials = np.atleast_1d(np.asarray(n_trials, dtype=np.float64))
    if n_trials.size == 0 or (n_trials < 1).any():
        raise ParameterError(
            f"Invalid value for 'n_trials': expected counts >= 1; got {n_trials[:5].tolist()}."
        )
    a = float(np.mean(1.0 / n_trials))
    ncsnr = np.asarray(ncsnr, dtype=np.float64)
    s2 = np.sign(ncsnr) * ncsnr**2
    return 100.0 * s2 / (np.maximum(s2, 0.0) + a)


_ROWS_PER_CHUNK = 128  # bounds float64 temporaries to 128 rows


def scale_into(raw: np.ndarray, scale: float, out: np.ndarray) -> np.ndarray:
    """Write ``raw / scale`` into ``out`` (float64 division, row chunk by row chunk).

    Parameters
    ----------
    raw : ndarray of shape (n_rows, n_columns)
        Stored values (e.g. int16).
    scale : float
        Divisor.
    out : ndarray of shape (n_rows, n_columns)
        Destination (e.g. float32), written in place.

    Returns
    -------
    ndarray
        ``out``.
    """
    for start in range(0, raw.shape[0], _ROWS_PER_CHUNK):
        rows = slice(start, start + _ROWS_PER_CHUNK)
        out[rows] = raw[rows] / scale
    return out


def zscore_columns(block: np.ndarray) -> np.ndarray:
    """Z-score the columns of a 2-D float array in place.

    Parameters
    ----------
    block : ndarray of shape (n_rows, n_columns)
        Floating-point data, modified in place.

    Returns
    -------
    ndarray of bool, shape (n_columns,)
        True for columns that are constant or not finite (left as they were
        centred; callers drop them).
    """
    mean = block.mean(axis=0, dtype=np.float64)  # buffered: no full float64 copy
    block -= mean.astype(block.dtype)
    sumsq = np.zeros(block.shape[1])
    for start in range(0, block.shape[0], _ROWS_PER_CHUNK):
        sumsq += np.square(block[start : start + _ROWS_PER_CHUNK], dtype=np.float64).sum(0)
    sd = np.sqrt(sumsq / max(block.shape[0], 1))
    bad = ~np.isfinite(sd) | (sd <= 1e-12 * np.maximum(1.0, np.abs(mean)))
    block /= np.where(bad, 1.0, sd).astype(block.dtype)
    return bad


class BrainData:
    """Brain responses, one stimulus id per row, with metadata and a space.

    Methods return new objects; the original is never modified.

    Parameters
    ----------
    responses : array-like of shape (n_rows, n_targets)
        Responses (trials or averaged stimuli x voxels/channels); stored as float32.
    stimulus_ids : array-like of shape (n_rows,)
        The stimulus shown on each row (int or str). Joins with features use these.
    row_meta : pandas.DataFrame, optional
        One row per response row (e.g. ``session``, ``run``, ``repetition``,
        ``n_trials``).
    col_meta : pandas.DataFrame, optional
        One row per target (e.g. voxel ``i, j, k``, ROI label columns, ``ncsnr``).
    space : VolumeSpace, optional
        Turns a column vector back into a brain image.
    roi_columns : sequence of str, optional
        Columns of ``col_meta`` that hold ROI label names (``""`` = unlabelled).
    stimuli : object, optional
        Stimulus store (images or text) for these ids.
    test_ids : array-like, optional
        The dataset's canonical held-out stimulus ids (NSD: shared1000).
    info : dict, optional
        Free-form provenance (dataset, subject, paths, ...).
    """

    def __init__(
        self,
        responses,
        stimulus_ids,
        row_meta=None,
        col_meta=None,
        space=None,
        roi_columns=(),
        stimuli=None,
        test_ids=None,
        info=None,
    ):
        responses = np.asarray(responses)
        if responses.ndim != 2:
            raise ParameterError(
                "Invalid shape for 'responses': expected 2-D (n_rows, n_targets); "
                f"got {responses.shape}."
            )
        self.responses = responses.astype(np.float32, copy=False)
        self.stimulus_ids = np.asarray(stimulus_ids)
        n_rows, n_targets = self.responses.shape
        if self.stimulus_ids.shape != (n_rows,):
            raise DataError(
                f"'stimulus_ids' must hold one id per row: expected {n_rows}; got "
                f"shape {self.stimulus_ids.shape}."
            )
        self.row_meta = _frame(row_meta, n_rows, "row_meta")
        self.col_meta = _frame(col_meta, n_targets, "col_meta")
        if space is not None and space.n_targets != n_targets:
            raise DataError(
                f"'space' describes {space.n_targets} targets but 'responses' has "
                f"{n_targets} columns."
            )
        self.space = space
        self.roi_columns = tuple(roi_columns)
        missing = [c for c in self.roi_columns if c not in self.col_meta]
        if missing:
            raise DataError(f"'roi_columns' {missing} are not columns of 'col_meta'.")
        self.stimuli = stimuli
        self.test_ids = None if test_ids is None else np.asarray(test_ids)
        self.info = dict(info or {})

    # -- shape --------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        """Number of rows (trials or stimuli)."""
        return self.responses.shape[0]

    @property
    def n_targets(self) -> int:
        """Number of targets (voxels, vertices or channels)."""
        return self.responses.shape[1]

    @property
    def n_trials(self) -> np.ndarray:
        """Number of trials averaged into each row (1 for single trials)."""
        if "n_trials" in self.row_meta:
            return self.row_meta["n_trials"].to_numpy()
        return np.ones(self.n_rows, dtype=np.int64)

    def __repr__(self) -> str:
        name = self.info.get("dataset", "?")
        subject = self.info.get("subject")
        who = f", subject={subject}" if subject is not None else ""
        space = self.space.kind if self.space is not None else None
        return (
            f"BrainData(dataset={name!r}{who}, n_rows={self.n_rows}, "
            f"n_targets={self.n_targets}, space={space!r})"
        )

    # -- subsetting ---------------------------------------------------------------
    def _take(self, rows=None, cols=None, **changes) -> BrainData:
        rows = slice(None) if rows is None else rows
        cols = slice(None) if cols is None else cols
        kwargs = dict(
            responses=self.responses[rows][:, cols],
            stimulus_ids=self.stimulus_ids[rows],
            row_meta=self.row_meta.iloc[rows].reset_index(drop=True),
            col_meta=self.col_meta.iloc[cols].reset_index(drop=True),
            space=None if self.space is None else self.space.select(cols),
            roi_columns=self.roi_columns,
            stimuli=self.stimuli,
            test_ids=self.test_ids,
            info=self.info,
        )
        kwargs.update(changes)
        return BrainData(**kwargs)

    def roi_names(self) -> list[str]:
        """List the ROI names this object can select (files and labels).

        Returns
        -------
        list of str
            ROI file names (each the union of its labels) followed by label names
            that label at least one target.
        """
        labels = []
        for col in self.roi_columns:
            values = self.col_meta[col].astype(str)
            labels.extend(v for v in pd.unique(values) if v)
        return list(self.roi_columns) + sorted(set(labels) - set(self.roi_columns))

    def roi_mask(self, names) -> np.ndarray:
        """Boolean mask of the targets in the union of the named ROIs.

        Parameters
        ----------
        names : str or sequence of str
            ROI label names (``"FFA-1"``) or ROI file names (``"floc-faces"``, all
            its labels).

        Returns
        -------
        ndarray of bool, shape (n_targets,)
            True for targets in any of the ROIs.
        """
        names = [names] if isinstance(names, str) else list(names)
        if not names:
            raise ParameterError("Invalid value for 'names': expected at least one ROI.")
        known = self.roi_names()
        keep = np.zeros(self.n_targets, dtype=bool)
        for name in names:
            if name not in known:
                close = closest_names(name, known)
                hint = f" Did you mean {', '.join(close)}?" if close else ""
                raise ParameterError(
                    f"Unknown ROI {name!r}: available ROIs are {', '.join(known)}.{hint}"
                )
            for col in self.roi_columns:
                values = self.col_meta[col].astype(str).to_numpy()
                keep |= (values != "") if name == col else (values == name)
        return keep

    def select_rois(self, names) -> BrainData:
        """Keep the targets in the union of the named ROIs.

        Parameters
        ----------
        names : str or sequence of str
            ROI label names or ROI file names (see :meth:`roi_mask`).

        Returns
        -------
        BrainData
            The selected targets.
        """
        keep = self.roi_mask(names)
        if not keep.any():
            raise DataError(f"ROI(s) {names!r} hold no targets in this data.")
        return self._take(cols=np.flatnonzero(keep))

    def select_stimuli(self, ids) -> BrainData:
        """Keep the rows whose stimulus id is in ``ids`` (order of the data).

        Parameters
        ----------
        ids : array-like
            Stimulus ids that must all be present.

        Returns
        -------
        BrainData
            The selected rows.

        Raises
        ------
        DataError
            If some requested ids are absent; the message names them.
        """
        ids = np.asarray(ids)
        present = np.isin(ids, self.stimulus_ids)
        if not present.all():
            missing = ids[~present]
            raise DataError(
                f"{missing.size} requested stimulus id(s) are absent from the data: "
                f"{_preview(missing)}."
            )
        return self._take(rows=np.flatnonzero(np.isin(self.stimulus_ids, ids)))

    def with_test_ids(self, ids) -> BrainData:
        """Return the same data with another canonical test set (used by :meth:`split`).

        Parameters
        ----------
        ids : array-like
            Held-out stimulus ids (those absent from the data are ignored).

        Returns
        -------
        BrainData
            A copy whose ``test_ids`` are ``ids``.
        """
        return self._take(test_ids=np.asarray(ids))

    def split(self, test_ids=None) -> tuple[BrainData, BrainData]:
        """Split rows into a training and a test set by stimulus id.

        Parameters
        ----------
        test_ids : array-like, optional
            Held-out stimulus ids. Defaults to the dataset's canonical test set
            (``test_ids``; NSD: the shared1000 images this subject saw).

        Returns
        -------
        train, test : BrainData
            Rows whose id is not / is in ``test_ids``.
        """
        if test_ids is None:
            if self.test_ids is None:
                raise ParameterError(
                    "Invalid value for 'test_ids': this dataset has no canonical "
                    "test set; pass the held-out stimulus ids."
                )
            test_ids = np.intersect1d(self.test_ids, self.stimulus_ids)
        test_ids = np.asarray(test_ids)
        is_test = np.isin(self.stimulus_ids, test_ids)
        absent = ~np.isin(test_ids, self.stimulus_ids)
        if absent.any():
            raise DataError(
                f"{int(absent.sum())} test stimulus id(s) are absent from the data: "
                f"{_preview(test_ids[absent])}."
            )
        return (
            self._take(rows=np.flatnonzero(~is_test)),
            self._take(rows=np.flatnonzero(is_test)),
        )

    # -- transformations ----------------------------------------------------------
    def average_repetitions(self) -> BrainData:
        """Average the rows that share a stimulus id.

        Rows are weighted by their ``n_trials``, so averaging twice is harmless.
        Stimuli keep the order of their first appearance. Row metadata columns that
        are constant within every stimulus are kept; ``n_trials`` holds the count.

        Returns
        -------
        BrainData
            One row per stimulus.
        """
        import scipy.sparse as sp

        uniq, first, inverse = np.unique(self.stimulus_ids, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        group = rank[inverse.ravel()]
        weights = self.n_trials.astype(np.float64)
        counts = np.bincount(group, weights=weights)
        avg = sp.csr_matrix(
            ((weights / counts[group]).astype(np.float32), (group, np.arange(group.size))),
            shape=(uniq.size, self.n_rows),
        )
        responses = np.asarray(avg @ self.responses, dtype=np.float32)
        meta = self.row_meta.drop(columns=["n_trials"], errors="ignore")
        constant = [
            c for c in meta.columns if (meta.groupby(group)[c].nunique(dropna=False) <= 1).all()
        ]
        row_meta = meta[constant].groupby(group).first().reset_index(drop=True)
        row_meta["n_trials"] = counts.astype(np.int64)
        return BrainData(
            responses,
            uniq[order],
            row_meta=row_meta,
            col_meta=self.col_meta,
            space=self.space,
            roi_columns=self.roi_columns,
            stimuli=self.stimuli,
            test_ids=self.test_ids,
            info=self.info,
        )

    def zscore(self, by: str | None = "session") -> BrainData:
        """Z-score every target within groups of rows.

        Targets that are constant (or not finite) within any group are dropped with
        one warning that counts them.

        Parameters
        ----------
        by : str or None
            Row metadata column defining the groups (``"session"``, ``"run"``), or
            None to z-score over all rows.

        Returns
        -------
        BrainData
            Standardised responses.
        """
        if by is not None:
            check_option("by", by, list(self.row_meta.columns))
            groups = self.row_meta[by].to_numpy()
        else:
            groups = np.zeros(self.n_rows)
        out = self.responses.copy()
        bad = np.zeros(self.n_targets, dtype=bool)
        for value in pd.unique(groups):
            rows = np.flatnonzero(groups == value)
            block = out[rows]
            bad |= zscore_columns(block)
            out[rows] = block
        data = self._take(responses=out)
        return data.drop_targets(bad, reason=f"constant or not finite within a {by}")

    def drop_targets(self, bad, reason: str) -> BrainData:
        """Drop flagged targets with one warning that counts them.

        Parameters
        ----------
        bad : array-like of bool, shape (n_targets,)
            Targets to drop.
        reason : str
            Why they are dropped (goes into the warning).

        Returns
        -------
        BrainData
            The remaining targets (``self`` when nothing is dropped).
        """
        bad = np.asarray(bad, dtype=bool)
        if not bad.any():
            return self
        if bad.all():
            raise DataError(f"Every one of the {bad.size} targets is {reason}.")
        warn(f"Dropped {int(bad.sum())} of {bad.size} targets: {reason}.")
        return self._take(cols=np.flatnonzero(~bad))

    # -- noise ceiling and images -------------------------------------------------
    @property
    def ncsnr(self) -> np.ndarray | None:
        """Noise-ceiling SNR per target (signed where estimated), or None without one."""
        if "ncsnr" not in self.col_meta:
            return None
        return self.col_meta["ncsnr"].to_numpy(dtype=np.float64)

    def noise_ceiling(self, n_trials=None) -> np.ndarray | None:
        """Noise ceiling per target in percent, from the ncsnr.

        Parameters
        ----------
        n_trials : int or array-like, optional
            Trials averaged per scored row; defaults to this object's rows
            (``n_trials`` column; mixed counts use the Algonauts normalisation).

        Returns
        -------
        ndarray of shape (n_targets,) or None
            None when the dataset has no ncsnr; negative where the ncsnr is a signed
            estimate below 0 (see :func:`noise_ceiling_from_ncsnr`).
        """
        if self.ncsnr is None:
            return None
        return noise_ceiling_from_ncsnr(self.ncsnr, self.n_trials if n_trials is None else n_trials)

    def with_ncsnr(self, ncsnr) -> BrainData:
        """Return a copy whose targets carry the given noise-ceiling SNR.

        Parameters
        ----------
        ncsnr : array-like of shape (n_targets,)
            ncsnr per target (e.g. from a split-half estimate; may be signed).

        Returns
        -------
        BrainData
            The copy.
        """
        ncsnr = np.asarray(ncsnr, dtype=np.float64)
        if ncsnr.shape != (self.n_targets,) or not np.isfinite(ncsnr).all():
            raise DataError(
                f"'ncsnr' must hold {self.n_targets} finite values; got shape {ncsnr.shape}."
            )
        col_meta = self.col_meta.copy()
        col_meta["ncsnr"] = ncsnr
        return self._take(col_meta=col_meta)

    def to_image(self, values, fill=0.0):
        """Turn one value per target into a brain image.

        Parameters
        ----------
        values : array-like of shape (n_targets,) or (n_targets, n_maps)
            Values to place.
        fill : float
            Value outside the targets.

        Returns
        -------
        nibabel.Nifti1Image
            The image in the data's space.
        """
        if self.space is None:
            raise DataError("This BrainData has no space to build an image from.")
        return self.space.to_image(values, fill=fill)


def _frame(meta, n: int, name: str) -> pd.DataFrame:
    """Validate a metadata table of ``n`` rows (None -> empty table)."""
    if meta is None:
        return pd.DataFrame(index=pd.RangeIndex(n))
    meta = pd.DataFrame(meta).reset_index(drop=True)
    if len(meta) != n:
        raise DataError(f"'{name}' must have {n} rows; got {len(meta)}.")
    return meta


def _preview(values, n: int = 10) -> str:
    """Show the first ``n`` values of an array in a message."""
    values = list(np.asarray(values).tolist())
    more = f", ... ({len(values) - n} more)" if len(values) > n else ""
    return ", ".join(map(repr, values[:n])) + more
