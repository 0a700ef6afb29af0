"""Pretrained weights: the local cache first, the hub once at most, one-line errors.

The rule (offline-safe, never a retry loop):

1. A local checkpoint (``@/path/ckpt.pt``, ``hf:/local/dir``) is loaded as is.
2. Pretrained weights (an open_clip tag, a Hugging Face hub id, a timm or torchvision
   tag) are looked up in the local caches, without any network call: the Hugging Face
   cache (``HF_HUB_CACHE``, ``HF_HOME/hub`` or ``~/.cache/huggingface/hub``),
   open_clip's ``~/.cache/clip`` and torch's hub cache (``TORCH_HOME/hub``). Cached
   weights load from there, still without network.
3. Weights missing from the cache are downloaded only when downloads are allowed:
   none of ``BRAINALIGN_OFFLINE``, ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` is
   set, and the weights' host answers a TCP connection within
   :data:`PROBE_TIMEOUT` seconds (probed once per host and process). Otherwise a
   :class:`~brainalign.exceptions.DataError` says, in one line, which weights are
   missing and how to pass a local checkpoint.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from brainalign.exceptions import DataError, MissingFileError

#: Environment variables that forbid downloads when set to 1/true/yes/on.
OFFLINE_VARS = ("BRAINALIGN_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
#: Seconds the connectivity probe waits for a host (DNS included).
PROBE_TIMEOUT = 2.0

_reachable_hosts: dict[str, bool] = {}


def offline_reason() -> str | None:
    """Return ``"downloads are off (<VAR>=<value>)"`` when an offline variable is on."""
    for var in OFFLINE_VARS:
        value = os.environ.get(var, "")
        if value.strip().lower() in ("1", "true", "yes", "on"):
            return f"downloads are off ({var}={value})"
    return None


def _probe(host: str, port: int = 443) -> bool:
    """Whether ``host`` accepts a TCP connection within :data:`PROBE_TIMEOUT` seconds."""
    result = []

    def connect():
        try:
            socket.create_connection((host, port), timeout=PROBE_TIMEOUT).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=connect, daemon=True)  # bounds a slow DNS lookup too
    thread.start()
    thread.join(PROBE_TIMEOUT + 0.5)
    return bool(result and result[0])


def download_blocker(host: str) -> str | None:
    """Why weights from ``host`` cannot be downloaded now (None: they can).

    Parameters
    ----------
    host : str
        Host name of the download (``"huggingface.co"``).

    Returns
    -------
    str or None
        ``"downloads are off (HF_HUB_OFFLINE=1)"``, ``"the hub cannot be reached
        (<host>)"`` or None.
    """
    reason = offline_reason()
    if reason is not None:
        return reason
    if host not in _reachable_hosts:
        _reachable_hosts[host] = _probe(host)
    return None if _reachable_hosts[host] else f"the hub cannot be reached ({host})"


def weights_error(what: str, reason: str, local_hint: str) -> DataError:
    """Return the one-line error of weights that are neither cached nor downloadable."""
    return DataError(
        f"{what} are not in the local cache and {reason}; pass a local checkpoint: {local_hint}"
    )


def hub_cache_dir() -> Path:
    """Return the Hugging Face hub cache, read from the environment at each call."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(xdg).expanduser() / "huggingface" / "hub"


def hub_host() -> str:
    """Return the host of the Hugging Face hub (``HF_ENDPOINT`` or ``huggingface.co``)."""
    return urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or ""


def cached_hub_file(repo_id: str, filenames, revision: str | None = None) -> str | None:
    """Path of the first of ``filenames`` in the local hub cache, without network.

    Parameters
    ----------
    repo_id : str
        Hub repository (``"laion/CLIP-ViT-B-32-laion2B-s34B-b79K"``).
    filenames : sequence of str
        Candidate files, best first.
    revision : str, optional
        Branch, tag or commit (default ``main``).

    Returns
    -------
    str or None
        The cached file, or None.
    """
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        try:
            path = try_to_load_from_cache(
                repo_id, filename, cache_dir=hub_cache_dir(), revision=revision
            )
        except ValueError:  # not a valid repo id
            return None
        if isinstance(path, str) and os.path.isfile(path):
            return path
    return None


def cached_url_file(url: str, folder) -> str | None:
    """Path of a URL's file in a download folder (torch hub style), or None."""
    path = Path(folder).expanduser() / os.path.basename(urlparse(url).path)
    return str(path) if path.is_file() else None


def torch_hub_checkpoints() -> Path:
    """Return torch's checkpoint cache (``TORCH_HOME/hub/checkpoints``)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


# -- open_clip ------------------------------------------------------------------------
def _safe_alternatives(filename: str) -> list[str]:
    if filename == "open_clip_pytorch_model.bin":
        return ["open_clip_model.safetensors"]
    if filename.endswith((".bin", ".pth")):
        return [filename[:-4] + ".safetensors"]
    return []


def open_clip_pretrained(name: str, tag: str) -> dict:
    """Keyword arguments of ``open_clip.create_model_and_transforms`` for a pretrained tag.

    Cached weights give ``pretrained=<cached file>`` plus the tag's preprocessing
    (mean, std, interpolation, resize mode), so nothing touches the network. Weights
    that are not cached give ``pretrained=<tag>`` when downloads are allowed (see the
    module docstring for the rule).

    Parameters
    ----------
    name : str
        open_clip architecture (``"ViT-B-32"``).
    tag : str
        One of ``open_clip.list_pretrained_tags_by_model(name)``.

    Returns
    -------
    dict
        ``pretrained`` and, for a cached file, ``image_mean``, ``image_std``,
        ``image_interpolation`` and ``image_resize_mode``.

    Raises
    ------
    DataError
        If the weights are not cached and cannot be downloaded.
    """
    import open_clip

    cfg = open_clip.get_pretrained_cfg(name, tag)
    if cfg.get("file"):
        return {"pretrained": cfg["file"]}
    path, host = None, ""
    if cfg.get("hf_hub"):
        repo, filename = os.path.split(cfg["hf_hub"])  # "org/repo/" or "org/repo/file"
        filename = filename or "open_clip_pytorch_model.bin"
        path = cached_hub_file(repo, [*_safe_alternatives(filename), filename])
        host = hub_host()
    if path is None and cfg.get("url"):
        path = cached_url_file(cfg["url"], "~/.cache/clip")
        host = host or urlparse(cfg["url"]).hostname or ""
    if path is None:
        reason = download_blocker(host)
        if reason is not None:
            raise weights_error(
                f"open_clip weights {tag!r} of {name}", reason, f"open_clip:{name}@/path/ckpt.pt"
            )
        return {"pretrained": tag}
    return {
        "pretrained": path,
        "image_mean": cfg.get("mean"),
        "image_std": cfg.get("std"),
        "image_interpolation": cfg.get("interpolation"),
        "image_resize_mode": cfg.get("resize_mode"),
    }


# -- Hugging Face ---------------------------------------------------------------------
_HF_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def hf_pretrained(repo_id: str, revision: str | None = None) -> dict:
    """Keyword arguments of ``from_pretrained`` for a hub id: the cache, or a download.

    Parameters
    ----------
    repo_id : str
        Hub id (``"sentence-transformers/all-MiniLM-L6-v2"``).
    revision : str, optional
        Branch, tag or commit.

    Returns
    -------
    dict
        ``local_files_only=True`` and ``cache_dir`` when config and weights are
        cached; ``{}`` (plus ``revision``) when downloads are allowed.

    Raises
    ------
    DataError
        If the model is not cached and cannot be downloaded.
    """
    kwargs = {"revision": revision} if revision else {}
    config = cached_hub_file(repo_id, ["config.json"], revision)
    weights = cached_hub_file(repo_id, _HF_WEIGHT_FILES, revision)
    if config is not None and weights is not None:
        return {**kwargs, "local_files_only": True, "cache_dir": str(hub_cache_dir())}
    reason = download_blocker(hub_host())
    if reason is not None:
        at = f"@{revision}" if revision else ""
        raise weights_error(
            f"Hugging Face weights {repo_id + at!r}", reason, "hf:/path/to/local/model_dir"
        )
    return kwargs


# -- timm -----------------------------------------------------------------------------
def timm_pretrained(name: str, tag: str) -> dict:
    """Keyword arguments of ``timm.create_model`` for pretrained weights.

    Parameters
    ----------
    name : str
        timm architecture (``"resnet18"``).
    tag : str
        ``"pretrained"`` (the default tag) or a pretrained tag (``"a1_in1k"``).

    Returns
    -------
    dict
        ``pretrained=True`` and, for cached weights, ``pretrained_cfg_overlay`` with the
        cached ``file``.

    Raises
    ------
    DataError
        If the weights are not cached and cannot be downloaded.
    """
    import timm

    full = name if tag == "pretrained" else f"{name}.{tag}"
    cfg = timm.models.get_pretrained_cfg(full)
    path, host = None, ""
    if cfg is not None and cfg.hf_hub_id:
        repo, _, revision = cfg.hf_hub_id.partition("@")
        files = [cfg.hf_hub_filename] if cfg.hf_hub_filename else []
        files += ["model.safetensors", "pytorch_model.bin"]
        path = cached_hub_file(repo, files, revision or None)
        host = hub_host()
    if path is None and cfg is not None and cfg.url:
        path = cached_url_file(cfg.url, torch_hub_checkpoints())
        host = host or urlparse(cfg.url).hostname or ""
    if path is not None:
        return {"pretrained": True, "pretrained_cfg_overlay": {"file": path}}
    reason = download_blocker(host or hub_host())
    if reason is not None:
        raise weights_error(
            f"timm weights {tag!r} of {name}", reason, f"timm:{name}@/path/weights.pth"
        )
    return {"pretrained": True}


# -- torchvision ----------------------------------------------------------------------
def check_torchvision_weights(name: str, weights) -> None:
    """Raise unless torchvision ``weights`` are cached or can be downloaded.

    Parameters
    ----------
    name : str
        torchvision architecture.
    weights : torchvision.models.WeightsEnum
        The weights entry.

    Raises
    ------
    DataError
        If the file is not in torch's hub cache and cannot be downloaded.
    """
    if cached_url_file(weights.url, torch_hub_checkpoints()) is not None:
        return
    reason = download_blocker(urlparse(weights.url).hostname or "")
    if reason is not None:
        raise weights_error(
            f"torchvision weights {str(weights)!r} of {name}",
            reason,
            f"torchvision:{name}@/path/state_dict.pth",
        )


def weights_file(value: str | None) -> Path | None:
    """Return the path if ``value`` names a file (it must exist when it looks like one).

    Raises
    ------
    MissingFileError
        If ``value`` contains a ``/`` or ends like a checkpoint but is no file.
    """
    if value is None:
        return None
    path = Path(value).expanduser()
    if path.exists():
        return path
    if "/" in value or path.suffix in (".pt", ".pth", ".bin", ".safetensors", ".ckpt"):
        raise MissingFileError(f"Missing weights file: expected {path}")
    return None
