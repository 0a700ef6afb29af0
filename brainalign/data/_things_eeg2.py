"""THINGS-EEG2 (Gifford et al. 2022): the preprocessed release, read as it is shipped.

Per subject ``preprocessed_eeg_training.npy`` / ``preprocessed_eeg_test.npy`` are
``.npy`` files holding a pickled dict (``preprocessed_eeg_data`` of shape images x
repetitions x channels x times, ``ch_names``, ``times``); ``image_metadata.npy`` holds
the concept and file names of the training and test images in the row order of the
EEG arrays. Pickles can run code, so they are read only from the root the user names,
and with an unpickler that accepts nothing but numpy arrays and plain containers.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import check_option, require_file
from brainalign.data._adapter import DatasetAdapter, DatasetSummary, SubjectSummary
from brainalign.data._reading import npy_header, reading
from brainalign.data._registry import register_dataset
from brainalign.data._sensors import crop_times, sensor_data
from brainalign.data._stimuli import read_images
from brainalign.exceptions import DataError, MissingFileError, ParameterError

PARTS = ("training", "test")
#: Where the per-subject folders may sit under the root (release and flat layouts).
_EEG_DIRS = ("preprocessed_data", "eeg_dataset/preprocessed_data", ".")
_IMAGE_DIRS = ("image_set", "images", ".")
#: The only globals the restricted unpickler resolves (numpy array reconstruction).
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise DataError(
            f"Refusing to unpickle {module}.{name}: only numpy arrays, dicts, lists and "
            "strings are accepted in THINGS-EEG2 files."
        )


def load_pickled_dict(path) -> dict:
    """Read a ``.npy`` file that holds a pickled dict (``np.save`` of a dict).

    Only numpy arrays, numbers, strings and plain containers are accepted; any other
    pickled object (which could run code while loading) raises a DataError.

    Parameters
    ----------
    path : str or Path
        The file, named by the user (directly or through a dataset root).

    Returns
    -------
    dict
        The stored dict.
    """
    path = require_file(path, "THINGS-EEG2 file")
    with reading(path, "THINGS-EEG2 file"), open(path, "rb") as f:
        try:
            shape, dtype = npy_header(f)
        except ValueError as exc:
            raise DataError(f"{path.name} is not a .npy file: {exc} ({path}).") from exc
        if dtype != np.dtype(object) or shape != ():
            raise DataError(
                f"{path} holds a plain array of shape {shape}; expected a pickled dict."
            )
        obj = _SafeUnpickler(f, encoding="latin1").load()
    value = obj.item() if isinstance(obj, np.ndarray) else obj
    if not isinstance(value, dict):
        raise DataError(f"{path} holds a {type(value).__name__}; expected a dict.")
    return value


class ThingsImages:
    """THINGS images by stimulus id (the file name without suffix), read lazily.

    Parameters
    ----------
    folder : str or Path
        The image set folder (holding ``training_images/`` and ``test_images/``).
    paths : dict of str -> str
        Stimulus id -> path relative to ``folder``
        (``training_images/00001_aardvark/aardvark_01b.jpg``).
    concepts : dict of str -> str, optional
        Stimulus id -> concept (``00001_aardvark``).
    """

    def __init__(self, folder, paths, concepts=None):
        self.folder = Path(folder)
        self.paths = dict(paths)
        self._concepts = dict(concepts or {})

    def __len__(self) -> int:
        return len(self.paths)

    def fingerprint(self) -> str:
        """Identity of the image set (folder and file list), for feature caches."""
        import hashlib

        listing = "\n".join(f"{k}={v}" for k, v in sorted(self.paths.items()))
        return f"things:{self.folder.resolve()}:" + hashlib.sha256(listing.encode()).hexdigest()

    def images(self, ids) -> list[np.ndarray]:
        """Read images as uint8 RGB arrays, in the order of ``ids``.

        Parameters
        ----------
        ids : array-like of str
            Stimulus ids.

        Returns
        -------
        list of ndarray of shape (H, W, 3), dtype uint8
            The images.
        """

        def locate(i):
            rel = self.paths.get(i)
            return None if rel is None else self.folder / rel

        return read_images(locate, (str(i) for i in np.asarray(ids).ravel()), "THINGS image")

    def concepts(self, ids) -> list[str]:
        """Concept names (``00001_aardvark``) of stimulus ids."""
        return [self._concepts.get(str(i), "") for i in np.asarray(ids).ravel()]

    def captions(self, ids) -> list[list[str]]:
        """Describe each image in words: its concept name without the number."""
        return [[c.split("_", 1)[-1].replace("_", " ")] if c else [] for c in self.concepts(ids)]


@register_dataset("things-eeg2")
class ThingsEEG2(DatasetAdapter):
    """THINGS-EEG2 preprocessed EEG and image set under a user-named root.

    Parameters
    ----------
    root : str or Path
        Folder holding ``preprocessed_data/sub-XX/`` (or ``sub-XX/`` directly) and
        ``image_set/`` (or ``image_metadata.npy`` and the image folders directly).

    Notes
    -----
    Rows are single trials (image x repetition); stimulus ids are image file names
    without suffix (``aardvark_01b``); ``test_ids`` are the 200 test images. Columns
    are channel x time cells (:class:`~brainalign.data.SensorSpace`, montage
    ``standard_1005``).
    """

    modality = "eeg"

    def __init__(self, root):
        if root is None:
            raise ParameterError(
                "Invalid value for 'root': the THINGS-EEG2 adapter needs the dataset folder."
            )
        self.root = require_file(root, "THINGS-EEG2 root folder")

    # -- discovery ----------------------------------------------------------------
    def subjects(self) -> list[int]:
        """Subjects with a preprocessed EEG folder.

        Returns
        -------
        list of int
            Subject numbers.
        """
        found = set()
        for base in _EEG_DIRS:
            folder = self.root / base
            if folder.is_dir():
                for p in folder.glob("sub-*"):
                    m = re.fullmatch(r"sub-(\d+)", p.name)
                    if m and any((p / f"preprocessed_eeg_{part}.npy").exists() for part in PARTS):
                        found.add(int(m.group(1)))
        return sorted(found)

    def eeg_file(self, subject: int, part: str) -> Path:
        """Path of a subject's preprocessed EEG file.

        Parameters
        ----------
        subject : int
            Subject number.
        part : {"training", "test"}
            Partition.

        Returns
        -------
        Path
            The file.
        """
        check_option("part", part, PARTS)
        name = f"sub-{int(subject):02d}/preprocessed_eeg_{part}.npy"
        for base in _EEG_DIRS:
            path = self.root / base / name
            if path.exists():
                return path
        raise MissingFileError(
            f"Subject {subject!r}: no {name} under {self.root} (looked in "
            f"{', '.join(_EEG_DIRS)}); subjects found: {self.subjects() or 'none'}."
        )

    def image_folder(self) -> Path:
        """Folder holding ``image_metadata.npy`` and the image folders.

        Returns
        -------
        Path
            The folder.
        """
        for base in _IMAGE_DIRS:
            if (self.root / base / "image_metadata.npy").exists():
                return self.root / base
        raise MissingFileError(
            f"No image_metadata.npy under {self.root} (looked in {', '.join(_IMAGE_DIRS)})."
        )

    def image_metadata(self) -> dict:
        """Concept and file names of the training and test images.

        Returns
        -------
        dict
            ``train_img_concepts``, ``train_img_files``, ``test_img_concepts``,
            ``test_img_files`` (lists of str, in the EEG row order).
        """
        meta = load_pickled_dict(self.image_folder() / "image_metadata.npy")
        keys = ("train_img_concepts", "train_img_files", "test_img_concepts", "test_img_files")
        missing = [k for k in keys if k not in meta]
        if missing:
            raise DataError(f"image_metadata.npy lacks {missing}; found {sorted(meta)}.")
        return {k: [str(v) for v in meta[k]] for k in keys}

    def stimuli(self, meta=None) -> ThingsImages:
        """Build the image store of the release (ids -> ``training_images/``, ``test_images/``).

        Parameters
        ----------
        meta : dict, optional
            Output of :meth:`image_metadata` (read when not given).

        Returns
        -------
        ThingsImages
            The store.
        """
        meta = self.image_metadata() if meta is None else meta
        paths, concepts = {}, {}
        for prefix, folder in (("train", "training_images"), ("test", "test_images")):
            files, names = meta[f"{prefix}_img_files"], meta[f"{prefix}_img_concepts"]
            for file, concept in zip(files, names, strict=True):
                sid = _stimulus_id(file)
                paths[sid] = f"{folder}/{concept}/{file}"
                concepts[sid] = concept
        return ThingsImages(self.image_folder(), paths, concepts)

    def stimulus_set(self, subject: int) -> dict:
        """Return the images of the release (the same for every subject), without EEG.

        Parameters
        ----------
        subject : int
            Subject number (checked to be present).

        Returns
        -------
        dict
            ``store`` (:class:`ThingsImages`), ``ids`` (training then test images),
            ``test_ids`` (the 200 test images) and ``train_ids``.
        """
        self.eeg_file(subject, "test")
        meta = self.image_metadata()
        train = np.array([_stimulus_id(f) for f in meta["train_img_files"]])
        test = np.array([_stimulus_id(f) for f in meta["test_img_files"]])
        return {
            "store": self.stimuli(meta),
            "ids": np.concatenate([train, test]),
            "test_ids": test,
            "train_ids": train,
        }

    # -- loading ------------------------------------------------------------------
    def load(
        self,
        subject=1,
        parts=PARTS,
        roi=None,
        channels=None,
        tmin=None,
        tmax=None,
        progress=False,
    ):
        """Load one subject's single trials.

        Parameters
        ----------
        subject : int
            Subject number (1-10 in the release).
        parts : sequence of {"training", "test"}
            Partitions to read.
        roi, channels : str or sequence of str, optional
            Channels to keep (``roi`` is the name the encoding runner uses);
            default: all.
        tmin, tmax : float, optional
            Time window to keep, in seconds.
        progress : bool
            Unused (accepted for a uniform adapter interface).

        Returns
        -------
        BrainData
            ``(n_trials, n_channels * n_times)`` float32, ``row_meta`` with ``part``,
            ``repetition``, ``concept``, ``image_index``; ``test_ids`` = test images.
        """
        parts = [parts] if isinstance(parts, str) else list(parts)
        for part in parts:
            check_option("parts", part, PARTS)
        meta = self.image_metadata()
        blocks, ids, rows, header = [], [], [], None
        for part in parts:
            eeg = self._read_part(subject, part)
            if header is None:
                header = eeg
            elif eeg["ch_names"] != header["ch_names"] or not np.allclose(
                eeg["times"], header["times"]
            ):
                raise DataError(
                    f"Subject {subject}: training and test files have different channels or times."
                )
            prefix = "train" if part == "training" else "test"
            files = meta[f"{prefix}_img_files"]
            data = eeg["preprocessed_eeg_data"]
            if data.shape[0] != len(files):
                raise DataError(
                    f"preprocessed_eeg_{part}.npy has {data.shape[0]} images but "
                    f"image_metadata.npy lists {len(files)} {prefix} images."
                )
            n_img, n_rep = data.shape[:2]
            blocks.append(data.reshape((n_img * n_rep,) + data.shape[2:]).astype(np.float32))
            ids.append(np.repeat([_stimulus_id(f) for f in files], n_rep))
            rows.append(
                pd.DataFrame(
                    {
                        "part": part,
                        "image_index": np.repeat(np.arange(n_img), n_rep),
                        "repetition": np.tile(np.arange(n_rep), n_img),
                        "concept": np.repeat(meta[f"{prefix}_img_concepts"], n_rep),
                    }
                )
            )
        out = sensor_data(
            np.concatenate(blocks),
            np.concatenate(ids),
            header["ch_names"],
            header["times"],
            montage="standard_1005",
            row_meta=pd.concat(rows, ignore_index=True),
            stimuli=self.stimuli(meta),
            test_ids=np.array([_stimulus_id(f) for f in meta["test_img_files"]]),
            info={
                "dataset": "things-eeg2",
                "subject": int(subject),
                "root": str(self.root),
                "parts": parts,
            },
        )
        picks = channels if channels is not None else roi
        if picks is not None:
            out = out.select_rois(picks)
        if tmin is not None or tmax is not None:
            out = crop_times(out, tmin, tmax)
        return out

    def _read_part(self, subject, part) -> dict:
        path = self.eeg_file(subject, part)
        eeg = load_pickled_dict(path)
        missing = {"preprocessed_eeg_data", "ch_names", "times"} - set(eeg)
        if missing:
            raise DataError(f"{path} lacks {sorted(missing)}; found {sorted(eeg)}.")
        data = np.asarray(eeg["preprocessed_eeg_data"])
        ch_names = [str(c) for c in eeg["ch_names"]]
        times = np.asarray(eeg["times"], dtype=np.float64)
        if data.ndim != 4 or data.shape[2:] != (len(ch_names), times.size):
            raise DataError(
                f"{path}: 'preprocessed_eeg_data' has shape {data.shape}; expected (images, "
                f"repetitions, {len(ch_names)} channels, {times.size} times)."
            )
        return {"preprocessed_eeg_data": data, "ch_names": ch_names, "times": times}

    def describe(self, subject=None) -> DatasetSummary:
        """Summarise subjects, trials, images, channels and times found.

        Reads every subject's EEG files (or only ``subject``'s).

        Parameters
        ----------
        subject : int, optional
            Only this subject.

        Returns
        -------
        DatasetSummary
            Per subject: ``n_trials`` (images x repetitions), ``n_stimuli`` (images),
            ``n_targets`` (channels x times), ``rois`` (``channels`` -> times per
            channel) and the array ``shapes`` in ``extra``; ``stimuli`` the image
            folder (``path``, ``n_training_images``, ``n_test_images``); ``extra``
            ``times`` (first, last) and ``sfreq``.
        """
        meta = self.image_metadata()
        subjects = self.subjects() if subject is None else [int(subject)]
        facts, header = {}, None
        for s in subjects:
            parts = {p: self._read_part(s, p) for p in PARTS}
            header = parts["test"]
            facts[s] = _subject_summary(parts)
        stimuli = {
            "path": str(self.image_folder()),
            "n_training_images": len(meta["train_img_files"]),
            "n_test_images": len(meta["test_img_files"]),
        }
        extra = {}
        if header is not None:
            times = header["times"]
            extra["times"] = [float(times[0]), float(times[-1])]
            extra["sfreq"] = round(1.0 / float(np.mean(np.diff(times))), 6)
        return self._summary(facts, stimuli=stimuli, **extra)


def _subject_summary(parts: dict) -> SubjectSummary:
    """Summary of a subject from its training and test files (read by ``_read_part``)."""
    shapes = {p: eeg["preprocessed_eeg_data"].shape for p, eeg in parts.items()}
    header = parts["test"]
    n_times = len(header["times"])
    return SubjectSummary(
        sessions=[],  # the preprocessed release merges the 4 sessions
        n_trials=int(sum(a * b for a, b, *_ in shapes.values())),
        n_stimuli=int(sum(shape[0] for shape in shapes.values())),
        n_targets=len(header["ch_names"]) * n_times,
        rois={"channels": {c: n_times for c in header["ch_names"]}},
        formats=["preprocessed_eeg npy"],
        extra={"shapes": {p: list(v) for p, v in shapes.items()}},
    )


def _stimulus_id(file_name: str) -> str:
    """Stimulus id of an image file: the name without its suffix."""
    return Path(str(file_name)).stem
