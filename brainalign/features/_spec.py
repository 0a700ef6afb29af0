"""Model specs and poolings, parsed once: :class:`ModelSpec` and :class:`Pooling`.

A model spec is ``<family>:<name>[@<weights>]`` (DESIGN.md):
``open_clip:ViT-B-32@laion2b_s34b_b79k`` (a pretrained tag),
``open_clip:ViT-B-32@/path/ckpt.pt`` (a local checkpoint), ``open_clip:ViT-B-32@random``
(random init, seeded), ``hf:<hub id or local dir>[@<revision>]``,
``timm:<name>[@random|@pretrained|@<tag>|@/path]``,
``torchvision:<name>[@random|@DEFAULT|@<weights>|@/path]`` and
``torch:<module path>:<factory>[@<arg>]`` for a user's own model. The weights part
runs from the first ``@`` to the end, so a resolved spec such as
``torch:pkg.mod:Net@state:<hex>`` or ``open_clip:ViT-B-32@random@0`` parses too.

A pooling is ``auto``, ``cls``, ``mean``, ``spatial``, ``flatten``, ``pca:<k>`` or
``srp:<k>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from brainalign._utils import closest_names
from brainalign.exceptions import ParameterError

#: Model families a spec may start with (each has a loader in ``_models``).
FAMILIES = ("hf", "open_clip", "timm", "torch", "torchvision")
#: Families whose text tower embeds into the same space as the image tower.
_TEXT_TOWER_FAMILIES = ("open_clip",)

#: Pooling methods without parameter: ``auto`` keeps 2-D outputs, averages tokens
#: (3-D, mask-aware) and averages maps (4-D) spatially.
SIMPLE_POOLINGS = ("auto", "cls", "mean", "spatial", "flatten", "tokens")
#: Reductions to ``k`` dimensions fitted on the training stimuli (after flattening).
FITTED_POOLINGS = ("pca", "srp")
#: Every pooling, as written in a spec.
POOLINGS = (*SIMPLE_POOLINGS, *(f"{m}:<k>" for m in FITTED_POOLINGS))
#: Poolings whose output width follows the token count (refused for text).
_TOKEN_WIDTH = ("flatten", "tokens", *FITTED_POOLINGS)


def _spec_error(expected: str, got) -> ParameterError:
    return ParameterError(f"Invalid value for 'spec': expected {expected}; got {got!r}.")


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec: ``<family>:<name>[@<weights>]``.

    Parameters
    ----------
    family : {"hf", "open_clip", "timm", "torch", "torchvision"}
        Model library.
    name : str
        Architecture (``"ViT-B-32"``), hub id or local folder (``hf``), or
        ``"<module path>:<factory>"`` (``torch``).
    weights : str, optional
        Pretrained tag, checkpoint path, ``"random"``, revision or factory argument
        (a seed); None when the spec has no ``@`` part.

    Examples
    --------
    >>> spec = ModelSpec.parse("open_clip:ViT-B-32@laion2b_s34b_b79k")
    >>> spec.family, spec.name, spec.weights
    ('open_clip', 'ViT-B-32', 'laion2b_s34b_b79k')
    >>> spec.short
    'ViTB32'
    >>> spec.label
    'ViT-B-32@laion2b_s34b_b79k'
    >>> str(spec)
    'open_clip:ViT-B-32@laion2b_s34b_b79k'
    """

    family: str
    name: str
    weights: str | None = None

    def __post_init__(self):
        if self.family not in FAMILIES:
            close = closest_names(str(self.family), FAMILIES)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                f"Invalid value for 'spec': expected a model family among "
                f"{', '.join(FAMILIES)}; got {self.family!r}.{hint}"
            )
        if not isinstance(self.name, str) or not self.name or "@" in self.name:
            raise _spec_error(f"a model name after '{self.family}:' (without '@')", self.name)
        if self.weights is not None and (not isinstance(self.weights, str) or not self.weights):
            raise _spec_error("weights text after '@' (or no '@')", self.weights)
        module, _, factory = self.name.partition(":")
        if self.family == "torch" and not (module and factory):
            raise _spec_error("'torch:<module path>:<factory>[@arg]'", self.text)

    @classmethod
    def parse(cls, spec: str | ModelSpec) -> ModelSpec:
        """Parse a spec string (a ModelSpec is returned unchanged).

        Parameters
        ----------
        spec : str or ModelSpec
            ``<family>:<name>[@<weights>]``.

        Returns
        -------
        ModelSpec
            The parts of the spec.

        Raises
        ------
        ParameterError
            If the spec is not a string, has no family, an unknown family, an empty
            name or an empty weights part.
        """
        if isinstance(spec, ModelSpec):
            return spec
        if not isinstance(spec, str) or ":" not in spec:
            raise _spec_error(f"'<family>:<name>[@<weights>]' with a family in {FAMILIES}", spec)
        family, _, rest = spec.partition(":")
        name, at, weights = rest.partition("@")
        if at and not weights:
            raise _spec_error("weights text after '@' (or no '@')", spec)
        return cls(family, name, weights if at else None)

    @property
    def text(self) -> str:
        """The canonical spec string (``str(ModelSpec.parse(s)) == s``)."""
        return self.model_id if self.weights is None else f"{self.model_id}@{self.weights}"

    @property
    def model_id(self) -> str:
        """The spec without its weights part (``"open_clip:ViT-B-32"``)."""
        return f"{self.family}:{self.name}"

    @property
    def short(self) -> str:
        """File-name-safe model name: the alphanumerics of the name's last ``:`` part."""
        return "".join(c for c in self.name.split(":")[-1] if c.isalnum())

    @property
    def label(self) -> str:
        """Display name: the name's last part and the weights, hashes and paths shortened.

        The one name figures, tables and reports show (see :func:`model_label`):
        ``torch:pkg.mod:Net@state:<64 hex>`` -> ``Net@state:<first 8 hex>``,
        ``open_clip:ViT-B-32@/ckpts/run7/epoch_3.pt`` -> ``ViT-B-32@epoch_3.pt``,
        ``hf:/models/minilm`` -> ``minilm``.
        """
        name = self.name.rstrip("/").replace("\\", "/").split(":")[-1].split("/")[-1]
        return name if self.weights is None else f"{name}@{_short_weights(self.weights)}"

    @property
    def has_text_tower(self) -> bool:
        """Whether the model has a text tower embedding into its image space (open_clip)."""
        return self.family in _TEXT_TOWER_FAMILIES

    def with_weights(self, weights: str | None) -> ModelSpec:
        """Return the same model with other weights (None: no ``@`` part)."""
        return replace(self, weights=weights)

    def __str__(self) -> str:
        return self.text


#: Hex digits of a weights hash kept in a display name (git's short-hash length).
HASH_DIGITS = 8
_HASH = re.compile(rf"(?<![0-9a-fA-F])([0-9a-fA-F]{{{HASH_DIGITS}}})[0-9a-fA-F]{{8,}}")


def _short_weights(weights: str) -> str:
    """Weights part of a display name: a path's file name, hashes cut to 8 digits."""
    if "/" in weights or "\\" in weights:
        weights = weights.replace("\\", "/").rstrip("/").split("/")[-1]
    return _HASH.sub(r"\1", weights)


def model_label(spec) -> str:
    """Return the display name of a model spec (its :attr:`ModelSpec.label`).

    Strings that do not parse as a spec (a name from another tool) are shown as
    they are, with long hashes shortened.

    Parameters
    ----------
    spec : str or ModelSpec
        Model spec, requested or resolved.

    Returns
    -------
    str
        E.g. ``"SampleNet@state:fc60b5aa"`` for
        ``"torch:brainalign.data.sample:SampleNet@state:fc60b5aa72f3..."``.
    """
    try:
        return ModelSpec.parse(spec).label
    except ParameterError:
        return _HASH.sub(r"\1", str(spec))


def _pooling_error(expected: str, got) -> ParameterError:
    return ParameterError(f"Invalid value for 'pooling': expected {expected}; got {got!r}.")


@dataclass(frozen=True)
class Pooling:
    """A parsed pooling: a method and, for a fitted reduction, its size ``k``.

    Parameters
    ----------
    method : {"auto", "cls", "mean", "spatial", "flatten", "tokens", "pca", "srp"}
        Pooling method (``tokens`` keeps the patch grid, see :func:`token_layout`).
    k : int, optional
        Output dimensions of ``pca``/``srp`` (required for them, None otherwise).

    Examples
    --------
    >>> Pooling.parse("pca:256")
    Pooling(method='pca', k=256)
    >>> Pooling.parse("pca:256").fitted, Pooling.parse("mean").fitted
    (True, False)
    """

    method: str
    k: int | None = None

    def __post_init__(self):
        if self.method in SIMPLE_POOLINGS:
            if self.k is not None:
                raise _pooling_error(f"no k for {self.method!r}", f"{self.method}:{self.k}")
            return
        if self.method not in FITTED_POOLINGS:
            raise _pooling_error(f"one of {', '.join(POOLINGS)}", self.method)
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise _pooling_error(f"an integer k >= 1 in '{self.method}:<k>'", self.k)

    @classmethod
    def parse(cls, pooling: str | Pooling) -> Pooling:
        """Parse a pooling string (a Pooling is returned unchanged).

        Parameters
        ----------
        pooling : str or Pooling
            One of :data:`POOLINGS` (``"mean"``, ``"pca:256"``).

        Returns
        -------
        Pooling
            Method and ``k``.

        Raises
        ------
        ParameterError
            If the method is unknown, or ``k`` is missing, not an integer or below 1.
        """
        if isinstance(pooling, Pooling):
            return pooling
        if pooling in SIMPLE_POOLINGS:
            return cls(pooling)
        match = re.fullmatch(r"(pca|srp):(.*)", pooling) if isinstance(pooling, str) else None
        if match is None:
            raise _pooling_error(f"one of {', '.join(POOLINGS)}", pooling)
        method, k = match.groups()
        if not re.fullmatch(r"[0-9]+", k) or int(k) < 1:
            raise _pooling_error(f"an integer k >= 1 in '{method}:<k>'", pooling)
        return cls(method, int(k))

    @property
    def fitted(self) -> bool:
        """Whether this is a reduction fitted on the training stimuli (pca, srp)."""
        return self.method in FITTED_POOLINGS

    @property
    def token_width(self) -> bool:
        """Whether the output width follows the token count (flatten, pca, srp)."""
        return self.method in _TOKEN_WIDTH

    @property
    def text(self) -> str:
        """The canonical pooling string (``"mean"``, ``"pca:256"``)."""
        return self.method if self.k is None else f"{self.method}:{self.k}"

    def __str__(self) -> str:
        return self.text
