"""The embedded sample: a miniature NSD with planted, known ground truth.

:func:`write_nsd_sample` writes a small dataset in the exact NSD layout (recipe in
``datasets/sample.md``); :func:`sample_path` builds it on demand into a cache folder.
Each planted ROI responds to named image attributes and to one layer of
:func:`SampleNet`, whose spec ``torch:brainalign.data.sample:SampleNet@0`` names the
model in ``ground_truth.json``. The ``nsd-alignment`` sample (:data:`ALIGNMENT_SAMPLE`)
is the variant for shared-space methods: subject-specific mixing of a planted shared
latent, and different voxel counts per subject. The ``nsd-spatial`` sample
(:data:`SPATIAL_SAMPLE`) plants spatial receptive fields: ROIs driven by the token at
a known location of :func:`SamplePatchNet`'s 5 x 5 token map (:data:`SPATIAL_RF`).
"""

from __future__ import annotations

import os
from pathlib import Path

from brainalign.data.sample._algonauts import write_algonauts2023_sample
from brainalign.data.sample._eeg import (
    EFFECTS,
    THINGS_EEG2_CHANNELS,
    EEGSampleConfig,
    write_things_eeg2_sample,
)
from brainalign.data.sample._nsd import SampleConfig, write_nsd_sample
from brainalign.data.sample._samplenet import (
    PLANTED,
    SAMPLE_MODEL_SPEC,
    SPATIAL_LAYER,
    SPATIAL_MODEL_SPEC,
    SPATIAL_RF,
    SampleNet,
    SamplePatchNet,
    sample_layer_features,
    sample_tokens,
)

#: Configuration of the ``nsd-alignment`` sample (fields of :class:`SampleConfig`).
ALIGNMENT_SAMPLE = dict(alignment=True, n_subjects=4, n_sessions=3, n_shared=300)
#: Configuration of the ``nsd-spatial`` sample (one subject, 1000 images, 200 held out).
SPATIAL_SAMPLE = dict(spatial=True, n_subjects=1, n_sessions=4, n_shared=200)

#: Names :func:`sample_path` builds.
SAMPLES = ("nsd", "nsd-alignment", "nsd-spatial", "things-eeg2", "algonauts2023")

__all__ = [
    "ALIGNMENT_SAMPLE",
    "EEGSampleConfig",
    "EFFECTS",
    "PLANTED",
    "SAMPLES",
    "SAMPLE_MODEL_SPEC",
    "SPATIAL_LAYER",
    "SPATIAL_MODEL_SPEC",
    "SPATIAL_RF",
    "SPATIAL_SAMPLE",
    "SampleConfig",
    "SampleNet",
    "SamplePatchNet",
    "THINGS_EEG2_CHANNELS",
    "sample_layer_features",
    "sample_path",
    "sample_tokens",
    "write_algonauts2023_sample",
    "write_nsd_sample",
    "write_things_eeg2_sample",
]


def sample_path(name: str = "nsd", seed: int = 0, progress: bool = False) -> Path:
    """Return the folder of a built sample, building it on first use.

    The cache lives in ``$BRAINALIGN_DATA`` or ``~/.cache/brainalign``.

    Parameters
    ----------
    name : {"nsd", "nsd-alignment", "nsd-spatial", "things-eeg2", "algonauts2023"}
        Which sample; ``nsd-alignment`` and ``nsd-spatial`` are the NSD sample
        written with :data:`ALIGNMENT_SAMPLE` and :data:`SPATIAL_SAMPLE`.
    seed : int
        Sample seed.
    progress : bool
        Show progress bars while building.

    Returns
    -------
    Path
        The sample root.
    """
    from brainalign._utils import check_option

    check_option("name", name, SAMPLES)
    cache = Path(os.environ.get("BRAINALIGN_DATA", Path.home() / ".cache" / "brainalign"))
    folder = cache / f"sample-{name}-seed{seed}"
    if name in ("nsd-alignment", "nsd-spatial"):
        sizes = ALIGNMENT_SAMPLE if name == "nsd-alignment" else SPATIAL_SAMPLE
        return write_nsd_sample(folder, seed=seed, progress=progress, **sizes)
    if name == "algonauts2023":  # prepared from the cached NSD sample, as the challenge was
        source = sample_path("nsd", seed=seed, progress=progress)
        return write_algonauts2023_sample(folder, seed, source)
    writer = write_nsd_sample if name == "nsd" else write_things_eeg2_sample
    return writer(folder, seed=seed, progress=progress)
