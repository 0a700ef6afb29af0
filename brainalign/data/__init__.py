"""Data layer: BrainData, spaces, stimulus stores and dataset adapters."""

from brainalign.data import _generic, _nsd  # noqa: F401  (register the adapters)
from brainalign.data._braindata import BrainData, noise_ceiling_from_ncsnr
from brainalign.data._registry import (
    get_dataset,
    list_datasets,
    load_dataset,
    register_dataset,
)
from brainalign.data._space import VolumeSpace
from brainalign.data._stimuli import NSDStimuli

__all__ = [
    "BrainData",
    "NSDStimuli",
    "VolumeSpace",
    "get_dataset",
    "list_datasets",
    "load_dataset",
    "noise_ceiling_from_ncsnr",
    "register_dataset",
]
