"""brainalign: link the features of vision and language models to brain data."""

from brainalign.data import list_datasets, load_dataset
from brainalign.features import get_extractor, list_models

__version__ = "0.1.0.dev0"

__all__ = [
    "DecodingModel",
    "EncodingModel",
    "__version__",
    "get_extractor",
    "list_datasets",
    "list_models",
    "load_dataset",
]

#: Names served lazily from their layer (scikit-learn loads on first use, not on import).
_LAZY = {"DecodingModel": "brainalign.encoding", "EncodingModel": "brainalign.encoding"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'brainalign' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
