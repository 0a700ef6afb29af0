"""Sensor space: EEG/MEG channels x time points as the columns of a BrainData.

Epoched recordings ``(n_trials, n_channels, n_times)`` are flattened channel-major to
``(n_trials, n_channels * n_times)``: column ``c * n_times + t`` holds channel ``c``
at time ``times[t]``. Every estimator that works on voxels then works unchanged on
channel x time targets, and :class:`SensorSpace` turns a column vector back into a
``(n_channels, n_times)`` array, an :class:`mne.EvokedArray` or a topomap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainalign.exceptions import DataError, ParameterError


class SensorSpace:
    """Channels (names, types, positions) x time points, and the cell of each column.

    Parameters
    ----------
    ch_names : sequence of str
        Channel names.
    times : array-like of shape (n_times,)
        Time of each sample relative to stimulus onset, in seconds.
    sfreq : float, optional
        Sampling frequency in Hz (default: from the spacing of ``times``).
    ch_types : sequence of str, optional
        MNE channel type of each channel (default: all ``"eeg"``).
    positions : array-like of shape (n_channels, 3), optional
        Sensor positions in metres (MNE head coordinates); NaN rows where unknown.
    montage : str, optional
        Name of an MNE standard montage (e.g. ``"standard_1005"``) that places the
        channels whose ``positions`` are unknown.
    columns : array-like of shape (n_targets, 2), optional
        ``(channel index, time index)`` of each column (default: the full grid,
        channel-major).
    """

    kind = "sensors"
    time_resolved = True
    voxel_grid = False

    def __init__(
        self, ch_names, times, sfreq=None, ch_types=None, positions=None, montage=None, columns=None
    ):
        self.ch_names = [str(c) for c in ch_names]
        self.times = np.asarray(times, dtype=np.float64).ravel()
        n_ch, n_t = len(self.ch_names), self.times.size
        if n_ch == 0 or n_t == 0 or len(set(self.ch_names)) != n_ch:
            raise DataError(
                f"A sensor space needs unique channel names and at least one time point; "
                f"got {n_ch} channel(s) ({n_ch - len(set(self.ch_names))} duplicated) and "
                f"{n_t} time point(s)."
            )
        self.sfreq = float(sfreq) if sfreq is not None else _sfreq_of(self.times)
        self.ch_types = ["eeg"] * n_ch if ch_types is None else [str(t) for t in ch_types]
        if len(self.ch_types) != n_ch:
            raise DataError(f"'ch_types' must give {n_ch} types; got {len(self.ch_types)}.")
        self.positions = (
            np.full((n_ch, 3), np.nan) if positions is None else np.asarray(positions, float)
        )
        if self.positions.shape != (n_ch, 3):
            raise DataError(f"'positions' must have shape ({n_ch}, 3); got {self.positions.shape}.")
        self.montage = montage
        if columns is None:
            grid = np.indices((n_ch, n_t)).reshape(2, -1).T
            columns = grid
        self.columns = np.asarray(columns, dtype=np.int64).reshape(-1, 2)
        bad = (self.columns < 0) | (self.columns >= np.array([n_ch, n_t]))
        if bad.any():
            raise DataError(f"Column cells fall outside {n_ch} channels x {n_t} time points.")

    # -- shape ----------------------------------------------------------------------
    @property
    def n_targets(self) -> int:
        """Number of columns (channel x time cells)."""
        return len(self.columns)

    @property
    def n_channels(self) -> int:
        """Number of channels of the space (not only those with columns)."""
        return len(self.ch_names)

    @property
    def n_times(self) -> int:
        """Number of time points of the space."""
        return self.times.size

    @property
    def column_channels(self) -> np.ndarray:
        """Channel name of each column."""
        return np.asarray(self.ch_names, dtype=object)[self.columns[:, 0]]

    @property
    def column_times(self) -> np.ndarray:
        """Time (s) of each column."""
        return self.times[self.columns[:, 1]]

    def col_meta(self) -> pd.DataFrame:
        """Column metadata: ``channel, time, ch_type`` of every column.

        Returns
        -------
        pandas.DataFrame
            One row per column.
        """
        return pd.DataFrame(
            {
                "channel": self.column_channels.astype(str),
                "time": self.column_times,
                "ch_type": np.asarray(self.ch_types, dtype=object)[self.columns[:, 0]].astype(str),
            }
        )

    def score_columns(self) -> pd.DataFrame:
        """Columns locating each target in a score table: ``channel, time``."""
        return self.col_meta()[["channel", "time"]]

    def write_maps(self, values: dict, out, stem: str, projections=(), projected=None) -> dict:
        """Write no image: sensor maps are the score table's channel x time cells.

        Topomaps are figures (drawn from ``scores.parquet``); there is no image
        format for a channel x time grid that other tools read, so nothing is written.

        Parameters
        ----------
        values : dict of str -> array-like of shape (n_targets,)
            One value per column and statistic (validated, not written).
        out : str or Path
            Unused.
        stem : str
            Unused.
        projections, projected : optional
            Ignored.

        Returns
        -------
        dict
            Empty.
        """
        from brainalign.data._space import check_map_values

        check_map_values(self, values)
        return {}

    def select(self, columns) -> SensorSpace:
        """Return the space of a subset of columns.

        Parameters
        ----------
        columns : array-like of int or bool
            Column indices or boolean mask.

        Returns
        -------
        SensorSpace
            Same channels and times, fewer columns.
        """
        return SensorSpace(
            self.ch_names,
            self.times,
            self.sfreq,
            self.ch_types,
            self.positions,
            self.montage,
            self.columns[columns],
        )

    def time_columns(self) -> list[np.ndarray]:
        """Column indices at each time point (channels in space order).

        Returns
        -------
        list of ndarray of int
            One entry per time point of ``times`` (empty where no column has it).
        """
        order = np.lexsort((self.columns[:, 0], self.columns[:, 1]))
        t = self.columns[order, 1]
        return [order[t == k] for k in range(self.n_times)]

    # -- back to sensors ------------------------------------------------------------
    def to_array(self, values, fill=np.nan) -> np.ndarray:
        """Put one value per column back on the channel x time grid.

        Parameters
        ----------
        values : array-like of shape (n_targets,) or (n_targets, n_maps)
            Values.
        fill : float
            Value of cells without a column.

        Returns
        -------
        ndarray of shape (n_channels, n_times) or (n_channels, n_times, n_maps)
            The grid.
        """
        values = np.asarray(values)
        if values.shape[:1] != (self.n_targets,) or values.ndim > 2:
            raise ParameterError(
                f"Invalid shape for 'values': expected ({self.n_targets},) or "
                f"({self.n_targets}, n_maps); got {values.shape}."
            )
        dtype = np.result_type(values.dtype, np.float64) if np.isnan(fill) else values.dtype
        out = np.full((self.n_channels, self.n_times) + values.shape[1:], fill, dtype=dtype)
        out[self.columns[:, 0], self.columns[:, 1]] = values
        return out

    def to_image(self, values, fill=np.nan) -> np.ndarray:
        """Return :meth:`to_array` (the sensor analogue of a volume image)."""
        return self.to_array(values, fill=fill)

    def create_info(self):
        """Build an :class:`mne.Info` of the channels, with positions when known.

        Returns
        -------
        mne.Info
            Channel names, types and sampling frequency; sensor locations from
            ``positions`` and, for the rest, from ``montage``.
        """
        import mne

        info = mne.create_info(self.ch_names, self.sfreq, self.ch_types)
        known = np.isfinite(self.positions).all(axis=1)
        if self.montage is not None:
            with _quiet_mne():
                info.set_montage(montage_name(self.montage), on_missing="ignore")
        for k in np.flatnonzero(known):
            info["chs"][k]["loc"][:3] = self.positions[k]
        return info

    def to_evoked(self, values, comment: str = ""):
        """Wrap one value per column as an :class:`mne.EvokedArray` (NaN -> 0).

        Parameters
        ----------
        values : array-like of shape (n_targets,)
            Values (e.g. r per channel and time).
        comment : str
            Evoked comment.

        Returns
        -------
        mne.EvokedArray
            ``(n_channels, n_times)`` data starting at ``times[0]``.
        """
        import mne

        grid = np.nan_to_num(self.to_array(np.asarray(values, dtype=np.float64)))
        with _quiet_mne():
            return mne.EvokedArray(grid, self.create_info(), tmin=self.times[0], comment=comment)

    def __repr__(self) -> str:
        return (
            f"SensorSpace(n_channels={self.n_channels}, n_times={self.n_times}, "
            f"sfreq={self.sfreq:g}, n_targets={self.n_targets})"
        )


def sensor_data(
    epochs,
    stimulus_ids,
    ch_names,
    times,
    sfreq=None,
    ch_types=None,
    positions=None,
    montage=None,
    row_meta=None,
    stimuli=None,
    test_ids=None,
    info=None,
):
    """Build a BrainData from epoched data ``(n_trials, n_channels, n_times)``.

    Parameters
    ----------
    epochs : array-like of shape (n_trials, n_channels, n_times)
        Epoched recordings.
    stimulus_ids : array-like of shape (n_trials,)
        Stimulus of each trial.
    ch_names, times, sfreq, ch_types, positions, montage
        See :class:`SensorSpace`.
    row_meta : pandas.DataFrame, optional
        One row per trial.
    stimuli : object, optional
        Stimulus store.
    test_ids : array-like, optional
        Canonical held-out stimulus ids.
    info : dict, optional
        Provenance.

    Returns
    -------
    BrainData
        Responses ``(n_trials, n_channels * n_times)`` (channel-major), ``col_meta``
        ``channel, time, ch_type``, ``roi_columns=("channel",)`` (so channels can be
        selected by name with :meth:`BrainData.select_rois`) and a
        :class:`SensorSpace`.
    """
    from brainalign.data._braindata import BrainData

    epochs = np.asarray(epochs)
    if epochs.ndim != 3:
        raise DataError(
            f"Epoched data must be 3-D (n_trials, n_channels, n_times); got {epochs.shape}."
        )
    space = SensorSpace(ch_names, times, sfreq, ch_types, positions, montage)
    if epochs.shape[1:] != (space.n_channels, space.n_times):
        raise DataError(
            f"Epoched data have {epochs.shape[1]} channels x {epochs.shape[2]} times but "
            f"{space.n_channels} channel names and {space.n_times} times were given."
        )
    responses = epochs.reshape(len(epochs), -1).astype(np.float32, copy=False)
    return BrainData(
        responses,
        stimulus_ids,
        row_meta=row_meta,
        col_meta=space.col_meta(),
        space=space,
        roi_columns=("channel",),
        stimuli=stimuli,
        test_ids=test_ids,
        info=info,
    )


def epochs_array(data) -> np.ndarray:
    """Return the responses of a full-grid sensor BrainData as ``(n, n_ch, n_times)``.

    Parameters
    ----------
    data : BrainData
        Data in a :class:`SensorSpace`.

    Returns
    -------
    ndarray of shape (n_rows, n_channels, n_times)
        Cells without a column are NaN.
    """
    space = check_sensor_space(data)
    if space.n_targets == space.n_channels * space.n_times and np.array_equal(
        space.columns, np.indices((space.n_channels, space.n_times)).reshape(2, -1).T
    ):
        return data.responses.reshape(data.n_rows, space.n_channels, space.n_times)
    return np.moveaxis(space.to_array(data.responses.T), -1, 0)


def check_sensor_space(data) -> SensorSpace:
    """Return the SensorSpace of ``data`` or raise a DataError naming what it has."""
    space = getattr(data, "space", None)
    if not isinstance(space, SensorSpace):
        kind = getattr(space, "kind", None)
        raise DataError(
            "Time-resolved analyses need BrainData in a sensor space (channels x times); "
            f"got space {kind!r}."
        )
    return space


def crop_times(data, tmin=None, tmax=None):
    """Keep the columns whose time lies in ``[tmin, tmax]``.

    Parameters
    ----------
    data : BrainData
        Data in a sensor space.
    tmin, tmax : float, optional
        Window in seconds (inclusive; None = open end).

    Returns
    -------
    BrainData
        The cropped data (same time grid in its space; fewer columns).
    """
    check_sensor_space(data)
    t = data.space.column_times
    keep = np.ones(t.size, dtype=bool)
    eps = 1e-9
    if tmin is not None:
        keep &= t >= tmin - eps
    if tmax is not None:
        keep &= t <= tmax + eps
    if not keep.any():
        raise ParameterError(
            f"Invalid value for 'tmin'/'tmax': no time point in [{tmin}, {tmax}]; the data "
            f"span {t.min():.3f} to {t.max():.3f} s."
        )
    return data._take(cols=np.flatnonzero(keep))


def montage_name(name: str) -> str:
    """MNE's current name of a standard montage (``standard_1005`` -> ``colin27_1005``).

    MNE 1.13 renamed the ``standard_*`` template montages to ``colin27_*``; older
    versions know only the first names.

    Parameters
    ----------
    name : str
        Montage name.

    Returns
    -------
    str
        A name this MNE version knows without a deprecation warning.
    """
    import mne

    builtin = mne.channels.get_builtin_montages()
    if name.startswith("standard_") and "colin27_" + name[9:] in builtin:
        return "colin27_" + name[9:]
    return name


#: Montage that places channels known only by name (topomaps, report).
DEFAULT_MONTAGE = "standard_1005"


def place_channels(ch_names, montage=DEFAULT_MONTAGE, positions=None, ch_types=None):
    """Place channels on a standard montage, matching names without regard to case.

    The one way channels get positions for a figure: the topomaps of
    :mod:`brainalign.maps` and of the report both call it.

    Parameters
    ----------
    ch_names : sequence of str
        Channel names (``"oz"`` finds the montage's ``"Oz"``).
    montage : str or None
        MNE standard montage (see :func:`montage_name`); None: only ``positions``.
    positions : array-like of shape (n_channels, 3), optional
        Known positions in metres (MNE head coordinates), NaN rows where unknown;
        a known position wins over the montage.
    ch_types : sequence of str, optional
        MNE channel type of each channel (default: all ``"eeg"``).

    Returns
    -------
    info : mne.Info
        The placed channels only, under the given names, in ``ch_names`` order.
    placed : list of str
        Their names (``info.ch_names``); the others have no position.
    """
    import mne

    names = [str(c) for c in ch_names]
    known = np.zeros(len(names), bool) if positions is None else _finite_rows(positions)
    unknown = [n for n, k in zip(names, known, strict=True) if not k]
    spelling = _montage_spelling(unknown, montage, reserved=names)
    keep = [i for i, n in enumerate(names) if known[i] or n in spelling]
    types = ["eeg"] * len(names) if ch_types is None else [str(t) for t in ch_types]
    info = mne.create_info(
        [spelling.get(names[i], names[i]) for i in keep], 1000.0, [types[i] for i in keep]
    )
    if spelling:
        with _quiet_mne():
            info.set_montage(montage_name(montage), on_missing="ignore")
    for j, i in enumerate(keep):
        if known[i]:
            info["chs"][j]["loc"][:3] = np.asarray(positions, float)[i]
    with _quiet_mne():
        mne.rename_channels(info, {v: k for k, v in spelling.items() if k != v})
    return info, [names[i] for i in keep]


def _finite_rows(positions) -> np.ndarray:
    positions = np.asarray(positions, dtype=np.float64)
    return np.isfinite(positions).all(axis=1) & (np.abs(positions).sum(axis=1) > 0)


def _montage_spelling(names, montage, reserved=()) -> dict:
    """Map each name the montage knows (any case) to its spelling there.

    An exact match wins; no two names get the same spelling, nor one in ``reserved``
    (the other channels' names).
    """
    if montage is None:
        return {}
    import mne

    with _quiet_mne():
        known = mne.channels.make_standard_montage(montage_name(montage)).ch_names
    lookup = {ch.lower(): ch for ch in known}
    out, taken = {}, set(names) | set(reserved)
    for name in names:
        match = lookup.get(name.lower())
        if match is not None and (match == name or match not in taken):
            out[name] = match
            taken.add(match)
    return out


def _sfreq_of(times: np.ndarray) -> float:
    if times.size < 2:
        raise DataError("Pass 'sfreq': one time point does not give a sampling frequency.")
    step = np.diff(times)
    if not np.allclose(step, step[0], rtol=1e-3, atol=1e-9) or step[0] <= 0:
        raise DataError("'times' must be increasing and evenly spaced to infer 'sfreq'.")
    return float(1.0 / step.mean())


class _quiet_mne:  # noqa: N801  (a context manager used like a function)
    """Silence MNE's info-level logging inside the block.

    Warnings whose message matches one of ``known`` (regular expressions) are facts
    about the data that the caller handles; they are logged instead of raised.
    """

    def __init__(self, known=()):
        self.known = tuple(known)

    def __enter__(self):
        import warnings

        import mne

        self._level = mne.set_log_level("WARNING", return_old_level=True)
        self._caught = warnings.catch_warnings(record=True)
        self._records = self._caught.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc):
        import re
        import warnings

        import mne

        from brainalign._utils import get_logger

        self._caught.__exit__(*exc)
        mne.set_log_level(self._level)
        for w in self._records:
            if any(re.search(p, str(w.message)) for p in self.known):
                get_logger(__name__).info("MNE: %s", w.message)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return False
