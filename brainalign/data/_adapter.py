"""The dataset adapter contract: ``DatasetAdapter``, its ``DatasetSummary``, ``ExtraScores``.

Every registered dataset (:func:`~brainalign.data.register_dataset`) subclasses
:class:`DatasetAdapter`: it is built as ``cls(root)``, loads
:class:`~brainalign.data.BrainData` with ``load(**kwargs)`` and describes what its
folder holds with ``describe(subject=None)``. Optional capabilities
(:data:`CAPABILITIES`) have default implementations that raise a
:class:`~brainalign.exceptions.ParameterError`; :meth:`DatasetAdapter.has` tells
which ones an adapter provides, so callers never test dataset names.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, ClassVar

import numpy as np

from brainalign._utils import check_option
from brainalign.exceptions import ParameterError

#: Optional capabilities of an adapter (methods a subclass may override).
CAPABILITIES = ("stimulus_set", "surface_projections", "extra_scores")
#: Key of :attr:`DatasetSummary.subjects` for data without subjects (a file, a folder).
ALL_SUBJECTS = "all"


@dataclass
class SubjectSummary:
    """What a dataset holds for one subject, read without loading responses.

    Attributes
    ----------
    sessions : list of int or str
        Session numbers (BIDS session labels when not numbers); empty when the
        dataset has no sessions.
    n_trials : int or None
        Rows that ``load`` returns for the subject (trials, images or epochs).
    n_stimuli : int or None
        Distinct stimuli (images, event types).
    n_targets : int or None
        Columns that ``load`` reads by default (voxels, vertices, channel x time
        cells), before constant ones are dropped.
    rois : dict of str -> dict
        ROI file or class -> ``{label: n_targets}``.
    formats : list of str
        File formats of the responses (``"nifti"``, ``"hdf5"``, ``"npy"``...).
    extra : dict
        Anything else, specific to the dataset (JSON-serialisable).
    """

    sessions: list = field(default_factory=list)
    n_trials: int | None = None
    n_stimuli: int | None = None
    n_targets: int | None = None
    rois: dict[str, dict] = field(default_factory=dict)
    formats: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the summary as plain (JSON-serialisable) Python values.

        Returns
        -------
        dict
            One key per attribute.
        """
        return _plain(dataclasses.asdict(self))

    def headline(self) -> str:
        """Return the subject's size in one line (sessions, trials, stimuli, targets).

        Returns
        -------
        str
            For example ``"4 sessions [1, 2, 3, 4], 3000 trials, 1000 stimuli"``.
        """
        n = len(self.sessions)
        parts = [f"{n} session{'s' * (n != 1)} {list(self.sessions)}"] if n else []
        for value, unit in (
            (self.n_trials, "trials"),
            (self.n_stimuli, "stimuli"),
            (self.n_targets, "targets"),
        ):
            if value is not None:
                parts.append(f"{value} {unit}")
        if self.formats:
            parts.append(f"formats {'/'.join(self.formats)}")
        return ", ".join(parts) or "no data"


@dataclass
class DatasetSummary:
    """What a dataset folder holds, as :meth:`DatasetAdapter.describe` reports it.

    Attributes
    ----------
    dataset : str
        Registered dataset name.
    root : str or None
        The folder (or file) described.
    modality : str
        ``"fmri"`` or ``"eeg"``.
    subjects : dict
        Subject -> :class:`SubjectSummary` (key :data:`ALL_SUBJECTS` for data without
        subjects).
    stimuli : dict or None
        The stimulus store (``path``, ``shape``...), when the dataset has one.
    extra : dict
        Anything else, specific to the dataset (JSON-serialisable).
    """

    dataset: str
    root: str | None
    modality: str
    subjects: dict[Any, SubjectSummary] = field(default_factory=dict)
    stimuli: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the summary as plain Python values (``json.dumps`` accepts it).

        Returns
        -------
        dict
            ``dataset``, ``root``, ``modality``, ``subjects`` (subject as a string ->
            :meth:`SubjectSummary.to_dict`), ``stimuli`` and ``extra``.
        """
        return {
            "dataset": self.dataset,
            "root": self.root,
            "modality": self.modality,
            "subjects": {str(s): facts.to_dict() for s, facts in self.subjects.items()},
            "stimuli": _plain(self.stimuli),
            "extra": _plain(self.extra),
        }

    def format(self) -> str:
        """Render the summary as readable text, one fact per line.

        Returns
        -------
        str
            ``dataset:``, ``root:``, ``modality:``, one line per subject (and one per
            ROI file and extra fact under it), the stimuli, then the extra facts.
        """
        lines = [f"dataset: {self.dataset}", f"root: {self.root}", f"modality: {self.modality}"]
        for subject, facts in self.subjects.items():
            lines.append(f"subject {subject}: {facts.headline()}")
            for name, labels in facts.rois.items():
                parts = ", ".join(f"{k} {v}" for k, v in labels.items())
                lines.append(f"  roi {name}: {parts}")
            lines.extend(f"  {key}: {value}" for key, value in _plain(facts.extra).items())
        if self.stimuli:
            lines.extend(_stimulus_lines(_plain(self.stimuli)))
        lines.extend(f"{key}: {value}" for key, value in _plain(self.extra).items())
        return "\n".join(lines)


@dataclass
class ExtraScores:
    """Scores a dataset adds to a fit's (:meth:`DatasetAdapter.extra_scores`).

    Attributes
    ----------
    name : str
        File stem of the table in the run directory (``"challenge_scores"``).
    record_key : str
        Key of :attr:`headline` in ``run.json`` (``"challenge_score"``).
    table : pandas.DataFrame
        The scores.
    headline : dict
        The few numbers that summarise the table (recorded in ``run.json``).
    text : str
        The headline for the command line.
    """

    name: str
    record_key: str
    table: Any
    headline: dict
    text: str


class DatasetAdapter(abc.ABC):
    """Base class of the dataset adapters: ``cls(root).load(...)`` and ``describe()``.

    Subclasses set :attr:`modality`, implement :meth:`load` and :meth:`describe`,
    and may override the optional capabilities (:data:`CAPABILITIES`):
    :meth:`stimulus_set`, :meth:`surface_projections`, :meth:`extra_scores`.
    :func:`~brainalign.data.register_dataset` sets :attr:`name`.

    Parameters
    ----------
    root : str or Path or None
        The dataset folder (or file).
    """

    #: Registered name (set by :func:`~brainalign.data.register_dataset`).
    name: ClassVar[str] = ""
    #: Kind of recordings: ``"fmri"`` or ``"eeg"``.
    modality: ClassVar[str] = ""

    def __init__(self, root):
        self.root = root

    @abc.abstractmethod
    def load(self, **kwargs):
        """Load responses as :class:`~brainalign.data.BrainData`.

        Parameters
        ----------
        **kwargs
            Adapter-specific options (``subject``, ``roi``...).

        Returns
        -------
        BrainData
            The responses.
        """

    @abc.abstractmethod
    def describe(self, subject=None) -> DatasetSummary:
        """Summarise what the dataset holds, reading as little as possible.

        Parameters
        ----------
        subject : int, optional
            Only this subject.

        Returns
        -------
        DatasetSummary
            The summary.
        """

    # -- optional capabilities --------------------------------------------------------
    def stimulus_set(self, subject) -> dict:
        """Return the stimuli a subject saw, without reading responses.

        Parameters
        ----------
        subject : int
            Subject number.

        Returns
        -------
        dict
            ``store``, ``ids``, ``test_ids`` and ``train_ids``.

        Raises
        ------
        ParameterError
            When the dataset does not provide this capability.
        """
        raise self._unsupported("stimulus_set", "a stimulus set per subject")

    def surface_projections(self, subject) -> list:
        """Return the volume -> surface projections of a subject.

        Parameters
        ----------
        subject : int
            Subject number.

        Returns
        -------
        list of SurfaceProjection
            The projections.

        Raises
        ------
        ParameterError
            When the dataset does not provide this capability.
        """
        raise self._unsupported("surface_projections", "volume -> surface projections")

    def extra_scores(self, scores, data) -> list[ExtraScores]:
        """Score a fit as the dataset's own benchmark does.

        Parameters
        ----------
        scores : pandas.DataFrame
            Per-target scores of a fit (``scores.parquet``).
        data : BrainData
            The scored (test) data.

        Returns
        -------
        list of ExtraScores
            The dataset's scores (empty when the data lack what they need).

        Raises
        ------
        ParameterError
            When the dataset does not provide this capability.
        """
        raise self._unsupported("extra_scores", "scores of its own")

    def anatomy(self, subject):
        """Return the anatomy to draw a subject's volume maps over, if the dataset has one.

        Not one of :data:`CAPABILITIES`: every adapter answers, ``None`` meaning
        "no anatomy" (figures then outline the mapped voxels). Adapters of data in
        MNI space may return :meth:`mni152_anatomy`.

        Parameters
        ----------
        subject : int or None
            Subject number.

        Returns
        -------
        str, Path, nibabel image or None
            A 3-D image in the space of the subject's volume responses.
        """
        return None

    @staticmethod
    def mni152_anatomy():
        """Return nilearn's bundled MNI152 template (2 mm; no download).

        Returns
        -------
        nibabel.Nifti1Image
            The template, for data in MNI space.
        """
        from nilearn.datasets import load_mni152_template

        return load_mni152_template(resolution=2)

    @classmethod
    def has(cls, capability: str) -> bool:
        """Tell whether the adapter provides an optional capability.

        Parameters
        ----------
        capability : {"stimulus_set", "surface_projections", "extra_scores"}
            The capability.

        Returns
        -------
        bool
            True when the adapter overrides the capability's default method.
        """
        check_option("capability", capability, CAPABILITIES)
        return getattr(cls, capability) is not getattr(DatasetAdapter, capability)

    @property
    def capabilities(self) -> frozenset:
        """The optional capabilities (:data:`CAPABILITIES`) this adapter provides."""
        return frozenset(c for c in CAPABILITIES if self.has(c))

    # -- helpers of the subclasses ----------------------------------------------------
    def _summary(self, subjects, stimuli=None, **extra) -> DatasetSummary:
        """Build this dataset's :class:`DatasetSummary` (name, root, modality filled in)."""
        root = None if self.root is None else str(self.root)
        return DatasetSummary(self.name, root, self.modality, dict(subjects), stimuli, extra)

    def _no_subject(self, subject) -> None:
        """Refuse a subject for data without subjects (a file, a folder of files)."""
        if subject is not None:
            raise ParameterError(
                f"Invalid value for 'subject': expected None (dataset {self._label()!r} holds "
                f"no subjects); got {subject!r}."
            )

    def _label(self) -> str:
        return self.name or type(self).__name__

    def _unsupported(self, capability: str, what: str) -> ParameterError:
        provided = ", ".join(sorted(self.capabilities)) or "none"
        return ParameterError(
            f"Dataset {self._label()!r} does not provide {capability!r} ({what}); "
            f"its optional capabilities: {provided}."
        )


def _stimulus_lines(stimuli: dict) -> list[str]:
    """``stimuli: <path> (<shape>)`` then one line per other fact of the store."""
    rest = dict(stimuli)
    head = f"stimuli: {rest.pop('path')}" if "path" in rest else "stimuli:"
    if "shape" in rest:
        shape = rest.pop("shape")
        head += f" ({'missing' if shape is None else ' x '.join(map(str, shape))})"
    return [head] + [f"  {key}: {value}" for key, value in rest.items()]


def _plain(value):
    """Turn numpy values, tuples and paths, at any depth, into plain Python (for JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, PurePath):
        return str(value)
    return value
