"""Features layer: extract pooled layer embeddings of vision and language models."""

from brainalign.features._cache import load_reduction
from brainalign.features._check import check_model, model_layers
from brainalign.features._convert import (
    INSTALLED_WEIGHTS,
    convert_checkpoint,
    convert_installed,
    load_state_dict_by_order,
)
from brainalign.features._extractor import FeatureExtractor, resolve_device
from brainalign.features._featureset import FeatureSet
from brainalign.features._hooks import capture_layers, check_layers, list_layers
from brainalign.features._models import list_models, load_model
from brainalign.features._pooling import patch_tokens, token_layout
from brainalign.features._preprocess import Preprocess
from brainalign.features._sources import image_source
from brainalign.features._spec import FAMILIES, POOLINGS, ModelSpec, Pooling, model_label

__all__ = [
    "FAMILIES",
    "FeatureExtractor",
    "FeatureSet",
    "INSTALLED_WEIGHTS",
    "ModelSpec",
    "POOLINGS",
    "Pooling",
    "Preprocess",
    "capture_layers",
    "check_layers",
    "check_model",
    "convert_checkpoint",
    "convert_installed",
    "get_extractor",
    "image_source",
    "list_layers",
    "list_models",
    "load_model",
    "load_reduction",
    "load_state_dict_by_order",
    "model_label",
    "model_layers",
    "patch_tokens",
    "resolve_device",
    "token_layout",
]


def get_extractor(
    spec: str | ModelSpec, device=None, tower: str = "auto", seed: int = 0, preprocess=None
):
    """Build a feature extractor from a model spec.

    Parameters
    ----------
    spec : str or ModelSpec
        ``open_clip:ViT-B-32@laion2b_s34b_b79k``, ``open_clip:ViT-B-32@/path/ckpt.pt``,
        ``open_clip:ViT-B-32@random``, ``hf:<hub id or local dir>``,
        ``timm:<name>[@...]``, ``torchvision:<name>[@...]``,
        ``torch:<module>:<factory>[@arg]``; see :class:`ModelSpec`.
    device : str, optional
        Torch device; default cuda, then mps, then cpu.
    tower : {"auto", "image", "text"}
        Tower of a two-tower model.
    seed : int
        Seed of random initialisation.
    preprocess : callable, str or dict, optional
        A callable: the preprocessing of a ``torch:`` model without its own
        ``preprocess``. A string or dict: an override of the fields of the image
        preprocessing that the model's pretrained config gives (``"unit"``,
        ``"mean=0.5,0.5,0.5 std=0.5,0.5,0.5"``, ``"crop_pct=1"``; see
        :class:`Preprocess`). The resolved preprocessing is in
        ``FeatureSet.metadata["preprocess_config"]`` and in the feature cache key.

    Returns
    -------
    FeatureExtractor
        Ready to ``extract``.

    Raises
    ------
    ParameterError
        For an unknown family, architecture or pretrained tag (with close matches).
    DataError
        If pretrained weights are neither cached nor downloadable (one line).

    Notes
    -----
    Pretrained weights never wait on the network. A local checkpoint
    (``@/path/ckpt.pt``, ``hf:/local/dir``) is loaded as is. Pretrained weights (an
    open_clip tag, a hub id, a timm or torchvision tag) are first looked up in the
    local caches (Hugging Face: ``HF_HUB_CACHE``, ``HF_HOME/hub`` or
    ``~/.cache/huggingface/hub``; open_clip: ``~/.cache/clip``; torch:
    ``TORCH_HOME/hub``) and loaded from there without a network call. Weights not in
    the cache are downloaded only if none of ``BRAINALIGN_OFFLINE``, ``HF_HUB_OFFLINE``
    or ``TRANSFORMERS_OFFLINE`` is set and their host answers within 2 s (probed once
    per process); otherwise a one-line DataError names the weights and the local
    checkpoint spec to pass instead. :func:`check_model` applies the same checks, and
    checks layer names, without loading any weights.

    Examples
    --------
    >>> ext = get_extractor("open_clip:ViT-B-32@random")  # doctest: +SKIP
    >>> layers = ["visual.transformer.resblocks.5", "embedding"]
    >>> feats = ext.extract(images, layers=layers)  # doctest: +SKIP
    """
    return FeatureExtractor(load_model(spec, tower=tower, seed=seed, preprocess=preprocess), device)
