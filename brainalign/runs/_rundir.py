"""A run directory: every file name of a run, and the one writer of its record.

A run writes one folder. :class:`RunDir` is the only code that builds or searches
the names in it (tables, maps, weights, figures, sweep tasks, RDMs, captions, top
images), and :class:`RunRecord` the only code that writes ``run.json`` or a sweep's
``sweep.json``. Pipelines, the report and the command line read and write runs
through them, so a name changes in one place.

Layout::

    RUN/run.json                       provenance (RunRecord)
    RUN/scores.parquet                 one row per target
    RUN/roi_scores.parquet             one row per ROI
    RUN/<table>.parquet                challenge_scores, best_layers, rsa, captions, decoding...
    RUN/sub-01_model-<m>_layer-<l>_stat-weights.npz
    RUN/maps/sub-01_model-<m>_layer-<l>_stat-<stat>.nii.gz  (or _hemi-L[_space-<s>]_...mgh)
    RUN/maps/surface.json              meshes and projections of the surface maps
    RUN/maps/sub-01_desc-anat.nii.gz   the subject's anatomy under the maps (when known)
    RUN/figures/*.png, *_surface.html
    RUN/features/                      feature cache
    RUN/tasks/<task>/                  a sweep's tasks, each a complete fit run
    RUN/rsa/<task>_{features,roi-<roi>}_<method>.npz
    RUN/top_images/<roi>/<rank>_<id>.png
    RUN/images/<roi>/<rank>_<id>.png  a synthesis run's images (baseline/: the reference)
    RUN/sweep.json                     a sweep's manifest (RunRecord)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from brainalign._utils import write_json_atomic
from brainalign.exceptions import DataError, ParameterError

#: Statistics written as maps by a fit.
MAP_STATS = ("r", "r2", "ncr2", "alpha", "log10pfdr")
#: Record file of a single run and manifest of a sweep.
RECORD_FILE = "run.json"
MANIFEST_FILE = "sweep.json"


def clean(text) -> str:
    """Keep the letters and digits of ``text`` (a BIDS-like entity value)."""
    return "".join(c for c in str(text) if c.isalnum())


def _model_short(model) -> str:
    from brainalign.features import ModelSpec

    try:
        return ModelSpec.parse(model).short
    except ParameterError:  # a name recorded by an older version, or a resolved path
        return clean(str(model).split("@")[0].split(":")[-1])


class RunRecord:
    """A JSON record of a run (``run.json``) or of a sweep (``sweep.json``).

    Every write is atomic (temporary file + rename): a reader sees the old record or
    the new one, never half of one.

    Parameters
    ----------
    path : str or Path
        The record file.
    """

    def __init__(self, path):
        self.path = Path(path)

    def exists(self) -> bool:
        """Whether the record has been written."""
        return self.path.is_file()

    def read(self) -> dict:
        """Return the record.

        Raises
        ------
        DataError
            When the file is missing, is not JSON, or is not a JSON object.
        """
        if not self.path.is_file():
            raise DataError(f"No run record at {self.path}.")
        try:
            record = json.loads(self.path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"Malformed run record {self.path}: {exc}") from exc
        if not isinstance(record, dict):
            raise DataError(f"Malformed run record {self.path}: expected a JSON object.")
        return record

    def read_or_none(self) -> dict | None:
        """Return the record, or None when it was not written."""
        return self.read() if self.exists() else None

    def write(self, record: dict) -> Path:
        """Replace the record (atomically).

        Parameters
        ----------
        record : dict
            JSON-serialisable record (numpy scalars and paths are turned into text).

        Returns
        -------
        Path
            The record file.
        """
        return write_json_atomic(self.path, json.loads(json.dumps(record, default=_plain)))

    def update(self, **fields) -> dict:
        """Set top-level fields of the record and write it (atomically).

        Parameters
        ----------
        **fields
            Fields to set (a missing record starts empty).

        Returns
        -------
        dict
            The record as written.
        """
        record = self.read() if self.exists() else {}
        record.update(fields)
        self.write(record)
        return record

    def __repr__(self) -> str:
        return f"RunRecord({str(self.path)!r})"


def _plain(value):
    """JSON form of numpy scalars and arrays, paths and other objects."""
    for attr in ("tolist", "item"):
        if hasattr(value, attr):
            return getattr(value, attr)()
    return str(value)


class RunDir:
    """The files of one run directory.

    Parameters
    ----------
    path : str or Path
        The run directory (not created until something is written).

    Examples
    --------
    >>> run = RunDir("run_fit")
    >>> run.map_path(1, "open_clip:ViT-B-32@random", "embedding", "r").name
    'sub-01_model-ViTB32_layer-embedding_stat-r.nii.gz'
    """

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # -- records ------------------------------------------------------------------
    @property
    def record(self) -> RunRecord:
        """``run.json``: the run's provenance."""
        return RunRecord(self.path / RECORD_FILE)

    @property
    def manifest(self) -> RunRecord:
        """``sweep.json``: a sweep's parameters and task statuses."""
        return RunRecord(self.path / MANIFEST_FILE)

    def records(self) -> list[RunRecord]:
        """Return the records a verb may have written here (``run.json``, ``sweep.json``)."""
        return [self.record, self.manifest]

    def is_run(self) -> bool:
        """Whether a run (or sweep) has finished writing here."""
        return self.record.exists() or self.manifest.exists()

    def check_output(self) -> None:
        """Check that the run directory can be written: a folder, or nothing yet.

        Raises
        ------
        ParameterError
            When ``path`` is an existing file.
        """
        if self.path.exists() and not self.path.is_dir():
            raise ParameterError(
                f"Invalid value for 'out': expected a run directory; {str(self.path)!r} is a file."
            )

    def prepare(self, command: str, parameters: dict, overwrite=False, extendable=()) -> None:
        """Check that this run may be written here, and clear the folder with ``overwrite``.

        A new or empty folder is fine. A folder that holds a run of the same command
        and the same parameters (:data:`EXECUTION_KEYS` aside: where a run executes
        does not change its result) is resumed or rewritten in place. A folder that
        holds another run, or files that no run writes, is refused unless
        ``overwrite`` is given; then it is emptied (moved aside first, then deleted,
        so an interrupted clear never leaves half a run).

        Parameters
        ----------
        command : str
            Verb of the run (``fit``, ``compare``, ``decode``).
        parameters : dict
            The run's spec as JSON (as recorded in ``run.json`` / ``sweep.json``).
        overwrite : bool
            Replace whatever the folder holds.
        extendable : sequence of str
            Parameters that may differ and still resume (a sweep's ``subjects``,
            ``models`` and ``layers``: its finished tasks are kept, new ones added).

        Raises
        ------
        ParameterError
            When ``path`` is a file, or holds something else and ``overwrite`` is False.
        """
        self.check_output()
        if not self.path.exists() or not any(self.path.iterdir()):
            return
        if overwrite:
            self._clear()
            return
        held = self.record.read_or_none() or self.manifest.read_or_none()
        if held is None:
            strange = sorted(p.name for p in self.path.iterdir() if not _run_entry(p.name))
            if strange:
                raise ParameterError(
                    f"Invalid value for 'out': {str(self.path)!r} holds files that are not "
                    f"a brainalign run ({', '.join(strange[:3])}); choose a new or empty "
                    "folder, or pass --overwrite to empty it."
                )
            return  # an interrupted run (features, tables): resumed
        differ = _differences(held.get("parameters") or {}, parameters, extendable)
        if held.get("command") != command:
            differ = [f"command: {held.get('command')!r} there, {command!r} here", *differ]
        if differ:
            raise ParameterError(
                f"Invalid value for 'out': {str(self.path)!r} holds a different run "
                f"({'; '.join(differ[:3])}); pass --overwrite to replace it, or choose "
                "another folder."
            )

    def _clear(self) -> None:
        import os
        import shutil

        aside = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
        self.path.rename(aside)
        self.path.mkdir()
        shutil.rmtree(aside)

    # -- tables -------------------------------------------------------------------
    def table(self, name: str) -> Path:
        """Path of the table ``<name>.parquet`` (``scores``, ``roi_scores``, ...)."""
        return self.path / f"{name}.parquet"

    @property
    def scores(self) -> Path:
        """``scores.parquet``: one row per target."""
        return self.table("scores")

    @property
    def roi_scores(self) -> Path:
        """``roi_scores.parquet``: one row per ROI."""
        return self.table("roi_scores")

    def write_table(self, name: str, table) -> Path:
        """Write a table atomically as ``<name>.parquet``.

        Parameters
        ----------
        name : str
            Table name.
        table : pandas.DataFrame
            The table.

        Returns
        -------
        Path
            The file.
        """
        from brainalign._utils import atomic_path

        path = self.table(name)
        with atomic_path(path) as tmp:
            table.to_parquet(tmp, index=False)
        return path

    def read_table(self, name: str, columns=None):
        """Read ``<name>.parquet`` (or return None when it was not written).

        Raises
        ------
        DataError
            When the file cannot be read as a table.
        """
        import pandas as pd

        path = self.table(name)
        if not path.is_file():
            return None
        try:
            return pd.read_parquet(path, columns=columns)
        except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
            raise DataError(f"Unreadable table {path}: {exc}") from exc

    def table_columns(self, name: str) -> list[str]:
        """Column names of a table without reading it (empty when absent)."""
        import pyarrow.parquet as pq

        path = self.table(name)
        if not path.is_file():
            return []
        try:
            return list(pq.read_schema(path).names)
        except (OSError, ValueError) as exc:
            raise DataError(f"Unreadable table {path}: {exc}") from exc

    # -- maps and weights ---------------------------------------------------------
    @property
    def maps(self) -> Path:
        """Folder of the statistic maps."""
        return self.path / "maps"

    @staticmethod
    def stem(subject, model, layer) -> str:
        """``sub-01_model-<model>_layer-<layer>``: the BIDS-like stem of a fit's files."""
        return f"sub-{int(subject):02d}_model-{_model_short(model)}_layer-{clean(layer)}"

    def map_path(self, subject, model, layer, stat) -> Path:
        """Volume map of one statistic: ``maps/<stem>_stat-<stat>.nii.gz``."""
        return self.maps / f"{self.stem(subject, model, layer)}_stat-{stat}.nii.gz"

    def surface_map_path(self, stem: str, stat: str, hemi: str, space=None) -> Path:
        """Surface map: ``maps/<stem>_hemi-L[_space-<space>]_stat-<stat>.mgh``."""
        entities = f"_hemi-{hemi[0].upper()}" + (f"_space-{space}" if space else "")
        return self.maps / f"{stem}{entities}_stat-{stat}.mgh"

    @property
    def surface_record(self) -> Path:
        """``maps/surface.json``: meshes and projections of the surface maps."""
        return self.maps / "surface.json"

    def volume_maps(self, stat: str = "*") -> list[Path]:
        """Volume maps of a statistic (``*``: every statistic), sorted."""
        return sorted(self.maps.glob(f"*_stat-{stat}.nii.gz"))

    def left_surface_maps(self, stat: str) -> list[Path]:
        """Left-hemisphere surface maps of a statistic (native and projected), sorted."""
        return sorted(self.maps.glob(f"*_hemi-L_*stat-{stat}.mgh"))

    def maps_json(self, stem: str, stat: str) -> Path:
        """Legend of a map of numbers: ``maps/<stem>_stat-<stat>.json``."""
        return self.maps / f"{stem}_stat-{stat}.json"

    def anatomy_path(self, subject) -> Path:
        """Anatomy drawn under a subject's maps: ``maps/sub-01_desc-anat.nii.gz``.

        The name does not match the statistic maps (``*_stat-*.nii.gz``).
        """
        return self.maps / f"sub-{int(subject):02d}_desc-anat.nii.gz"

    def named_map(self, stem: str, stat: str) -> Path:
        """Return a volume map named from any stem: ``maps/<stem>_stat-<stat>.nii.gz``."""
        return self.maps / f"{stem}_stat-{stat}.nii.gz"

    def weights_path(self, subject, model, layer) -> Path:
        """Fitted weights: ``<stem>_stat-weights.npz``."""
        return self.path / f"{self.stem(subject, model, layer)}_stat-weights.npz"

    def weights_file(self) -> Path:
        """Return the one weights file of a fit run.

        Raises
        ------
        DataError
            When there is not exactly one.
        """
        found = sorted(self.path.glob("sub-*_stat-weights.npz"))
        if len(found) != 1:
            raise DataError(f"Expected one *_stat-weights.npz in {self.path}; found {len(found)}.")
        return found[0]

    # -- figures ------------------------------------------------------------------
    @property
    def figures(self) -> Path:
        """Folder of the figures."""
        return self.path / "figures"

    def figure(self, name: str) -> Path:
        """Return a figure file: ``figures/<name>``."""
        return self.figures / name

    def figure_files(self) -> list[Path]:
        """Every PNG figure, sorted."""
        return sorted(self.figures.glob("*.png"))

    def surface_views(self) -> list[Path]:
        """Interactive surface pages, sorted."""
        return sorted(self.figures.glob("*_surface.html"))

    # -- other outputs ------------------------------------------------------------
    @property
    def features(self) -> Path:
        """Default feature cache."""
        return self.path / "features"

    @property
    def banks(self) -> Path:
        """Embedding banks built for captions."""
        return self.path / "banks"

    @property
    def shared_space(self) -> Path:
        """The shared space of an alignment run (:class:`brainalign.alignment.SharedSpace`)."""
        return self.path / "shared_space.npz"

    @property
    def decoded_embeddings(self) -> Path:
        """Decoded test embeddings of a decode run."""
        return self.path / "decoded_embeddings.npz"

    @property
    def top_images(self) -> Path:
        """Folder of the top-image thumbnails, one sub-folder per ROI."""
        return self.path / "top_images"

    def synthesis_images_of(self, roi: str) -> Path:
        """Images a synthesis run made (or chose) for one ROI, with their tables."""
        return self.path / "images" / _folder_name(roi)

    def top_images_of(self, roi: str) -> Path:
        """Thumbnail folder of one ROI."""
        return self.top_images / _folder_name(roi)

    # -- sweeps -------------------------------------------------------------------
    @staticmethod
    def task_name(subject, model, layer) -> str:
        """Folder name of one sweep task: ``sub-01_model-<m>_layer-<l>_<hash>``."""
        digest = hashlib.sha256(f"{model}\x1f{layer}".encode()).hexdigest()[:8]
        return f"sub-{int(subject):02d}_model-{_model_short(model)}_layer-{clean(layer)}_{digest}"

    @property
    def tasks_dir(self) -> Path:
        """Folder of a sweep's tasks."""
        return self.path / "tasks"

    def task(self, name: str) -> RunDir:
        """Return the run directory of one sweep task."""
        return RunDir(self.tasks_dir / name)

    def rdm_path(self, task: str, method: str, roi: str | None = None, split="test") -> Path:
        """RDM of a task's layer (``roi=None``) or of one of its ROIs.

        ``split="train"``: the RDM on the task's selection subsample of training
        images (``rsa/train/``), on which best layers are chosen.
        """
        part = "features" if roi is None else f"roi-{_rdm_label(roi)}"
        return self._rdm_folder(split) / f"{task}_{part}_{method}.npz"

    def roi_rdms(self, task: str, method: str, split: str = "test") -> list[Path]:
        """Every ROI RDM of a task, sorted."""
        return sorted(self._rdm_folder(split).glob(f"{task}_roi-*_{method}.npz"))

    def _rdm_folder(self, split: str) -> Path:
        if split not in ("test", "train"):
            raise ParameterError(
                f"Invalid value for 'split': expected 'test' or 'train'; got {split!r}."
            )
        return self.path / "rsa" / ("train" if split == "train" else "")


#: Spec fields that say where a run executes, not what it computes (ignored when a
#: folder's run is compared with a new one).
EXECUTION_KEYS = frozenset({"workers", "scheduler", "cache_dir", "device", "backend"})

#: Names a run writes at its top level (anything else is not a run's).
_RUN_DIRS = frozenset({"maps", "figures", "features", "tasks", "rsa", "top_images", "images"})
_RUN_SUFFIXES = (".parquet", ".npz", ".json", ".tmp", ".html", ".toml", ".yaml")


def _folder_name(text: str) -> str:
    """Return a folder name for an ROI (letters, digits, ``-_.``; anything else ``_``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text))


def _run_entry(name: str) -> bool:
    return name in _RUN_DIRS or name.endswith(_RUN_SUFFIXES) or name.startswith(".")


#: Options added after runs were first written, with the value older runs had: a run
#: recorded without one is read as having it (so it still resumes).
ADDED_DEFAULTS = {"encoder": "ridge"}


def _differences(there: dict, here: dict, ignored=()) -> list[str]:
    """``key: <there> there, <here> here`` for every differing result-changing key."""
    skip = EXECUTION_KEYS | set(ignored)
    there = {**{k: v for k, v in ADDED_DEFAULTS.items() if k in here}, **there}
    keys = [k for k in dict.fromkeys([*here, *there]) if k not in skip]
    return [
        f"{k}: {there.get(k)!r} there, {here.get(k)!r} here"
        for k in keys
        if _canonical(there.get(k)) != _canonical(here.get(k))
    ]


def _canonical(value):
    """JSON round trip, so tuples equal lists and numbers compare by value."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _rdm_label(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "" for c in str(text))
