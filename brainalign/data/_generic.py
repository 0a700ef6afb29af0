"""Generic adapters: a response matrix with stimulus ids, and 4-D NIfTI runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import require_file
from brainalign.data._adapter import ALL_SUBJECTS, DatasetAdapter, DatasetSummary, SubjectSummary
from brainalign.data._braindata import BrainData
from brainalign.data._reading import load_npy, read_nifti, read_text, reading
from brainalign.data._registry import register_dataset
from brainalign.data._space import VolumeSpace
from brainalign.data._volume_io import nifti_shape, read_nifti_masked
from brainalign.exceptions import DataError, ParameterError


class _FileAdapter(DatasetAdapter):
    """Resolve file arguments against an optional root folder."""

    modality = "fmri"

    def __init__(self, root=None):
        self.root = None if root is None else require_file(root, "data folder")

    def _require_root(self) -> Path:
        if self.root is None:
            raise ParameterError(
                f"Invalid value for 'root': expected the folder of the {self.name!r} files to "
                "describe; got None."
            )
        return self.root

    def _path(self, value, what: str) -> Path:
        path = Path(value)
        if self.root is not None and not path.is_absolute():
            path = self.root / path
        return require_file(path, what)


@register_dataset("arrays")
class ArrayDataset(_FileAdapter):
    """A response matrix (``.npy``, ``.npz`` or ``.csv``) plus one stimulus id per row.

    Parameters
    ----------
    root : str or Path, optional
        Folder that relative file names are taken from.
    """

    def load(self, responses="responses.npy", stimulus_ids=None, mask=None) -> BrainData:
        """Load the matrix.

        Parameters
        ----------
        responses : str or Path
            ``.npy`` (2-D array), ``.npz`` (arrays ``responses`` and optionally
            ``stimulus_ids``) or ``.csv`` (a ``stimulus_id`` column and one numeric
            column per target).
        stimulus_ids : str, Path or sequence, optional
            Ids of the rows: a text file with one id per line, or the ids. Required
            unless the responses file carries them.
        mask : str or Path, optional
            NIfTI mask whose non-zero voxels (C order) are the columns.

        Returns
        -------
        BrainData
            The responses; constant or non-finite targets are dropped with a warning.
        """
        path = self._path(responses, "response matrix")
        matrix, ids, col_meta = _read_matrix(path)
        if stimulus_ids is not None:
            ids = self._ids(stimulus_ids)
        if ids is None:
            raise ParameterError(
                f"Invalid value for 'stimulus_ids': {path.name} carries no ids; pass a "
                "file with one id per line or the ids themselves."
            )
        if len(ids) != matrix.shape[0]:
            raise DataError(
                f"{path.name} has {matrix.shape[0]} rows but {len(ids)} stimulus ids were given."
            )
        space = None if mask is None else self._space(mask, matrix.shape[1])
        data = BrainData(
            matrix,
            ids,
            col_meta=col_meta,
            space=space,
            info={"dataset": "arrays", "responses": str(path)},
        )
        return data.drop_targets(~_good_columns(matrix), "constant or not finite")

    def describe(self, subject=None) -> DatasetSummary:
        """Summarise the default files (``responses.npy`` + ``stimulus_ids.txt``).

        Parameters
        ----------
        subject : None
            The files hold no subjects.

        Returns
        -------
        DatasetSummary
            One entry (``"all"``): ``n_trials`` (rows), ``n_stimuli``, ``n_targets``
            (after dropping constant columns), ``formats``; ``extra`` holds the
            ``repetitions`` (min, max) and ``row_metadata`` columns.
        """
        self._no_subject(subject)
        root = self._require_root()
        ids = "stimulus_ids.txt" if (root / "stimulus_ids.txt").exists() else None
        return self._summary({ALL_SUBJECTS: _summary(self.load(stimulus_ids=ids))})

    def _ids(self, stimulus_ids) -> np.ndarray:
        if isinstance(stimulus_ids, (str, Path)):
            path = self._path(stimulus_ids, "stimulus id list")
            lines = read_text(path, "stimulus id list").splitlines()
            return np.array([line.strip() for line in lines if line.strip()])
        return np.asarray(stimulus_ids)

    def _space(self, mask, n_targets: int) -> VolumeSpace:
        vol, img = read_nifti(self._path(mask, "mask"), "mask")
        space = VolumeSpace.from_mask(vol, img.affine)
        if space.n_targets != n_targets:
            raise DataError(
                f"The mask has {space.n_targets} voxels but the responses have {n_targets} columns."
            )
        return space


def _read_matrix(path: Path):
    """Return (matrix, ids or None, column table or None) from npy/npz/csv."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _as_2d(load_npy(path, "response matrix"), path), None, None
    if suffix == ".npz":
        # open here: numpy leaves the file open when it is not a zip archive
        with reading(path, "response archive"), open(path, "rb") as f, np.load(f) as z:
            if "responses" not in z:
                raise DataError(f"{path} has no array 'responses'; found {list(z)}.")
            ids = z["stimulus_ids"] if "stimulus_ids" in z else None
            return _as_2d(z["responses"], path), ids, None
    if suffix == ".csv":
        with reading(path, "response table"):
            table = pd.read_csv(path)
        if "stimulus_id" not in table:
            raise DataError(f"{path} has no 'stimulus_id' column; found {list(table)[:5]}.")
        values = table.drop(columns="stimulus_id")
        names = pd.DataFrame({"name": values.columns.astype(str)})
        return values.to_numpy(np.float64), table["stimulus_id"].to_numpy(), names
    raise ParameterError(
        f"Invalid value for 'responses': expected a .npy, .npz or .csv file; got {path}."
    )


def _as_2d(matrix: np.ndarray, path: Path) -> np.ndarray:
    if matrix.ndim != 2:
        raise DataError(f"{path} holds an array of shape {matrix.shape}; expected 2-D.")
    return matrix


def _good_columns(matrix: np.ndarray) -> np.ndarray:
    finite = np.isfinite(matrix).all(axis=0)
    return finite & (np.nanmax(matrix, axis=0) > np.nanmin(matrix, axis=0))


def _summary(data: BrainData) -> SubjectSummary:
    ids, counts = np.unique(data.stimulus_ids, return_counts=True)
    files = [data.info.get("responses")] if "responses" in data.info else data.info["bold"]
    return SubjectSummary(
        n_trials=data.n_rows,
        n_stimuli=int(ids.size),
        n_targets=data.n_targets,
        formats=sorted({_format_of(Path(f)) for f in files}),
        extra={
            "repetitions": {"min": int(counts.min()), "max": int(counts.max())},
            "row_metadata": list(data.row_meta.columns),
        },
    )


def _format_of(path: Path) -> str:
    name = path.name.lower()
    return "nifti" if name.endswith((".nii", ".nii.gz")) else path.suffix.lstrip(".").lower()


@register_dataset("nifti")
class NiftiDataset(_FileAdapter):
    """4-D NIfTI run(s) + per-volume labels (or BIDS events) + a mask.

    Each volume is one row; its label is the stimulus id. Labels come from a
    PyMVPA-style attributes file (one ``label run`` line per volume) or from BIDS
    ``events.tsv`` files (``onset, duration, trial_type``; one per run).

    Parameters
    ----------
    root : str or Path, optional
        Folder that relative file names are taken from.
    """

    def load(
        self,
        bold="bold.nii.gz",
        labels="attributes.txt",
        events=None,
        mask="mask.nii.gz",
        baseline="rest",
        tr=None,
    ) -> BrainData:
        """Load the runs.

        Parameters
        ----------
        bold : str, Path or sequence
            One 4-D file, or one per run.
        labels : str or Path
            Attributes file, one ``label run`` line per volume (all runs
            concatenated). Ignored when ``events`` is given.
        events : str, Path or sequence, optional
            BIDS events TSV per run; a volume takes the ``trial_type`` of the event
            covering its acquisition time, else ``baseline``.
        mask : str or Path
            3-D mask on the bold grid.
        baseline : str
            Label of volumes outside every event.
        tr : float, optional
            Repetition time in seconds (default: the bold header).

        Returns
        -------
        BrainData
            Rows = volumes, ``stimulus_ids`` = labels, ``row_meta`` = ``run`` and
            ``volume``.
        """
        runs = [bold] if isinstance(bold, (str, Path)) else list(bold)
        paths = [self._path(b, "bold image") for b in runs]
        mask_vol, mask_img = read_nifti(self._path(mask, "mask"), "mask")
        space = VolumeSpace.from_mask(mask_vol, mask_img.affine)
        blocks = []
        for path in paths:
            shape = nifti_shape(path, "bold image")
            if tuple(shape[:3]) != space.shape:
                raise DataError(
                    f"Volume shape mismatch: {path.name} has grid {tuple(shape[:3])} "
                    f"but the mask has {space.shape}."
                )
            blocks.append(read_nifti_masked(path, space.ijk, "bold image").astype(np.float32))
        n_vols = [len(b) for b in blocks]
        if events is None:
            ids, run = self._attributes(labels, sum(n_vols))
        else:
            ids, run = self._events(events, paths, n_vols, baseline, tr)
        matrix = np.concatenate(blocks)
        row_meta = pd.DataFrame(
            {"run": run, "volume": np.concatenate([np.arange(n) for n in n_vols])}
        )
        data = BrainData(
            matrix,
            ids,
            row_meta=row_meta,
            space=space,
            info={"dataset": "nifti", "bold": [str(p) for p in paths]},
        )
        return data.drop_targets(~_good_columns(matrix), "constant or not finite")

    def describe(self, subject=None) -> DatasetSummary:
        """Summarise the default files (``bold.nii.gz``, ``attributes.txt``, mask).

        Parameters
        ----------
        subject : None
            The files hold no subjects.

        Returns
        -------
        DatasetSummary
            One entry (``"all"``): ``n_trials`` (volumes), ``n_stimuli`` (labels),
            ``n_targets`` (voxels kept), ``formats``; ``extra`` holds the
            ``repetitions`` (min, max), ``row_metadata`` columns and ``runs``.
        """
        self._no_subject(subject)
        self._require_root()
        data = self.load()
        facts = _summary(data)
        facts.extra["runs"] = int(data.row_meta["run"].nunique())
        return self._summary({ALL_SUBJECTS: facts})

    def _attributes(self, labels, n_rows: int):
        path = self._path(labels, "attributes file")
        text = read_text(path, "attributes file")
        rows = [line.split() for line in text.splitlines() if line.strip()]
        if len(rows) != n_rows:
            raise DataError(
                f"{path.name} has {len(rows)} lines but the bold data have {n_rows} volumes."
            )
        bad = [k + 1 for k, r in enumerate(rows) if len(r) < 2 or not _is_int(r[1])]
        if bad:
            raise DataError(f"{path.name}: lines {bad[:5]} are not 'label run'.")
        return np.array([r[0] for r in rows]), np.array([int(r[1]) for r in rows])

    def _events(self, events, paths, n_vols, baseline, tr):
        events = [events] if isinstance(events, (str, Path)) else list(events)
        if len(events) != len(paths):
            raise ParameterError(
                f"Invalid value for 'events': expected one file per run ({len(paths)}); "
                f"got {len(events)}."
            )
        ids, runs = [], []
        for run, (ev, path, n) in enumerate(zip(events, paths, n_vols, strict=True)):
            ev_path = self._path(ev, "events file")
            with reading(ev_path, "events file"):
                table = pd.read_csv(ev_path, sep="\t")
            missing = {"onset", "duration", "trial_type"} - set(table)
            if missing:
                raise DataError(f"{ev} lacks column(s) {sorted(missing)}.")
            step = tr if tr is not None else _tr_of(path)
            times = np.arange(n) * step
            label = np.full(n, baseline, dtype=object)
            for onset, duration, kind in table[["onset", "duration", "trial_type"]].itertuples(
                index=False
            ):
                # a zero-duration event labels the volume acquired at its onset
                label[(times >= onset) & (times < onset + max(duration, step))] = str(kind)
            ids.append(label.astype(str))
            runs.append(np.full(n, run))
        return np.concatenate(ids), np.concatenate(runs)


def _tr_of(path: Path) -> float:
    import nibabel as nib

    with reading(path, "bold image"):
        zooms = nib.load(str(path)).header.get_zooms()
    if len(zooms) < 4 or not zooms[3] > 0:
        raise DataError(f"{path.name} records no repetition time; pass 'tr'.")
    return float(zooms[3])


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()
