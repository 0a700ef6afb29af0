"""Dataset registry: ``register_dataset``, ``list_datasets``, ``load_dataset``."""

from __future__ import annotations

import fnmatch

from brainalign._utils import closest_names, warn
from brainalign.data._adapter import DatasetAdapter
from brainalign.exceptions import ParameterError

#: Registered name -> DatasetAdapter subclass.
_DATASETS: dict[str, type] = {}


def register_dataset(name: str):
    """Register a dataset adapter class under ``name`` (a class decorator).

    The class subclasses :class:`~brainalign.data.DatasetAdapter`: it is built as
    ``cls(root)``, sets ``modality``, and provides ``load(**kwargs)`` returning a
    :class:`~brainalign.data.BrainData` and ``describe(subject=None)`` returning a
    :class:`~brainalign.data.DatasetSummary`. The decorator sets ``cls.name``.

    Parameters
    ----------
    name : str
        Name used by :func:`load_dataset` and ``--dataset``.

    Returns
    -------
    callable
        The decorator.

    Raises
    ------
    ParameterError
        When the class is not a ``DatasetAdapter`` subclass or sets no ``modality``.

    Examples
    --------
    >>> from brainalign.data import DatasetAdapter
    >>> @register_dataset("my-dataset")  # doctest: +SKIP
    ... class MyDataset(DatasetAdapter):
    ...     modality = "fmri"
    ...     def load(self, subject=1): ...
    ...     def describe(self, subject=None): ...
    """

    def decorator(cls):
        _check_adapter(name, cls)
        if name in _DATASETS and _DATASETS[name] is not cls:
            warn(f"Dataset {name!r} was already registered; replacing it.")
        _DATASETS[name] = cls
        cls.name = name
        return cls

    return decorator


def _check_adapter(name: str, cls) -> None:
    if not (isinstance(cls, type) and issubclass(cls, DatasetAdapter)):
        raise ParameterError(
            f"Invalid value for dataset {name!r}: expected a subclass of "
            f"brainalign.data.DatasetAdapter; got {cls!r}."
        )
    if not isinstance(cls.modality, str) or not cls.modality:
        raise ParameterError(
            f"Invalid value for 'modality' of dataset {name!r}: expected a non-empty "
            f"string such as 'fmri' or 'eeg'; got {cls.modality!r}."
        )


def list_datasets(pattern: str = "*") -> list[str]:
    """List the registered dataset names.

    Parameters
    ----------
    pattern : str
        Shell-style pattern (``fnmatch``) to filter names.

    Returns
    -------
    list of str
        Sorted names.
    """
    return sorted(n for n in _DATASETS if fnmatch.fnmatch(n, pattern))


def get_dataset(name: str, root=None):
    """Return the adapter of a registered dataset, bound to ``root``.

    Parameters
    ----------
    name : str
        Registered name (see :func:`list_datasets`).
    root : str or Path, optional
        Folder of the data.

    Returns
    -------
    DatasetAdapter
        The adapter, with ``load`` and ``describe`` methods (and the optional
        capabilities that ``adapter.has(...)`` reports).
    """
    if name not in _DATASETS:
        close = closest_names(name, _DATASETS)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ParameterError(
            f"Unknown dataset {name!r}: known datasets are {', '.join(list_datasets())}.{hint}"
        )
    return _DATASETS[name](root)


def load_dataset(name: str, root=None, **kwargs):
    """Load brain data through a registered adapter.

    Parameters
    ----------
    name : str
        Registered name: ``"nsd"``, ``"arrays"``, ``"nifti"`` (see
        :func:`list_datasets`).
    root : str or Path, optional
        Folder of the data (the NSD root; the folder of generic files).
    **kwargs
        Passed to the adapter's ``load`` (e.g. ``subject=1, sessions=[1, 2],
        roi="nsdgeneral"`` for NSD).

    Returns
    -------
    BrainData
        The loaded responses.

    Examples
    --------
    >>> data = load_dataset("nsd", root="/data/nsd", subject=1)  # doctest: +SKIP
    """
    return get_dataset(name, root).load(**kwargs)
