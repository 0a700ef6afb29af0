"""Check a whole plan before any data is loaded or any task is scheduled.

A run that is going to fail on a bad subject, ROI, model or layer should fail at
once, in one message that lists every bad item (with close matches), and leave
nothing behind. :func:`check_plan` reads only what the dataset adapter's discovery
methods read (folder listings and ROI file headers) and the model registries.
"""

from __future__ import annotations

from brainalign._utils._validation import closest_names
from brainalign.exceptions import ParameterError


def check_plan(dataset: str, root, subjects, roi=None, models=None) -> None:
    """Raise one :class:`ParameterError` listing every bad item of a plan.

    Parameters
    ----------
    dataset : str
        Dataset name.
    root : str or Path
        Dataset folder.
    subjects : sequence of int
        Subjects the plan fits.
    roi : "auto", str, sequence of str or None
        Requested ROIs (fMRI) or channels (EEG); ``"auto"``/None: nothing to check.
    models : dict of str -> sequence of str, optional
        Model spec -> the layers asked of it (``a+b`` combinations included).

    Raises
    ------
    ParameterError
        When any subject, ROI, model or layer is not available, naming all of them.
    """
    from brainalign.data import get_dataset

    adapter = get_dataset(dataset, root)
    known = _subjects(adapter)
    problems = _subject_problems(known, dataset, root, subjects)
    present = [s for s in subjects if known is None or s in known]
    problems += _roi_problems(adapter, present, roi)
    for model, layers in (models or {}).items():
        problems += _model_problems(model, layers)
    if problems:
        raise ParameterError("; ".join(problems) + ".")


def _subject_problems(known, dataset, root, subjects) -> list[str]:
    if known is None:
        return []
    bad = [s for s in subjects if s not in known]
    if not bad:
        return []
    listed = ", ".join(str(s) for s in known) or "none"
    names = ", ".join(str(s) for s in bad)
    word = "subject" if len(bad) == 1 else "subjects"
    return [f"{word} {names} not in the {dataset} data at {root} (it has subjects {listed})"]


def _subjects(adapter) -> list | None:
    """Return the adapter's subjects (None when it has no notion of subjects)."""
    from brainalign.data._adapter import ALL_SUBJECTS

    if hasattr(adapter, "subjects"):
        return sorted(adapter.subjects())
    keys = list(adapter.describe().subjects)
    return None if keys in ([], [ALL_SUBJECTS]) else sorted(keys)


def _roi_problems(adapter, subjects, roi) -> list[str]:
    """ROIs missing from the first subject's atlas (one dataset's subjects share it)."""
    if roi in (None, "auto") or adapter.modality == "eeg" or not subjects:
        return []  # channel names are checked by the adapter when it reads the montage
    subject = subjects[0]
    summary = next(iter(adapter.describe(subject).subjects.values()), None)
    if summary is None or not summary.rois:
        return []
    names = set(summary.rois) | {lab for labels in summary.rois.values() for lab in labels}
    problems = []
    for name in [roi] if isinstance(roi, str) else list(roi):
        if name not in names:
            close = closest_names(name, sorted(names))
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            problems.append(f"ROI {name!r} is not in the atlas of subject {subject}{hint}")
    return problems


def _model_problems(model: str, layers) -> list[str]:
    """Problems of a model spec and its layers, from the feature registries."""
    try:
        from brainalign.features import check_model
    except ImportError:  # registries without a cheap check: the extractor checks
        return []
    try:
        check_model(model, sorted({part for layer in layers for part in layer.split("+")}))
    except ParameterError as exc:
        return [str(exc).rstrip(".")]
    return []
