"""The Natural Scenes Dataset adapter (Allen et al. 2022), real release layout."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import check_option, get_logger, require_file, warn
from brainalign.data import _nsd_layout as L
from brainalign.data._adapter import DatasetAdapter, DatasetSummary, SubjectSummary
from brainalign.data._braindata import BrainData, scale_into, zscore_columns
from brainalign.data._reading import read_nifti, read_text, reading
from brainalign.data._registry import register_dataset
from brainalign.data._space import VolumeSpace
from brainalign.data._stimuli import NSDStimuli
from brainalign.data._volume_io import (
    hdf5_grid,
    nifti_shape,
    read_hdf5_masked,
    read_nifti_masked,
)
from brainalign.exceptions import DataError, ParameterError

logger = get_logger(__name__)

TRIALS_PER_SESSION = 750
BETA_SCALE = 300.0  # betas are stored as percent signal change x 300 (int16)
_RUN_LENGTHS = [63, 62] * 6  # 12 runs: odd runs 63 stimulus trials, even runs 62
_EXT = {"nifti": "nii.gz", "hdf5": "hdf5"}


@register_dataset("nsd")
class NSD(DatasetAdapter):
    """Natural Scenes Dataset, read from the release layout under ``root``.

    Parameters
    ----------
    root : str or Path
        The NSD root (holding ``nsddata``, ``nsddata_betas``, ``nsddata_stimuli``).

    Notes
    -----
    Betas (``func1pt8mm``, ``betas_fithrf_GLMdenoise_RR``) are read session by
    session from ``.nii.gz`` or ``.hdf5`` (axes reversed), masked while reading,
    divided by 300 (percent signal change) and z-scored per session. Trials map to
    0-based 73k ids through ``nsd_expdesign.mat``
    (``subjectim[s-1, masterordering[t-1]-1] - 1``), cross-checked against the
    ``subjectK_repN`` trial numbers of ``nsd_stim_info_merged.csv``.
    """

    modality = "fmri"

    def __init__(self, root):
        if root is None:
            raise ParameterError(
                "Invalid value for 'root': the NSD adapter needs the NSD root folder."
            )
        self.root = require_file(root, "NSD root folder")

    # -- discovery ----------------------------------------------------------------
    def subjects(self) -> list[int]:
        """Subjects with a betas folder.

        Returns
        -------
        list of int
            1-based subject numbers.
        """
        base = self.root / "nsddata_betas" / "ppdata"
        found = (
            [
                int(m.group(1))
                for p in base.glob("subj*")
                if (m := re.fullmatch(r"subj(\d\d)", p.name))
            ]
            if base.exists()
            else []
        )
        return sorted(found)

    def _check_subject(self, subject) -> int:
        subjects = self.subjects()
        if subject not in subjects:
            raise DataError(
                f"Subject {subject!r} is not present under {self.root}; available "
                f"subjects: {subjects or 'none'} (looked for "
                f"{self.root / 'nsddata_betas/ppdata/subjAA'})."
            )
        return int(subject)

    def session_files(self, subject: int, betas_format: str = "auto") -> dict[int, Path]:
        """Betas file of every session found for a subject.

        Parameters
        ----------
        subject : int
            1-based subject number.
        betas_format : {"auto", "nifti", "hdf5"}
            File type; ``"auto"`` prefers HDF5 (faster masked reads), then NIfTI.

        Returns
        -------
        dict of int -> Path
            Session number -> file.
        """
        check_option("betas_format", betas_format, ["auto", "nifti", "hdf5"])
        folder = self.root / L.betas_dir(subject)
        formats = ["hdf5", "nifti"] if betas_format == "auto" else [betas_format]
        files = {}
        for fmt in reversed(formats):
            for p in folder.glob(f"betas_session[0-9][0-9].{_EXT[fmt]}"):
                files[int(p.name[13:15])] = p
        return dict(sorted(files.items()))

    def roi_files(self, subject: int) -> dict[str, Path]:
        """Combined-hemisphere ROI volumes of a subject that have a ctab file.

        Parameters
        ----------
        subject : int
            1-based subject number.

        Returns
        -------
        dict of str -> Path
            ROI file name (``"floc-faces"``) -> NIfTI path.
        """
        folder = self.root / L.roi_dir(subject)
        out = {}
        for p in sorted(folder.glob("*.nii.gz")):
            name = p.name[: -len(".nii.gz")]
            if name.startswith(("lh.", "rh.")):
                continue
            if (self.root / L.ctab_file(subject, name)).exists():
                out[name] = p
        return out

    def read_ctab(self, subject: int, name: str) -> dict[int, str]:
        """Label value -> name from ``<name>.mgz.ctab`` (entry 0 dropped).

        Parameters
        ----------
        subject : int
            1-based subject number.
        name : str
            ROI file name.

        Returns
        -------
        dict of int -> str
            Labels 1..N.
        """
        path = require_file(self.root / L.ctab_file(subject, name), "ROI label table")
        labels = {}
        for line_no, line in enumerate(read_text(path, "ROI label table").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2 or not parts[0].lstrip("-").isdigit():
                raise DataError(f"{path}, line {line_no}: expected 'value name'; got {line!r}.")
            labels[int(parts[0])] = parts[1]
        labels.pop(0, None)
        return labels

    def surface_projections(self, subject: int) -> list:
        """func1pt8mm -> surface projections of a subject, from NSD's transform files.

        Parameters
        ----------
        subject : int
            1-based subject number.

        Returns
        -------
        list of SurfaceProjection
            ``fsnative`` (and ``fsaverage``) when ``ppdata/subjAA/transforms`` holds
            them; empty otherwise.
        """
        from brainalign.data._projection import nsd_projections

        return nsd_projections(self.root, self._check_subject(subject))

    def anatomy(self, subject: int) -> Path | None:
        """Anatomy under a subject's func1pt8mm maps: the T1, else the brain mask.

        Parameters
        ----------
        subject : int
            1-based subject number.

        Returns
        -------
        Path or None
            ``ppdata/subjAA/func1pt8mm/T1_to_func1pt8mm.nii.gz`` when present, else
            ``brainmask.nii.gz`` beside it, else None.
        """
        subject = self._check_subject(subject)
        for name in (L.t1_file(subject), L.brainmask_file(subject)):
            if (self.root / name).is_file():
                return self.root / name
        return None

    def describe(self, subject=None) -> DatasetSummary:
        """Summarise what is on disk without reading betas.

        Parameters
        ----------
        subject : int, optional
            Restrict to one subject.

        Returns
        -------
        DatasetSummary
            Per subject: ``sessions``, ``n_trials`` (750 per session), ``n_stimuli``
            (images of those sessions), ``n_targets`` (``nsdgeneral`` voxels),
            ``rois`` (file -> {label: n_voxels}) and ``formats`` of the betas; the
            ``stimuli`` file and its shape.
        """
        subjects = self.subjects() if subject is None else [self._check_subject(subject)]
        design = self._design()
        facts = {s: self._subject_summary(s, design) for s in subjects}
        return self._summary(facts, stimuli=NSDStimuli.from_root(self.root).summary())

    def _subject_summary(self, subject: int, design) -> SubjectSummary:
        files = self.session_files(subject)
        rois = self._roi_counts(subject)
        return SubjectSummary(
            sessions=list(files),
            n_trials=len(files) * TRIALS_PER_SESSION,
            n_stimuli=int(self._images_seen(subject, design).size),
            n_targets=default_roi_size(rois),
            rois=rois,
            formats=[f for f in ("nifti", "hdf5") if self.session_files(subject, f)],
        )

    def stimulus_set(self, subject: int) -> dict:
        """Return the images a subject saw, without reading betas.

        Parameters
        ----------
        subject : int
            1-based subject number.

        Returns
        -------
        dict
            ``store`` (:class:`NSDStimuli`), ``ids`` (0-based 73k ids, sorted),
            ``test_ids`` (the shared1000 among them), ``train_ids`` (the rest).
        """
        subject = self._check_subject(subject)
        ids = self._images_seen(subject)
        test = np.intersect1d(ids, self._shared_ids())
        return {
            "store": NSDStimuli.from_root(self.root),
            "ids": ids,
            "test_ids": test,
            "train_ids": np.setdiff1d(ids, test),
        }

    def _images_seen(self, subject: int, design=None, sessions=None) -> np.ndarray:
        """Sorted 0-based ids of the images shown in ``sessions`` (default: those on disk)."""
        design = design or self._design()
        sessions = list(self.session_files(subject)) if sessions is None else list(sessions)
        if not sessions:
            return np.array([], dtype=np.int64)
        trial = np.concatenate(
            [np.arange(TRIALS_PER_SESSION) + (s - 1) * TRIALS_PER_SESSION for s in sessions]
        )
        order = design["masterordering"]
        trial = trial[trial < order.size]
        return np.unique(design["subjectim"][subject - 1, order[trial] - 1] - 1)

    def _roi_counts(self, subject: int) -> dict:
        counts = {}
        for name, path in self.roi_files(subject).items():
            vol = read_nifti(path, "ROI volume")[0]
            counts[name] = {
                label: int((vol == value).sum())
                for value, label in self.read_ctab(subject, name).items()
            }
        return counts

    # -- loading ------------------------------------------------------------------
    def load(
        self,
        subject=1,
        sessions=None,
        roi="nsdgeneral",
        betas_format="auto",
        zscore=True,
        average=False,
        progress=False,
        space="func1pt8mm",
    ) -> BrainData:
        """Load one subject's single-trial betas.

        Parameters
        ----------
        subject : int
            1-based subject number.
        sessions : sequence of int, optional
            1-based sessions to read (default: all found).
        roi : str, sequence of str or None
            Voxels to read: ROI file names (``"nsdgeneral"``, ``"floc-faces"``) or
            label names (``"FFA-1"``); a list is their union. None reads the whole
            brain mask (``brainmask.nii.gz``).
        betas_format : {"auto", "nifti", "hdf5"}
            Which betas files to read.
        zscore : bool
            Z-score every voxel within each session (the NSD convention).
        average : bool
            Average repetitions of each image (row ``n_trials`` keeps the count).
        progress : bool
            Show a progress bar over sessions.
        space : {"func1pt8mm", "fsaverage", "nativesurface"}
            Volume betas (``func1pt8mm``) or surface betas: ``fsaverage``
            (``{lh,rh}.betas_sessionNN.mgh``) or ``nativesurface`` (``.hdf5``), with the
            surface ROI labels ``{lh,rh}.<roi>.mgz`` and ``{lh,rh}.ncsnr.mgh``
            (``betas_format`` is ignored for surfaces).

        Returns
        -------
        BrainData
            Rows are trials (or images if ``average``), ``stimulus_ids`` the 0-based
            73k ids, ``test_ids`` the shared1000 images; columns are voxels with
            ``i, j, k`` (surfaces: vertices with ``hemi, vertex`` in a
            :class:`~brainalign.data.SurfaceSpace`), one label column per ROI file and
            ``ncsnr``.
        """
        check_option("space", space, [L.SPACE, *L.SURFACE_SPACES])
        if space != L.SPACE:
            from brainalign.data._nsd_surface import load_surface

            return load_surface(self, subject, sessions, roi, space, zscore, average, progress)
        subject = self._check_subject(subject)
        files = self._select_sessions(subject, sessions, betas_format)
        labels, roi_columns = self._roi_labels(subject)
        ijk, affine, grid = self._voxels(subject, roi, labels)
        info = self._stim_info(["nsdId", "shared1000"] + _rep_columns(subject))  # read once
        rows = self._trial_table(subject, list(files), info)
        col_meta = self._column_table(subject, ijk, labels, grid)
        for path in files.values():  # every header checked before any betas are read
            self._check_grid(path, grid)
        responses = np.empty((len(rows), len(ijk)), dtype=np.float32)
        bad = ~np.isfinite(col_meta["ncsnr"].to_numpy()) if "ncsnr" in col_meta else False
        for n, path in enumerate(_progress(files.values(), progress)):
            block = responses[n * TRIALS_PER_SESSION : (n + 1) * TRIALS_PER_SESSION]
            bad = bad | _read_session(path, ijk, block, zscore)
        responses, ijk, col_meta = _drop_columns(responses, ijk, col_meta, bad)
        data = BrainData(
            responses,
            rows.pop("nsd_id").to_numpy(),
            row_meta=rows,
            col_meta=col_meta,
            space=VolumeSpace(grid, affine, ijk),
            roi_columns=roi_columns,
            stimuli=NSDStimuli.from_root(self.root),
            test_ids=self._shared_ids(info),
            info={
                "dataset": "nsd",
                "subject": subject,
                "root": str(self.root),
                "sessions": list(files),
                "roi": roi,
                "zscore": zscore,
                "betas_format": sorted({_format_of(p) for p in files.values()}),
            },
        )
        return data.average_repetitions() if average else data

    def _select_sessions(self, subject, sessions, betas_format) -> dict[int, Path]:
        files = self.session_files(subject, betas_format)
        if not files:
            raise DataError(
                f"No betas for subject {subject}: expected "
                f"{self.root / L.betas_file(subject, 1, _EXT.get(betas_format, 'hdf5'))}"
                " (and the other sessions)."
            )
        return select_sessions(files, sessions, subject)

    def _design(self) -> dict:
        from scipy.io import loadmat

        path = require_file(self.root / L.EXPDESIGN, "NSD design file")
        with reading(path, "NSD design file"):
            mat = loadmat(str(path))
        missing = [k for k in ("masterordering", "subjectim") if k not in mat]
        if missing:
            raise DataError(f"{path} lacks the variable(s) {missing}.")
        return {
            "masterordering": np.asarray(mat["masterordering"]).ravel().astype(np.int64),
            "subjectim": np.atleast_2d(np.asarray(mat["subjectim"])).astype(np.int64),
        }

    def _stim_info(self, columns=None) -> pd.DataFrame:
        path = require_file(self.root / L.STIM_INFO, "NSD stimulus information file")
        with reading(path, "NSD stimulus information file"):
            header = pd.read_csv(path, nrows=0).columns
        if columns is not None:
            missing = [c for c in columns if c not in header]
            if missing:
                subjects = sorted(
                    {m.group(1) for c in header if (m := re.fullmatch(r"subject(\d+)", c))}, key=int
                )
                raise DataError(f"{path} lacks column(s) {missing}; it lists subjects {subjects}.")
        with reading(path, "NSD stimulus information file"):
            table = pd.read_csv(path, usecols=columns, low_memory=False)
        if columns is not None:
            _check_filled(table, path)
        return table

    def _shared_ids(self, info=None) -> np.ndarray:
        info = self._stim_info(["nsdId", "shared1000"]) if info is None else info
        return info["nsdId"].to_numpy()[info["shared1000"].astype(bool).to_numpy()]

    def _trial_table(self, subject: int, sessions: list[int], info) -> pd.DataFrame:
        """Row metadata of the requested sessions' trials, image ids cross-checked."""
        design = self._design()
        trial = np.concatenate(
            [np.arange(TRIALS_PER_SESSION) + (s - 1) * TRIALS_PER_SESSION for s in sessions]
        )  # 0-based global trial index
        order, subjectim = design["masterordering"], design["subjectim"]
        if trial.max() >= order.size or subject > subjectim.shape[0]:
            raise DataError(
                f"nsd_expdesign.mat covers {order.size} trials and "
                f"{subjectim.shape[0]} subjects; subject {subject} session(s) "
                f"{sessions} need trial {trial.max() + 1}."
            )
        nsd_id = subjectim[subject - 1, order[trial] - 1] - 1  # both files are 1-based
        repetition = _repetitions(subject, trial, nsd_id, info)
        within = trial % TRIALS_PER_SESSION
        run = np.searchsorted(np.cumsum(_RUN_LENGTHS), within, side="right") + 1
        return pd.DataFrame(
            {
                "nsd_id": nsd_id,
                "session": trial // TRIALS_PER_SESSION + 1,
                "run": run,
                "trial": trial + 1,
                "repetition": repetition,
            }
        )

    def _roi_labels(self, subject: int):
        """Load every ROI file (with ctab) of a subject as label volumes."""
        labels = {}
        for name, path in self.roi_files(subject).items():
            vol, img = read_nifti(path, "ROI volume")
            labels[name] = (vol, self.read_ctab(subject, name), img)
        return labels, list(labels)

    def _voxels(self, subject: int, roi, labels):
        """Voxel indices (C order), affine and grid of the requested ROI union."""
        if roi is None:
            path = require_file(self.root / L.brainmask_file(subject), "brain mask")
            vol, img = read_nifti(path, "brain mask")
            mask = vol > 0
        else:
            if not labels:
                raise DataError(
                    f"No ROI volumes with label tables for subject {subject}: expected "
                    f"{self.root / L.roi_file(subject, 'nsdgeneral')} and "
                    f"{self.root / L.ctab_file(subject, 'nsdgeneral')}."
                )
            names = [roi] if isinstance(roi, str) else list(roi)
            known = _known_roi_names(labels)
            for name in names:
                check_option("roi", name, known)
            img = next(iter(labels.values()))[2]
            mask = np.zeros(img.shape, dtype=bool)
            for name in names:
                for fname, (vol, table, _) in labels.items():
                    mask |= _roi_hits(name, fname, vol, table, mask.shape)
        if not mask.any():
            raise DataError(f"ROI {roi!r} holds no voxels for subject {subject}.")
        return np.argwhere(mask), img.affine, mask.shape

    def _check_grid(self, path: Path, grid):
        if path.suffix == ".hdf5":
            found = hdf5_grid(path, what="NSD betas file")
        else:
            found = nifti_shape(path, "NSD betas file")[:3]
        if tuple(found) != tuple(grid):
            raise DataError(
                f"Volume shape mismatch: betas {path.name} have grid {tuple(found)} but "
                f"the ROI/mask volumes have {tuple(grid)}."
            )

    def _column_table(self, subject, ijk, labels, grid) -> pd.DataFrame:
        i, j, k = ijk.T
        table = pd.DataFrame({"i": i, "j": j, "k": k})
        for fname, (vol, names, _) in labels.items():
            if vol.shape != tuple(grid):
                raise DataError(
                    f"Volume shape mismatch: ROI {fname} has shape {vol.shape} but "
                    f"the voxel grid is {tuple(grid)}."
                )
            values = np.rint(vol[i, j, k]).astype(int)
            table[fname] = [names.get(v, "") for v in values]
        path = self.root / L.ncsnr_file(subject)
        if path.exists():
            ncsnr = read_nifti(path, "ncsnr volume", dtype=np.float64)[0]
            if ncsnr.shape[:3] != tuple(grid):
                raise DataError(
                    f"Volume shape mismatch: {path.name} has shape {ncsnr.shape} but "
                    f"the voxel grid is {tuple(grid)}."
                )
            table["ncsnr"] = ncsnr[i, j, k]
        else:
            logger.info("No ncsnr file at %s; noise ceilings unavailable.", path)
        return table


def default_roi_size(rois: dict, roi: str = "nsdgeneral") -> int | None:
    """Targets of the default ROI file (``load``'s ``roi="nsdgeneral"``), from ROI counts.

    Parameters
    ----------
    rois : dict of str -> dict
        ROI file -> {label: n_targets}.
    roi : str
        The ROI file.

    Returns
    -------
    int or None
        The labelled targets of the file, or None when the file is absent.
    """
    return int(sum(rois[roi].values())) if roi in rois else None


def _rep_columns(subject: int) -> list[str]:
    """``subjectK_rep0..2`` column names of the stim-info CSV."""
    return [f"subject{subject}_rep{r}" for r in range(3)]


def _repetitions(subject: int, trial: np.ndarray, nsd_id: np.ndarray, info) -> np.ndarray:
    """Repetition index (0, 1, 2; -1 if unlisted) from ``subjectK_repN`` columns.

    Each listed trial's image must match the design file's, or the files
    disagree and loading stops.
    """
    cols = _rep_columns(subject)
    ids = info["nsdId"].to_numpy()
    listed = info[cols].to_numpy()  # 1-based trial numbers, 0 = not shown
    row_of_trial = np.full(max(int(listed.max()), int(trial.max()) + 1) + 1, -1)
    row_of_trial[trial + 1] = np.arange(trial.size)
    rep = np.full(trial.size, -1)
    for r in range(3):
        shown = listed[:, r] > 0
        rows = row_of_trial[listed[shown, r]]
        loaded = rows >= 0
        rows, images = rows[loaded], ids[shown][loaded]
        rep[rows] = r
        wrong = nsd_id[rows] != images
        if wrong.any():
            raise DataError(
                "Stimulus misalignment: nsd_expdesign.mat and "
                "nsd_stim_info_merged.csv disagree on the image of subject "
                f"{subject}'s trial {int(trial[rows[wrong][0]]) + 1} "
                f"({int(wrong.sum())} trial(s) differ)."
            )
    return rep


def _check_filled(table: pd.DataFrame, path: Path) -> None:
    """Raise if a cell is empty (a cut or garbled line of the stimulus information file)."""
    empty = table.isna().to_numpy()
    if empty.any():
        row, col = np.argwhere(empty)[0]
        raise DataError(
            f"{path.name}, line {row + 2}: no value in column {table.columns[col]!r} "
            f"({int(empty.any(axis=1).sum())} line(s) incomplete; {path})."
        )


def _format_of(path: Path) -> str:
    return "hdf5" if path.suffix == ".hdf5" else "nifti"


def _progress(items, enabled):
    from tqdm.auto import tqdm

    items = list(items)
    return tqdm(items, desc="sessions", unit="session", disable=not enabled, leave=False)


def _read_session(path: Path, ijk: np.ndarray, out: np.ndarray, zscore: bool) -> np.ndarray:
    """Read one session into ``out`` (percent signal change), z-scored if asked.

    Returns the mask of voxels that are constant (e.g. all 0: no data in this
    session) or not finite.
    """
    if path.suffix == ".hdf5":
        raw = read_hdf5_masked(path, ijk, what="NSD betas file")
    else:
        raw = read_nifti_masked(path, ijk, what="NSD betas file")
    if raw.shape[0] != out.shape[0]:
        raise DataError(f"{path} holds {raw.shape[0]} trials; an NSD session has {out.shape[0]}.")
    scale_into(raw, BETA_SCALE, out)
    if zscore:
        return zscore_columns(out)
    return ~np.isfinite(out).all(axis=0) | (out.min(axis=0) == out.max(axis=0))


def _drop_columns(responses, ijk, col_meta, bad, unit="voxels"):
    """Drop flagged voxels in place (contiguous result, no copy), with one warning."""
    if not bad.any():
        return responses, ijk, col_meta
    if bad.all():
        raise DataError(f"All {bad.size} {unit} are constant or not finite in some session.")
    warn(
        f"Dropped {int(bad.sum())} of {bad.size} {unit} that are constant (no data) "
        "or not finite in some session, or lack a finite ncsnr."
    )
    keep = np.flatnonzero(~bad)
    n, k = responses.shape[0], keep.size
    flat = responses.reshape(-1)  # C-contiguous: compact the rows inside the same buffer
    for row in range(n):  # row r moves to [r*k, (r+1)*k), never past rows not yet read
        flat[row * k : (row + 1) * k] = responses[row, keep]
    kept = flat[: n * k].reshape(n, k)
    return kept, ijk[keep], col_meta.iloc[keep].reset_index(drop=True)


def _known_roi_names(labels) -> list[str]:
    names = list(labels)
    for _, table, _ in labels.values():
        names.extend(n for n in table.values() if n not in names)
    return names


def _roi_hits(name, fname, vol, table, shape) -> np.ndarray:
    if vol.shape != shape:
        raise DataError(
            f"Volume shape mismatch: ROI {fname} has shape {vol.shape}, others {shape}."
        )
    if name == fname:
        return np.rint(vol) > 0
    values = [v for v, n in table.items() if n == name]
    return np.isin(np.rint(vol), values)


def select_sessions(files: dict, sessions, subject, where: str = "") -> dict:
    """Keep the requested sessions of ``{session: file}`` (all when ``sessions`` is None).

    Parameters
    ----------
    files : dict
        Session number -> file(s) found.
    sessions : int, sequence of int or None
        Sessions to keep.
    subject : int
        Subject number (for the error message).
    where : str
        Where the files were looked for (for the error message), e.g. ``" in fsaverage"``.

    Returns
    -------
    dict
        The kept sessions, in order.

    Raises
    ------
    DataError
        If a session is missing or none is asked for.
    """
    if sessions is None:
        return files
    sessions = [sessions] if np.isscalar(sessions) else list(sessions)
    missing = [s for s in sessions if s not in files]
    if missing or not sessions:
        raise DataError(
            f"Session(s) {missing or sessions} not found for subject {subject}{where}; "
            f"available sessions: {list(files)}."
        )
    return {s: files[s] for s in sorted(set(sessions))}
