"""brainalign: link the features of vision and language models to brain data."""

from brainalign.data import list_datasets, load_dataset
from brainalign.features import get_extractor, list_models

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "get_extractor", "list_datasets", "list_models", "load_dataset"]
