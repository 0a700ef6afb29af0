"""Layer discovery and forward hooks that are always removed."""

from __future__ import annotations

import contextlib
import fnmatch

from brainalign._utils import closest_names
from brainalign.exceptions import ParameterError


def list_layers(model, pattern: str = "*") -> list[str]:
    """List the names of a model's modules (the layers that can be extracted).

    Parameters
    ----------
    model : torch.nn.Module
        Any PyTorch module.
    pattern : str
        Shell-style pattern (``fnmatch``), e.g. ``"visual.transformer.resblocks.*"``.

    Returns
    -------
    list of str
        Module names in definition order (the root module is not listed).
    """
    return [n for n, _ in model.named_modules() if n and fnmatch.fnmatch(n, pattern)]


def check_layers(model, layers, known=None, model_name=None, spec=None) -> list[str]:
    """Validate layer names against a model's modules, naming every unknown one.

    Parameters
    ----------
    model : torch.nn.Module or None
        The model (None when ``known`` and ``model_name`` are given).
    layers : str or sequence of str
        Requested module names.
    known : sequence of str, optional
        The valid names (default: every module of ``model``); e.g. one tower's
        modules plus the pseudo-layer ``"embedding"``.
    model_name : str, optional
        Name of the model in the message (default: the class name of ``model``).
    spec : str, optional
        Model spec, to show the command that lists its layers.

    Returns
    -------
    list of str
        The layers, as a list.

    Raises
    ------
    ParameterError
        For unknown names: one message lists all of them, each with close matches.
    """
    layers = [layers] if isinstance(layers, str) else list(layers)
    if not layers:
        raise ParameterError("Invalid value for 'layers': expected at least one layer name.")
    known = list(list_layers(model) if known is None else known)
    unknown = [name for name in dict.fromkeys(layers) if name not in set(known)]
    if unknown:
        model_name = model_name or type(model).__name__
        raise ParameterError(_unknown_layers_message(unknown, known, model_name, spec))
    return layers


def _unknown_layers_message(unknown, known, model_name: str, spec) -> str:
    def hint(name):
        close = closest_names(name, known, n=3)
        return f"did you mean {' or '.join(repr(c) for c in close)}?" if close else "no close match"

    listing = f"brainalign extract --model {spec} --list-layers" if spec else "list_layers(model)"
    if len(unknown) == 1:
        head = f"Unknown layer {unknown[0]!r} of {model_name}; {hint(unknown[0])}"
    else:
        parts = "; ".join(f"{name!r} ({hint(name)})" for name in unknown)
        head = f"Unknown layers of {model_name}: {parts}"
    return f"{head} (list them: {listing})"


@contextlib.contextmanager
def capture_layers(model, layers, transform=None):
    """Record the outputs of named modules during forward passes.

    Each output is transformed (default: detached and cloned) inside the hook, so
    in-place operations that run later in the model (``ReLU(inplace=True)``,
    ``out += identity``) cannot change what was recorded. Hooks are removed and the
    model's training mode restored on exit, also when a forward pass raises.

    Parameters
    ----------
    model : torch.nn.Module
        The model (put in eval mode inside the block).
    layers : sequence of str
        Module names (see :func:`list_layers`).
    transform : callable, optional
        ``transform(name, tensor) -> object`` applied to each output in the hook
        (e.g. pooling); the first tensor is used when a module returns a tuple.

    Yields
    ------
    dict of str -> list
        Filled by each forward pass: per layer, one recorded value per call of the
        module (a module reused inside the model is called more than once).
    """
    modules = dict(model.named_modules())
    outputs = {}
    handles = []
    was_training = model.training
    transform = transform or (lambda name, x: x.detach().clone())
    try:
        for name in layers:
            handles.append(modules[name].register_forward_hook(_recorder(outputs, name, transform)))
        model.eval()
        yield outputs
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)


def _recorder(outputs: dict, name: str, transform):
    def hook(module, args, output):
        outputs.setdefault(name, []).append(transform(name, first_tensor(output)))

    return hook


def first_tensor(output):
    """Return ``output`` or, for tuples/lists/dicts/model outputs, its first tensor."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    values = output.values() if isinstance(output, dict) else output
    for value in values:
        if isinstance(value, torch.Tensor):
            return value
    raise TypeError(f"Module output of type {type(output).__name__} holds no tensor.")
