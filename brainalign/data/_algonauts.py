"""The Algonauts 2023 challenge layout (Gifford et al. 2023), and the challenge metric.

Per subject (see ``datasets/algonauts2023.md``)::

    subjAA/training_split/training_fmri/{lh,rh}_training_fmri.npy   (n_train, n_vertices)
    subjAA/training_split/training_images/train-NNNN_nsd-IIIII.png
    subjAA/test_split/test_images/test-NNNN_nsd-IIIII.png
    subjAA/test_split/test_fmri/{lh,rh}_test_fmri.npy               (optional)
    subjAA/test_split/noise_ceiling/{lh,rh}_noise_ceiling.npy       (optional, 0..1)
    subjAA/roi_masks/{lh,rh}.all-vertices_fsaverage_space.npy      (163842 0/1)
    subjAA/roi_masks/{lh,rh}.<class>_{fsaverage,challenge}_space.npy
    subjAA/roi_masks/mapping_<class>.npy                            (pickled dict)
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import check_option, require_file
from brainalign.data._adapter import DatasetAdapter, DatasetSummary, ExtraScores, SubjectSummary
from brainalign.data._braindata import BrainData
from brainalign.data._reading import load_npy
from brainalign.data._registry import register_dataset
from brainalign.data._stimuli import read_images
from brainalign.data._surface import HEMIS, SurfaceSpace
from brainalign.data._things_eeg2 import load_pickled_dict
from brainalign.exceptions import DataError, ParameterError

#: ROI classes of the challenge (``roi_masks/{lh,rh}.<class>_challenge_space.npy``).
ROI_CLASSES = (
    "prf-visualrois",
    "floc-bodies",
    "floc-faces",
    "floc-places",
    "floc-words",
    "streams",
)
#: Repetitions assumed per image when turning the challenge noise ceiling into ncsnr.
ASSUMED_TRIALS = 3
_IMAGE = re.compile(r"(train|test)-(\d+)_nsd-(\d+)\.png")


def algonauts_score(r, noise_ceiling, per_target=False):
    """Compute the Algonauts 2023 noise-normalised encoding accuracy.

    Negative correlations count as 0; ``acc = 100 * r**2 / NC`` with ``NC`` the noise
    ceiling as a fraction (noise ceilings of 0 become 1e-14, as in the challenge code);
    ``acc`` is clipped at 100; the score is the median over targets (the challenge
    takes it over the vertices of both hemispheres).

    Parameters
    ----------
    r : array-like of shape (n_targets,)
        Pearson correlation per target between measured and predicted responses.
    noise_ceiling : array-like of shape (n_targets,)
        Noise ceiling per target in percent (brainalign's convention, 0..100; the
        challenge's ``*_noise_ceiling.npy`` files hold fractions: multiply by 100).
    per_target : bool
        Also return the accuracy of every target.

    Returns
    -------
    float or (float, ndarray)
        The median accuracy in percent (and the per-target accuracies).
    """
    r = np.asarray(r, dtype=np.float64)
    nc = np.asarray(noise_ceiling, dtype=np.float64)
    if r.shape != nc.shape or r.ndim != 1:
        raise ParameterError(
            f"Invalid shapes for 'r' and 'noise_ceiling': expected two equal 1-D shapes; "
            f"got {r.shape} and {nc.shape}."
        )
    frac = nc / 100.0
    frac = np.where(frac == 0, 1e-14, frac)
    acc = np.minimum(np.clip(r, 0, None) ** 2 / frac * 100.0, 100.0)
    score = float(np.median(acc))
    return (score, acc) if per_target else score


class AlgonautsImages:
    """Challenge images (``train-NNNN_nsd-IIIII.png``) by NSD id, read lazily.

    Parameters
    ----------
    paths : dict of int -> str or Path
        0-based NSD id -> PNG file.
    """

    def __init__(self, paths):
        self.paths = {int(k): Path(v) for k, v in dict(paths).items()}

    def __len__(self) -> int:
        return len(self.paths)

    def fingerprint(self) -> str:
        """Identity of the image set (file list), for feature caches."""
        listing = "\n".join(f"{k}={v.resolve()}" for k, v in sorted(self.paths.items()))
        return "algonauts2023:" + hashlib.sha256(listing.encode()).hexdigest()

    def images(self, ids) -> list[np.ndarray]:
        """Read images as uint8 RGB arrays, in the order of ``ids``.

        Parameters
        ----------
        ids : array-like of int
            NSD ids.

        Returns
        -------
        list of ndarray of shape (H, W, 3), dtype uint8
            The images.
        """
        ids = (int(i) for i in np.asarray(ids).ravel())
        return read_images(self.paths.get, ids, "NSD image")


def _label_counts(labels) -> dict[str, int]:
    """Vertices of each label (``""``, outside every label, left out), by name."""
    names, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts, strict=True) if n}


def image_ids(folder: Path) -> tuple[np.ndarray, dict[int, Path]]:
    """NSD ids of the PNG files of a challenge image folder, in file-number order.

    Parameters
    ----------
    folder : Path
        ``training_images`` or ``test_images``.

    Returns
    -------
    ids : ndarray of int
        NSD id of each image, ordered by the ``train-NNNN`` number (the fMRI row order).
    paths : dict of int -> Path
        NSD id -> file.
    """
    found = []
    for p in folder.glob("*.png"):
        m = _IMAGE.fullmatch(p.name)
        if m:
            found.append((int(m.group(2)), int(m.group(3)), p))
    found.sort()
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise DataError(
            f"{folder} must hold images numbered 1..N without gaps (train-0001_nsd-IIIII.png); "
            f"found {len(found)} image(s) numbered {numbers[:3]}...{numbers[-3:]}."
        )
    return np.array([i for _, i, _ in found], dtype=np.int64), {i: p for _, i, p in found}


@register_dataset("algonauts2023")
class Algonauts2023(DatasetAdapter):
    """Algonauts 2023 challenge data under ``root`` (``subjAA/...`` folders).

    Parameters
    ----------
    root : str or Path
        The challenge data folder (holding ``subj01``, ``subj02``, ...).

    Notes
    -----
    Rows are training images (and test images when ``test_split/test_fmri`` exists),
    already averaged over repetitions by the challenge; stimulus ids are NSD ids from
    the file names. Columns are the challenge vertices (fsaverage vertices where
    ``all-vertices_fsaverage_space`` is 1) of both hemispheres, with one label column
    per ROI class. The challenge noise ceiling (a fraction, for the test split) becomes
    an ncsnr assuming 3 trials per image, so ``noise_ceiling()`` returns it in percent.
    The challenge's score of a fit is the :meth:`extra_scores` capability.
    """

    modality = "fmri"

    def __init__(self, root):
        if root is None:
            raise ParameterError(
                "Invalid value for 'root': the algonauts2023 adapter needs the challenge "
                "data folder."
            )
        self.root = require_file(root, "Algonauts 2023 folder")

    def subjects(self) -> list[int]:
        """Subjects with a ``training_split`` folder (1-based)."""
        return sorted(
            int(m.group(1))
            for p in self.root.glob("subj*")
            if (m := re.fullmatch(r"subj(\d\d)", p.name)) and (p / "training_split").is_dir()
        )

    def _subject_dir(self, subject) -> Path:
        subjects = self.subjects()
        if subject not in subjects:
            raise DataError(
                f"Subject {subject!r} is not present under {self.root}; available subjects: "
                f"{subjects or 'none'} (looked for {self.root / 'subjAA/training_split'})."
            )
        return self.root / f"subj{int(subject):02d}"

    def describe(self, subject=None) -> DatasetSummary:
        """Summarise subjects, images and vertices without reading responses.

        Parameters
        ----------
        subject : int, optional
            Only this subject.

        Returns
        -------
        DatasetSummary
            Per subject: ``n_trials`` (training images, plus test images when their
            fMRI is present), ``n_stimuli`` (training and test images),
            ``n_targets`` (challenge vertices), ``rois`` (class -> {label:
            n_vertices}); ``extra`` holds ``n_train``, ``n_test``, ``test_fmri``,
            ``noise_ceiling`` (files present or not) and ``n_vertices`` per hemisphere.
        """
        subjects = self.subjects() if subject is None else [subject]
        facts = {int(s): self._subject_summary(self._subject_dir(s)) for s in subjects}
        return self._summary(facts, space="fsaverage")

    def _subject_summary(self, folder: Path) -> SubjectSummary:
        masks = self._masks(folder)
        n_train = len(image_ids(folder / "training_split" / "training_images")[0])
        test = folder / "test_split" / "test_images"
        n_test = len(image_ids(test)[0]) if test.is_dir() else 0
        test_fmri = (folder / "test_split" / "test_fmri").is_dir()
        n_vertices = {h: int(m.sum()) for h, m in masks.items()}
        ceiling = folder / "test_split" / "noise_ceiling"
        return SubjectSummary(
            n_trials=n_train + (n_test if test_fmri else 0),
            n_stimuli=n_train + n_test,
            n_targets=sum(n_vertices.values()),
            rois={c: _label_counts(v) for c, v in self._roi_labels(folder, masks).items()},
            formats=["npy"],
            extra={
                "n_train": n_train,
                "n_test": n_test,
                "test_fmri": test_fmri,
                "noise_ceiling": all((ceiling / f"{h}_noise_ceiling.npy").exists() for h in HEMIS),
                "n_vertices": n_vertices,
            },
        )

    def extra_scores(self, scores, data) -> list[ExtraScores]:
        """Score a fit as the Algonauts 2023 challenge does (overall and per ROI).

        Parameters
        ----------
        scores : pandas.DataFrame
            Per-vertex scores of the fit (``r``, ``nc`` in percent, ``hemi``).
        data : BrainData
            The scored (test) data: its noise ceiling and ROI labels.

        Returns
        -------
        list of ExtraScores
            One entry, ``challenge_scores`` (table of
            :func:`~brainalign.data._algonauts_challenge.challenge_scores`, headline
            ``challenge_score`` for ``run.json``); empty when the data have no noise
            ceiling.
        """
        from brainalign.data import _algonauts_challenge as C

        if data.ncsnr is None:
            return []
        table = C.challenge_scores(scores, data.col_meta)
        return [
            ExtraScores(
                name=C.CHALLENGE_NAME,
                record_key=C.RECORD_KEY,
                table=table,
                headline=C.headline_scores(table),
                text=C.challenge_summary(table),
            )
        ]

    def stimulus_set(self, subject: int) -> dict:
        """Return the challenge images of a subject, without reading responses.

        Parameters
        ----------
        subject : int
            1-based subject number.

        Returns
        -------
        dict
            ``store`` (:class:`AlgonautsImages`), ``ids`` (NSD ids, sorted),
            ``test_ids`` (the test images) and ``train_ids``.
        """
        folder = self._subject_dir(subject)
        train, paths = image_ids(folder / "training_split" / "training_images")
        test = np.array([], dtype=np.int64)
        if (folder / "test_split" / "test_images").is_dir():
            test, more = image_ids(folder / "test_split" / "test_images")
            paths = {**paths, **more}
        return {
            "store": AlgonautsImages(paths),
            "ids": np.union1d(train, test),
            "test_ids": np.sort(test),
            "train_ids": np.sort(train),
        }

    def load(self, subject=1, roi=None, progress=False) -> BrainData:
        """Load one subject's challenge responses.

        Parameters
        ----------
        subject : int
            1-based subject number.
        roi : str, sequence of str or None
            ROI class names (``"floc-faces"``) or label names (``"FFA-1"``); None,
            ``"all-vertices"`` or ``"nsdgeneral"`` keep every challenge vertex (the
            challenge space is nsdgeneral plus RSC).
        progress : bool
            Unused (the files are small); accepted for a uniform interface.

        Returns
        -------
        BrainData
            One row per image, ``test_ids`` the test images when their fMRI is present.
        """
        folder = self._subject_dir(subject)
        masks = self._masks(folder)
        parts, ids, split = self._responses(folder, masks)
        col_meta = self._vertex_table(folder, masks)
        roi_columns = [c for c in col_meta.columns if c not in ("hemi", "vertex")]
        hemi, vertex = col_meta["hemi"].to_numpy(), col_meta["vertex"].to_numpy()
        ncsnr = self._ncsnr(folder, masks)
        if ncsnr is not None:
            col_meta["ncsnr"] = ncsnr
        paths = {}
        for sub in ("training_split/training_images", "test_split/test_images"):
            if (folder / sub).is_dir():
                paths.update(image_ids(folder / sub)[1])
        data = BrainData(
            np.concatenate(parts),
            ids,
            row_meta=pd.DataFrame({"split": split, "n_trials": ASSUMED_TRIALS}),
            col_meta=col_meta,
            space=SurfaceSpace({h: m.size for h, m in masks.items()}, hemi, vertex, "fsaverage"),
            roi_columns=roi_columns,
            stimuli=AlgonautsImages(paths),
            test_ids=ids[split == "test"] if (split == "test").any() else None,
            info={"dataset": "algonauts2023", "subject": int(subject), "root": str(self.root)},
        )
        if (
            roi is None
            or roi in ("all-vertices", "nsdgeneral")
            or list(np.atleast_1d(roi)) == ["all-vertices"]
        ):
            return data
        names = [roi] if isinstance(roi, str) else list(roi)
        for name in names:
            check_option("roi", name, data.roi_names())
        return data.select_rois(names)

    def vertex_table(self, subject=1) -> pd.DataFrame:
        """Describe the challenge vertices of a subject, without reading responses.

        Parameters
        ----------
        subject : int
            1-based subject number.

        Returns
        -------
        pandas.DataFrame
            One row per challenge vertex (left then right hemisphere): ``hemi``,
            ``vertex`` (the fsaverage index), ``all-vertices`` and one label column
            per ROI class present (``""`` outside its labels).
        """
        folder = self._subject_dir(subject)
        return self._vertex_table(folder, self._masks(folder))

    def _vertex_table(self, folder, masks) -> pd.DataFrame:
        table = pd.DataFrame(
            {
                "hemi": np.concatenate([np.full(int(masks[h].sum()), h) for h in HEMIS]),
                "vertex": np.concatenate([np.flatnonzero(masks[h]) for h in HEMIS]),
                "all-vertices": "all-vertices",
            }
        )
        for cls, labels in self._roi_labels(folder, masks).items():
            table[cls] = labels
        return table

    def _masks(self, folder: Path) -> dict[str, np.ndarray]:
        masks = {}
        for h in HEMIS:
            path = folder / "roi_masks" / f"{h}.all-vertices_fsaverage_space.npy"
            mask = load_npy(require_file(path, "challenge vertex mask"), "challenge vertex mask")
            masks[h] = mask.ravel() > 0
        return masks

    def _responses(self, folder, masks):
        parts, ids, split = [], [], []
        for name, sub in (("training", "training_split"), ("test", "test_split")):
            fmri = folder / sub / f"{name}_fmri"
            if name == "test" and not fmri.is_dir():
                continue
            rows = image_ids(folder / sub / f"{name}_images")[0]
            block = []
            for h in HEMIS:
                path = require_file(fmri / f"{h}_{name}_fmri.npy", "challenge fMRI file")
                arr = load_npy(path, "challenge fMRI file")
                expected = (rows.size, int(masks[h].sum()))
                if arr.shape != expected:
                    raise DataError(
                        f"Vertex count mismatch: {path.name} has shape {arr.shape} but "
                        f"{rows.size} image(s) and {expected[1]} challenge vertices "
                        f"({h}.all-vertices_fsaverage_space.npy) were found."
                    )
                block.append(arr.astype(np.float32, copy=False))
            parts.append(np.concatenate(block, axis=1))
            ids.append(rows)
            split.append(np.full(rows.size, "train" if name == "training" else "test"))
        return parts, np.concatenate(ids), np.concatenate(split)

    def _roi_labels(self, folder, masks) -> dict[str, list[str]]:
        out = {}
        for cls in ROI_CLASSES:
            mapping_path = folder / "roi_masks" / f"mapping_{cls}.npy"
            files = [folder / "roi_masks" / f"{h}.{cls}_challenge_space.npy" for h in HEMIS]
            if not mapping_path.exists() or not all(p.exists() for p in files):
                continue
            mapping = {int(k): str(v) for k, v in load_pickled_dict(mapping_path).items()}
            mapping.pop(0, None)
            values = []
            for h, path in zip(HEMIS, files, strict=True):
                vec = np.rint(load_npy(path, "challenge ROI file").ravel()).astype(np.int64)
                if vec.size != masks[h].sum():
                    raise DataError(
                        f"Vertex count mismatch: {path.name} has {vec.size} vertices but the "
                        f"challenge space has {int(masks[h].sum())}."
                    )
                values.extend(mapping.get(int(v), "") for v in vec)
            out[cls] = values
        return out

    def _ncsnr(self, folder, masks):
        paths = [folder / "test_split" / "noise_ceiling" / f"{h}_noise_ceiling.npy" for h in HEMIS]
        if not all(p.exists() for p in paths):
            return None
        nc = [load_npy(p, "challenge noise ceiling").ravel() for p in paths]
        nc = np.concatenate(nc).astype(np.float64)
        if nc.size != sum(int(m.sum()) for m in masks.values()):
            raise DataError(
                f"Vertex count mismatch: the noise ceiling files hold {nc.size} values but the "
                f"challenge space has {sum(int(m.sum()) for m in masks.values())} vertices."
            )
        nc = np.clip(nc, 0.0, 1.0 - 1e-9)
        return np.sqrt(nc / (1.0 - nc) / ASSUMED_TRIALS)
