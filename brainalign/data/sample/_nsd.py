"""Write the embedded sample in the exact NSD layout (see ``datasets/sample.md``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path, get_logger, write_json_atomic
from brainalign.data import _nsd_layout as L
from brainalign.data.sample._folder import claim_folder
from brainalign.data.sample._images import (
    caption,
    draw_image,
    has_word,
    sample_attributes,
    upscale,
)
from brainalign.data.sample._samplenet import (
    PLANTED,
    SAMPLE_MODEL_SPEC,
    SPATIAL_LAYER,
    SPATIAL_MODEL_SPEC,
    SPATIAL_RF,
    TOKEN_GRID,
    sample_layer_features,
    sample_tokens,
)
from brainalign.data.sample._surface import (
    plan_surface,
    write_fsaverage,
    write_subject_surface,
)
from brainalign.data.sample._transforms import write_transforms
from brainalign.exceptions import ParameterError

logger = get_logger(__name__)

N_TOTAL_IMAGES = 73000
TRIALS_PER_SESSION = 750
N_REPEATS = 3
VOXEL_MM = 1.8
TR_S = 4.0 / 3.0
SAMPLE_FORMAT_VERSION = 4  # 3: surface betas, labels and meshes; 4: transforms, flat patches
#: Share of signal variance from the driving layer in ROIs that also have attributes.
LAYER_SHARE = 0.75
#: Alignment variant: columns of each layer ROI's shared latent (its rank).
LATENT_RANK = 2
#: Alignment variant: share of the nsdgeneral voxels left out of each subject's ROIs.
REMOVED_SHARE = 0.06
#: Alignment variant: the planted shared latent, at the sample root.
LATENT_FILE = "shared_latent.npz"

#: ROI files and their labels (ctab order 1..N), as named in NSD.
ROI_FILES = {
    "nsdgeneral": ["nsdgeneral"],
    "prf-visualrois": ["V1v", "V1d", "V2v", "V2d", "V3v", "V3d", "hV4"],
    "floc-faces": ["OFA", "FFA-1", "FFA-2", "mTL-faces", "aTL-faces"],
    "floc-bodies": ["EBA", "FBA-1", "FBA-2", "mTL-bodies"],
    "floc-places": ["OPA", "PPA", "RSC"],
    "floc-words": ["OWFA", "VWFA-1", "VWFA-2", "mfs-words", "mTL-words"],
    "streams": [
        "early",
        "midventral",
        "midlateral",
        "midparietal",
        "ventral",
        "lateral",
        "parietal",
    ],
}
_EARLY = ("V1v", "V1d", "V2v", "V2d", "V3v", "V3d", "hV4")
_STREAM_OF = {
    **{n: "early" for n in _EARLY[:6]},
    "hV4": "midventral",
    "EBA": "lateral",
    "OFA": "lateral",
    "OPA": "lateral",
}


@dataclass
class SampleConfig:
    """Size and noise of the sample (defaults build in seconds).

    ``alignment=True`` writes the cross-subject alignment variant: each layer ROI's
    signal mixes a shared rank-2 latent with subject-specific weights, about 6% of
    the nsdgeneral voxels are left out of each subject's ROIs, and the latent is
    written to ``shared_latent.npz`` (``datasets/sample.md``).

    ``spatial=True`` writes the spatial variant: every planted ROI with a layer is
    driven by :func:`SamplePatchNet`'s 5 x 5 token map instead of SampleNet, through
    the one token at its planted location (:data:`SPATIAL_RF`) or, for ROIs without
    one, through the mean over all tokens, and by nothing else (no attribute part);
    ``ground_truth.json`` gains ``spatial``.
    """

    seed: int = 0
    n_subjects: int = 2
    n_sessions: int = 4
    n_shared: int = 100
    shape: tuple = (20, 24, 20)
    noise_sd: float = 1.0
    amplitude: tuple = (0.3, 1.0)
    n_invalid: int = 4
    model_seed: int = 0
    alignment: bool = False
    spatial: bool = False
    subjects: list = field(init=False)

    def __post_init__(self):
        self.subjects = list(range(1, self.n_subjects + 1))
        if self.spatial and self.alignment:
            raise ParameterError(
                "Invalid value for 'spatial': the spatial and alignment variants cannot be "
                "combined; pass one of them."
            )

    @property
    def n_trials(self) -> int:
        """Trials per subject."""
        return self.n_sessions * TRIALS_PER_SESSION

    @property
    def n_images(self) -> int:
        """Distinct images per subject (each shown three times)."""
        return self.n_trials // N_REPEATS


# -- the design: who saw which image when -------------------------------------------
def plan_design(cfg: SampleConfig) -> dict:
    """Plan image ids, the trial order and the 1-based NSD design arrays.

    Parameters
    ----------
    cfg : SampleConfig
        Sample size.

    Returns
    -------
    dict
        ``shared`` (0-based nsdIds), ``subjectim`` (1-based, n_subjects x n_images),
        ``masterordering`` (1-based, n_trials), ``trial_ids`` (per subject, the
        0-based nsdId shown at each trial), ``pool`` (all ids, sorted).
    """
    rng = np.random.default_rng([cfg.seed, 0])
    n_specific = cfg.n_images - cfg.n_shared
    ids = rng.choice(N_TOTAL_IMAGES, cfg.n_shared + n_specific * cfg.n_subjects, replace=False)
    shared = ids[: cfg.n_shared]
    specific = ids[cfg.n_shared :].reshape(cfg.n_subjects, n_specific)
    subjectim = np.column_stack([np.tile(shared, (cfg.n_subjects, 1)), specific]) + 1
    masterordering = rng.permutation(np.repeat(np.arange(1, cfg.n_images + 1), N_REPEATS))
    trial_ids = {s: subjectim[s - 1, masterordering - 1] - 1 for s in cfg.subjects}
    return {
        "shared": shared,
        "subjectim": subjectim.astype(np.int64),
        "masterordering": masterordering.astype(np.int64),
        "trial_ids": trial_ids,
        "pool": np.sort(ids),
    }


# -- brain geometry -----------------------------------------------------------------
def plan_geometry(cfg: SampleConfig) -> dict:
    """Plan the brain mask, ROI label volumes and per-voxel signal amplitudes.

    Parameters
    ----------
    cfg : SampleConfig
        Sample size.

    Returns
    -------
    dict
        ``brain`` (bool volume), ``rois`` (file -> float label volume: -1 outside
        cortex, 0 unlabelled, 1..N), ``label`` (planted label name per volume voxel,
        "" elsewhere), ``amplitude`` (float volume), ``invalid`` (ijk of voxels
        zeroed in session 2), ``affine``.
    """
    rng = np.random.default_rng([cfg.seed, 2])
    shape = np.array(cfg.shape)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    centre = (shape - 1) / 2
    rho = np.sqrt((((grid - centre) / (shape / 2 - 1)) ** 2).sum(-1))
    brain = rho <= 1
    cortex = brain & (rho > 0.65)
    general = cortex & (grid[..., 1] < shape[1] // 2)
    label = _place_labels(rng, grid, general, shape)
    rois = {}
    for fname, names in ROI_FILES.items():
        vol = np.where(cortex, 0.0, -1.0)
        for value, name in enumerate(names, start=1):
            vol[_label_voxels(fname, name, label, general)] = value
        rois[fname] = vol
    amplitude = np.zeros(cfg.shape)
    signal = np.isin(label, [n for n, (lay, at) in PLANTED.items() if lay or at])
    amplitude[signal] = rng.uniform(*cfg.amplitude, size=int(signal.sum()))
    spare = np.argwhere(general & (label == ""))
    invalid = spare[rng.choice(len(spare), cfg.n_invalid, replace=False)]
    return {
        "brain": brain,
        "rois": rois,
        "label": label,
        "amplitude": amplitude,
        "invalid": invalid,
        "affine": _affine(cfg.shape),
    }


def _affine(shape) -> np.ndarray:
    """1.8 mm voxels with the origin at the centre of the slab (as nsd_savenifti)."""
    affine = np.diag([VOXEL_MM] * 3 + [1.0])
    affine[:3, 3] = -VOXEL_MM * (np.asarray(shape) - 1) / 2
    return affine


def _place_labels(rng, grid, general, shape) -> np.ndarray:
    """Voronoi cells of radius 2.5 voxels around label centres, mirrored across X."""
    names = list(PLANTED)
    half = shape[0] // 2
    candidates = np.argwhere(general & (grid[..., 0] < half))
    centres = []
    for name in names:
        early = name in _EARLY
        pool = candidates[(candidates[:, 1] < 5) == early]
        for _ in range(200):
            c = pool[rng.integers(len(pool))]
            if all(np.linalg.norm(c - o) >= 3.5 for o in centres):
                break
        centres.append(c)
    centres = np.array(centres, dtype=float)
    mirrored = centres.copy()
    mirrored[:, 0] = shape[0] - 1 - mirrored[:, 0]
    allc = np.concatenate([centres, mirrored])
    dist = np.linalg.norm(grid[..., None, :] - allc, axis=-1)
    nearest = dist.argmin(-1)
    label = np.array(names * 2, dtype=object)[nearest]
    inside = general & (dist.min(-1) <= 2.5)
    return np.where(inside, label, "").astype(str)


def _label_voxels(fname, name, label, general) -> np.ndarray:
    """Voxels carrying label ``name`` of ROI file ``fname``."""
    if fname == "nsdgeneral":
        return general
    if fname == "streams":
        members = [k for k in PLANTED if _STREAM_OF.get(k, "ventral") == name]
        return np.isin(label, members)
    return label == name


# -- responses ----------------------------------------------------------------------
def simulate_betas(
    cfg: SampleConfig, design: dict, geometry: dict, features: dict, words: dict, subject: int
) -> np.ndarray:
    """Simulate int16 betas (percent signal change x 300) of one subject.

    Parameters
    ----------
    cfg : SampleConfig
        Sample size and noise.
    design : dict
        Output of :func:`plan_design`.
    geometry : dict
        Output of :func:`plan_geometry`.
    features : dict
        Layer -> (n_pool, width) SampleNet features, rows in ``design["pool"]`` order.
    words : dict
        Attribute word -> bool array over ``design["pool"]``.
    subject : int
        1-based subject number.

    Returns
    -------
    ndarray of shape (n_trials, X, Y, Z), dtype int16
        Betas; zero outside the brain mask and at invalid voxels in session 2.
    """
    rng = np.random.default_rng([cfg.seed, 3, subject])
    pos = np.searchsorted(design["pool"], design["trial_ids"][subject])
    brain = geometry["brain"]
    n_vox = int(brain.sum())
    if cfg.spatial:
        features = spatial_inputs(features["tokens"])
    width = next(iter(features.values())).shape[1]
    weights = _layer_weights(cfg, geometry["label"][brain], width, rng, subject)
    clean = _clean_signal(cfg, geometry, features, words, np.unique(pos), weights)
    scale = rng.uniform(1.2, 1.8, size=(cfg.n_sessions, n_vox))
    offset = rng.normal(0.5, 0.5, size=(cfg.n_sessions, n_vox))
    noise = rng.standard_normal((cfg.n_trials, n_vox)) * cfg.noise_sd
    session = np.arange(cfg.n_trials) // TRIALS_PER_SESSION
    psc = offset[session] + scale[session] * (clean[pos] + noise)
    vol = np.zeros((cfg.n_trials,) + tuple(cfg.shape), dtype=np.int16)
    vol[:, brain] = np.round(psc * 300).astype(np.int16)
    if cfg.n_sessions >= 2:
        i, j, k = geometry["invalid"].T
        vol[TRIALS_PER_SESSION : 2 * TRIALS_PER_SESSION, i, j, k] = 0
    return vol


def _layer_weights(cfg, label, width, rng, subject) -> dict:
    """Layer weights (width, n_voxels) of each planted ROI that has a layer and voxels.

    The default sample draws ``roi_dir + 0.7 * noise`` (noise from ``rng``); the
    alignment variant draws ``B_roi @ M``, ``M`` of shape (2, n_voxels) from the
    subject's own generator ``[seed, 9, subject]``.
    """
    directions = np.random.default_rng([cfg.seed, 4])
    if cfg.alignment:
        bases = alignment_bases(cfg.seed, width)
        mixing = np.random.default_rng([cfg.seed, 9, subject])
    weights = {}
    for name, (layer, _) in PLANTED.items():
        n_cols = int((label == name).sum())
        roi_dir = directions.standard_normal(width)  # drawn for every ROI, as always
        if n_cols == 0 or not layer:
            continue
        if cfg.alignment:
            weights[name] = bases[name] @ mixing.standard_normal((LATENT_RANK, n_cols))
        else:
            weights[name] = roi_dir[:, None] + 0.7 * rng.standard_normal((width, n_cols))
    return weights


def _clean_signal(cfg, geometry, features, words, images, weights) -> np.ndarray:
    """Noise-free signal (n_pool, n_brain_voxels) at the subject's ``images`` (pool rows)."""
    brain = geometry["brain"]
    label = geometry["label"][brain]
    amp = geometry["amplitude"][brain]
    n_pool = len(features[next(iter(features))])
    clean = np.zeros((n_pool, int(brain.sum())), dtype=np.float32)
    for name, (layer, attrs) in PLANTED.items():
        cols = np.flatnonzero(label == name)
        if cols.size == 0 or not (layer or attrs):
            continue
        if cfg.spatial and layer:  # spatial variant: a layer ROI answers to its tokens only
            attrs = []
        parts = []
        if layer:
            f = _layer_input(features[name if cfg.spatial else layer], images, cfg.alignment)
            parts.append(_zscore(f @ weights[name]) * np.sqrt(LAYER_SHARE if attrs else 1.0))
        if attrs:
            hits = np.sum([words[a][images] for a in attrs], axis=0).astype(float)
            attr = np.repeat(_zscore(hits[:, None]), cols.size, axis=1)
            parts.append(attr * np.sqrt(1.0 - LAYER_SHARE if layer else 1.0))
        clean[np.ix_(images, cols)] = _zscore(sum(parts)) * amp[cols]
    return clean


def _layer_input(features, images, alignment) -> np.ndarray:
    """Standardised layer features of ``images``: over those images, or over the pool.

    The alignment variant standardises over the whole pool, so that every subject's
    signal lies exactly in the span of the pool-wide latent ``z(F) @ B``.
    """
    if alignment:
        return _zscore(features)[images]
    return _zscore(features[images])


# -- the spatial variant ------------------------------------------------------------
def spatial_inputs(tokens: np.ndarray) -> dict:
    """Return the input of each planted ROI of the spatial variant.

    Parameters
    ----------
    tokens : ndarray of shape (n_pool, 25, width)
        SamplePatchNet ``block`` tokens of every image (:func:`sample_tokens`).

    Returns
    -------
    dict
        ROI name -> (n_pool, width): the token at the ROI's planted location
        (row-major on the 5 x 5 grid), or the mean over all tokens.
    """
    out = {}
    for name, loc in SPATIAL_RF.items():
        out[name] = tokens.mean(1) if loc is None else tokens[:, loc[0] * TOKEN_GRID + loc[1]]
    return out


# -- the alignment variant ----------------------------------------------------------
def alignment_bases(seed: int, width: int) -> dict:
    """Draw the shared basis of each planted ROI with a layer (alignment variant).

    Parameters
    ----------
    seed : int
        Sample seed (generator ``[seed, 8]``, one draw per ROI in ``PLANTED`` order).
    width : int
        Units of the SampleNet layers.

    Returns
    -------
    dict
        ROI name -> ``B_roi`` of shape (width, 2), the same for every subject.
    """
    rng = np.random.default_rng([seed, 8])
    return {
        name: rng.standard_normal((width, LATENT_RANK))
        for name, (layer, _) in PLANTED.items()
        if layer
    }


def shared_latent(cfg: SampleConfig, design: dict, features: dict, words: dict) -> dict:
    """Compute the planted shared latent over every image of the sample (alignment variant).

    Parameters
    ----------
    cfg : SampleConfig
        Sample configuration.
    design : dict
        Output of :func:`plan_design`.
    features : dict
        Layer -> (n_pool, width) SampleNet features, rows in ``design["pool"]`` order.
    words : dict
        Attribute word -> bool array over ``design["pool"]``.

    Returns
    -------
    dict
        ``nsd_id`` (n_pool,) int64, the pool ids; ``latent`` (n_pool, n_latent)
        float64, each column z-scored over the pool; ``names`` (n_latent,) str:
        ``"<roi>:<layer>:<k>"`` for the columns ``z(F_layer) @ B_roi`` and
        ``"attribute:<words>"`` for each attribute set (once, however many ROIs use it).
    """
    bases = alignment_bases(cfg.seed, features["layer2"].shape[1])
    columns = {}
    for name, (layer, attrs) in PLANTED.items():
        if layer:
            part = _zscore(features[layer]) @ bases[name]
            for k in range(LATENT_RANK):
                columns[f"{name}:{layer}:{k}"] = part[:, k]
        if attrs:
            columns.setdefault(
                "attribute:" + "+".join(attrs),
                np.sum([words[a] for a in attrs], axis=0).astype(float),
            )
    return {
        "nsd_id": np.asarray(design["pool"], dtype=np.int64),
        "latent": _zscore(np.column_stack(list(columns.values()))).astype(np.float64),
        "names": np.array(list(columns), dtype=str),
    }


def removed_voxels(cfg: SampleConfig, geometry: dict, subject: int) -> np.ndarray:
    """Draw the nsdgeneral voxels left out of one subject's ROIs (alignment variant).

    Parameters
    ----------
    cfg : SampleConfig
        Sample configuration (generator ``[seed, 10, subject]``).
    geometry : dict
        Output of :func:`plan_geometry`.
    subject : int
        1-based subject number.

    Returns
    -------
    ndarray of shape (n_removed, 3)
        Voxel indices: each valid nsdgeneral voxel is left out with probability
        0.06 (so counts differ between subjects); empty unless ``cfg.alignment``.
    """
    if not cfg.alignment:
        return np.empty((0, 3), dtype=np.int64)
    general = np.argwhere(geometry["rois"]["nsdgeneral"] > 0)
    invalid = (general[:, None, :] == geometry["invalid"][None, :, :]).all(-1).any(-1)
    candidates = general[~invalid]
    rng = np.random.default_rng([cfg.seed, 10, subject])
    return candidates[rng.random(len(candidates)) < REMOVED_SHARE]


def subject_rois(cfg: SampleConfig, geometry: dict, subject: int) -> dict:
    """Return one subject's ROI label volumes: the shared ones less :func:`removed_voxels`.

    Parameters
    ----------
    cfg : SampleConfig
        Sample configuration.
    geometry : dict
        Output of :func:`plan_geometry`.
    subject : int
        1-based subject number.

    Returns
    -------
    dict
        ROI file -> label volume; removed voxels are 0 (cortex, unlabelled).
    """
    if not cfg.alignment:
        return geometry["rois"]
    i, j, k = removed_voxels(cfg, geometry, subject).T
    rois = {}
    for fname, vol in geometry["rois"].items():
        rois[fname] = vol.copy()
        rois[fname][i, j, k] = 0.0
    return rois


def synthetic_t1(shape, seed) -> np.ndarray:
    """Draw a T1-like volume on the sample's grid (its own generator: the betas are untouched).

    The brain of :func:`plan_geometry` (``rho <= 1``) has a bright white-matter-like
    interior (``rho <= 0.65``) inside a darker cortex rim; a dim skull-and-scalp
    shell surrounds it, and voxels outside the head are 0.

    Parameters
    ----------
    shape : tuple of int
        Grid shape.
    seed : int or sequence of int
        Seed of the intensity noise.

    Returns
    -------
    ndarray of shape ``shape``, float32
        Intensities (arbitrary units, about 0-120).
    """
    shape = np.asarray(shape)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    rho = np.sqrt((((grid - (shape - 1) / 2) / (shape / 2 - 1)) ** 2).sum(-1))
    t1 = np.select([rho <= 0.65, rho <= 1.0, rho <= 1.12], [100.0, 60.0, 25.0], 0.0)
    noise = np.random.default_rng(seed).normal(0.0, 4.0, tuple(shape))
    return np.where(t1 > 0, t1 + noise, 0.0).clip(0).astype(np.float32)


def _zscore(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(0)
    return x / np.where(x.std(0) > 0, x.std(0), 1.0)


def estimate_ncsnr(betas: np.ndarray, trial_ids: np.ndarray) -> np.ndarray:
    """NSD's ncsnr: per-session z-scores, variance over the 3 trials of each image.

    Parameters
    ----------
    betas : ndarray of shape (n_trials, n_voxels)
        Betas of consecutive 750-trial sessions.
    trial_ids : ndarray of shape (n_trials,)
        Image id shown at each trial.

    Returns
    -------
    ndarray of shape (n_voxels,)
        ``sqrt(max(0, 1 - v)) / sqrt(v)`` with ``v`` the mean trial variance of
        images shown exactly three times; NaN where a session is constant.
    """
    z = betas.astype(np.float64)
    for s in range(0, len(z), TRIALS_PER_SESSION):
        block = z[s : s + TRIALS_PER_SESSION]
        sd = block.std(0)
        z[s : s + TRIALS_PER_SESSION] = (block - block.mean(0)) / np.where(sd > 0, sd, np.nan)
    uniq, counts = np.unique(trial_ids, return_counts=True)
    triple = uniq[counts == N_REPEATS]
    order = np.argsort(trial_ids, kind="stable")
    rows = order[np.isin(trial_ids[order], triple)]
    per_image = z[rows].reshape(len(triple), N_REPEATS, -1)
    v = per_image.var(axis=1, ddof=1).mean(0)
    return np.sqrt(np.maximum(0.0, 1.0 - v)) / np.sqrt(v)


# -- writing ------------------------------------------------------------------------
def write_nsd_sample(out, seed: int = 0, progress: bool = False, **sizes) -> Path:
    """Write the embedded sample in the exact NSD layout, with its ground truth.

    Writes are atomic, and ``ground_truth.json`` is written last: a folder that has
    it is complete, and calling again with the same seed and sizes reuses it.

    Parameters
    ----------
    out : str or Path
        Destination folder (the NSD root).
    seed : int
        Seed of everything random (design, images, geometry, responses).
    progress : bool
        Show progress bars.
    **sizes
        Fields of :class:`SampleConfig` (``n_subjects``, ``n_sessions``,
        ``n_shared``, ``shape``, ``noise_sd``, ``alignment``, ...).

    Returns
    -------
    Path
        ``out``.
    """
    cfg = SampleConfig(seed=seed, **sizes)
    out = Path(out)
    if _is_complete(out, cfg):
        logger.info("Reusing the complete sample in %s", out)
        return out
    _prepare_folder(out)
    design = plan_design(cfg)
    geometry = plan_geometry(cfg)
    geometry["surface"] = plan_surface(cfg.shape, geometry)
    attrs = sample_attributes(np.random.default_rng([cfg.seed, 1]), len(design["pool"]))
    features = _write_stimuli(out, cfg, design, attrs, progress)
    words = {w: has_word(attrs, w) for _, ws in PLANTED.values() for w in ws}
    _write_design(out, cfg, design)
    _write_stim_info(out, cfg, design)
    write_fsaverage(out, geometry["surface"], geometry["rois"], ROI_FILES)
    for subject in _progress(cfg.subjects, progress, "subjects"):
        _write_subject(out, cfg, design, geometry, features, words, subject)
    latent = _write_shared_latent(out, cfg, design, features, words) if cfg.alignment else None
    _write_truth(out, cfg, geometry, latent)
    return out


def _progress(iterable, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, disable=not enabled, leave=False)


_SAMPLE_ENTRIES = (
    "nsddata",
    "nsddata_betas",
    "nsddata_stimuli",
    "ground_truth.json",
    "true_noise_ceiling.nii.gz",
    LATENT_FILE,
)


def _prepare_folder(out: Path) -> None:
    """Claim ``out`` for a sample, clearing an earlier (partial or other) sample."""
    claim_folder(out, _SAMPLE_ENTRIES)


def _is_complete(out: Path, cfg: SampleConfig) -> bool:
    path = out / "ground_truth.json"
    if not path.exists():
        return False
    truth = json.loads(path.read_text())
    return truth.get("config") == _config_record(cfg)


def _config_record(cfg: SampleConfig) -> dict:
    record = {
        "format_version": SAMPLE_FORMAT_VERSION,
        "seed": cfg.seed,
        "n_subjects": cfg.n_subjects,
        "n_sessions": cfg.n_sessions,
        "n_shared": cfg.n_shared,
        "shape": list(cfg.shape),
        "noise_sd": cfg.noise_sd,
        "amplitude": list(cfg.amplitude),
        "n_invalid": cfg.n_invalid,
        "model_seed": cfg.model_seed,
    }
    if cfg.alignment:  # recorded only when on: the default sample's record is unchanged
        record["alignment"] = True
    if cfg.spatial:
        record["spatial"] = True
    return record


def _write_stimuli(out, cfg, design, attrs, progress) -> dict:
    """Draw, store (imgBrick) and featurise every image; write COCO captions."""
    import h5py

    pool = design["pool"]
    rng = np.random.default_rng([cfg.seed, 5])
    layers = sorted({lay for lay, _ in PLANTED.values() if lay})
    feats = {name: [] for name in layers}
    path = out / L.STIMULI_HDF5
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        brick = f.create_dataset(
            "imgBrick",
            shape=(N_TOTAL_IMAGES, 425, 425, 3),
            dtype=np.uint8,
            chunks=(1, 425, 425, 3),
            compression="gzip",
            compression_opts=1,
        )
        batch = 64
        for start in _progress(range(0, len(pool), batch), progress, "images"):
            stop = min(start + batch, len(pool))
            imgs = [draw_image(attrs.iloc[i], rng) for i in range(start, stop)]
            for nsd_id, img in zip(pool[start:stop], imgs, strict=True):
                brick[nsd_id] = upscale(img)
            for name, value in sample_layer_features(imgs, layers, cfg.model_seed).items():
                feats[name].append(value)
            if cfg.spatial:
                feats.setdefault("tokens", []).append(sample_tokens(imgs, cfg.model_seed))
    _write_captions(out, cfg, design, attrs)
    return {name: np.concatenate(v) for name, v in feats.items()}


def _coco_ids(cfg) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([cfg.seed, 6])
    coco = rng.choice(600_000, N_TOTAL_IMAGES, replace=False) + 1
    split = np.where(rng.random(N_TOTAL_IMAGES) < 0.1, "val2017", "train2017")
    return coco, split


def _write_captions(out, cfg, design, attrs):
    coco, split = _coco_ids(cfg)
    pool = design["pool"]
    for name in ("train2017", "val2017"):
        rows = np.flatnonzero(split[pool] == name)
        doc = {
            "info": {"description": "brainalign embedded sample (COCO-style captions)"},
            "licenses": [],
            "images": [
                {
                    "id": int(coco[pool[r]]),
                    "file_name": f"{coco[pool[r]]:012d}.jpg",
                    "height": 425,
                    "width": 425,
                }
                for r in rows
            ],
            "annotations": [
                {
                    "image_id": int(coco[pool[r]]),
                    "id": int(k + 1),
                    "caption": caption(attrs.iloc[r]),
                }
                for k, r in enumerate(rows)
            ],
        }
        with atomic_path(out / L.captions_json(name)) as tmp:
            tmp.write_text(json.dumps(doc))


def _write_design(out, cfg, design):
    from scipy.io import savemat

    stimpattern = np.zeros((cfg.n_sessions, 12, 75), dtype=np.uint8)
    for run in range(12):
        stimpattern[:, run, : 63 if run % 2 == 0 else 62] = 1
    with atomic_path(out / L.EXPDESIGN) as tmp:
        savemat(
            tmp,
            {
                "masterordering": design["masterordering"][None, :],
                "subjectim": design["subjectim"],
                "sharedix": (design["shared"] + 1)[None, :],
                "stimpattern": stimpattern,
            },
            format="5",
        )


def _write_stim_info(out, cfg, design):
    coco, split = _coco_ids(cfg)
    nsd = np.arange(N_TOTAL_IMAGES)
    table = {
        "cocoId": coco,
        "cocoSplit": split,
        "cropBox": "(0, 0, 0, 0)",
        "loss": 0.0,
        "nsdId": nsd,
        "flagged": False,
        "BOLD5000": False,
        "shared1000": np.isin(nsd, design["shared"]),
    }
    for s in cfg.subjects:
        table[f"subject{s}"] = np.isin(nsd, design["subjectim"][s - 1] - 1).astype(int)
    for s in cfg.subjects:
        trials = design["trial_ids"][s]
        for rep in range(N_REPEATS):
            col = np.zeros(N_TOTAL_IMAGES, dtype=np.int64)
            table[f"subject{s}_rep{rep}"] = col
        seen = {}
        for t, nsd_id in enumerate(trials):
            rep = seen.get(nsd_id, 0)
            table[f"subject{s}_rep{rep}"][nsd_id] = t + 1
            seen[nsd_id] = rep + 1
    with atomic_path(out / L.STIM_INFO) as tmp:
        pd.DataFrame(table).to_csv(tmp)


def _write_subject(out, cfg, design, geometry, features, words, subject):
    import h5py
    import nibabel as nib

    affine = geometry["affine"]
    betas = simulate_betas(cfg, design, geometry, features, words, subject)
    for s in range(cfg.n_sessions):
        block = betas[s * TRIALS_PER_SESSION : (s + 1) * TRIALS_PER_SESSION]
        img = nib.Nifti1Image(np.moveaxis(block, 0, -1), affine)
        img.header.set_zooms((VOXEL_MM,) * 3 + (TR_S,))
        img.header.set_xyzt_units("mm", "sec")
        _save_nifti(img, out / L.betas_file(subject, s + 1, "nii.gz"))
        with atomic_path(out / L.betas_file(subject, s + 1, "hdf5")) as tmp:
            with h5py.File(tmp, "w") as f:
                f.create_dataset(
                    "betas", data=block.transpose(0, 3, 2, 1), chunks=(TRIALS_PER_SESSION, 1, 1, 1)
                )
    brain = geometry["brain"]
    ncsnr = np.full(cfg.shape, np.nan, dtype=np.float32)
    ncsnr[brain] = estimate_ncsnr(betas[:, brain], design["trial_ids"][subject])
    _save_nifti(nib.Nifti1Image(ncsnr, affine), out / L.ncsnr_file(subject))
    _save_nifti(nib.Nifti1Image(brain.astype(np.uint8), affine), out / L.brainmask_file(subject))
    t1 = synthetic_t1(cfg.shape, [cfg.seed, 7, subject])
    _save_nifti(nib.Nifti1Image(t1, affine), out / L.t1_file(subject))
    rois = subject_rois(cfg, geometry, subject)
    _write_rois(out, cfg, rois, affine, subject)
    write_subject_surface(
        out, geometry["surface"], rois, ROI_FILES, betas, ncsnr, subject, cfg.n_sessions
    )
    write_transforms(out, geometry["surface"], affine, subject)


def _write_rois(out, cfg, rois, affine, subject):
    """Write one subject's ROI volumes ({,lh.,rh.}<name>.nii.gz) and ctab tables."""
    import nibabel as nib

    for fname, vol in rois.items():
        _save_nifti(
            nib.Nifti1Image(vol.astype(np.float32), affine), out / L.roi_file(subject, fname)
        )
        for hemi, side in (
            ("lh", slice(None, cfg.shape[0] // 2)),
            ("rh", slice(cfg.shape[0] // 2, None)),
        ):
            half = np.full_like(vol, -1.0)
            half[side] = vol[side]
            _save_nifti(
                nib.Nifti1Image(half.astype(np.float32), affine),
                out / L.roi_file(subject, f"{hemi}.{fname}"),
            )
        lines = ["0 Unknown"] + [f"{k} {n}" for k, n in enumerate(ROI_FILES[fname], 1)]
        with atomic_path(out / L.ctab_file(subject, fname)) as tmp:
            tmp.write_text("\n".join(lines) + "\n")


def _save_nifti(img, path):
    with atomic_path(path) as tmp:
        img.to_filename(tmp)


def _write_shared_latent(out, cfg, design, features, words) -> dict:
    """Write ``shared_latent.npz`` (atomically) and return its arrays."""
    latent = shared_latent(cfg, design, features, words)
    with atomic_path(out / LATENT_FILE) as tmp, open(tmp, "wb") as f:
        np.savez(f, **latent)
    return latent


def _alignment_truth(cfg, geometry, latent) -> dict:
    """Return the ground-truth fields of the alignment variant."""
    counts = {
        str(s): int((subject_rois(cfg, geometry, s)["nsdgeneral"] > 0).sum()) for s in cfg.subjects
    }
    return {
        "shared_latent": {
            "file": LATENT_FILE,
            "n_latent": int(latent["latent"].shape[1]),
            "names": latent["names"].tolist(),
            "rank_per_roi": LATENT_RANK,
            "mixing": "subject-specific",
        },
        "n_voxels_nsdgeneral": counts,
    }


def _spatial_truth(cfg) -> dict:
    """Return the ground-truth fields of the spatial variant."""
    return {
        "model": SPATIAL_MODEL_SPEC.replace("@0", f"@{cfg.model_seed}"),
        "layer": SPATIAL_LAYER,
        "grid": [TOKEN_GRID, TOKEN_GRID],
        "rois": {name: None if loc is None else list(loc) for name, loc in SPATIAL_RF.items()},
        "attributes": "only ROIs without a layer (FFA-2, OWFA) answer to attributes",
    }


def _write_truth(out, cfg, geometry, latent=None):
    import nibabel as nib

    amp = geometry["amplitude"]
    nc = 100 * amp**2 / (amp**2 + cfg.noise_sd**2 / N_REPEATS)
    nc[~geometry["brain"]] = 0
    _save_nifti(
        nib.Nifti1Image(nc.astype(np.float32), geometry["affine"]),
        out / "true_noise_ceiling.nii.gz",
    )
    label = geometry["label"]
    truth = {
        "seed": cfg.seed,
        "model": SAMPLE_MODEL_SPEC.replace("@0", f"@{cfg.model_seed}"),
        "rois": {
            name: {
                "layer": layer,
                "attributes": list(attrs),
                "n_voxels": int((label == name).sum()),
            }
            for name, (layer, attrs) in PLANTED.items()
        },
        "noise_sd": cfg.noise_sd,
        "subjects": cfg.subjects,
        "noise_ceiling_n_trials": N_REPEATS,
        "invalid_voxels": {"ijk": geometry["invalid"].tolist(), "session": 2},
        "surface": {
            "n_vertices": {h: int(len(v["ijk"])) for h, v in geometry["surface"].items()},
            "vertex_ijk": {h: v["ijk"].tolist() for h, v in geometry["surface"].items()},
        },
        **(_alignment_truth(cfg, geometry, latent) if cfg.alignment else {}),
        **({"spatial": _spatial_truth(cfg)} if cfg.spatial else {}),
        "config": _config_record(cfg),
    }
    write_json_atomic(out / "ground_truth.json", truth)
