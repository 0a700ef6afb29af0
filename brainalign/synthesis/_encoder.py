"""A fitted encoder as a function of images: predicted ROI activations, with gradients."""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_option, check_positive_int
from brainalign.exceptions import DataError, ParameterError

#: Images scored per forward pass when no batch size is given.
SCORE_BATCH = 32


class RoiEncoder:
    """Predicted mean activation of ROIs, from images, through a feature extractor.

    An encoding model fitted on standardised features predicts voxel ``v`` as
    ``x @ d_v + b_v`` (see :func:`brainalign.captions.voxel_directions`); the mean
    over an ROI's voxels is ``x @ mean(d_v) + mean(b_v)``, exactly. This object
    holds one such direction per ROI and runs the feature extractor (hooks, pooling
    and fitted reductions as at extraction), so that the same prediction is
    available for uint8 images (:meth:`score_images`, what a bank image gets) and,
    differentiably, for float images in [0, 1] (:meth:`pixel_objective`, what
    gradient ascent and guided diffusion follow).

    Parameters
    ----------
    extractor : FeatureExtractor
        The run's feature extractor (same model, weights and preprocessing).
    layers : sequence of str
        Layers whose pooled features, side by side, the model was fitted on.
    poolings : dict of str -> str
        Pooling of each layer.
    directions : array-like of shape (n_units, n_features)
        One direction per unit in the (stacked) feature space.
    offsets : array-like of shape (n_units,)
        Intercept of each unit.
    units : sequence of str
        Unit names (ROIs).
    reductions : dict of str -> dict, optional
        Fitted ``pca``/``srp`` reductions per layer (``mean``, ``components``).
    overlap : array-like of bool, shape (n_units, n_units), optional
        Whether two units share a target; the *other* ROIs a selectivity is
        measured against are those sharing none with the unit (default: every
        other unit).
    """

    def __init__(self, extractor, layers, poolings, directions, offsets, units,
                 reductions=None, overlap=None):  # fmt: skip
        self.extractor = extractor
        self.layers = list(layers)
        self.poolings = {layer: poolings[layer] for layer in self.layers}
        self.directions = np.asarray(directions, dtype=np.float64)
        self.offsets = np.asarray(offsets, dtype=np.float64).ravel()
        self.units = [str(u) for u in units]
        self.reductions = dict(reductions or {})
        n = len(self.units)
        if self.directions.ndim != 2 or self.directions.shape[0] != n or self.offsets.size != n:
            raise DataError(
                f"An encoder needs one direction and offset per unit; got {n} units, "
                f"directions {self.directions.shape} and {self.offsets.size} offsets."
            )
        if len(set(self.units)) != n:
            raise DataError(f"Unit names must be unique; got {self.units}.")
        self.overlap = np.eye(n, dtype=bool) if overlap is None else np.asarray(overlap, bool)
        if self.overlap.shape != (n, n):
            raise DataError(f"overlap must be ({n}, {n}); got {self.overlap.shape}.")
        self.bank_mean_ = self.bank_sd_ = self.bank_max_ = None

    @classmethod
    def from_weights(cls, extractor, layers, poolings, weights, masks, reductions=None):
        """Build the encoder of an encoding model's weights and ROI masks.

        Parameters
        ----------
        extractor : FeatureExtractor
            The model's extractor.
        layers : sequence of str
            Fitted layers (features side by side).
        poolings : dict of str -> str
            Pooling of each layer.
        weights : dict
            ``coef`` (n_features, n_targets), ``intercept``, ``mean``, ``scale``.
        masks : dict of str -> array-like of bool
            ROI name -> targets in the ROI (columns of ``coef``).
        reductions : dict, optional
            Fitted reductions per layer.

        Returns
        -------
        RoiEncoder
            One unit per ROI with at least one target.
        """
        from brainalign.captions import voxel_directions

        dirs = voxel_directions(weights["coef"], weights["scale"])
        offsets = np.asarray(weights["intercept"], np.float64) - dirs @ np.asarray(
            weights["mean"], np.float64
        )
        masks = {name: np.asarray(m, bool) for name, m in masks.items() if np.any(m)}
        if not masks:
            raise DataError("No ROI has a target: nothing to synthesise images for.")
        for name, m in masks.items():
            if m.shape != (dirs.shape[0],):
                raise DataError(
                    f"The mask of ROI {name!r} has {m.size} entries for {dirs.shape[0]} targets."
                )
        stack = np.array(list(masks.values()))
        overlap = (stack.astype(np.int64) @ stack.T.astype(np.int64)) > 0
        return cls(
            extractor,
            layers,
            poolings,
            np.array([dirs[m].mean(0) for m in masks.values()]),
            np.array([offsets[m].mean() for m in masks.values()]),
            list(masks),
            reductions,
            overlap,
        )

    def __repr__(self) -> str:
        return (
            f"RoiEncoder(model={self.extractor.spec!r}, layers={self.layers}, "
            f"units={len(self.units)}, features={self.directions.shape[1]})"
        )

    # -- units ------------------------------------------------------------------------
    def unit_index(self, unit: str) -> int:
        """Position of a unit, with the known names in the error."""
        check_option("roi", unit, self.units)
        return self.units.index(unit)

    def others(self, unit: str) -> np.ndarray:
        """Units sharing no target with ``unit`` (the ones selectivity is measured against)."""
        return np.flatnonzero(~self.overlap[self.unit_index(unit)])

    # -- predictions --------------------------------------------------------------------
    def predict_features(self, features) -> np.ndarray:
        """Predicted activations ``(n, n_units)`` of (stacked) features ``(n, n_features)``."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.directions.shape[1]:
            raise DataError(
                f"Expected features of shape (n, {self.directions.shape[1]}); got {x.shape}."
            )
        return x @ self.directions.T + self.offsets

    def calibrate(self, bank, chunk_size=65536) -> RoiEncoder:
        """Record each unit's mean, SD and maximum predicted activation over a bank.

        These put every unit on one scale (``z``: SDs above the bank's mean) for
        selectivity, and give the best natural image each result is compared with.

        Parameters
        ----------
        bank : EmbeddingBank
            Natural images in the encoder's feature space.
        chunk_size : int
            Rows scored at once.

        Returns
        -------
        RoiEncoder
            self.
        """
        if bank.embeddings.shape[1] != self.directions.shape[1]:
            raise DataError(
                f"The bank has {bank.embeddings.shape[1]} dimensions; the encoder's features "
                f"{self.directions.shape[1]}."
            )
        if len(bank) < 2:
            raise DataError(f"A calibration bank needs at least 2 images; got {len(bank)}.")
        n = len(self.units)
        total, squares, best = np.zeros(n), np.zeros(n), np.full(n, -np.inf)
        for _, block in bank.chunks(chunk_size):
            act = self.predict_features(block)
            total += act.sum(0)
            squares += (act**2).sum(0)
            best = np.maximum(best, act.max(0))
        mean = total / len(bank)
        var = np.maximum(squares / len(bank) - mean**2, 0.0) * len(bank) / (len(bank) - 1)
        sd = np.sqrt(var)
        if not np.all(sd > 0):
            flat = [u for u, s in zip(self.units, sd, strict=True) if not s > 0]
            raise DataError(f"The bank gives the same prediction for every image of {flat}.")
        self.bank_mean_, self.bank_sd_, self.bank_max_ = mean, sd, best
        return self

    def zscores(self, activations) -> np.ndarray:
        """Activations in SDs above the calibration bank's mean (per unit)."""
        if self.bank_mean_ is None:
            raise DataError("The encoder is not calibrated: call calibrate(bank) first.")
        return (np.asarray(activations, np.float64) - self.bank_mean_) / self.bank_sd_

    def selectivity(self, activations, unit: str) -> np.ndarray:
        """``z`` of ``unit`` minus the mean ``z`` of the ROIs sharing no target with it.

        Parameters
        ----------
        activations : array-like of shape (n, n_units)
            Predicted activations.
        unit : str
            Target ROI.

        Returns
        -------
        numpy.ndarray of shape (n,)
            Selectivity per image (NaN when every other ROI overlaps the target).
        """
        z = self.zscores(activations)
        others = self.others(unit)
        if others.size == 0:
            return np.full(z.shape[0], np.nan)
        return z[:, self.unit_index(unit)] - z[:, others].mean(1)

    # -- through the model ----------------------------------------------------------------
    def _torch_weights(self, device):
        import torch

        w = torch.as_tensor(self.directions.T, dtype=torch.float32, device=device)
        b = torch.as_tensor(self.offsets, dtype=torch.float32, device=device)
        red = {
            layer: (
                torch.as_tensor(r["mean"], dtype=torch.float32, device=device),
                torch.as_tensor(r["components"], dtype=torch.float32, device=device),
            )
            for layer, r in self.reductions.items()
            if r is not None
        }
        return w, b, red

    def activations(self, inputs):
        """Predicted activations ``(n, n_units)`` of model inputs, as a torch tensor.

        Runs the extractor's forward pass with hooks on the fitted layers, pools
        each layer (and applies its reduction) exactly as extraction does, without
        detaching: gradients flow back to the inputs.

        Parameters
        ----------
        inputs : dict of str -> torch.Tensor
            Model inputs (the output of the bundle's ``prepare``, or of
            :meth:`pixel_objective`'s preprocessing).

        Returns
        -------
        torch.Tensor of shape (n, n_units)
            Predicted activations.
        """
        import torch

        from brainalign.features import capture_layers
        from brainalign.features._models import EMBEDDING
        from brainalign.features._pooling import pool

        device = self.extractor.device
        if getattr(self, "_weights_on", None) != device:
            self._tw, self._weights_on = self._torch_weights(device), device
        w, b, red = self._tw
        bundle = self.extractor.bundle
        inputs = {k: v.to(device) for k, v in inputs.items()}
        modules = [layer for layer in self.layers if layer != EMBEDDING]
        with capture_layers(bundle.model, modules, lambda name, x: x.clone()) as outs:
            embedding = bundle.forward(bundle.model, inputs)
        parts = []
        for layer in self.layers:
            if layer == EMBEDDING:
                x = embedding
            else:
                if len(outs.get(layer, [])) != 1:
                    raise DataError(
                        f"Layer {layer!r} ran {len(outs.get(layer, []))} times in one forward "
                        "pass; an encoder needs a layer that runs once."
                    )
                x = outs[layer][0]
            x = pool(x, self.poolings[layer]).to(torch.float32)
            if layer in red:
                x = (x - red[layer][0]) @ red[layer][1].T
            parts.append(x)
        return torch.cat(parts, dim=1) @ w + b

    def score_images(self, images, batch_size=SCORE_BATCH, progress=False) -> np.ndarray:
        """Predicted activations of uint8 images, preprocessed as at extraction.

        Parameters
        ----------
        images : sequence of ndarray (H, W, 3) uint8, or ndarray (n, H, W, 3)
            Images.
        batch_size : int
            Images per forward pass.
        progress : bool
            Show a progress bar.

        Returns
        -------
        numpy.ndarray of shape (n, n_units)
            Predicted activations (float64).
        """
        import torch
        from tqdm.auto import tqdm

        batch_size = check_positive_int("batch_size", batch_size)
        images = [np.asarray(im) for im in images]
        for im in images:
            if im.dtype != np.uint8 or im.ndim != 3 or im.shape[-1] != 3:
                raise ParameterError(
                    "Invalid value for 'images': expected uint8 arrays of shape (H, W, 3); "
                    f"got {im.dtype} {im.shape}."
                )
        out = []
        starts = range(0, len(images), batch_size)
        with torch.no_grad():
            for lo in tqdm(starts, desc="scoring", disable=not progress, leave=False):
                inputs = self.extractor.bundle.prepare(images[lo : lo + batch_size])
                out.append(self.activations(inputs).double().cpu().numpy())
        return np.concatenate(out) if out else np.empty((0, len(self.units)))

    def pixel_objective(self):
        """Return a differentiable map from float images ``(n, 3, H, W)`` in [0, 1] to activations.

        The model's preprocessing is applied in torch: the record of a timm,
        torchvision or open_clip model (resize so the crop keeps ``crop_pct``,
        centre crop, normalise), or the model's own ``preprocess_tensor`` method.

        Returns
        -------
        callable
            ``f(images) -> torch.Tensor (n, n_units)``.

        Raises
        ------
        ParameterError
            For a model whose preprocessing is a NumPy callable without a
            ``preprocess_tensor`` method (e.g. ``hf`` processors).
        """
        prep = pixel_preprocessing(self.extractor.bundle)

        def objective(images):
            return self.activations(prep(images))

        return objective


def pixel_preprocessing(bundle):
    """Differentiable preprocessing of a bundle: float images in [0, 1] -> model inputs.

    Parameters
    ----------
    bundle : ModelBundle
        A loaded model.

    Returns
    -------
    callable
        ``f(images (n, 3, H, W)) -> dict`` with the key the bundle's ``prepare`` gives.
    """
    probe = bundle.prepare([np.zeros((32, 32, 3), dtype=np.uint8)])
    if len(probe) != 1:
        raise ParameterError(
            f"Invalid value for 'model': {bundle.model_id} takes inputs {sorted(probe)}; image "
            "synthesis needs a model with one image input."
        )
    key = next(iter(probe))
    own = getattr(bundle.model, "preprocess_tensor", None)
    if callable(own):
        return lambda images: {key: own(images)}
    if bundle.preprocess_config is None:
        raise ParameterError(
            f"Invalid value for 'model': the preprocessing of {bundle.model_id} "
            f"({bundle.preprocess_id[:60]}) is not differentiable; gradient-based synthesis "
            "needs a timm, torchvision or open_clip model, or a torch model with a "
            "'preprocess_tensor(images)' method taking float (n, 3, H, W) in [0, 1]. "
            "Bank search works with any model."
        )
    from brainalign.features import Preprocess

    record = dict(bundle.preprocess_config)
    transform = tensor_preprocess(Preprocess(**record))
    return lambda images: {key: transform(images)}


def tensor_preprocess(preprocess):
    """Torch version of a :class:`~brainalign.features.Preprocess` for square images.

    The image is resized (antialiased) to ``floor(size / crop_pct)`` pixels a side,
    centre-cropped to ``size`` and normalised, as timm's eval transform does to a
    square PIL image (up to PIL's rounding to uint8).

    Parameters
    ----------
    preprocess : Preprocess
        The record.

    Returns
    -------
    callable
        ``f(images (n, 3, H, W) in [0, 1]) -> (n, 3, size, size)``.
    """
    import math

    import torch
    import torch.nn.functional as F

    size = preprocess.size
    scale = math.floor(size / preprocess.crop_pct)
    mode = preprocess.interpolation
    mean = torch.tensor(preprocess.mean).view(1, 3, 1, 1)
    std = torch.tensor(preprocess.std).view(1, 3, 1, 1)

    def transform(images):
        if images.shape[-1] != scale or images.shape[-2] != scale:
            kwargs = {} if mode == "nearest" else {"align_corners": False, "antialias": True}
            images = F.interpolate(images, size=(scale, scale), mode=mode, **kwargs)
        top = (scale - size) // 2
        images = images[..., top : top + size, top : top + size]
        return (images - mean.to(images)) / std.to(images)

    return transform
