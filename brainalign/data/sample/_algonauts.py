"""Write the embedded sample in the Algonauts 2023 challenge layout.

The challenge data are prepared from NSD's fsaverage betas (A23:
``challenge_data_preparation.py``): vertices of nsdgeneral (+RSC) with data in every
session, betas z-scored per session and averaged over repetitions, PNG images named
``train-NNNN_nsd-IIIII.png`` in increasing NSD id order, ROI labels in challenge space
and the mappings from label values to names. This module applies the same steps to the
embedded NSD sample (same planted truth). One difference: the sample's test split is
the shared images (the real challenge withheld the last three sessions).
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np

from brainalign._utils import atomic_path, get_logger, write_json_atomic
from brainalign.data._algonauts import ROI_CLASSES
from brainalign.data._nsd import NSD
from brainalign.data._surface import HEMIS
from brainalign.data.sample._folder import check_claimable, claim_folder
from brainalign.exceptions import DataError

logger = get_logger(__name__)

ALGONAUTS_FORMAT_VERSION = 1


def write_algonauts2023_sample(
    out, seed: int = 0, nsd_root=None, subjects=None, progress: bool = False, **sizes
) -> Path:
    """Write the sample in the Algonauts 2023 layout, with its ground truth.

    Parameters
    ----------
    out : str or Path
        Destination folder (the challenge data folder, holding ``subjAA``).
    seed : int
        Seed of the NSD sample it is prepared from.
    nsd_root : str or Path, optional
        An NSD sample already written with this seed (built in a temporary folder
        when None, then removed).
    subjects : sequence of int, optional
        Subjects to write (default: all of the NSD sample).
    progress : bool
        Show progress bars while building the NSD sample.
    **sizes
        Sizes of the NSD sample when it is built here (see ``SampleConfig``).

    Returns
    -------
    Path
        ``out``.
    """
    out = Path(out)
    check_claimable(out)
    if nsd_root is None:
        from brainalign.data.sample._nsd import write_nsd_sample

        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".nsd-source-") as tmp:
            source = write_nsd_sample(Path(tmp) / "nsd", seed=seed, progress=progress, **sizes)
            return write_algonauts2023_sample(out, seed, source, subjects)
    nsd_root = Path(nsd_root)
    truth = json.loads((nsd_root / "ground_truth.json").read_text())
    if truth["seed"] != seed:
        raise DataError(f"The NSD sample in {nsd_root} has seed {truth['seed']}, not {seed}.")
    subjects = list(truth["subjects"] if subjects is None else subjects)
    record = {
        "format_version": ALGONAUTS_FORMAT_VERSION,
        "subjects": subjects,
        "nsd": truth["config"],
    }
    if _is_complete(out, record):
        logger.info("Reusing the complete Algonauts sample in %s", out)
        return out
    _prepare_folder(out)
    nsd = NSD(nsd_root)
    for subject in subjects:
        write_subject(out, nsd, subject)
    truth = dict(truth, layout="algonauts2023", subjects=subjects, config=record)
    write_json_atomic(out / "ground_truth.json", truth)
    return out


def write_subject(out: Path, nsd: NSD, subject: int) -> None:
    """Prepare one subject's challenge files from the NSD sample's fsaverage betas."""
    with warnings.catch_warnings():  # the sample's invalid vertices are dropped on purpose
        warnings.filterwarnings("ignore", message="Dropped .* vertices", category=UserWarning)
        data = nsd.load(subject, roi="nsdgeneral", space="fsaverage").average_repetitions()
    folder = out / f"subj{subject:02d}"
    n_vert = data.space.n_vertices
    masks = {h: np.zeros(n_vert[h], dtype=np.int64) for h in HEMIS}
    for h in HEMIS:
        masks[h][data.space.vertex[data.space.hemi == h]] = 1
        _save_npy(masks[h], folder / "roi_masks" / f"{h}.all-vertices_fsaverage_space.npy")
    is_test = np.isin(data.stimulus_ids, data.test_ids)
    for name, rows in (("training", ~is_test), ("test", is_test)):
        order = np.flatnonzero(rows)[np.argsort(data.stimulus_ids[rows], kind="stable")]
        split = f"{name}_split"
        for h in HEMIS:
            cols = data.space.hemi == h
            values = data.responses[np.ix_(order, np.flatnonzero(cols))]
            _save_npy(
                values.astype(np.float32), folder / split / f"{name}_fmri" / f"{h}_{name}_fmri.npy"
            )
        _write_images(
            data.stimuli, data.stimulus_ids[order], folder / split / f"{name}_images", name
        )
    nc = data.noise_ceiling(n_trials=data.n_trials[is_test]) / 100.0
    for h in HEMIS:
        _save_npy(
            nc[data.space.hemi == h].astype(np.float32),
            folder / "test_split" / "noise_ceiling" / f"{h}_noise_ceiling.npy",
        )
    _write_roi_masks(folder, nsd, subject, masks)


def _write_roi_masks(folder: Path, nsd: NSD, subject: int, masks) -> None:
    from brainalign.data._nsd_surface import surface_roi_files
    from brainalign.data._surface import read_mgh_vector

    files = surface_roi_files(nsd.root, subject, "fsaverage")
    for cls in ROI_CLASSES:
        if cls not in files:
            continue
        mapping = {0: "Unknown", **nsd.read_ctab(subject, cls)}
        _save_npy(np.array(mapping, dtype=object), folder / "roi_masks" / f"mapping_{cls}.npy")
        for h in HEMIS:
            labels = np.rint(read_mgh_vector(files[cls][h])).astype(np.int64)
            labels = np.where(masks[h] > 0, np.maximum(labels, 0), 0)
            _save_npy(labels, folder / "roi_masks" / f"{h}.{cls}_fsaverage_space.npy")
            _save_npy(labels[masks[h] > 0], folder / "roi_masks" / f"{h}.{cls}_challenge_space.npy")


def _write_images(store, ids, folder: Path, name: str) -> None:
    from PIL import Image

    prefix = "train" if name == "training" else "test"
    for start in range(0, len(ids), 64):
        batch = ids[start : start + 64]
        for k, (nsd_id, image) in enumerate(zip(batch, store.images(batch), strict=True)):
            path = folder / f"{prefix}-{start + k + 1:04d}_nsd-{int(nsd_id):05d}.png"
            with atomic_path(path) as tmp:
                Image.fromarray(image).convert("RGB").save(tmp, format="png", compress_level=1)


def _save_npy(array, path: Path) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=array.dtype == object)


def _is_complete(out: Path, record: dict) -> bool:
    path = out / "ground_truth.json"
    return path.exists() and json.loads(path.read_text()).get("config") == record


def _prepare_folder(out: Path) -> None:
    """Claim ``out``, clearing an earlier (partial or other) sample."""
    claim_folder(out, ("subj[0-9][0-9]", "ground_truth.json"))
