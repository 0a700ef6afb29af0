"""Model adapters behind ``get_extractor(spec)``: open_clip, hf, timm, torchvision, torch.

Specs are parsed by :class:`~brainalign.features.ModelSpec` (see ``_spec`` for their
forms); ``_LOADERS`` holds one loader per :data:`~brainalign.features._spec.FAMILIES`
entry and :func:`load_model` dispatches on ``ModelSpec.family``.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brainalign.exceptions import DataError, MissingFileError, ParameterError
from brainalign.features import _weights
from brainalign.features._check import check_names
from brainalign.features._spec import ModelSpec
from brainalign.features._weights import weights_file as _weights_file

EMBEDDING = "embedding"  # pseudo-layer: the model's final embedding (its forward output)


@dataclass
class ModelBundle:
    """A loaded model with what extraction needs.

    Attributes
    ----------
    model : torch.nn.Module
        The network.
    model_id : str
        Spec without weights (``"open_clip:ViT-B-32"``).
    weights : str
        Weights identity: a tag, ``sha256:<file hash>`` or ``random@<seed>``.
    modality : {"image", "text"}
        What the tower reads.
    prepare : callable
        Raw batch (list of uint8 images or texts) -> dict of input tensors.
    forward : callable
        ``forward(model, inputs) -> final embedding`` (batch first).
    preprocess_id : str
        Description of the preprocessing (image size, normalisation, tokenizer).
    layer_filter : callable
        Module name -> whether it belongs to this tower.
    preprocess_config : dict or None
        The image preprocessing as a record (:meth:`Preprocess.to_json`: size, crop,
        interpolation, mean, std and their source); None for text towers, ``hf``
        processors and ``torch`` callables.
    """

    model: object
    model_id: str
    weights: str
    modality: str
    prepare: Callable
    forward: Callable
    preprocess_id: str
    layer_filter: Callable = field(default=lambda name: True)
    preprocess_config: dict | None = None


def load_model(
    spec: str | ModelSpec, tower: str = "auto", seed: int = 0, preprocess=None
) -> ModelBundle:
    """Build the model of a spec (on the CPU, eval mode).

    Parameters
    ----------
    spec : str or ModelSpec
        Model spec (see :class:`~brainalign.features.ModelSpec`).
    tower : {"auto", "image", "text"}
        Which tower of a two-tower model (CLIP) to use; ``auto`` is the image tower
        for vision models and the text tower for language models.
    seed : int
        Seed of random initialisation (``@random``).
    preprocess : callable, str or dict, optional
        A callable (``torch:`` models without a ``preprocess`` method): uint8 images
        ``(n, H, W, 3)`` -> input tensor. A string or dict overrides fields of the
        image preprocessing the model's pretrained config gives (``"unit"``,
        ``"mean=0.5,0.5,0.5 std=0.5,0.5,0.5"``, ``"crop_pct=1"``; see
        :mod:`brainalign.features._preprocess`); for ``torch:`` models the fields
        not named are ImageNet's defaults (224 px, crop 0.875, bilinear).

    Returns
    -------
    ModelBundle
        The model and its preprocessing.

    Raises
    ------
    ParameterError
        For an unknown architecture or pretrained tag (with close matches).
    DataError
        If pretrained weights are neither in the local cache nor downloadable; see
        :func:`~brainalign.features.get_extractor` for the download rule.
    """
    spec = ModelSpec.parse(spec)
    check_tower(tower)
    _check_preprocess(spec, preprocess, tower)
    check_names(spec)
    bundle = _LOADERS[spec.family](spec, tower=tower, seed=seed, preprocess=preprocess)
    bundle.model.eval()
    return bundle


def list_models(pattern: str = "*") -> list[str]:
    """List model specs that ``get_extractor`` can build (without weights part).

    Parameters
    ----------
    pattern : str
        Shell-style pattern, e.g. ``"open_clip:ViT-B*"`` or ``"timm:resnet*"``.

    Returns
    -------
    list of str
        Specs such as ``open_clip:ViT-B-32``; add ``@random``, ``@<tag>`` or
        ``@/path/to/weights``. ``hf:`` accepts any hub id or local directory.
    """
    import open_clip
    import timm
    import torchvision

    specs = ["torch:brainalign.data.sample:SampleNet", "hf:<hub id or local directory>"]
    specs += [f"open_clip:{m}" for m in open_clip.list_models()]
    specs += [f"torchvision:{m}" for m in torchvision.models.list_models()]
    specs += [f"timm:{m}" for m in timm.list_models()]
    return [s for s in specs if fnmatch.fnmatch(s, pattern)]


# -- helpers ------------------------------------------------------------------------
def check_tower(tower: str) -> None:
    """Raise a ParameterError unless ``tower`` is ``auto``, ``image`` or ``text``."""
    if tower not in ("auto", "image", "text"):
        raise ParameterError(
            f"Invalid value for 'tower': expected 'auto', 'image' or 'text'; got {tower!r}."
        )


def _check_preprocess(spec: ModelSpec, preprocess, tower: str = "auto") -> None:
    """Validate a preprocessing argument before any model is built."""
    from brainalign.features._preprocess import check_override

    if preprocess is None:
        return
    if spec.family == "hf":
        raise ParameterError(
            "Invalid value for 'preprocess': hf models take their preprocessing from the "
            "image processor in their folder (preprocessor_config.json); edit it there."
        )
    if callable(preprocess):
        if spec.family != "torch":
            raise ParameterError(
                "Invalid value for 'preprocess': a callable replaces the preprocessing of "
                f"'torch:' models only; for {spec.family} pass an override such as "
                "'mean=0.5,0.5,0.5 std=0.5,0.5,0.5' or 'unit'."
            )
        return
    if tower == "text":
        raise ParameterError(
            "Invalid value for 'preprocess': an image preprocessing override does not apply "
            "to a text tower; leave it out."
        )
    check_override(preprocess)


def _image_preprocessing(base, transform, override):
    """Return ``(prepare, preprocess_id, record)`` of a model's preprocessing.

    ``base`` is the model's own :class:`Preprocess` and ``transform`` its library's
    transform, used as is unless ``override`` replaces some fields.
    """
    if base is None:  # a transform that is not resize / crop / normalise (segmentation)
        if override is not None:
            raise ParameterError(
                "Invalid value for 'preprocess': this model's transform is not a "
                f"classification preset ({type(transform).__name__}); it cannot be overridden."
            )
        return _per_image(transform), repr(transform), None
    if override is None:
        return _per_image(transform), repr(transform), base.to_json()
    base = base.override(override)
    transform = base.transform()
    exact = {k: v for k, v in base.to_json().items() if k != "source"}  # repr rounds floats
    return _per_image(transform), f"{transform!r}|{json.dumps(exact)}", base.to_json()


def _seeded(seed: int):
    import torch

    torch.manual_seed(int(seed))


def _file_id(path: Path) -> str:
    from brainalign.features._cache import file_sha256

    return f"sha256:{file_sha256(path)}"


def _per_image(transform):
    """Wrap a PIL transform into a batch preparer for uint8 arrays."""
    import torch
    from PIL import Image

    def prepare(images):
        return {"x": torch.stack([transform(Image.fromarray(a)) for a in images])}

    return prepare


def _download_error(what: str, exc: Exception, local_hint: str) -> DataError:
    return DataError(
        f"Could not get the pretrained weights {what}: {type(exc).__name__}: "
        f"{' '.join(str(exc).split())[:300]}. Without internet access, download them "
        f"once on a machine that has it, or pass a local file: {local_hint}"
    )


# -- open_clip ------------------------------------------------------------------------
def _load_open_clip(spec, tower, seed, preprocess=None) -> ModelBundle:
    import open_clip

    name, weights = spec.name, spec.weights  # check_names validated both

    path = _weights_file(weights)
    if weights in (None, "random"):
        _seeded(seed)
        model, _, transform = open_clip.create_model_and_transforms(name, pretrained=None)
        ident = f"random@{seed}"
    elif path is not None:
        model, _, transform = open_clip.create_model_and_transforms(name, pretrained=str(path))
        ident = _file_id(path)
    else:
        kwargs = _weights.open_clip_pretrained(name, weights)  # the cache, or one download
        try:
            model, _, transform = open_clip.create_model_and_transforms(name, **kwargs)
        except Exception as exc:  # network, hub or cache failures all surface here
            raise _download_error(
                f"'{weights}' of open_clip {name}",
                exc,
                spec.with_weights("/path/to/checkpoint.pt").text,
            ) from exc
        ident = weights
    if tower == "text":
        tokenizer = open_clip.get_tokenizer(name)

        def prepare(texts):
            tokens = tokenizer(list(texts))
            return {"text": tokens, "attention_mask": tokens != 0}

        return ModelBundle(
            model,
            spec.model_id,
            ident,
            "text",
            prepare,
            lambda m, inp: m.encode_text(inp["text"]),
            f"open_clip-tokenizer:{type(tokenizer).__name__}:{tokenizer.context_length}",
            open_clip_layer_filter("text"),
        )
    from brainalign.features._preprocess import from_open_clip

    base = from_open_clip(model.visual.preprocess_cfg, f"open_clip preprocess_cfg of {name}")
    prepare, prep_id, record = _image_preprocessing(base, transform, preprocess)
    return ModelBundle(
        model,
        spec.model_id,
        ident,
        "image",
        prepare,
        lambda m, inp: m.encode_image(inp["x"]),
        prep_id,
        open_clip_layer_filter("image"),
        record,
    )


def open_clip_layer_filter(tower: str) -> Callable:
    """Return module name -> whether it belongs to an open_clip tower (``image`` or ``text``)."""
    if tower == "text":
        return lambda n: not n.startswith("visual")
    return lambda n: n.startswith("visual.")


# -- Hugging Face transformers --------------------------------------------------------
_HF_VISION = {
    "vit",
    "dinov2",
    "deit",
    "beit",
    "convnext",
    "swin",
    "clip",
    "siglip",
    "data2vec-vision",
}


def _load_hf(spec, tower, seed, preprocess=None) -> ModelBundle:
    config, kwargs = hf_config(spec)
    cls, modality = hf_model_class(config, tower)
    try:
        if modality == "text":
            return _hf_text(spec, config, cls, kwargs)
        return _hf_vision(spec, config, cls, kwargs)
    except (OSError, ValueError) as exc:
        raise _download_error(f"of {spec.text}", exc, "hf:/path/to/local/model_dir") from exc


def hf_config(spec: ModelSpec):
    """Return the transformers config of an ``hf:`` spec and its ``from_pretrained`` kwargs.

    A local folder is read as is; a hub id from the local cache
    (``local_files_only=True``) or, when downloads are allowed, from the hub.
    """
    import transformers

    name, revision = spec.name, spec.weights
    if Path(name).expanduser().is_dir():
        kwargs = {}
    elif name.startswith(("/", "./", "../", "~")):
        raise MissingFileError(f"Missing model folder: expected {Path(name).expanduser()}")
    else:
        kwargs = _weights.hf_pretrained(name, revision)
    try:
        config = transformers.AutoConfig.from_pretrained(_hf_path(name), **kwargs)
    except Exception as exc:
        raise _download_error(f"of {spec.text}", exc, "hf:/path/to/local/model_dir") from exc
    return config, kwargs


def hf_model_class(config, tower: str):
    """Return the transformers model class for a config and tower, and the modality."""
    import transformers

    vision = config.model_type in _HF_VISION
    modality = ("image" if vision else "text") if tower == "auto" else tower
    if config.model_type != "clip":
        return transformers.AutoModel, modality
    if modality == "text":
        return transformers.CLIPTextModelWithProjection, modality
    return transformers.CLIPVisionModelWithProjection, modality


def _hf_path(name: str) -> str:
    path = Path(name).expanduser()
    return str(path) if path.is_dir() else name


def _hf_ident(name, kwargs) -> str:
    path = Path(name)
    if path.is_dir():
        weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
        return "+".join(_file_id(p) for p in weights) or f"dir:{path.resolve()}"
    return f"hub:{name}@{kwargs.get('revision', 'main')}"


def _hf_text(spec, config, cls, kwargs) -> ModelBundle:
    import transformers

    name = _hf_path(spec.name)

    tokenizer = transformers.AutoTokenizer.from_pretrained(name, **kwargs)
    model = cls.from_pretrained(name, **kwargs)
    if config.model_type == "clip":

        def embed(m, inp):
            return m(input_ids=inp["input_ids"], attention_mask=inp["attention_mask"]).text_embeds

    else:

        def embed(m, inp):
            from brainalign.features._pooling import pool

            hidden = m(**inp).last_hidden_state
            return pool(hidden, "mean", inp["attention_mask"])

    def prepare(texts):
        return dict(tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt"))

    return ModelBundle(
        model,
        spec.model_id,
        _hf_ident(name, kwargs),
        "text",
        prepare,
        embed,
        f"hf-tokenizer:{type(tokenizer).__name__}:{tokenizer.model_max_length}",
    )


def _hf_vision(spec, config, cls, kwargs) -> ModelBundle:
    import transformers

    name = _hf_path(spec.name)

    processor = transformers.AutoImageProcessor.from_pretrained(name, **kwargs)
    model = cls.from_pretrained(name, **kwargs)
    if config.model_type == "clip":
        embed = lambda m, inp: m(pixel_values=inp["pixel_values"]).image_embeds  # noqa: E731
    else:

        def embed(m, inp):
            out = m(pixel_values=inp["pixel_values"])
            pooled = getattr(out, "pooler_output", None)
            return pooled if pooled is not None else out.last_hidden_state[:, 0]

    def prepare(images):
        return {"pixel_values": processor(images=list(images), return_tensors="pt")["pixel_values"]}

    return ModelBundle(
        model,
        spec.model_id,
        _hf_ident(name, kwargs),
        "image",
        prepare,
        embed,
        f"hf-processor:{processor.to_json_string()}",
    )


# -- timm and torchvision -------------------------------------------------------------
def _load_timm(spec, tower, seed, preprocess=None) -> ModelBundle:
    import timm
    from timm.data import create_transform, resolve_data_config

    name, weights = spec.name, spec.weights

    path = _weights_file(weights)  # check_names validated the name and tag
    _seeded(seed)
    if path is not None:
        model = timm.create_model(name, pretrained=False, checkpoint_path=str(path))
        ident = _file_id(path)
    elif weights in (None, "random"):
        model, ident = timm.create_model(name, pretrained=False), f"random@{seed}"
    else:
        kwargs = _weights.timm_pretrained(name, weights)  # the cache, or one download
        try:
            model = timm.create_model(
                name if weights == "pretrained" else f"{name}.{weights}", **kwargs
            )
        except Exception as exc:
            raise _download_error(
                f"'{weights}' of timm {name}", exc, spec.with_weights("/path/to/weights.pth").text
            ) from exc
        ident = weights
    from brainalign.features._preprocess import from_timm

    config = resolve_data_config({}, model=model)
    base = from_timm(config, f"timm pretrained_cfg of {name}")
    prepare, prep_id, record = _image_preprocessing(base, create_transform(**config), preprocess)
    return ModelBundle(
        model,
        spec.model_id,
        ident,
        "image",
        prepare,
        _timm_forward,
        prep_id,
        preprocess_config=record,
    )


def _timm_forward(model, inputs):
    """Pre-logits embedding of a timm model; its classifier runs too, so it can be hooked."""
    import torch

    features = model.forward_features(inputs["x"])
    head = model.get_classifier()
    if not isinstance(head, torch.nn.Module):  # distilled models: a (head, head_dist) pair
        return model.forward_head(features, pre_logits=True)
    ran = []
    handle = head.register_forward_hook(lambda *_: ran.append(True))
    try:
        embedding = model.forward_head(features, pre_logits=True)
    finally:
        handle.remove()
    if not ran:  # the classifier proper, run once more so that it can be hooked
        try:
            head(embedding)
        except Exception:  # noqa: BLE001 - a head that does not take the pre-logits: its
            pass  # layers are then reported as not run if asked for; the embedding stands
    return embedding


def _load_torchvision(spec, tower, seed, preprocess=None) -> ModelBundle:
    import torch
    import torchvision

    from brainalign.features._preprocess import IMAGENET_DEFAULT, from_torchvision

    name, weights = spec.name, spec.weights

    path = _weights_file(weights)  # check_names validated the name and weights
    _seeded(seed)
    if weights in (None, "random") or path is not None:
        model = torchvision.models.get_model(name, weights=None)
        ident = f"random@{seed}"
        if path is not None:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(
                state.get("state_dict", state) if isinstance(state, dict) else state
            )
            ident = _file_id(path)
        transform, base = _imagenet_transform(), IMAGENET_DEFAULT
    else:
        enum = torchvision.models.get_model_weights(name)
        w = enum.DEFAULT if weights == "DEFAULT" else enum[weights]
        _weights.check_torchvision_weights(name, w)  # cached, or downloadable
        try:
            model = torchvision.models.get_model(name, weights=w)
        except Exception as exc:
            raise _download_error(
                f"{w} of torchvision {name}", exc, spec.with_weights("/path/to/state_dict.pth").text
            ) from exc
        ident, transform = str(w), w.transforms()
        base = from_torchvision(transform, f"torchvision {w}")
    prepare, prep_id, record = _image_preprocessing(base, transform, preprocess)
    return ModelBundle(
        model,
        spec.model_id,
        ident,
        "image",
        prepare,
        lambda m, inp: m(inp["x"]),
        prep_id,
        preprocess_config=record,
    )


def _imagenet_transform():
    from torchvision import transforms as T

    return T.Compose(
        [
            T.Resize(256),
            T.CenterCrop(224),
            T.ToTensor(),
            T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ]
    )


# -- a user's own module ----------------------------------------------------------------
def _load_torch(spec, tower, seed, preprocess=None) -> ModelBundle:
    import importlib

    name, arg = spec.name, spec.weights
    module_path, _, factory_name = name.partition(":")  # ModelSpec checked both parts
    try:
        factory = getattr(importlib.import_module(module_path), factory_name)
    except (ImportError, AttributeError) as exc:
        raise ParameterError(f"Cannot import {factory_name!r} from {module_path!r}: {exc}") from exc
    _seeded(seed)
    model = factory() if arg is None else factory(int(arg) if arg.lstrip("-").isdigit() else arg)
    ident = state_dict_digest(model)  # the weights themselves: seeds and args included
    if preprocess is not None and not callable(preprocess):  # an override of the defaults
        from brainalign.features._preprocess import IMAGENET_DEFAULT

        prepare, prep_id, record = _image_preprocessing(IMAGENET_DEFAULT, None, preprocess)
    else:
        prep = preprocess or getattr(model, "preprocess", None)
        if prep is None:
            raise ParameterError(
                f"Invalid value for 'preprocess': {spec.model_id} has no 'preprocess' method; "
                "pass preprocess=callable(uint8 images (n, H, W, 3)) -> input tensor, or an "
                "override such as 'imagenet'."
            )
        prepare, prep_id, record = _stacked(prep), _callable_id(prep), None
    return ModelBundle(
        model,
        spec.model_id,
        ident,
        "image",
        prepare,
        lambda m, inp: m(inp["x"]),
        prep_id,
        preprocess_config=record,
    )


def _stacked(prep):
    """Wrap an array preprocessing callable into a batch preparer."""
    return lambda images: {"x": prep(np.stack(images))}


def state_dict_digest(model) -> str:
    """SHA-256 of a module's parameters and buffers (names, shapes, dtypes, values).

    Parameters
    ----------
    model : torch.nn.Module
        The module.

    Returns
    -------
    str
        ``"state:<hex>"``.
    """
    import hashlib

    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        value = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{tuple(value.shape)}|{value.dtype}|".encode())
        h.update(value.view(-1).view(torch.uint8).numpy().tobytes())
    return f"state:{h.hexdigest()}"


def _callable_id(func) -> str:
    """Identity of a preprocessing callable: its qualified name and source code."""
    import hashlib
    import inspect

    name = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', type(func).__name__)}"
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        source = repr(func)
    return f"{name}:{hashlib.sha256(source.encode()).hexdigest()[:16]}"


_LOADERS = {
    "open_clip": _load_open_clip,
    "hf": _load_hf,
    "timm": _load_timm,
    "torchvision": _load_torchvision,
    "torch": _load_torch,
}
