"""Typed run options: one dataclass per pipeline, validated once, round-tripped as JSON.

:class:`RunSpec` holds the options of one fit (and of one sweep task),
:class:`DecodeSpec` those of a decoding run, :class:`SweepSpec` those of a sweep over
subjects x models x layers (whose tasks are :class:`RunSpec`). Each spec validates its
values when it is built (before any data is read), declares its command-line options
(:meth:`RunSpec.add_arguments`) and is built back from them (:meth:`RunSpec.from_args`),
and is written to ``run.json`` as ``parameters`` (:meth:`RunSpec.to_json`), from which
:meth:`RunSpec.from_json` rebuilds it exactly.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from brainalign.exceptions import ParameterError

#: Where the ridge runs.
BACKENDS = ("numpy", "torch", "torch_cuda")


def _invalid(name: str, expected: str, got) -> ParameterError:
    return ParameterError(f"Invalid value for {name!r}: expected {expected}; got {got!r}.")


def _as_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool):
        raise _invalid(name, f"an integer >= {minimum}", value)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _invalid(name, f"an integer >= {minimum}", value) from None
    fractional = not isinstance(value, str) and number != value  # 2.5 is not 2
    if fractional or number < minimum:
        raise _invalid(name, f"an integer >= {minimum}", value)
    return number


def _as_text(name: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(name, "a non-empty string", value)
    return value.strip()


def as_list(name: str, value) -> tuple:
    """Split a comma-separated string (or take a sequence) into a non-empty tuple.

    Parameters
    ----------
    name : str
        Parameter name, for the error message.
    value : str or sequence
        ``"a,b"`` or ``["a", "b"]``.

    Returns
    -------
    tuple
        The items, stripped.
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    items = [i.strip() if isinstance(i, str) else i for i in items]
    if not items or any(i == "" for i in items):
        raise _invalid(name, "a non-empty list", value)
    return tuple(items)


def _roi(value):
    """``"auto"``, None (every target) or a tuple of names."""
    if value is None or value == "auto":
        return value
    items = as_list("roi", value)
    return "auto" if items == ("auto",) else items


def _alphas(value):
    if value is None:
        return None
    try:
        alphas = tuple(float(a) for a in as_list("alphas", value))
    except (TypeError, ValueError):
        raise _invalid("alphas", "positive numbers", value) from None
    if any(not a > 0 for a in alphas):
        raise _invalid("alphas", "positive numbers", value)
    return alphas


def _check_model(value, name: str = "model") -> str:
    from brainalign.features import ModelSpec

    try:
        return str(ModelSpec.parse(_as_text(name, value)))
    except ParameterError as exc:  # name the option the user gave
        raise ParameterError(str(exc).replace("'spec'", repr(name), 1)) from None


def _check_pooling(value) -> str:
    from brainalign.features import Pooling

    return str(Pooling.parse(_as_text("pooling", value)))


def _check_preprocess(value) -> str | None:
    from brainalign.features import Preprocess

    return Preprocess.check_override(value)


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


#: Torch devices a spec accepts (``auto`` picks CUDA, then MPS, then the CPU).
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass(frozen=True, kw_only=True)
class _Spec:
    """What every spec can do: set a checked value, JSON round trip, replace."""

    def _set(self, name, value) -> None:
        object.__setattr__(self, name, value)

    def to_json(self) -> dict:
        """Return the options as a JSON-ready dict (``run.json`` ``parameters``)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, record: dict):
        """Build the spec from :meth:`to_json` output (or a run's ``parameters``).

        Parameters
        ----------
        record : dict
            Options by name; keys that are not options of this spec are an error.

        Returns
        -------
        RunSpec
            The spec.
        """
        if not isinstance(record, dict):
            raise _invalid("record", "a dict of options", type(record).__name__)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(record) - names)
        if unknown:
            raise ParameterError(
                f"Invalid value for 'record': {', '.join(unknown)} are not options of "
                f"{cls.__name__} (options: {', '.join(sorted(names))})."
            )
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
            and f.name not in record
        ]
        if missing:
            raise ParameterError(
                f"Invalid value for 'record': {cls.__name__} needs {', '.join(missing)}."
            )
        return cls(**record)

    def replace(self, **changes):
        """Return a copy with some options changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, kw_only=True)
class _Options(_Spec):
    """Options shared by every pipeline: features, ridge, permutations, seed."""

    pooling: str = "auto"
    preprocess: str | None = None
    alphas: tuple | None = None
    cv: int = 5
    n_permutations: int = 1000
    device: str = "auto"
    backend: str = "numpy"
    seed: int = 0
    cache_dir: str | None = None

    def _check_options(self) -> None:
        self._set("pooling", _check_pooling(self.pooling))
        self._set("preprocess", _check_preprocess(self.preprocess))
        self._set("alphas", _alphas(self.alphas))
        self._set("cv", _as_int("cv", self.cv, 2))
        self._set("n_permutations", _as_int("n_permutations", self.n_permutations, 1))
        self._set("device", _as_text("device", self.device))
        if not _DEVICE.fullmatch(self.device):
            raise _invalid("device", "auto, cpu, cuda, cuda:<n> or mps", self.device)
        if self.backend not in BACKENDS:
            raise _invalid("backend", f"one of {', '.join(BACKENDS)}", self.backend)
        self._set("seed", _as_int("seed", self.seed, 0))
        if self.cache_dir is not None:
            self._set("cache_dir", str(self.cache_dir))

    def _check_dataset_and_subjects(self) -> None:
        """Validate ``dataset``, ``root`` (resolved) and ``subjects`` (a tuple of ints)."""
        self._set("dataset", _as_text("dataset", self.dataset))
        if self.root is None:
            raise _invalid("root", "a dataset folder", None)
        self._set("root", str(Path(self.root).resolve()))
        try:
            subjects = tuple(int(s) for s in as_list("subjects", self.subjects))
        except (TypeError, ValueError):
            raise _invalid("subjects", "comma-separated subject numbers", self.subjects) from None
        self._set("subjects", tuple(_as_int("subjects", s, 1) for s in subjects))

    @staticmethod
    def add_model_arguments(parser, permutations: int | None = 1000) -> None:
        """Add ``--pooling --cv [--permutations] --device --backend --seed``."""
        parser.add_argument(
            "--pooling",
            default="auto",
            help="token/spatial pooling of layer outputs: auto, cls, mean, spatial, flatten, "
            "tokens (the patch grid, for --encoder attention), pca:<k>, srp:<k> (default: auto)",
        )
        parser.add_argument(
            "--preprocess",
            default=None,
            metavar="OVERRIDE",
            help="override fields of the model's own image preprocessing: presets imagenet, "
            "inception, clip, unit and size=, crop_pct=, interpolation=, mean=r,g,b, "
            "std=r,g,b (e.g. 'unit' for inputs in [0, 1]; default: the model's config)",
        )
        parser.add_argument(
            "--cv", type=int, default=5, help="folds for alpha selection (default: 5)"
        )
        if permutations is not None:
            parser.add_argument(
                "--permutations",
                type=int,
                default=permutations,
                help="permutations of the test set per target for p values "
                f"(default: {permutations})",
            )
        parser.add_argument(
            "--device",
            default="auto",
            help="torch device for features: auto, cpu, cuda, cuda:1, mps",
        )
        parser.add_argument(
            "--backend",
            default="numpy",
            choices=list(BACKENDS),
            help="where the ridge runs (torch_cuda: on the GPU; default: numpy)",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=0,
            help="seed of random weights, reductions and permutations",
        )

    @staticmethod
    def _option_values(args) -> dict:
        values = {
            "pooling": args.pooling,
            "preprocess": getattr(args, "preprocess", None),
            "cv": args.cv,
            "device": args.device,
            "backend": args.backend,
            "seed": args.seed,
        }
        if getattr(args, "permutations", None) is not None:
            values["n_permutations"] = args.permutations
        return values


@dataclass(frozen=True, kw_only=True)
class RunSpec(_Options):
    """The options of one encoding fit: one subject, one model, one layer.

    Parameters
    ----------
    dataset : str
        Registered dataset name (``brainalign.list_datasets()``).
    root : str
        Dataset folder.
    subject : int
        Subject number.
    model : str
        Model spec (``open_clip:ViT-B-32@...``, ``hf:...``, ``timm:...``, ``torch:...``).
    layer : str
        Layer, or ``a+b`` for a banded ridge over several layers' feature spaces.
    roi : "auto", sequence of str or None
        Targets: ROI names (fMRI) or channel names (EEG); ``"auto"``: nsdgeneral for
        fMRI volumes, every target otherwise; None: every target.
    pooling : str
        Feature pooling (``auto``, ``cls``, ``mean``, ``pca:<k>`` ...).
    preprocess : str, optional
        Override of fields of the model's own image preprocessing (``"unit"``,
        ``"crop_pct=1"``; see :class:`~brainalign.features.Preprocess`).
    alphas : sequence of float, optional
        Ridge penalty grid (default: the engine's).
    cv : int
        Folds for alpha selection.
    n_permutations : int
        Test-set permutations per target for p values.
    device : str
        Torch device for features.
    backend : {"numpy", "torch", "torch_cuda"}
        Where the ridge runs.
    seed : int
        Seed of random weights, reductions and permutations.
    cache_dir : str, optional
        Feature cache (default: the run's ``features/``).
    shared_space : str, optional
        An ``align`` run directory: the encoder (decoder) is fitted on its other
        subjects in their shared space and reaches this subject through its map;
        scored on the run's held-out stimuli.
    encoder : {"ridge", "attention"}
        ``ridge``: voxelwise ridge on pooled features; ``attention``: one query per ROI
        cross-attending over the layer's patch tokens
        (:class:`~brainalign.encoding.AttentionEncoder`; pooling ``tokens``).
    queries : sequence of str, optional
        Attention encoder: ROI labels or files whose labels get one query each
        (default: the fitted ROIs, each ROI file by its labels).
    epochs : int, optional
        Attention encoder: most training epochs (default: the estimator's, 100).
    """

    dataset: str = None
    root: str = None
    subject: int = None
    model: str = None
    layer: str = "embedding"
    roi: object = "auto"
    shared_space: str | None = None
    encoder: str = "ridge"
    queries: tuple | None = None
    epochs: int | None = None

    def __post_init__(self):
        self._set("dataset", _as_text("dataset", self.dataset))
        if self.root is None:
            raise _invalid("root", "a dataset folder", None)
        self._set("root", str(self.root))
        self._set("subject", _as_int("subject", self.subject, 1))
        self._set("model", _check_model(self.model))
        layer = _as_text("layer", self.layer)
        as_list("layer", layer.split("+"))  # no empty part in "a+b"
        self._set("layer", layer)
        self._set("roi", _roi(self.roi))
        if self.shared_space is not None:
            given = self.shared_space
            given = str(given) if isinstance(given, Path) else given
            path = Path(_as_text("shared_space", given)).resolve()
            self._set("shared_space", str(path))
        self._check_options()
        self._check_encoder()

    def _check_encoder(self) -> None:
        """Validate ``encoder``, ``queries`` and ``epochs`` (attention: tokens, one layer)."""
        if self.encoder not in ENCODERS:
            raise _invalid("encoder", f"one of {', '.join(ENCODERS)}", self.encoder)
        if self.queries is not None:
            self._set("queries", tuple(as_list("queries", self.queries)))
        if self.epochs is not None:
            self._set("epochs", _as_int("epochs", self.epochs, 1))
        if self.encoder == "ridge":
            for name in ("queries", "epochs"):
                if getattr(self, name) is not None:
                    raise _invalid(name, "no value with encoder 'ridge' (attention only)", 
                                   getattr(self, name))  # fmt: skip
            return
        if self.pooling == "auto":
            self._set("pooling", "tokens")
        if self.pooling != "tokens":
            raise _invalid("pooling", "'tokens' (or auto) with encoder 'attention'", self.pooling)
        if len(self.layers) > 1 or self.shared_space is not None:
            what = "a+b layers" if len(self.layers) > 1 else "--shared-space"
            raise _invalid("encoder", f"'ridge' with {what} (attention takes one layer)", 
                           self.encoder)  # fmt: skip

    @property
    def layers(self) -> list[str]:
        """The layers of a combination ``a+b`` (one layer: a list of one)."""
        return self.layer.split("+")

    def result_key(self) -> dict:
        """Options that change the result (a finished sweep task with others is redone)."""
        record = self.to_json()
        for name in ("device", "backend", "cache_dir"):  # where, not what
            record.pop(name)
        for name in ("preprocess", "shared_space", "queries", "epochs"):  # None: tasks
            if record[name] is None:  # finished before these existed stay finished
                record.pop(name)
        if record["encoder"] == "ridge":
            record.pop("encoder")
        return record

    @classmethod
    def add_arguments(cls, parser, permutations: int | None = 1000) -> None:
        """Add this spec's command-line options to a verb's parser.

        Parameters
        ----------
        parser : argparse.ArgumentParser
            The verb's parser.
        permutations : int, optional
            Default of ``--permutations`` (None: the verb has none).
        """
        parser.add_argument("--dataset", required=True, help="dataset name (e.g. nsd)")
        parser.add_argument("--root", required=True, metavar="DIR", help="dataset folder")
        parser.add_argument("--subject", type=int, required=True, help="subject number")
        parser.add_argument("--model", required=True, metavar="SPEC", help="model spec")
        parser.add_argument(
            "--layer",
            default="embedding",
            help="layer, or a+b for a banded ridge over several layers (default: embedding)",
        )
        parser.add_argument(
            "--roi",
            default="auto",
            help="comma-separated ROI (fMRI) or channel (EEG) names to fit (default: auto = "
            "nsdgeneral for fMRI volumes, every target otherwise)",
        )
        parser.add_argument(
            "--shared-space",
            default=None,
            metavar="RUN",
            help="an align run: fit on its other subjects in their shared space, predict this "
            "subject through its map (scored on the run's held-out stimuli)",
        )
        cls.add_model_arguments(parser, permutations)

    @staticmethod
    def add_encoder_arguments(parser) -> None:
        """Add ``--encoder --queries --epochs`` (the verbs that fit an encoder)."""
        parser.add_argument(
            "--encoder",
            default="ridge",
            choices=list(ENCODERS),
            help="ridge on pooled features, or attention: one query per ROI cross-attending "
            "over the layer's patch tokens (pooling tokens; default: ridge)",
        )
        parser.add_argument(
            "--queries",
            default=None,
            metavar="ROIS",
            help="attention: comma-separated ROI labels or files, one query per label "
            "(default: the fitted ROIs, ROI files by their labels)",
        )
        parser.add_argument(
            "--epochs", type=int, default=None, help="attention: most training epochs (100)"
        )

    @classmethod
    def from_args(cls, args, **extra):
        """Build the spec from a parsed command line.

        Parameters
        ----------
        args : argparse.Namespace
            Parsed options of :meth:`add_arguments`.
        **extra
            Further options (a subclass's).

        Returns
        -------
        RunSpec
            The validated spec.
        """
        return cls(
            dataset=args.dataset,
            root=args.root,
            subject=args.subject,
            model=args.model,
            layer=args.layer,
            roi=args.roi,
            shared_space=getattr(args, "shared_space", None),
            **{k: getattr(args, k) for k in ("encoder", "queries", "epochs") if hasattr(args, k)},
            **cls._option_values(args),
            **extra,
        )


#: Encoders of a fit: ridge on pooled features, or queries attending over patch tokens.
ENCODERS = ("ridge", "attention")

#: What a decoder predicts: the model's features of the images, or its text embedding
#: of each image's captions.
DECODE_TARGETS = ("image", "caption")


@dataclass(frozen=True, kw_only=True)
class DecodeSpec(RunSpec):
    """The options of a decoding run: :class:`RunSpec` plus what is decoded.

    Parameters
    ----------
    target : {"image", "caption"}
        Decode the model's features of the images, or its text embedding of their
        captions.
    rois : sequence of str, optional
        fMRI ROIs decoded separately (default: every ROI label).
    n_captions : int
        Captions retrieved per test image.
    """

    target: str = "image"
    rois: tuple | None = None
    n_captions: int = 5

    def __post_init__(self):
        super().__post_init__()
        if self.encoder != "ridge":
            raise _invalid("encoder", "'ridge' for decoding", self.encoder)
        if self.target not in DECODE_TARGETS:
            raise _invalid("target", f"one of {', '.join(DECODE_TARGETS)}", self.target)
        if self.rois is not None:
            self._set("rois", as_list("rois", self.rois))
        self._set("n_captions", _as_int("n_captions", self.n_captions, 1))

    @classmethod
    def add_arguments(cls, parser, permutations=None) -> None:
        """Add the decoding options (no permutation test) to a verb's parser."""
        super().add_arguments(parser, permutations=None)
        parser.add_argument(
            "--target",
            default="image",
            choices=list(DECODE_TARGETS),
            help="decode the model's image features or its embedding of the captions",
        )
        parser.add_argument(
            "--rois",
            default=None,
            help="comma-separated ROIs decoded separately (default: every ROI label)",
        )
        parser.add_argument("--captions", type=int, default=5, help="captions retrieved per image")

    @classmethod
    def from_args(cls, args, **extra):
        """Build the spec from a parsed command line."""
        return super().from_args(
            args, target=args.target, rois=args.rois, n_captions=args.captions, **extra
        )


#: Ways to fit a shared space (as :data:`brainalign.alignment.METHODS`).
ALIGN_METHODS = ("srm", "srm-prob", "procrustes", "ridge")


@dataclass(frozen=True, kw_only=True)
class AlignSpec(_Options):
    """The options of a cross-subject alignment run.

    Parameters
    ----------
    dataset, root : str
        Dataset and its folder.
    subjects : sequence of int
        At least 3 subjects (evaluations hold one out and fit the space on the others).
    method : {"srm", "srm-prob", "procrustes", "ridge"}
        How the shared space is fitted.
    n_components : int
        Dimensions of the shared space.
    model : str
        Model spec of the encoders and decoders evaluated through the space.
    layer : str
        Layer (``a+b``: the layers' features side by side).
    roi : "auto", sequence of str or None
        Targets (as :class:`RunSpec`).
    n_align : int, optional
        Stimuli all subjects saw that fit the space (default: half of them); the rest
        are held out from everything and score every evaluation.
    adapt : sequence of int
        Alignment stimuli a new subject is adapted with (the learning curve; values
        above ``n_align`` are dropped).
    **options
        ``pooling, preprocess, alphas, cv, device, backend, seed, cache_dir``.
    """

    dataset: str = None
    root: str = None
    subjects: tuple = None
    method: str = "srm"
    n_components: int = 20
    model: str = None
    layer: str = "embedding"
    roi: object = "auto"
    n_align: int | None = None
    adapt: tuple = (10, 25, 50, 100, 200)

    def __post_init__(self):
        self._check_dataset_and_subjects()
        if len(set(self.subjects)) < 3 or len(set(self.subjects)) != len(self.subjects):
            raise _invalid("subjects", "at least 3 different subjects", self.subjects)
        if self.method not in ALIGN_METHODS:
            raise _invalid("method", f"one of {', '.join(ALIGN_METHODS)}", self.method)
        self._set("n_components", _as_int("n_components", self.n_components, 1))
        self._set("model", _check_model(self.model))
        layer = _as_text("layer", self.layer)
        as_list("layer", layer.split("+"))
        self._set("layer", layer)
        self._set("roi", _roi(self.roi))
        if self.n_align is not None:
            self._set("n_align", _as_int("n_align", self.n_align, 2))
        adapt = tuple(_as_int("adapt", m, 2) for m in as_list("adapt", self.adapt))
        self._set("adapt", tuple(sorted(set(adapt))))
        self._check_options()

    @property
    def layers(self) -> list[str]:
        """The layers whose features are used side by side."""
        return self.layer.split("+")

    @classmethod
    def add_arguments(cls, parser) -> None:
        """Add the alignment options to a verb's parser."""
        parser.add_argument("--dataset", required=True, help="dataset name (e.g. nsd)")
        parser.add_argument("--root", required=True, metavar="DIR", help="dataset folder")
        parser.add_argument(
            "--subjects", required=True, help="comma-separated subject numbers (at least 3)"
        )
        parser.add_argument(
            "--method",
            default="srm",
            choices=list(ALIGN_METHODS),
            help="srm (deterministic), srm-prob (probabilistic), procrustes "
            "(hyperalignment) or ridge (maps to a reference subject's principal axes)",
        )
        parser.add_argument(
            "--n-components", type=int, default=20, help="dimensions of the shared space"
        )
        parser.add_argument(
            "--model", required=True, metavar="SPEC", help="model of the encoders evaluated"
        )
        parser.add_argument(
            "--layer", default="embedding", help="layer (a+b: features side by side)"
        )
        parser.add_argument("--roi", default="auto", help="comma-separated ROIs (default: auto)")
        parser.add_argument(
            "--n-align",
            type=int,
            default=None,
            help="shared stimuli that fit the space (default: half; the rest score everything)",
        )
        parser.add_argument(
            "--adapt",
            default="10,25,50,100,200",
            help="alignment stimuli to adapt a held-out subject with (learning curve)",
        )
        cls.add_model_arguments(parser, permutations=None)

    @classmethod
    def from_args(cls, args):
        """Build the spec from a parsed command line."""
        return cls(
            dataset=args.dataset,
            root=args.root,
            subjects=args.subjects,
            method=args.method,
            n_components=args.n_components,
            model=args.model,
            layer=args.layer,
            roi=args.roi,
            n_align=args.n_align,
            adapt=args.adapt,
            **cls._option_values(args),
        )


#: RDM dissimilarities a sweep can compare.
SWEEP_RSA = ("correlation", "euclidean", "sqeuclidean")


@dataclass(frozen=True, kw_only=True)
class SweepSpec(_Options):
    """The options of a sweep over subjects x models x layers.

    Parameters
    ----------
    dataset, root : str
        Dataset and its folder.
    subjects : sequence of int
        Subjects.
    models : sequence of str
        Model specs.
    layers : sequence of str, or dict of model spec -> sequence of str
        Layers of every model (``a+b`` combinations allowed), or per model.
    roi : "auto", sequence of str or None
        Targets (as :class:`RunSpec`).
    rsa : {None, "correlation", "euclidean", "sqeuclidean"}
        Also compare layer and ROI RDMs on the test images.
    rsa_comparison : str
        RDM comparison (``spearman``, ``tau_a``, ``pearson`` ...).
    n_bootstraps : int
        Bootstrap samples over stimuli for RSA intervals (0: none).
    workers : int
        0: tasks in this process; N: a local Dask cluster of N workers.
    scheduler : str, optional
        Address of a running Dask scheduler (overrides ``workers``).
    encoder : {"ridge", "attention"}
        Encoder of every task (:class:`RunSpec`); ``attention`` extracts ``tokens``.
    measures : sequence of str, optional
        Other measures scored per task and ROI (:func:`brainalign.compare.score_measure`:
        ``pls, cca, trsa, cka, procrustes`` ...), gathered in ``measures.parquet``.
    **options
        ``pooling, alphas, cv, n_permutations, device, backend, seed, cache_dir``.
    """

    dataset: str = None
    root: str = None
    subjects: tuple = None
    models: tuple = None
    layers: object = None
    roi: object = "auto"
    n_permutations: int = 200
    rsa: str | None = None
    rsa_comparison: str = "spearman"
    n_bootstraps: int = 0
    workers: int = 0
    scheduler: str | None = None
    encoder: str = "ridge"
    measures: tuple | None = None

    def __post_init__(self):
        from brainalign.compare import RDM_COMPARISONS

        self._check_dataset_and_subjects()
        models = as_list("models", self.models)
        self._set("models", tuple(_check_model(m, "models") for m in models))
        self._set("layers", self._check_layers(self.layers))
        self._set("roi", _roi(self.roi))
        self._check_options()
        if self.encoder not in ENCODERS:
            raise _invalid("encoder", f"one of {', '.join(ENCODERS)}", self.encoder)
        if self.encoder == "attention":
            self._set("pooling", "tokens" if self.pooling == "auto" else self.pooling)
            combined = [n for names in self.layers.values() for n in names if "+" in n]
            if combined:
                raise _invalid("layers", "single layers with encoder 'attention'", combined[0])
            self.task(self.subjects[0], self.models[0], self.layers[self.models[0]][0])
        if self.rsa is not None and self.rsa not in SWEEP_RSA:
            raise _invalid("rsa", f"one of {', '.join(SWEEP_RSA)}", self.rsa)
        if self.rsa_comparison not in RDM_COMPARISONS:
            raise _invalid(
                "rsa_comparison", f"one of {', '.join(RDM_COMPARISONS)}", self.rsa_comparison
            )
        self._set("n_bootstraps", _as_int("n_bootstraps", self.n_bootstraps, 0))
        self._set("workers", _as_int("workers", self.workers, 0))
        if self.measures is not None:
            from brainalign.compare import MEASURES

            measures = as_list("measures", self.measures)
            unknown = [m for m in measures if m not in MEASURES]
            if unknown:
                raise _invalid("measures", f"names from {', '.join(MEASURES)}", unknown[0])
            self._set("measures", tuple(dict.fromkeys(measures)))

    def _check_layers(self, layers) -> dict:
        if isinstance(layers, dict):
            by_model = {str(m).strip(): as_list("layers", v) for m, v in layers.items()}
        else:
            by_model = {m: as_list("layers", layers) for m in self.models}
        missing = [m for m in self.models if m not in by_model]
        if missing:
            raise _invalid("layers", f"layers for every model (none for {missing})", layers)
        return {m: by_model[m] for m in self.models}

    def task(self, subject: int, model: str, layer: str) -> RunSpec:
        """Return the :class:`RunSpec` of one task of the sweep."""
        shared = {f.name: getattr(self, f.name) for f in dataclasses.fields(_Options)}
        return RunSpec(
            dataset=self.dataset,
            root=self.root,
            subject=subject,
            model=model,
            layer=layer,
            roi=self.roi,
            encoder=self.encoder,
            **shared,
        )

    def tasks(self) -> list[RunSpec]:
        """Every task, model-major then layer then subject."""
        return [
            self.task(s, m, layer)
            for m in self.models
            for layer in self.layers[m]
            for s in self.subjects
        ]

    @classmethod
    def add_arguments(cls, parser) -> None:
        """Add the sweep's command-line options to a verb's parser."""
        parser.add_argument("--dataset", required=True, help="dataset name (e.g. nsd)")
        parser.add_argument("--root", required=True, metavar="DIR", help="dataset folder")
        parser.add_argument("--subjects", required=True, help="comma-separated subject numbers")
        parser.add_argument(
            "--models", required=True, metavar="SPECS", help="comma-separated specs"
        )
        parser.add_argument(
            "--layers",
            required=True,
            help="comma-separated layers of every model (a+b: banded ridge over both)",
        )
        parser.add_argument(
            "--roi",
            default="auto",
            help="comma-separated ROIs to fit (default: auto = nsdgeneral for fMRI volumes, "
            "every target otherwise)",
        )
        where = parser.add_mutually_exclusive_group()
        where.add_argument(
            "--workers", type=int, default=0, help="local Dask workers (0: run in this process)"
        )
        where.add_argument(
            "--scheduler", metavar="ADDR", help="address of a running Dask scheduler"
        )
        parser.add_argument(
            "--rsa",
            metavar="DISTANCE",
            choices=list(SWEEP_RSA),
            help="also compare layer and ROI RDMs on the test images (writes RUN/rsa.parquet)",
        )
        parser.add_argument("--rsa-comparison", default="spearman", help="RDM comparison")
        parser.add_argument(
            "--bootstraps", type=int, default=0, help="bootstrap samples for RSA intervals"
        )
        parser.add_argument(
            "--encoder",
            default="ridge",
            choices=list(ENCODERS),
            help="fit every task by ridge on pooled features, or by the attention encoder "
            "over patch tokens (pooling tokens; default: ridge)",
        )
        parser.add_argument(
            "--measures",
            default=None,
            metavar="NAMES",
            help="also score these measures per task and ROI on the test images, with a "
            "permutation p (comma-separated: ridge, pls, cca, rsa, trsa, cka, svcca, pwcca, "
            "procrustes, angular; writes RUN/measures.parquet)",
        )
        cls.add_model_arguments(parser, permutations=200)

    @classmethod
    def from_args(cls, args):
        """Build the spec from a parsed command line."""
        return cls(
            dataset=args.dataset,
            root=args.root,
            subjects=args.subjects,
            models=args.models,
            layers=args.layers,
            roi=args.roi,
            rsa=args.rsa,
            rsa_comparison=args.rsa_comparison,
            n_bootstraps=args.bootstraps,
            workers=args.workers,
            scheduler=args.scheduler,
            encoder=getattr(args, "encoder", "ridge"),
            measures=getattr(args, "measures", None),
            **cls._option_values(args),
        )


#: How images are made for an ROI.
SYNTHESIS_METHODS = ("bank", "ascent", "diffusion")
#: Default steps of each generator.
SYNTHESIS_STEPS = {"bank": None, "ascent": 128, "diffusion": 50}


def _as_float(name: str, value, minimum: float, strict: bool = False) -> float:
    expected = f"a number {'>' if strict else '>='} {minimum:g}"
    if isinstance(value, bool):
        raise _invalid(name, expected, value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _invalid(name, expected, value) from None
    finite = number == number and abs(number) != float("inf")
    if not finite or number < minimum or (strict and number == minimum):
        raise _invalid(name, expected, value)
    return number


def _folder(name: str, value, marker: str, what: str) -> str:
    path = Path(_as_text(name, str(value))).resolve()
    if not (path / marker).is_file():
        raise _invalid(name, f"{what} (a folder with {marker})", str(value))
    return str(path)


@dataclass(frozen=True, kw_only=True)
class SynthesisSpec(_Spec):
    """The options of a synthesis run: images made or chosen for the ROIs of a fit run.

    Parameters
    ----------
    run : str
        The fit run whose encoder drives the images (an fMRI run).
    rois : sequence of str, optional
        Target ROIs (default: every ROI of the data but ``nsdgeneral``).
    method : {"bank", "ascent", "diffusion"}
        Bank search, gradient ascent in image space, or encoder-guided diffusion.
    n : int
        Images kept per ROI.
    n_candidates : int, optional
        Images made per ROI before the encoder keeps the best ``n`` (generators).
    steps : int, optional
        Optimisation or denoising steps (default: 128 for ascent, 50 for diffusion).
    size : int, optional
        Side of generated images, pixels (default: the model's or pipeline's).
    lr : float
        Ascent learning rate.
    selectivity : float
        Weight of the other ROIs in the objective (``z_target - w mean(z_others)``).
    guidance_scale : float
        Diffusion guidance scale.
    pipeline : str, optional
        Local diffusers pipeline folder (``model_index.json``; diffusion only).
    prompt : str
        Text prompt of a text-conditioned pipeline (default: empty, as BrainDiVE).
    bank : str, optional
        An embedding bank folder (``embeddings.npy``, in the run's feature space)
        searched and used for calibration instead of the training images.
    batch_size : int
        Images optimised together.
    seed : int
        Base seed (image ``i``: ``seed * 100003 + i``).
    device : str
        Torch device.
    """

    run: str = None
    rois: tuple | None = None
    method: str = "ascent"
    n: int = 16
    n_candidates: int | None = None
    steps: int | None = None
    size: int | None = None
    lr: float = 0.05
    selectivity: float = 0.0
    guidance_scale: float = 130.0
    pipeline: str | None = None
    prompt: str = ""
    bank: str | None = None
    batch_size: int = 8
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        self._set("run", _folder("run", self.run, "run.json", "a fit run directory"))
        if self.rois is not None:
            self._set("rois", as_list("rois", self.rois))
        if self.method not in SYNTHESIS_METHODS:
            raise _invalid("method", f"one of {', '.join(SYNTHESIS_METHODS)}", self.method)
        self._set("n", _as_int("n", self.n, 1))
        if self.n_candidates is not None:
            self._set("n_candidates", _as_int("n_candidates", self.n_candidates, self.n))
        if self.steps is not None:
            self._set("steps", _as_int("steps", self.steps, 1))
        if self.size is not None:
            self._set("size", _as_int("size", self.size, 16))
        self._set("lr", _as_float("lr", self.lr, 0.0, strict=True))
        self._set("selectivity", _as_float("selectivity", self.selectivity, 0.0))
        self._set("guidance_scale", _as_float("guidance_scale", self.guidance_scale, 0.0))
        if (self.method == "diffusion") != (self.pipeline is not None):
            expected = (
                "a local diffusers pipeline folder with --method diffusion"
                if self.method == "diffusion"
                else "no pipeline unless --method diffusion"
            )
            raise _invalid("pipeline", expected, self.pipeline)
        if self.pipeline is not None:
            self._set(
                "pipeline", _folder("pipeline", self.pipeline, "model_index.json", "a pipeline")
            )
        if self.bank is not None:
            self._set("bank", _folder("bank", self.bank, "embeddings.npy", "an embedding bank"))
        self._set("prompt", str(self.prompt))
        self._set("batch_size", _as_int("batch_size", self.batch_size, 1))
        self._set("seed", _as_int("seed", self.seed, 0))
        self._set("device", _as_text("device", self.device))
        if not _DEVICE.fullmatch(self.device):
            raise _invalid("device", "auto, cpu, cuda, cuda:<n> or mps", self.device)

    @property
    def n_steps(self) -> int | None:
        """Steps of the generator (the method's default when not given)."""
        return self.steps if self.steps is not None else SYNTHESIS_STEPS[self.method]

    @classmethod
    def add_arguments(cls, parser) -> None:
        """Add the synthesis options to a verb's parser."""
        parser.add_argument("run_dir", metavar="RUN", help="fit run directory (fMRI)")
        parser.add_argument(
            "--rois",
            "--roi",
            default=None,
            help="comma-separated target ROIs (default: every ROI but nsdgeneral)",
        )
        parser.add_argument(
            "--method",
            default="ascent",
            choices=list(SYNTHESIS_METHODS),
            help="bank: best images of the bank; ascent: gradient ascent in image space; "
            "diffusion: encoder-guided diffusion with --pipeline (default: ascent)",
        )
        parser.add_argument("--n", type=int, default=16, help="images per ROI (default: 16)")
        parser.add_argument(
            "--candidates",
            type=int,
            default=None,
            help="images made per ROI before the encoder keeps the best --n (default: --n)",
        )
        parser.add_argument(
            "--steps", type=int, default=None, help="steps (default: ascent 128, diffusion 50)"
        )
        parser.add_argument("--size", type=int, default=None, help="image side, pixels")
        parser.add_argument("--lr", type=float, default=0.05, help="ascent learning rate")
        parser.add_argument(
            "--selectivity",
            type=float,
            default=0.0,
            help="weight w of the other ROIs: maximise z_target - w mean(z_others) (default 0)",
        )
        parser.add_argument(
            "--guidance-scale", type=float, default=130.0, help="diffusion guidance (default 130)"
        )
        parser.add_argument(
            "--pipeline", default=None, metavar="DIR", help="local diffusers pipeline folder"
        )
        parser.add_argument("--prompt", default="", help="text prompt of the pipeline")
        parser.add_argument(
            "--bank",
            default=None,
            metavar="DIR",
            help="embedding bank folder searched and calibrated on (default: training images)",
        )
        parser.add_argument("--batch-size", type=int, default=8, help="images per batch")
        parser.add_argument("--seed", type=int, default=0, help="base seed of the images")
        parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda")

    @classmethod
    def from_args(cls, args):
        """Build the spec from a parsed command line."""
        return cls(
            run=args.run_dir,
            rois=args.rois,
            method=args.method,
            n=args.n,
            n_candidates=args.candidates,
            steps=args.steps,
            size=args.size,
            lr=args.lr,
            selectivity=args.selectivity,
            guidance_scale=args.guidance_scale,
            pipeline=args.pipeline,
            prompt=args.prompt,
            bank=args.bank,
            batch_size=args.batch_size,
            seed=args.seed,
            device=args.device,
        )
