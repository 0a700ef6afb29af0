"""FeatureExtractor: one forward pass per batch collects every requested layer."""

from __future__ import annotations

import contextlib
import shutil

import numpy as np

from brainalign._utils import check_positive_int, get_logger
from brainalign.exceptions import DataError, ParameterError
from brainalign.features import _cache
from brainalign.features._featureset import FeatureSet
from brainalign.features._hooks import capture_layers, check_layers, list_layers
from brainalign.features._models import EMBEDDING
from brainalign.features._pooling import apply_reduction, fit_reduction, pool, token_layout
from brainalign.features._sources import TextSource, image_source
from brainalign.features._spec import Pooling

logger = get_logger(__name__)


def resolve_device(device: str | None = None) -> str:
    """Pick the device: ``cuda``, then ``mps``, then ``cpu``, unless one is named.

    Parameters
    ----------
    device : str, optional
        ``"auto"``/None, or a torch device string (``"cpu"``, ``"cuda:1"``).

    Returns
    -------
    str
        The device.
    """
    import torch

    if device not in (None, "auto"):
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise ParameterError(
                f"Invalid value for 'device': {device!r} requested but CUDA is not available."
            )
        return str(device)
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class FeatureExtractor:
    """Extract pooled layer features of a model, with an optional disk cache.

    Build it with :func:`get_extractor`.

    Parameters
    ----------
    bundle : ModelBundle
        Loaded model and preprocessing.
    device : str, optional
        Torch device (default: auto).
    """

    def __init__(self, bundle, device=None):
        self.bundle = bundle
        self.device = resolve_device(device)
        self.bundle.model.to(self.device)

    @property
    def spec(self) -> str:
        """Model id and weights, as in a spec."""
        return f"{self.bundle.model_id}@{self.bundle.weights}"

    def list_layers(self, pattern: str = "*", runnable: bool = True) -> list[str]:
        """List the extractable layers of the active tower (plus ``"embedding"``).

        Parameters
        ----------
        pattern : str
            Shell-style filter.
        runnable : bool
            Keep only modules that run exactly once in a forward pass, found by one
            probe pass on a grey image (or a one-word text): modules a model defines
            but skips (a ``drop_path`` without a residual) or reuses (a shared
            activation) cannot be extracted. ``False`` lists every module.

        Returns
        -------
        list of str
            Module names in definition order, then the pseudo-layer ``"embedding"``
            (the final output).
        """
        import fnmatch

        names = [n for n in list_layers(self.bundle.model, pattern) if self.bundle.layer_filter(n)]
        if runnable:
            calls = self._calls_per_forward()
            names = [n for n in names if calls.get(n) == 1]
        return names + ([EMBEDDING] if fnmatch.fnmatch(EMBEDDING, pattern) else [])

    def _calls_per_forward(self) -> dict:
        """Count the runs of each module in one forward pass (one probe pass, cached)."""
        import torch

        if getattr(self, "_calls", None) is None:
            probe = (
                ["a"] if self.bundle.modality == "text" else [np.full((64, 64, 3), 128, np.uint8)]
            )
            inputs = {k: v.to(self.device) for k, v in self.bundle.prepare(probe).items()}
            calls = {}
            hooks = [
                module.register_forward_hook(
                    lambda *_, name=name: calls.__setitem__(name, calls.get(name, 0) + 1)
                )
                for name, module in self.bundle.model.named_modules()
                if name
            ]
            try:
                with torch.inference_mode():
                    self.bundle.forward(self.bundle.model, inputs)
            finally:
                for hook in hooks:
                    hook.remove()
            self._calls = calls
        return self._calls

    def extract(
        self,
        stimuli,
        layers=(EMBEDDING,),
        pooling="auto",
        ids=None,
        batch_size=32,
        cache_dir=None,
        fit_ids=None,
        dtype=None,
        num_workers=0,
        progress=True,
        seed=0,
    ) -> dict[str, FeatureSet]:
        """Compute (or read from the cache) pooled features of every requested layer.

        Parameters
        ----------
        stimuli : ndarray, sequence, folder, store or texts
            Images (see :func:`~brainalign.features.image_source`) or, for a text
            tower, a sequence of strings.
        layers : str or sequence of str
            Layers (module names or ``"embedding"``); see :meth:`list_layers`.
        pooling : str, Pooling or dict
            One pooling for all layers or a dict layer -> pooling (``auto``, ``cls``,
            ``mean``, ``spatial``, ``flatten``, ``pca:<k>``, ``srp:<k>``; see
            :class:`~brainalign.features.Pooling`).
        ids : array-like, optional
            Stimulus ids (required for a store; default ``0..n-1``).
        batch_size : int
            Stimuli per forward pass.
        cache_dir : str or Path, optional
            Cache folder; finished batches are kept there so an interrupted run
            resumes, and finished layers are reused.
        fit_ids : array-like, optional
            Training stimulus ids on which ``pca``/``srp`` reductions are fitted.
        dtype : {None, "bf16", "fp16"}
            Autocast on CUDA.
        num_workers : int
            DataLoader workers that read and preprocess images.
        progress : bool
            Show a progress bar.
        seed : int
            Seed of the sparse random projection.

        Returns
        -------
        dict of str -> FeatureSet
            One FeatureSet per layer.
        """
        _autocast(self.device, dtype)  # validates dtype before any cache lookup
        source = self._source(stimuli, ids)
        if len(source) == 0:
            raise ParameterError("Invalid value for 'stimuli': no stimuli to extract from.")
        layers = check_layers(
            self.bundle.model,
            layers,
            known=self.list_layers(runnable=False),
            spec=self.bundle.model_id,
        )
        poolings = _poolings(pooling, layers)
        if self.bundle.modality == "text":
            _check_text_poolings(poolings.values())
        keys = {
            layer: self._key(layer, poolings[layer], source, fit_ids, seed, dtype)
            for layer in layers
        }
        done = {}
        if cache_dir is not None:
            for layer, key in keys.items():
                entry = _cache.entry_dir(cache_dir, self.bundle.model_id, key)
                if (entry / "meta.json").exists():
                    done[layer] = FeatureSet.load(entry)
        todo = [layer for layer in layers if layer not in done]
        if todo:
            partial = None
            if cache_dir is not None:
                run_key = _cache.digest([keys[layer] for layer in todo] + [batch_size])[:32]
                partial = _cache.entry_dir(cache_dir, "partial", run_key)
            raw, shapes = self._run(
                source, todo, poolings, batch_size, partial, dtype, num_workers, progress
            )
            for layer in todo:
                done[layer] = self._finish(
                    layer,
                    raw[layer],
                    shapes[layer],
                    poolings[layer],
                    source,
                    keys[layer],
                    fit_ids,
                    seed,
                    cache_dir,
                )
            if partial is not None:  # every layer is published: the batches can go
                shutil.rmtree(partial, ignore_errors=True)
                with contextlib.suppress(OSError):
                    partial.parent.rmdir()  # only when no other run left batches there
        return {layer: done[layer] for layer in layers}

    # -- internals --------------------------------------------------------------------
    def _source(self, stimuli, ids):
        if self.bundle.modality == "text":
            if isinstance(stimuli, str) or not all(isinstance(t, str) for t in stimuli):
                raise ParameterError(
                    "Invalid value for 'stimuli': a text tower needs a sequence of strings."
                )
            return TextSource(np.arange(len(stimuli)) if ids is None else ids, stimuli)
        return image_source(stimuli, ids)

    def _key(self, layer, pooling, source, fit_ids, seed, dtype) -> str:
        on_cuda = self.device.startswith("cuda")
        parts = {
            "device_type": self.device.split(":")[0],
            "precision": dtype if (dtype and on_cuda) else "float32",
            "format": _cache.CACHE_FORMAT,
            "model": self.bundle.model_id,
            "weights": self.bundle.weights,
            "tower": self.bundle.modality,
            "layer": layer,
            "pooling": pooling.text,
            "preprocess": self.bundle.preprocess_id,
            "ids": _cache.ids_digest(source.ids),
            "content": source.fingerprint,
        }
        if pooling.fitted:
            if fit_ids is None:
                raise ParameterError(
                    f"Invalid value for 'fit_ids': pooling {pooling.text!r} is fitted on training "
                    "stimuli only; pass their ids."
                )
            parts["fit_ids"] = _cache.ids_digest(np.sort(np.asarray(fit_ids)))
            parts["seed"] = int(seed)
        return _cache.digest(parts)[:32]

    def _batches(self, source, batch_size, num_workers, first: int = 0):
        import torch

        starts = list(range(0, len(source), batch_size))[first:]
        prepare = self.bundle.prepare

        class _Batches(torch.utils.data.Dataset):
            def __len__(self):
                return len(starts)

            def __getitem__(self, b):
                pos = np.arange(starts[b], min(starts[b] + batch_size, len(source)))
                return prepare(source.load(pos))

        return torch.utils.data.DataLoader(_Batches(), batch_size=None, num_workers=num_workers)

    def _run(self, source, layers, poolings, batch_size, partial, dtype, num_workers, progress):
        """Forward every batch once; keep (or resume from) finished batches in ``partial``."""
        from tqdm.auto import tqdm

        check_positive_int("batch_size", batch_size)
        out = {layer: [] for layer in layers}
        shapes = {}
        n_batches = -(-len(source) // batch_size)
        bar = tqdm(
            total=n_batches,
            desc=f"extract {self.bundle.model_id}",
            unit="batch",
            disable=not progress,
            leave=False,
        )
        # Finished batches are read back instead of recomputed (resume after a crash).
        for index in range(n_batches):
            saved = _cache.load_batch(partial, index) if partial is not None else None
            if saved is None:
                break
            for layer in layers:
                out[layer].append(saved[layer])
                shapes[layer] = tuple(int(v) for v in saved[f"{layer}::shape"])
            bar.update()
        start = len(out[layers[0]])
        loader = self._batches(source, batch_size, num_workers, first=start)
        for index, inputs in enumerate(loader, start=start):
            pooled, batch_shapes = self._forward(inputs, layers, poolings, dtype)
            shapes.update(batch_shapes)
            for layer in layers:
                out[layer].append(pooled[layer])
            if partial is not None:
                arrays = dict(pooled)
                arrays.update({f"{k}::shape": np.asarray(v) for k, v in batch_shapes.items()})
                _cache.save_batch(partial, index, arrays)
            bar.update()
        bar.close()
        return {layer: np.concatenate(v) for layer, v in out.items()}, shapes

    def _forward(self, inputs, layers, poolings, dtype):
        """One forward pass; every layer is pooled inside its hook."""
        import torch

        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        n_rows = next(iter(inputs.values())).shape[0]
        modules = [layer for layer in layers if layer != EMBEDDING]
        mask = inputs.get("attention_mask")
        shapes = {}

        def reduce(name, x):
            shapes[name] = tuple(int(s) for s in x.shape[1:])
            return pool(x, poolings[name], mask).float().cpu().numpy()

        model = self.bundle.model
        with torch.inference_mode(), _autocast(self.device, dtype):
            with capture_layers(model, modules, reduce) as outs:
                embedding = self.bundle.forward(model, inputs)
        calls = {layer: len(outs.get(layer, [])) for layer in modules}
        _check_calls(calls, self.bundle.model_id)
        pooled = {layer: outs[layer][0] for layer in modules}
        if EMBEDDING in layers:
            pooled[EMBEDDING] = reduce(EMBEDDING, embedding)
        for layer, value in pooled.items():
            if value.shape[0] != n_rows:
                raise DataError(
                    f"Layer {layer!r} gave {value.shape[0]} rows for a batch of {n_rows} "
                    f"(output shape {shapes[layer]} after the batch axis): its output is "
                    "not batch-first. Pick another layer or update the model library."
                )
        return pooled, shapes

    def _finish(self, layer, raw, shape, pooling, source, key, fit_ids, seed, cache_dir):
        reduction = None
        if pooling.fitted:
            fit_rows = np.flatnonzero(np.isin(source.ids, np.asarray(fit_ids)))
            if fit_rows.size == 0:
                raise ParameterError(
                    "Invalid value for 'fit_ids': none of them is among the stimuli."
                )
            reduction = fit_reduction(pooling.method, pooling.k, raw[fit_rows], seed=seed)
            raw = apply_reduction(reduction, raw)
        metadata = {
            "model": self.bundle.model_id,
            "weights": self.bundle.weights,
            "tower": self.bundle.modality,
            "layer": layer,
            "pooling": pooling.text,
            "original_shape": list(shape),
            "preprocess": self.bundle.preprocess_id,
            "preprocess_config": self.bundle.preprocess_config,
            "n_fit": None if reduction is None else int(np.isin(source.ids, fit_ids).sum()),
            "key": key,
        }
        if pooling.method == "tokens":
            metadata["tokens"] = token_layout(shape)
        features = FeatureSet(raw.astype(np.float32, copy=False), source.ids, metadata)
        if cache_dir is None:
            return features
        final = _cache.entry_dir(cache_dir, self.bundle.model_id, key)
        tmp = _cache.temp_dir(final)
        features.save(tmp)
        if reduction is not None:
            np.savez(tmp / "reduction.npz", **reduction)
        _cache.publish(tmp, final)
        return FeatureSet.load(final)


def _check_calls(calls: dict, model_id: str) -> None:
    """Every hooked layer must have run exactly once in the forward pass."""
    silent = [layer for layer, n in calls.items() if n == 0]
    if silent:
        raise ParameterError(
            f"Layer(s) {silent} did not run in the forward pass of {model_id}; pick layers "
            "of the active tower (see list_layers())."
        )
    reused = {layer: n for layer, n in calls.items() if n > 1}
    if reused:
        raise ParameterError(
            f"Layer(s) {reused} ran more than once per forward pass of {model_id} (a module "
            "reused inside the model, e.g. a shared ReLU); extract its parent block instead."
        )


def _poolings(pooling, layers) -> dict:
    """Parse the pooling of every layer: ``{layer: Pooling}``."""
    if not isinstance(pooling, dict):
        return dict.fromkeys(layers, Pooling.parse(pooling))
    missing = [layer for layer in layers if layer not in pooling]
    if missing:
        raise ParameterError(f"Invalid value for 'pooling': no pooling for layer(s) {missing}.")
    return {layer: Pooling.parse(pooling[layer]) for layer in layers}


def _check_text_poolings(poolings) -> None:
    """Refuse poolings whose width follows the token count (padding-dependent for text)."""
    fixed = [p.text for p in poolings if p.token_width]
    if fixed:
        raise ParameterError(
            f"Invalid value for 'pooling': {fixed[0]!r} flattens text tokens, whose "
            "number depends on padding; use 'mean', 'cls' or 'auto' for text."
        )


def _autocast(device: str, dtype):
    import contextlib

    import torch

    if dtype is None:
        return contextlib.nullcontext()
    if dtype not in ("bf16", "fp16"):
        raise ParameterError(
            f"Invalid value for 'dtype': expected None, 'bf16' or 'fp16'; got {dtype!r}."
        )
    if not device.startswith("cuda"):
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if dtype == "bf16" else torch.float16)
