"""Data layer: BrainData, spaces, stimulus stores and dataset adapters."""

from brainalign.data import (  # noqa: F401  (adapters)
    _algonauts,
    _generic,
    _mne,
    _nsd,
    _nsd_surface,
    _things_eeg2,
)
from brainalign.data._adapter import (
    CAPABILITIES,
    DatasetAdapter,
    DatasetSummary,
    ExtraScores,
    SubjectSummary,
)
from brainalign.data._algonauts import AlgonautsImages, algonauts_score
from brainalign.data._braindata import BrainData, noise_ceiling_from_ncsnr
from brainalign.data._projection import SurfaceProjection
from brainalign.data._registry import (
    get_dataset,
    list_datasets,
    load_dataset,
    register_dataset,
)
from brainalign.data._sensors import SensorSpace, crop_times, epochs_array, sensor_data
from brainalign.data._space import Space, VolumeSpace
from brainalign.data._stimuli import NSDStimuli
from brainalign.data._surface import SurfaceSpace
from brainalign.data._things_eeg2 import ThingsImages, load_pickled_dict

__all__ = [
    "AlgonautsImages",
    "BrainData",
    "CAPABILITIES",
    "DatasetAdapter",
    "DatasetSummary",
    "ExtraScores",
    "NSDStimuli",
    "SensorSpace",
    "Space",
    "SubjectSummary",
    "SurfaceProjection",
    "SurfaceSpace",
    "ThingsImages",
    "VolumeSpace",
    "algonauts_score",
    "crop_times",
    "epochs_array",
    "get_dataset",
    "list_datasets",
    "load_dataset",
    "load_pickled_dict",
    "noise_ceiling_from_ncsnr",
    "register_dataset",
    "sensor_data",
]
