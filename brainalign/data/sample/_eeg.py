"""Write a miniature THINGS-EEG2 in the release's preprocessed layout, with planted effects.

Each planted effect is a feature signal of one SampleNet layer (a random linear
read-out of the image's layer features, one per channel) on named channels, with a
Gaussian time course peaking at a known latency. Every image also evokes the same
generic ERP, and every trial carries independent Gaussian noise.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from brainalign._utils import atomic_path, get_logger, write_json_atomic
from brainalign.data.sample._folder import claim_folder
from brainalign.data.sample._images import draw_image, sample_attributes
from brainalign.data.sample._samplenet import SAMPLE_MODEL_SPEC, sample_layer_features

logger = get_logger(__name__)

#: The 17 occipital and parietal channels of the THINGS-EEG2 preprocessed release, in
#: its order (channels matching ``^O|^P`` of the 63-channel actiCHamp montage).
THINGS_EEG2_CHANNELS = (
    "Pz",
    "P3",
    "P7",
    "O1",
    "Oz",
    "O2",
    "P4",
    "P8",
    "P1",
    "P5",
    "PO7",
    "PO3",
    "POz",
    "PO4",
    "PO8",
    "P6",
    "P2",
)
SFREQ = 100.0
#: -0.2 to 0.79 s: epochs of -0.2 to 0.8 s at 1000 Hz resampled to 100 Hz (100 samples).
TIMES = np.round(-0.2 + np.arange(100) / SFREQ, 6)
#: What the sample plants: channels, latency (s), driving SampleNet layer, width (s).
EFFECTS = (
    {"channels": ["O1", "Oz", "O2"], "latency_s": 0.1, "layer": "layer2", "width_s": 0.025},
    {"channels": ["P7", "PO7", "P8", "PO8"], "latency_s": 0.17, "layer": "layer6", "width_s": 0.03},
    {"channels": ["P1", "Pz", "P2"], "latency_s": 0.3, "layer": "layer4", "width_s": 0.04},
)
SAMPLE_FORMAT_VERSION = 1
#: Images are drawn at 85 pixels and stored at 170 (SampleNet pools them to 17 x 17).
_UPSCALE = 2
_ENTRIES = ("preprocessed_data", "image_set", "ground_truth.json")


@dataclass
class EEGSampleConfig:
    """Size and noise of the THINGS-EEG2 sample (defaults build in seconds)."""

    seed: int = 0
    n_subjects: int = 2
    n_train_concepts: int = 60
    images_per_concept: int = 5
    n_test: int = 200
    train_repetitions: int = 4
    test_repetitions: int = 10
    amplitude: float = 1.0
    noise_sd: float = 1.0
    model_seed: int = 0

    @property
    def subjects(self) -> list[int]:
        """Subject numbers."""
        return list(range(1, self.n_subjects + 1))


def write_things_eeg2_sample(out, seed: int = 0, progress: bool = False, **sizes) -> Path:
    """Write the THINGS-EEG2 sample (preprocessed layout) with its ground truth.

    Layout: ``preprocessed_data/sub-XX/preprocessed_eeg_{training,test}.npy``,
    ``image_set/image_metadata.npy``, ``image_set/{training,test}_images/<concept>/
    <file>.jpg`` and ``ground_truth.json`` (written last: a folder that has it is
    complete, and calling again with the same seed and sizes reuses it).

    Parameters
    ----------
    out : str or Path
        Destination folder.
    seed : int
        Seed of images and responses.
    progress : bool
        Show progress bars.
    **sizes
        Fields of :class:`EEGSampleConfig` (``n_subjects``, ``n_train_concepts``,
        ``images_per_concept``, ``n_test``, ``train_repetitions``,
        ``test_repetitions``, ``amplitude``, ``noise_sd``, ``model_seed``).

    Returns
    -------
    Path
        ``out``.
    """
    cfg = EEGSampleConfig(seed=seed, **sizes)
    out = Path(out)
    if _is_complete(out, cfg):
        logger.info("Reusing the complete sample in %s", out)
        return out
    _prepare_folder(out)
    meta = _metadata(cfg)
    features = _write_images(out, cfg, meta, progress)
    for subject in cfg.subjects:
        _write_subject(out, cfg, features, subject)
    _write_truth(out, cfg)
    return out


def _metadata(cfg) -> dict:
    train_concepts = [f"{k + 1:05d}_thing{k + 1:04d}" for k in range(cfg.n_train_concepts)]
    test_concepts = [f"{k + 1:05d}_probe{k + 1:04d}" for k in range(cfg.n_test)]
    train_files = [
        f"{c.split('_', 1)[1]}_{j + 1:02d}b.jpg"
        for c in train_concepts
        for j in range(cfg.images_per_concept)
    ]
    return {
        "train_img_concepts": [c for c in train_concepts for _ in range(cfg.images_per_concept)],
        "train_img_files": train_files,
        "test_img_concepts": test_concepts,
        "test_img_files": [f"{c.split('_', 1)[1]}_01s.jpg" for c in test_concepts],
    }


def _write_images(out, cfg, meta, progress) -> dict:
    """Draw and store every image as JPEG; return features of the decoded files."""
    from PIL import Image
    from tqdm.auto import tqdm

    folder = out / "image_set"
    with atomic_path(folder / "image_metadata.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, np.array(meta, dtype=object), allow_pickle=True)
    entries = [
        ("training_images", c, f)
        for c, f in zip(meta["train_img_concepts"], meta["train_img_files"], strict=True)
    ] + [
        ("test_images", c, f)
        for c, f in zip(meta["test_img_concepts"], meta["test_img_files"], strict=True)
    ]
    rng = np.random.default_rng([cfg.seed, 1])
    attrs = sample_attributes(rng, len(entries))
    decoded = []
    for k, (part, concept, name) in enumerate(tqdm(entries, disable=not progress, leave=False)):
        buffer = io.BytesIO()
        image = draw_image(attrs.iloc[k], rng).repeat(_UPSCALE, 0).repeat(_UPSCALE, 1)
        Image.fromarray(image).save(buffer, "JPEG", quality=95)
        with atomic_path(folder / part / concept / name) as tmp:
            tmp.write_bytes(buffer.getvalue())
        buffer.seek(0)
        with Image.open(buffer) as img:  # features of what users will read back
            decoded.append(np.asarray(img.convert("RGB")))
    layers = sorted({e["layer"] for e in EFFECTS})
    feats = sample_layer_features(decoded, layers, cfg.model_seed)
    n_train = len(meta["train_img_files"])
    return {
        part: {name: f[rows] for name, f in feats.items()}
        for part, rows in (("training", slice(0, n_train)), ("test", slice(n_train, None)))
    }


def planted_signal(features: dict, cfg: EEGSampleConfig, stats: dict) -> np.ndarray:
    """Noise-free responses ``(n_images, n_channels, n_times)`` of the planted effects.

    Parameters
    ----------
    features : dict of str -> ndarray of shape (n_images, width)
        SampleNet layer features of the images.
    cfg : EEGSampleConfig
        Amplitude and seed (the read-out weights depend on the seed only, so the
        training and test images share them).
    stats : dict of str -> (ndarray, ndarray)
        Per-layer feature mean and standard deviation (of the training images), so
        that training and test images share one scale.

    Returns
    -------
    ndarray of shape (n_images, 17, 100)
        Signal in units of the noise standard deviation times ``amplitude``.
    """
    rng = np.random.default_rng([cfg.seed, 2])
    n = len(next(iter(features.values())))
    signal = np.zeros((n, len(THINGS_EEG2_CHANNELS), TIMES.size))
    erp = 0.5 * np.sin(2 * np.pi * 5 * TIMES) * (TIMES > 0) * np.exp(-TIMES.clip(0) / 0.3)
    signal += erp
    for effect in EFFECTS:
        f = features[effect["layer"]].astype(np.float64)
        mean, sd = stats[effect["layer"]]
        f = (f - mean) / sd
        direction = rng.standard_normal(f.shape[1])
        course = np.exp(-0.5 * ((TIMES - effect["latency_s"]) / effect["width_s"]) ** 2)
        for ch in effect["channels"]:
            w = direction + 0.5 * rng.standard_normal(f.shape[1])
            drive = f @ w / np.sqrt(w @ w)
            signal[:, THINGS_EEG2_CHANNELS.index(ch)] += (
                cfg.amplitude * drive[:, None] * course[None, :]
            )
    return signal


def _write_subject(out, cfg, features, subject):
    stats = {
        name: (f.mean(0), np.where(f.std(0) > 0, f.std(0), 1.0))
        for name, f in features["training"].items()
    }
    rng = np.random.default_rng([cfg.seed, 3, subject])
    folder = out / "preprocessed_data" / f"sub-{subject:02d}"
    reps = {"training": cfg.train_repetitions, "test": cfg.test_repetitions}
    for part in ("training", "test"):
        clean = planted_signal(features[part], cfg, stats)
        noise = rng.standard_normal((clean.shape[0], reps[part]) + clean.shape[1:])
        eeg = (clean[:, None] + cfg.noise_sd * noise).astype(np.float32)
        record = {
            "preprocessed_eeg_data": eeg,
            "ch_names": list(THINGS_EEG2_CHANNELS),
            "times": TIMES.copy(),
        }
        with atomic_path(folder / f"preprocessed_eeg_{part}.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, np.array(record, dtype=object), allow_pickle=True)


def _prepare_folder(out: Path) -> None:
    """Claim ``out`` for a sample; a non-empty folder without the marker is refused."""
    claim_folder(out, _ENTRIES)


def _config_record(cfg) -> dict:
    return {"format_version": SAMPLE_FORMAT_VERSION, **asdict(cfg)}


def _is_complete(out: Path, cfg) -> bool:
    path = out / "ground_truth.json"
    if not path.exists():
        return False
    return json.loads(path.read_text()).get("config") == _config_record(cfg)


def _write_truth(out, cfg) -> None:
    truth = {
        "seed": cfg.seed,
        "model": SAMPLE_MODEL_SPEC.replace("@0", f"@{cfg.model_seed}"),
        "rois": {},
        "noise_sd": cfg.noise_sd,
        "subjects": cfg.subjects,
        "effects": [{**e, "amplitude": cfg.amplitude, "course": "gaussian"} for e in EFFECTS],
        "ch_names": list(THINGS_EEG2_CHANNELS),
        "sfreq": SFREQ,
        "times": [float(TIMES[0]), float(TIMES[-1])],
        "config": _config_record(cfg),
    }
    write_json_atomic(out / "ground_truth.json", truth)
