"""brainalign: link the features of vision and language models to brain data."""

from brainalign.data import list_datasets, load_dataset

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "list_datasets", "load_dataset"]
