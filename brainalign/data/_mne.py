"""MNE adapters: Epochs, ``-epo.fif`` files, raw recordings and Muse CSV files.

Raw recordings are read with MNE's readers (FIF, EEGLAB ``.set``, BrainVision
``.vhdr``, EDF/BDF) or, for the Muse headband CSV files of eeg-notebooks, built as
an :class:`mne.io.RawArray`. Events come from a stim channel or from annotations,
are mapped to stimulus ids, and are epoched with ``tmin``/``tmax``/``baseline``.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import check_option, require_file
from brainalign.data._adapter import ALL_SUBJECTS, DatasetAdapter, DatasetSummary, SubjectSummary
from brainalign.data._reading import reading
from brainalign.data._registry import register_dataset
from brainalign.data._sensors import _quiet_mne, crop_times, montage_name, sensor_data
from brainalign.exceptions import DataError, MissingFileError, ParameterError

#: File endings -> (label, MNE reader name); ``.csv`` is a Muse recording.
READERS = {
    ".fif": ("FIF", "read_raw_fif"),
    ".fif.gz": ("FIF", "read_raw_fif"),
    ".set": ("EEGLAB", "read_raw_eeglab"),
    ".vhdr": ("BrainVision", "read_raw_brainvision"),
    ".edf": ("EDF", "read_raw_edf"),
    ".bdf": ("BDF", "read_raw_bdf"),
    ".csv": ("Muse CSV", None),
}
MUSE_CHANNELS = ("TP9", "AF7", "AF8", "TP10", "Right AUX")
MUSE_SFREQ = 256.0
#: MNE warnings that state facts this module handles (logged, not raised): EEGLAB
#: boundary events (turned into BAD annotations, so no epoch straddles them) and
#: EEGLAB epochs holding several events (the first one, time-locking, is kept).
_HANDLED = (r"'boundary' events", r"multiple events")


def _ending(path: Path) -> str:
    name = path.name.lower()
    for end in sorted(READERS, key=len, reverse=True):
        if name.endswith(end):
            return end
    raise ParameterError(
        f"Invalid value for 'path': unknown recording type {path.name!r}; readable endings "
        f"are {', '.join(READERS)} (and -epo.fif for epochs)."
    )


def read_raw(path, preload: bool = True):
    """Read a raw recording with the MNE reader of its file type.

    Parameters
    ----------
    path : str or Path
        ``.fif``/``.fif.gz``, ``.set`` (EEGLAB), ``.vhdr`` (BrainVision), ``.edf``,
        ``.bdf`` or a Muse ``.csv``.
    preload : bool
        Load the data into memory.

    Returns
    -------
    mne.io.BaseRaw
        The recording.
    """
    import mne

    path = require_file(path, "EEG recording")
    label, reader = READERS[_ending(path)]
    if reader is None:
        return read_muse_csv(path)
    with reading(path, f"{label} recording"), _quiet_mne(_HANDLED), _whole_file():
        raw = getattr(mne.io, reader)(path, preload=preload)
    return _mark_boundaries(raw)


@contextlib.contextmanager
def _whole_file():
    """Make MNE's warning about a cut FIF ("Invalid tag with only 0/16 bytes") an error."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Invalid tag with only", category=RuntimeWarning)
        yield


def _mark_boundaries(raw):
    """Rename EEGLAB ``boundary`` annotations to ``BAD boundary`` (epochs avoid them)."""
    desc = raw.annotations.description
    if len(desc) and (desc == "boundary").any():
        desc = np.where(desc == "boundary", "BAD boundary", desc)
        raw.annotations.description = desc
    return raw


def read_muse_csv(paths, sfreq: float = MUSE_SFREQ):
    """Read Muse headband CSV files (eeg-notebooks) into one :class:`mne.io.RawArray`.

    Columns ``timestamps, TP9, AF7, AF8, TP10, Right AUX, Marker0`` (microvolts);
    ``Right AUX`` becomes a ``misc`` channel and ``Marker0`` the stim channel
    ``STI``. Several files are concatenated in the order given (MNE marks the joins
    as bad segments, so epochs never straddle two files).

    Parameters
    ----------
    paths : str, Path or sequence
        One or several CSV files.
    sfreq : float
        Sampling frequency (the Muse's nominal 256 Hz; the CSV timestamps jitter).

    Returns
    -------
    mne.io.RawArray
        EEG in volts plus the ``STI`` channel.
    """
    import mne

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise ParameterError("Invalid value for 'paths': expected at least one CSV file.")
    raws = []
    for path in paths:
        with reading(require_file(path, "Muse CSV file"), "Muse CSV file"):
            table = pd.read_csv(path)
        missing = [c for c in (*MUSE_CHANNELS[:4], "Marker0") if c not in table]
        if missing:
            raise DataError(f"{Path(path).name} lacks Muse column(s) {missing}.")
        names = [c for c in MUSE_CHANNELS if c in table]
        data = table[names].to_numpy(np.float64).T * 1e-6
        stim = table["Marker0"].to_numpy(np.float64)[None]
        types = ["eeg" if c != "Right AUX" else "misc" for c in names] + ["stim"]
        info = mne.create_info([*names, "STI"], sfreq, types)
        with _quiet_mne():
            raw = mne.io.RawArray(np.vstack([data, stim]), info)
        raws.append(raw)
    with _quiet_mne():
        raw = mne.concatenate_raws(raws) if len(raws) > 1 else raws[0]
        raw.set_montage(montage_name("standard_1005"), on_missing="ignore")
    return raw


def find_events(raw, stim_channel=None):
    """Events of a raw recording: from a stim channel, else from its annotations.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Recording.
    stim_channel : str, optional
        Stim channel name (default: MNE's choice when the recording has one).

    Returns
    -------
    events : ndarray of shape (n_events, 3)
        MNE events (sample, previous value, code).
    names : dict of int -> str
        Annotation description of each code (empty for a stim channel).
    """
    import mne

    with _quiet_mne():
        has_stim = stim_channel is not None or "stim" in raw.get_channel_types()
        if has_stim:
            events = mne.find_events(raw, stim_channel=stim_channel, shortest_event=1)
            names = {}
        else:
            events, ids = mne.events_from_annotations(raw)
            names = {code: desc for desc, code in ids.items()}
    if len(events) == 0:
        raise DataError("The recording has no events (no stim channel pulses or annotations).")
    return events, names


def epochs_from_raw(
    raw,
    event_map=None,
    tmin=-0.2,
    tmax=0.8,
    baseline=(None, 0),
    picks="eeg",
    reject=None,
    l_freq=None,
    h_freq=None,
    stim_channel=None,
    reject_by_annotation=True,
    decim=1,
):
    """Epoch a raw recording around the events that map to stimuli.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Recording (filtered in place of a copy when ``l_freq``/``h_freq`` are given).
    event_map : dict, optional
        Event code (int) or annotation description (str) -> stimulus id. Events not
        in the map are dropped. Default: every event, its id being its annotation
        description (or its code as a string).
    tmin, tmax : float
        Epoch window around each event, in seconds.
    baseline : tuple or None
        Baseline window (MNE convention; None: no baseline correction).
    picks : str or list
        Channels to keep (MNE picks; default ``"eeg"``).
    reject : dict, optional
        Peak-to-peak rejection thresholds (MNE), e.g. ``{"eeg": 100e-6}``.
    l_freq, h_freq : float, optional
        Band-pass filter applied to a copy of ``raw`` before epoching.
    stim_channel : str, optional
        Stim channel to read events from.
    reject_by_annotation : bool
        Drop epochs that overlap ``BAD`` annotations (including EEGLAB boundaries
        and the joins of concatenated files).
    decim : int
        Keep every ``decim``-th sample of the epochs (low-pass first: ``h_freq``).

    Returns
    -------
    epochs : mne.Epochs
        The epochs (preloaded).
    stimulus_ids : ndarray
        Stimulus id of each kept epoch.
    """
    import mne

    events, names = find_events(raw, stim_channel)
    labels = {code: names.get(code, str(code)) for code in np.unique(events[:, 2])}
    mapping = _resolve_map(event_map, labels)
    keep = np.isin(events[:, 2], list(mapping))
    if not keep.any():
        raise DataError(
            f"No event matches 'event_map' {event_map!r}; the recording has events "
            f"{sorted(labels.items())}."
        )
    if l_freq is not None or h_freq is not None:
        raw = raw.copy().load_data()
        with _quiet_mne():
            raw.filter(l_freq, h_freq, picks=picks)
    event_id = {labels[c]: int(c) for c in mapping}
    try:
        with _quiet_mne((r"All epochs were dropped",)):
            epochs = mne.Epochs(
                raw,
                events[keep],
                event_id=event_id,
                tmin=tmin,
                tmax=tmax,
                baseline=baseline,
                picks=picks,
                reject=reject,
                reject_by_annotation=reject_by_annotation,
                decim=decim,
                preload=True,
            )
    except ValueError as exc:  # MNE's checks of tmin/tmax/baseline/picks/reject
        raise ParameterError(f"Invalid epoching parameters: {exc}") from exc
    if len(epochs) == 0:
        raise DataError(
            "Every epoch was rejected (window outside the recording, 'reject' limits or "
            "BAD annotations); check 'tmin'/'tmax', 'reject' and 'reject_by_annotation'."
        )
    ids = np.array([mapping[int(c)] for c in epochs.events[:, 2]])
    return epochs, ids


def _resolve_map(event_map, labels: dict) -> dict:
    """Event code -> stimulus id from a map keyed by code or by description."""
    if event_map is None:
        return dict(labels)
    by_name = {name: code for code, name in labels.items()}
    mapping = {}
    for key, sid in dict(event_map).items():
        if isinstance(key, str) and key in by_name:
            mapping[by_name[key]] = sid
        elif not isinstance(key, str) and int(key) in labels:
            mapping[int(key)] = sid
        elif isinstance(key, str) and key.isdigit() and int(key) in labels:
            mapping[int(key)] = sid
    return mapping


def from_epochs(epochs, stimulus_ids=None, event_map=None, test_ids=None, stimuli=None, info=None):
    """Turn :class:`mne.Epochs` into a sensor BrainData.

    Parameters
    ----------
    epochs : mne.Epochs or mne.EpochsArray
        Epochs (data are read into memory).
    stimulus_ids : array-like of shape (n_epochs,), optional
        Stimulus of each epoch. Default: ``event_map`` applied to the event codes, or
        the event names of ``epochs.event_id``.
    event_map : dict, optional
        Event code or event name -> stimulus id.
    test_ids : array-like, optional
        Canonical held-out stimulus ids.
    stimuli : object, optional
        Stimulus store.
    info : dict, optional
        Provenance.

    Returns
    -------
    BrainData
        ``(n_epochs, n_channels * n_times)`` responses with a SensorSpace (channel
        names, types, positions from the montage, sampling frequency, times) and
        ``row_meta`` with ``event`` (code) and ``epoch`` (index).
    """
    codes = epochs.events[:, 2]
    if stimulus_ids is None:
        names = {code: name for name, code in epochs.event_id.items()}
        labels = {int(c): names.get(int(c), str(int(c))) for c in np.unique(codes)}
        mapping = _resolve_map(event_map, labels)
        missing = sorted(set(map(int, codes)) - set(mapping))
        if missing:
            raise DataError(
                f"'event_map' gives no stimulus id for event code(s) {missing} "
                f"({[labels[m] for m in missing]})."
            )
        stimulus_ids = np.array([mapping[int(c)] for c in codes])
    stimulus_ids = np.asarray(stimulus_ids)
    if stimulus_ids.shape != (len(epochs),):
        raise DataError(
            f"'stimulus_ids' must hold one id per epoch ({len(epochs)}); got shape "
            f"{stimulus_ids.shape}."
        )
    with _quiet_mne():
        data = epochs.get_data(copy=False)
    ch_info = epochs.info["chs"]
    positions = np.array([ch["loc"][:3] for ch in ch_info], dtype=float)
    positions[~np.isfinite(positions).all(1) | (np.abs(positions).sum(1) == 0)] = np.nan
    return sensor_data(
        data,
        stimulus_ids,
        epochs.ch_names,
        epochs.times,
        sfreq=epochs.info["sfreq"],
        ch_types=epochs.get_channel_types(),
        positions=positions,
        row_meta=pd.DataFrame({"event": codes, "epoch": np.arange(len(epochs))}),
        stimuli=stimuli,
        test_ids=test_ids,
        info={"dataset": "mne", **(info or {})},
    )


@register_dataset("mne")
class MNEDataset(DatasetAdapter):
    """Epochs or raw recordings read through MNE, with an event -> stimulus-id map.

    Parameters
    ----------
    root : str or Path, optional
        Folder that relative file names are taken from, or the recording itself.
    """

    modality = "eeg"

    def __init__(self, root=None):
        self.root = None if root is None else require_file(root, "EEG data folder or file")

    def _paths(self, files) -> list[Path]:
        if files is None:
            if self.root is None or self.root.is_dir():
                raise ParameterError(
                    "Invalid value for 'files': name the recording(s) (or pass the file as 'root')."
                )
            return [self.root]
        files = [files] if isinstance(files, (str, Path)) else list(files)
        base = self.root if self.root is not None and self.root.is_dir() else None
        return [
            require_file(base / f if base is not None and not Path(f).is_absolute() else f, "file")
            for f in files
        ]

    def load(
        self,
        files=None,
        epochs=None,
        event_map=None,
        stimulus_ids=None,
        tmin=-0.2,
        tmax=0.8,
        baseline=(None, 0),
        picks="eeg",
        reject=None,
        l_freq=None,
        h_freq=None,
        stim_channel=None,
        reject_by_annotation=True,
        roi=None,
        test_ids=None,
        subject=None,
        progress=False,
    ):
        """Load epochs (object or ``-epo.fif``) or epoch raw recordings.

        Parameters
        ----------
        files : str, Path or sequence, optional
            ``-epo.fif`` file, or raw recording(s) (``.fif``, ``.set``, ``.vhdr``,
            ``.edf``, ``.bdf``, Muse ``.csv``), read in order and concatenated.
        epochs : mne.Epochs, optional
            Epochs already in memory (instead of ``files``).
        event_map : dict, optional
            Event code or description -> stimulus id (see :func:`epochs_from_raw`).
        stimulus_ids : array-like, optional
            Stimulus id of each epoch (epochs input only).
        tmin, tmax, baseline, picks, reject, l_freq, h_freq, stim_channel, reject_by_annotation
            Epoching of raw recordings (see :func:`epochs_from_raw`).
        roi : str or sequence of str, optional
            Channels to keep.
        test_ids : array-like, optional
            Held-out stimulus ids.
        subject : int, optional
            Recorded in ``info``.
        progress : bool
            Unused.

        Returns
        -------
        BrainData
            Epochs x (channels x times) in a SensorSpace.
        """
        import mne

        source = "epochs"
        if epochs is None:
            paths = self._paths(files)
            source = [str(p) for p in paths]
            if len(paths) == 1 and paths[0].name.endswith(("-epo.fif", "-epo.fif.gz")):
                with reading(paths[0], "FIF epochs file"), _quiet_mne(), _whole_file():
                    epochs = mne.read_epochs(paths[0], preload=True)
            elif paths[0].name.lower().endswith(".set") and _is_epoched_set(paths[0]):
                with reading(paths[0], "EEGLAB epochs file"), _quiet_mne(_HANDLED):
                    epochs = mne.read_epochs_eeglab(paths[0])
            else:
                raw = _read_all(paths)
                epochs, stimulus_ids = epochs_from_raw(
                    raw, event_map, tmin, tmax, baseline, picks, reject, l_freq, h_freq,
                    stim_channel, reject_by_annotation,
                )  # fmt: skip
                event_map = None
        data = from_epochs(
            epochs,
            stimulus_ids,
            event_map,
            test_ids=test_ids,
            info={"subject": subject, "source": source},
        )
        return data if roi is None else data.select_rois(roi)

    def describe(self, subject=None) -> DatasetSummary:
        """Summarise the recording named as ``root``: events, channels, duration.

        Parameters
        ----------
        subject : None
            A recording holds no subjects.

        Returns
        -------
        DatasetSummary
            One entry (``"all"``): ``n_trials`` (events, or epochs of an ``-epo.fif``
            file), ``n_stimuli`` (event types), ``formats`` and the ``events`` per type
            in ``extra``; ``extra`` holds ``channels``, ``sfreq`` and ``duration_s``.
        """
        self._no_subject(subject)
        paths = self._paths(None)
        if paths[0].name.endswith(("-epo.fif", "-epo.fif.gz")):
            return self._describe_epochs(paths[0])
        raw = _read_all(paths)
        events, names = find_events(raw)
        facts = _event_summary(events[:, 2], names, sorted({_format(p) for p in paths}))
        return self._summary(
            {ALL_SUBJECTS: facts},
            channels=raw.ch_names,
            sfreq=float(raw.info["sfreq"]),
            duration_s=float(raw.times[-1]),
        )

    def _describe_epochs(self, path: Path) -> DatasetSummary:
        import mne

        with reading(path, "FIF epochs file"), _quiet_mne(), _whole_file():
            epochs = mne.read_epochs(path, preload=False)
        names = {code: name for name, code in epochs.event_id.items()}
        facts = _event_summary(epochs.events[:, 2], names, ["FIF epochs"])
        facts.n_targets = len(epochs.ch_names) * len(epochs.times)
        return self._summary(
            {ALL_SUBJECTS: facts},
            channels=epochs.ch_names,
            sfreq=float(epochs.info["sfreq"]),
            times=[float(epochs.times[0]), float(epochs.times[-1])],
        )


def _event_summary(codes, names: dict, formats: list) -> SubjectSummary:
    """Trials (events) and stimuli (event types) of a recording."""
    values, counts = np.unique(np.asarray(codes), return_counts=True)
    events = {names.get(int(c), str(int(c))): int(n) for c, n in zip(values, counts, strict=True)}
    return SubjectSummary(
        n_trials=int(counts.sum()),
        n_stimuli=int(values.size),
        formats=formats,
        extra={"events": events},
    )


def _format(path: Path) -> str:
    return READERS[_ending(path)][0]


@register_dataset("bids-eeg")
class BIDSEEGDataset(DatasetAdapter):
    """EEG (or MEG) recordings of a BIDS dataset, read through mne-bids.

    The events of ``*_events.tsv`` become annotations (their ``trial_type``), which
    ``event_map`` maps to stimulus ids.

    Parameters
    ----------
    root : str or Path
        BIDS root (the folder with ``dataset_description.json``).
    """

    modality = "eeg"

    def __init__(self, root):
        self.root = require_file(root, "BIDS root folder")

    def load(
        self,
        subject,
        task,
        session=None,
        run=None,
        datatype="eeg",
        event_map=None,
        tmin=-0.2,
        tmax=0.8,
        baseline=(None, 0),
        picks="eeg",
        reject=None,
        l_freq=None,
        h_freq=None,
        roi=None,
        test_ids=None,
        progress=False,
    ):
        """Read one recording of the BIDS dataset and epoch it around its events.

        Parameters
        ----------
        subject : str or int
            BIDS subject label (``1`` and ``"01"`` are both accepted).
        task : str
            BIDS task label.
        session, run : str, optional
            BIDS session and run labels.
        datatype : {"eeg", "meg"}
            BIDS data type.
        event_map : dict, optional
            ``trial_type`` (or event code) -> stimulus id.
        tmin, tmax, baseline, picks, reject, l_freq, h_freq
            Epoching (see :func:`epochs_from_raw`).
        roi : str or sequence of str, optional
            Channels to keep.
        test_ids : array-like, optional
            Held-out stimulus ids.
        progress : bool
            Unused.

        Returns
        -------
        BrainData
            Epochs x (channels x times) in a SensorSpace.
        """
        try:
            from mne_bids import BIDSPath, read_raw_bids
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise MissingFileError("Reading BIDS needs mne-bids: pip install mne-bids") from exc
        check_option("datatype", datatype, ("eeg", "meg"))
        label = _bids_label(subject)
        path = BIDSPath(
            root=self.root, subject=label, task=task, session=session, run=run,
            datatype=datatype, suffix=datatype,
        )  # fmt: skip
        matches = [m for m in path.match() if m.extension in _RAW_EXT]
        if not matches:
            raise DataError(f"No {datatype} recording in the BIDS dataset {self.root} for {path}.")
        with reading(matches[0].fpath, "BIDS recording"), _quiet_mne(_HANDLED):
            raw = read_raw_bids(matches[0], verbose="error")
            raw.load_data()
        epochs, stimulus_ids = epochs_from_raw(
            raw, event_map, tmin, tmax, baseline, picks, reject, l_freq, h_freq, None, True
        )
        info = {"subject": subject, "source": str(matches[0].fpath), "dataset": "bids-eeg"}
        data = from_epochs(epochs, stimulus_ids, None, test_ids=test_ids, info=info)
        return data if roi is None else data.select_rois(roi)

    def describe(self, subject=None) -> DatasetSummary:
        """Summarise the recordings of the BIDS dataset from its file names and events.

        Reads the ``*_events.tsv`` files, not the recordings.

        Parameters
        ----------
        subject : str or int, optional
            Only this subject.

        Returns
        -------
        DatasetSummary
            Per subject (``1`` for ``sub-01``): ``sessions`` (labels), ``n_trials``
            (events), ``n_stimuli`` (event ``trial_type`` values), ``formats``
            (file endings) and, in ``extra``, ``tasks``, ``recordings`` (relative
            paths) and ``events`` per type; ``extra`` holds every ``tasks``.
        """
        recordings = self._recordings(subject)
        groups = {}
        for match in recordings:
            groups.setdefault(_subject_key(match.subject), []).append(match)
        facts = {s: self._subject_summary(groups[s]) for s in sorted(groups, key=str)}
        return self._summary(facts, tasks=sorted({m.task for m in recordings if m.task}))

    def _recordings(self, subject) -> list:
        """BIDS paths of the EEG/MEG recordings (of one subject, if given)."""
        from mne_bids import BIDSPath

        label = None if subject is None else _bids_label(subject)
        found = []
        for datatype in ("eeg", "meg"):
            path = BIDSPath(root=self.root, subject=label, datatype=datatype, suffix=datatype)
            found += [m for m in path.match() if m.extension in _RAW_EXT]
        if subject is not None and not found:
            raise DataError(f"No eeg or meg recording of subject {subject!r} under {self.root}.")
        return found

    def _subject_summary(self, matches) -> SubjectSummary:
        kinds = []
        for match in matches:
            events = match.copy().update(suffix="events", extension=".tsv").fpath
            if events.exists():
                with reading(events, "BIDS events file"):
                    table = pd.read_csv(events, sep="\t")
                kinds.extend(table["trial_type"] if "trial_type" in table else ["n/a"] * len(table))
        sessions = sorted({m.session for m in matches if m.session})
        names, counts = np.unique(np.asarray(kinds, dtype=str), return_counts=True)
        return SubjectSummary(
            sessions=[int(x) if x.isdigit() else x for x in sessions],
            n_trials=len(kinds),
            n_stimuli=int(names.size),
            formats=sorted({m.extension.lstrip(".") for m in matches}),
            extra={
                "tasks": sorted({m.task for m in matches if m.task}),
                "recordings": [str(Path(m.fpath).relative_to(self.root)) for m in matches],
                "events": {str(n): int(c) for n, c in zip(names, counts, strict=True)},
            },
        )


_RAW_EXT = (".vhdr", ".edf", ".bdf", ".set", ".fif", ".con", ".sqd", ".pdf", ".ds")


def _bids_label(subject) -> str:
    """BIDS label of a subject: ``1`` and ``"01"`` both give ``"01"``."""
    return f"{int(subject):02d}" if str(subject).isdigit() else str(subject)


def _subject_key(label: str):
    """Subject of a BIDS label: a number when the label is one (``"01"`` -> 1)."""
    return int(label) if label.isdigit() else label


def _read_all(paths):
    import mne

    if all(p.suffix.lower() == ".csv" for p in paths):
        return read_muse_csv(paths)
    raws = [read_raw(p) for p in paths]
    with _quiet_mne():
        return mne.concatenate_raws(raws) if len(raws) > 1 else raws[0]


def _is_epoched_set(path: Path) -> bool:
    """Whether an EEGLAB file holds epochs (trials > 1)."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path, variable_names=["EEG", "trials"], squeeze_me=True)
    except (ValueError, NotImplementedError, OSError):  # v7.3 files: let MNE decide
        return False
    eeg = mat.get("EEG")
    trials = eeg["trials"] if eeg is not None and "trials" in (eeg.dtype.names or ()) else None
    trials = trials if trials is not None else mat.get("trials", 1)
    return int(np.asarray(trials).ravel()[0]) > 1


@register_dataset("muse")
class MuseDataset(MNEDataset):
    """Muse headband CSV recordings (eeg-notebooks), epoched around their markers.

    ``root`` is a folder of ``*.csv`` files, or an eeg-notebooks experiment folder
    holding ``subject<S>/session<N>/*.csv`` (e.g. ``.../N170``).

    Parameters
    ----------
    root : str or Path
        The folder.
    """

    def load(
        self,
        subject=1,
        session=1,
        event_map=None,
        tmin=-0.1,
        tmax=0.6,
        baseline=None,
        picks="eeg",
        reject=None,
        l_freq=1.0,
        h_freq=30.0,
        decim=1,
        roi=None,
        tcrop=None,
        progress=False,
    ):
        """Read every CSV of a subject's session and epoch it.

        Parameters
        ----------
        subject, session : int
            eeg-notebooks subject and session folders (ignored when ``root`` holds
            the CSV files directly).
        event_map : dict, optional
            Marker code -> stimulus id (N170: ``{1: "house", 2: "face"}``); default:
            the codes as strings.
        tmin, tmax, baseline, picks, reject, l_freq, h_freq, decim
            Epoching (see :func:`epochs_from_raw`); by default 1-30 Hz band-pass and
            no baseline, as in the eeg-notebooks N170 analysis.
        roi : str or sequence of str, optional
            Channels to keep.
        tcrop : tuple of float, optional
            ``(tmin, tmax)`` to keep after epoching.
        progress : bool
            Unused.

        Returns
        -------
        BrainData
            Trials x (channels x times), ``row_meta`` with ``event`` and ``epoch``.
        """
        files = self.csv_files(subject, session)
        raw = read_muse_csv(files)
        epochs, ids = epochs_from_raw(
            raw, event_map, tmin, tmax, baseline, picks, reject, l_freq, h_freq, "STI",
            decim=decim,
        )  # fmt: skip
        data = from_epochs(
            epochs,
            ids,
            info={
                "dataset": "muse",
                "subject": subject,
                "session": session,
                "source": [str(f) for f in files],
            },
        )
        if tcrop is not None:
            data = crop_times(data, *tcrop)
        return data if roi is None else data.select_rois(roi)

    def csv_files(self, subject=1, session=1) -> list[Path]:
        """List the CSV files of a subject's session, sorted by name (recording time).

        Parameters
        ----------
        subject, session : int
            Folders ``subject<S>/session<N>``.

        Returns
        -------
        list of Path
            The files.
        """
        root = self._muse_root()
        for folder in (root / f"subject{subject}" / f"session{session}", root):
            files = sorted(folder.glob("*.csv"))
            if files:
                return files
        raise DataError(
            f"No Muse CSV files in {self.root} or {self.root}/subject{subject}/session{session}."
        )

    def subjects(self) -> list[int]:
        """Subjects with ``subject<S>/session<N>/*.csv`` files (``[1]`` for a flat folder).

        Returns
        -------
        list of int
            Subject numbers.
        """
        root = self._muse_root()
        found = [s for s in _numbered(root, "subject") if self.sessions(s)]
        return found or ([1] if any(root.glob("*.csv")) else [])

    def sessions(self, subject: int) -> list[int]:
        """Sessions of a subject with CSV files (empty for a flat folder).

        Parameters
        ----------
        subject : int
            Subject number.

        Returns
        -------
        list of int
            Session numbers.
        """
        folder = self._muse_root() / f"subject{subject}"
        return [n for n in _numbered(folder, "session") if any(folder.glob(f"session{n}/*.csv"))]

    def describe(self, subject=None) -> DatasetSummary:
        """Summarise the subjects and sessions: files, channels and marker counts.

        Reads every CSV file (of ``subject`` only, if given).

        Parameters
        ----------
        subject : int, optional
            Only this subject.

        Returns
        -------
        DatasetSummary
            Per subject: ``sessions``, ``n_trials`` (markers of all sessions),
            ``n_stimuli`` (marker codes), ``formats`` and ``markers`` per code and
            ``files`` in ``extra``; ``extra`` holds ``channels`` and ``sfreq``.
        """
        subjects = self.subjects() if subject is None else [int(subject)]
        facts, raw = {}, None
        for s in subjects:
            sessions = self.sessions(s)
            files = [f for n in sessions or [1] for f in self.csv_files(s, n)]
            raw = read_muse_csv(files)
            events, _ = find_events(raw, "STI")
            facts[s] = _event_summary(events[:, 2], {}, ["Muse CSV"])
            facts[s].sessions = sessions
            facts[s].extra = {"markers": facts[s].extra["events"], "files": len(files)}
        extra = {} if raw is None else {"channels": raw.ch_names, "sfreq": raw.info["sfreq"]}
        return self._summary(facts, **extra)

    def _muse_root(self) -> Path:
        if self.root is None:
            raise ParameterError("Invalid value for 'root': name the Muse recording folder.")
        return self.root


def _numbered(folder: Path, prefix: str) -> list[int]:
    """Sorted numbers ``N`` of the ``<prefix>N`` folders inside ``folder``."""
    found = (p.name[len(prefix) :] for p in folder.glob(f"{prefix}*") if p.is_dir())
    return sorted(int(n) for n in found if n.isdigit())
