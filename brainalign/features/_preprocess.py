"""Image preprocessing as data: the model's own config, recorded, and overridable.

Each image model's preprocessing is resolved from its pretrained config (timm's
``resolve_data_config``, torchvision weights' ``transforms()``, open_clip's
``preprocess_cfg``) into one JSON-ready record (:class:`Preprocess`) that goes into
``run.json`` and, with an override, the feature cache key (the transform's text,
which also enters the key, rounds its numbers). An override (``preprocess="unit"``,
``"mean=0.5,0.5,0.5 std=0.5,0.5,0.5"``, ``"crop_pct=1"``) replaces only the fields it
names; the rest stay the model's.

Override syntax: space- or ``;``-separated ``field=value`` items and presets.
Fields: ``size`` (square input side, pixels), ``crop_pct`` (centre-crop fraction: the
shorter side is resized to ``size / crop_pct``, then cropped to ``size``),
``resize`` (``shortest``: keep the aspect ratio; ``squash``: resize both sides to
``size / crop_pct``), ``interpolation`` (``bilinear``, ``bicubic``, ``nearest``),
``mean`` and ``std`` (three numbers, applied to pixels scaled to [0, 1]). Presets set ``mean`` and
``std``: ``imagenet`` (0.485, 0.456, 0.406 / 0.229, 0.224, 0.225), ``inception``
(0.5 / 0.5: pixels to [-1, 1]), ``clip`` (OpenAI CLIP's) and ``unit`` (0 / 1: pixels
in [0, 1], e.g. for ResMem's ResNet-152).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace

from brainalign.exceptions import ParameterError

#: Mean and std of each preset.
PRESETS = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "inception": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "clip": ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
    "unit": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}
#: Interpolations an override may name.
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
#: How the image reaches ``size / crop_pct`` before the centre crop.
RESIZES = ("shortest", "squash")
_FIELDS = ("size", "crop_pct", "resize", "interpolation", "mean", "std")


def _error(expected: str, got) -> ParameterError:
    return ParameterError(f"Invalid value for 'preprocess': expected {expected}; got {got!r}.")


@dataclass(frozen=True)
class Preprocess:
    """Resize, centre crop and normalisation of an image model's input.

    Parameters
    ----------
    size : int
        Side of the square input, pixels.
    crop_pct : float
        Centre-crop fraction in (0, 1]: the shorter side is resized to
        ``size / crop_pct`` and the centre ``size x size`` kept.
    interpolation : {"bilinear", "bicubic", "nearest"}
        Resize interpolation.
    mean, std : tuple of 3 float
        Per-channel normalisation of pixels in [0, 1] (RGB order).
    source : str
        Where the values come from (``"timm pretrained_cfg"``, ``"override"``).
    resize : {"shortest", "squash"}
        Resize the shorter side (keeping the aspect ratio), or both sides.

    Examples
    --------
    >>> base = Preprocess(224, 0.875, "bicubic", (0.5,) * 3, (0.5,) * 3, "timm")
    >>> base.override("unit crop_pct=1").mean, base.override("crop_pct=1").crop_pct
    ((0.0, 0.0, 0.0), 1.0)
    """

    size: int
    crop_pct: float
    interpolation: str
    mean: tuple
    std: tuple
    source: str = ""
    resize: str = "shortest"

    def __post_init__(self):
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 8:
            raise _error("size = an integer >= 8 (pixels)", self.size)
        if not isinstance(self.crop_pct, (int, float)) or not 0 < self.crop_pct <= 1:
            raise _error("crop_pct in (0, 1]", self.crop_pct)
        if self.resize not in RESIZES:
            raise _error(f"resize among {', '.join(RESIZES)}", self.resize)
        if self.interpolation not in INTERPOLATIONS:
            raise _error(f"interpolation among {', '.join(INTERPOLATIONS)}", self.interpolation)
        for name in ("mean", "std"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 3:
                raise _error(f"{name} = three numbers (R, G, B)", getattr(self, name))
            object.__setattr__(self, name, value)
        if min(self.std) <= 0:
            raise _error("std > 0 for every channel", self.std)
        object.__setattr__(self, "crop_pct", float(self.crop_pct))

    def override(self, text: str | dict | None) -> Preprocess:
        """Return this preprocessing with the fields an override names replaced.

        Parameters
        ----------
        text : str, dict or None
            ``"unit"``, ``"mean=0,0,0 std=1,1,1 crop_pct=1"`` or a dict of fields.

        Returns
        -------
        Preprocess
            ``source`` says ``"override (<the fields set>)"``.
        """
        if text is None:
            return self
        changes = parse_override(text)
        return replace(self, **changes, source=f"override ({format_override(changes)})")

    @staticmethod
    def check_override(text) -> str | None:
        """Validate an override and return its canonical text (None stays None).

        Raises
        ------
        ParameterError
            For an unknown preset or field, or a value out of range.
        """
        return check_override(text)

    def transform(self):
        """Return the PIL transform (timm's ``create_transform``, eval mode)."""
        from timm.data import create_transform

        return create_transform(
            input_size=(3, self.size, self.size),
            interpolation=self.interpolation,
            mean=self.mean,
            std=self.std,
            crop_pct=self.crop_pct,
            crop_mode="center" if self.resize == "shortest" else "squash",
        )

    def to_json(self) -> dict:
        """Return the record written to the cache metadata and ``run.json``."""
        record = asdict(self)
        record["mean"], record["std"] = list(self.mean), list(self.std)
        return record


def parse_override(text: str | dict) -> dict:
    """Parse an override into the fields it sets.

    Parameters
    ----------
    text : str or dict
        Presets and ``field=value`` items (see the module docstring), or a dict.

    Returns
    -------
    dict
        Field -> value (``mean``/``std`` as tuples).

    Raises
    ------
    ParameterError
        For an unknown preset or field, or a value that does not parse.
    """
    if isinstance(text, dict):
        unknown = sorted(set(text) - set(_FIELDS))
        if unknown:
            raise _error(f"fields among {', '.join(_FIELDS)}", unknown)
        return dict(text)
    if not isinstance(text, str) or not text.strip():
        raise _error("presets or field=value items", text)
    changes = {}
    for item in re.split(r"[;\s]+", text.strip()):
        if not item:
            continue
        name, eq, value = item.partition("=")
        if not eq:
            if name not in PRESETS:
                raise _error(f"a preset among {', '.join(PRESETS)} or field=value", item)
            changes["mean"], changes["std"] = PRESETS[name]
            continue
        changes[name] = _field_value(name, value, item)
    return changes


def _field_value(name: str, value: str, item: str):
    try:
        if name == "size":
            return int(value)
        if name == "crop_pct":
            return float(value)
        if name in ("mean", "std"):
            return tuple(float(v) for v in value.split(","))
    except ValueError:
        raise _error(f"a number for {name}", item) from None
    if name in ("interpolation", "resize"):
        return value
    raise _error(f"a field among {', '.join(_FIELDS)}", item)


def format_override(changes: dict) -> str:
    """Return the canonical text of parsed override fields (``"crop_pct=1.0"``)."""
    parts = []
    for name in _FIELDS:
        if name in changes:
            value = changes[name]
            text = ",".join(map(_number, value)) if name in ("mean", "std") else value
            parts.append(f"{name}={text}")
    return " ".join(parts)


def _number(value) -> str:
    """Return the shortest exact text of a float (``0``, ``0.48145466``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def check_override(text) -> str | None:
    """Validate an override and return its canonical text (None stays None)."""
    if text is None:
        return None
    changes = parse_override(text)
    Preprocess(224, 1.0, "bilinear", (0.0,) * 3, (1.0,) * 3).override(changes)  # value checks
    return format_override(changes)


# -- each library's config, as a Preprocess ---------------------------------------------
def from_timm(config: dict, source: str) -> Preprocess:
    """Return timm's ``resolve_data_config`` output as a :class:`Preprocess`."""
    return Preprocess(
        size=int(config["input_size"][-1]),
        crop_pct=float(config.get("crop_pct") or 1.0),
        interpolation=_interpolation(config.get("interpolation", "bilinear")),
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        source=source,
        resize="squash" if config.get("crop_mode") == "squash" else "shortest",
    )


def from_torchvision(transform, source: str) -> Preprocess | None:
    """Return a torchvision ``ImageClassification`` preset as a :class:`Preprocess`.

    None for other presets (segmentation, detection), which have no centre crop.
    """
    if not all(hasattr(transform, a) for a in ("crop_size", "resize_size", "mean", "std")):
        return None
    crop = int(transform.crop_size[0])
    resize = int(transform.resize_size[0])
    return Preprocess(
        size=crop,
        crop_pct=crop / resize,
        interpolation=_interpolation(transform.interpolation),
        mean=tuple(transform.mean),
        std=tuple(transform.std),
        source=source,
    )


def from_open_clip(config: dict, source: str) -> Preprocess:
    """Return open_clip's ``preprocess_cfg`` (shortest-side resize, centre crop)."""
    size = config.get("size", 224)
    return Preprocess(
        size=int(size if isinstance(size, int) else size[-1]),
        crop_pct=1.0,
        interpolation=_interpolation(config.get("interpolation", "bicubic")),
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        source=source,
        resize="squash" if config.get("resize_mode") == "squash" else "shortest",
    )


#: What ``_imagenet_transform`` does: the torchvision classification default.
IMAGENET_DEFAULT = Preprocess(224, 224 / 256, "bilinear", *PRESETS["imagenet"], "ImageNet default")


def _interpolation(value) -> str:
    name = str(getattr(value, "value", value)).lower()
    return name if name in INTERPOLATIONS else "bilinear"
