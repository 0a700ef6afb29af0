"""Pieces every pipeline shares: loading a subject, warnings, the provenance record."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import warnings

import numpy as np

from brainalign.exceptions import DataError

#: Libraries whose versions every record lists.
_LIBRARIES = (
    "brainalign",
    "numpy",
    "scipy",
    "scikit-learn",
    "himalaya",
    "torch",
    "nibabel",
    "pandas",
    "open_clip_torch",
    "transformers",
    "dask",
    "distributed",
)


@contextlib.contextmanager
def recorded_warnings(show: bool = True):
    """Record the warnings of a block (for ``run.json``), then show them to the user.

    Parameters
    ----------
    show : bool
        Re-emit the recorded warnings when the block ends (also when it raises);
        ``False`` for code whose warnings are shown elsewhere (sweep tasks).

    Yields
    ------
    list of warnings.WarningMessage
        Filled while the block runs.
    """
    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
    finally:
        for w in caught if show else ():
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def resolve_roi(dataset: str, root, roi):
    """Resolve ``roi="auto"``: every target for EEG datasets, ``nsdgeneral`` otherwise.

    Parameters
    ----------
    dataset : str
        Dataset name.
    root : str or Path
        Dataset folder.
    roi : "auto", sequence of str or None
        The requested targets.

    Returns
    -------
    str, sequence of str or None
        What to load.
    """
    if roi != "auto":
        return None if roi is None else list(roi) if not isinstance(roi, str) else roi
    from brainalign.data import get_dataset

    return None if get_dataset(dataset, root).modality == "eeg" else "nsdgeneral"


def load_averaged(dataset, root, subject, roi, progress=False):
    """Load a subject, give it a noise ceiling and average its repetitions.

    Datasets that ship no ncsnr get a split-half estimate from their repetitions;
    when that is impossible a warning says so and the run has no noise ceiling.

    Parameters
    ----------
    dataset : str
        Dataset name.
    root : str or Path
        Dataset folder.
    subject : int
        Subject number.
    roi : "auto", str, sequence of str or None
        Targets to load.
    progress : bool
        Show progress bars while loading.

    Returns
    -------
    BrainData
        One row per stimulus.
    """
    from brainalign.data import load_dataset
    from brainalign.encoding import split_half_ncsnr

    roi = resolve_roi(dataset, root, roi)
    data = load_dataset(dataset, root=root, subject=subject, roi=roi, progress=progress)
    if data.ncsnr is None:  # no ncsnr shipped: estimate it from repetitions
        try:
            data = data.with_ncsnr(split_half_ncsnr(data))
        except DataError as exc:
            warnings.warn(f"No noise ceiling: {exc}", UserWarning, stacklevel=2)
    return data.average_repetitions()


def versions() -> dict:
    """Versions of the libraries a result depends on (None when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in _LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def now() -> str:
    """Return the current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def provenance(command: str, parameters: dict, test, notes=()) -> dict:
    """Build a ``run.json`` record: versions, parameters, data identity, warnings.

    Parameters
    ----------
    command : str
        Verb that wrote the run (``fit``, ``compare``, ``decode``).
    parameters : dict
        The run's spec as JSON (:meth:`RunSpec.to_json`).
    test : BrainData
        The held-out data the run was scored on.
    notes : sequence of str
        Warnings of the run.

    Returns
    -------
    dict
        The record.
    """
    fingerprint = hashlib.sha256(np.ascontiguousarray(test.responses).tobytes()).hexdigest()
    return {
        "command": command,
        "date": now(),
        "versions": versions(),
        "parameters": parameters,
        "data": {
            "dataset": test.info.get("dataset"),
            "root": test.info.get("root"),
            "sessions": test.info.get("sessions"),
            "n_test": test.n_rows,
            "n_targets": test.n_targets,
            "test_responses_sha256": fingerprint,
        },
        "seed": parameters.get("seed"),
        "warnings": list(dict.fromkeys(str(n) for n in notes)),
    }


def features_record(features) -> dict:
    """Describe the features a run used, for ``run.json``: weights, preprocessing, layers.

    Parameters
    ----------
    features : dict of str -> FeatureSet, or FeatureSet
        The features by layer (their cache metadata).

    Returns
    -------
    dict
        ``model``, ``weights``, ``tower``, ``preprocess`` (the resolved image
        preprocessing: size, crop_pct, interpolation, mean, std and their source; or
        the description of a tokenizer or callable) and ``layers`` (layer ->
        ``pooling``, ``original_shape``, ``cache_key``).
    """
    sets = features if isinstance(features, dict) else {"features": features}
    first = next(iter(sets.values())).metadata
    return {
        "model": first.get("model"),
        "weights": first.get("weights"),
        "tower": first.get("tower"),
        "preprocess": first.get("preprocess_config") or first.get("preprocess"),
        "layers": {
            layer: {
                "pooling": fs.metadata.get("pooling"),
                "original_shape": fs.metadata.get("original_shape"),
                "cache_key": fs.metadata.get("key"),
            }
            for layer, fs in sets.items()
        },
    }


def messages(caught) -> list[str]:
    """Return the text of recorded warnings."""
    return [str(w.message) for w in caught]


def resolved_model(scores, requested) -> str:
    """Return the model spec a fit resolved (its tables' ``model``), else the requested one.

    Every table of a run names the model the same way, by the spec its extractor
    resolved (``...SampleNet@state:<hash>`` for ``...SampleNet@0``); figures and
    reports show its :func:`~brainalign.features.model_label`.

    Parameters
    ----------
    scores : pandas.DataFrame or None
        The fit's ``scores.parquet`` (or ``roi_scores.parquet``).
    requested : str
        The spec the run was asked for (``run.json`` parameters).

    Returns
    -------
    str
    """
    if scores is not None and "model" in scores and len(scores):
        return str(scores["model"].iloc[0])
    return str(requested)
