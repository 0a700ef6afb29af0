"""Validate a model spec and its layers up front, without loading any weights.

:func:`check_names` checks a spec against the libraries' registries (architecture,
pretrained tag); :func:`check_model` adds the weights' availability (local file,
cache, or an allowed download; see ``_weights``) and the layer names, which it reads
from the model's skeleton built without weights (on PyTorch's ``meta`` device where
the model allows it) and keeps per spec and tower.
"""

from __future__ import annotations

import contextlib
import functools
import logging

from brainalign._utils import closest_names
from brainalign.exceptions import ParameterError
from brainalign.features._spec import ModelSpec


def _unknown(what: str, name: str, choices, listing: str) -> ParameterError:
    close = closest_names(name, choices, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ParameterError(
        f"Invalid value for 'spec': expected {what} ({listing}); got {name!r}.{hint}"
    )


def _few(names, n: int = 6) -> str:
    names = list(names)
    more = f", ... ({len(names)} in all)" if len(names) > n else ""
    return (", ".join(names[:n]) or "none") + more


def check_names(spec: ModelSpec) -> None:
    """Check a spec's architecture and pretrained tag against its library's registry.

    Parameters
    ----------
    spec : ModelSpec
        Parsed spec.

    Raises
    ------
    ParameterError
        For an unknown architecture or pretrained tag; the message lists close matches.
    """
    from brainalign.features._weights import weights_file

    check = _NAME_CHECKS.get(spec.family)  # hf ids and torch factories have no registry
    if check is not None:
        check(spec.name, None if weights_file(spec.weights) else spec.weights)


def _check_open_clip(name, weights):
    import open_clip

    if name not in open_clip.list_models():
        raise _unknown(
            "an open_clip architecture", name, open_clip.list_models(), "list_models('open_clip:*')"
        )
    tags = open_clip.list_pretrained_tags_by_model(name)
    if weights not in (None, "random", *tags):
        raise _unknown(
            f"a pretrained tag of open_clip {name} ({_few(tags)}), 'random' or a checkpoint path",
            weights,
            tags,
            "open_clip.list_pretrained_tags_by_model",
        )


def _check_timm(name, weights):
    import timm

    if not timm.is_model(name):
        raise _unknown("a timm architecture", name, timm.list_models(), "list_models('timm:*')")
    tags = [n.partition(".")[2] for n in timm.list_pretrained(f"{name}.*")]
    if weights == "pretrained" and not tags:
        raise ParameterError(
            f"Invalid value for 'spec': expected '@random' or a weights file for timm {name} "
            "(it has no pretrained weights); got '@pretrained'."
        )
    if weights not in (None, "random", "pretrained", *tags):
        raise _unknown(
            f"a pretrained tag of timm {name}, 'pretrained', 'random' or a weights file",
            weights,
            tags,
            f"timm.list_pretrained('{name}.*')",
        )


def _check_torchvision(name, weights):
    import torchvision

    names = torchvision.models.list_models()
    if name not in names:
        raise _unknown("a torchvision architecture", name, names, "list_models('torchvision:*')")
    if weights in (None, "random"):
        return
    members = list(torchvision.models.get_model_weights(name).__members__)
    if weights not in members:
        raise _unknown(
            f"weights of torchvision {name} ({', '.join(members)}), 'random' or a file",
            weights,
            members,
            f"torchvision.models.get_model_weights('{name}')",
        )


_NAME_CHECKS = {
    "open_clip": _check_open_clip,
    "timm": _check_timm,
    "torchvision": _check_torchvision,
}


def check_model(spec: str | ModelSpec, layers=None, tower: str = "auto") -> None:
    """Check a model spec, its weights and its layers before any data is loaded.

    Fast: no weights are read. The architecture and pretrained tag are checked
    against the library's registry, a weights file must exist, pretrained weights
    must be in the local cache or downloadable (see the download rule in
    :func:`~brainalign.features.get_extractor`), and the layer names are checked
    against the model's skeleton, built once per spec and tower.

    Parameters
    ----------
    spec : str or ModelSpec
        Model spec (see :class:`~brainalign.features.ModelSpec`).
    layers : str or sequence of str, optional
        Layer names (as in :meth:`FeatureExtractor.list_layers`); None skips them.
    tower : {"auto", "image", "text"}
        Tower whose layers are meant.

    Raises
    ------
    ParameterError
        For an unknown family, architecture, pretrained tag or layer; every unknown
        layer is named in one message, each with close matches.
    DataError
        If pretrained weights are neither cached nor downloadable (one line).
    MissingFileError
        If a weights file does not exist.
    """
    from brainalign.features._hooks import check_layers

    spec = ModelSpec.parse(spec)
    known, model_name = model_layers(spec, tower)
    if layers is not None:
        check_layers(None, layers, known=known, model_name=model_name, spec=spec.text)


def model_layers(spec: str | ModelSpec, tower: str = "auto") -> tuple[list[str], str]:
    """Return the extractable layers of a spec's tower and the model's class name.

    Parameters
    ----------
    spec : str or ModelSpec
        Model spec.
    tower : {"auto", "image", "text"}
        Tower.

    Returns
    -------
    tuple of (list of str, str)
        Layer names (ending with ``"embedding"``) and the model's class name.
    """
    from brainalign.features._models import check_tower

    spec = ModelSpec.parse(spec)
    check_tower(tower)
    check_names(spec)
    _check_weights(spec)
    names, model_name = _skeleton_layers(spec.family, spec.name, _skeleton_weights(spec), tower)
    return list(names), model_name


def _skeleton_weights(spec: ModelSpec):
    """Return the part of the weights that shapes the skeleton (``torch:``/``hf:``)."""
    return spec.weights if spec.family in ("torch", "hf") else None


def _check_weights(spec: ModelSpec) -> None:
    from brainalign.features import _weights

    if spec.family in ("hf", "torch") or spec.weights in (None, "random"):
        return  # hf: checked with its config; torch: the factory's own argument
    if _weights.weights_file(spec.weights) is not None:
        return
    if spec.family == "open_clip":
        _weights.open_clip_pretrained(spec.name, spec.weights)
    elif spec.family == "timm":
        _weights.timm_pretrained(spec.name, spec.weights)
    elif spec.family == "torchvision":
        import torchvision

        enum = torchvision.models.get_model_weights(spec.name)
        w = enum.DEFAULT if spec.weights == "DEFAULT" else enum[spec.weights]
        _weights.check_torchvision_weights(spec.name, w)


@functools.lru_cache(maxsize=64)
def _skeleton_layers(family: str, name: str, weights, tower: str) -> tuple[tuple[str, ...], str]:
    from brainalign.features._hooks import list_layers
    from brainalign.features._models import EMBEDDING

    model, keep = _SKELETONS[family](name, weights, tower)
    names = tuple(n for n in list_layers(model) if keep(n)) + (EMBEDDING,)
    return names, type(model).__name__


def _on_meta(build):
    """Build a module on the meta device (no memory, no init), else on the CPU."""
    import torch

    try:
        with torch.device("meta"):
            return build()
    except Exception:  # some constructors compute with tensors (.item(), numpy)
        return build()


def _open_clip_skeleton(name, weights, tower):
    import open_clip
    import torch

    from brainalign.features._models import open_clip_layer_filter

    def build():
        device = torch.get_default_device()  # meta inside _on_meta, else the CPU
        return open_clip.create_model(name, pretrained=None, device=device)

    with _quiet_root_logger():  # "No pretrained weights loaded" is the point here
        model = _on_meta(build)
    return model, open_clip_layer_filter("text" if tower == "text" else "image")


@contextlib.contextmanager
def _quiet_root_logger():
    """Drop warnings logged to the root logger (open_clip's) inside the block."""
    root = logging.getLogger()
    drop = logging.Filter("no logger has this name")  # a root record never passes it
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


def _timm_skeleton(name, weights, tower):
    import timm

    return _on_meta(lambda: timm.create_model(name, pretrained=False)), _all


def _torchvision_skeleton(name, weights, tower):
    import torchvision

    return _on_meta(lambda: torchvision.models.get_model(name, weights=None)), _all


def _torch_skeleton(name, weights, tower):
    from brainalign.features._models import load_model

    spec = ModelSpec("torch", name, weights)
    return load_model(spec, preprocess=lambda x: x).model, _all


def _hf_skeleton(name, revision, tower):
    from brainalign.features._models import hf_config, hf_model_class

    config, kwargs = hf_config(ModelSpec("hf", name, revision))
    cls, modality = hf_model_class(config, tower)
    if cls.__name__ == "AutoModel":
        return _on_meta(lambda: cls.from_config(config)), _all
    sub = cls.config_class.from_pretrained(name, **kwargs)
    return _on_meta(lambda: cls(sub)), _all


def _all(name: str) -> bool:
    return True


_SKELETONS = {
    "open_clip": _open_clip_skeleton,
    "hf": _hf_skeleton,
    "timm": _timm_skeleton,
    "torchvision": _torchvision_skeleton,
    "torch": _torch_skeleton,
}
