"""Gradient ascent in image space through the feature extractor and the fitted encoder.

Feature-visualisation practice (Olah et al. 2017, "Feature Visualization"): the
image is parameterised by its Fourier coefficients scaled by ``1 / f**decay``
(so that the optimiser's steps are closer to natural image statistics than raw
pixels), its colours through a fixed decorrelating basis (the square root of
the colour covariance of natural images, estimated from the bank), squashed to
[0, 1] by a sigmoid; each step scores randomly scaled, rotated and shifted
copies so that the result does not depend on pixel-exact alignment.
"""

from __future__ import annotations

import math

import numpy as np

from brainalign._utils import check_positive_int
from brainalign.exceptions import ParameterError
from brainalign.synthesis._result import Synthesis, generated, objective_loss, to_uint8


def colour_basis(images, max_pixels=200_000, seed=0) -> np.ndarray:
    """Square root of the RGB covariance of natural images, scaled to unit max column norm.

    Parameters
    ----------
    images : sequence of ndarray (H, W, 3) uint8
        Natural images (e.g. the run's training images).
    max_pixels : int
        Pixels sampled.
    seed : int
        Seed of the pixel sample.

    Returns
    -------
    numpy.ndarray of shape (3, 3)
        ``rgb = basis @ decorrelated``.
    """
    pixels = np.concatenate([np.asarray(im, np.float64).reshape(-1, 3) / 255.0 for im in images])
    if len(pixels) > max_pixels:
        pixels = pixels[np.random.default_rng(seed).choice(len(pixels), max_pixels, False)]
    if len(pixels) < 3:
        raise ParameterError("Invalid value for 'images': need pixels to estimate colours.")
    vals, vecs = np.linalg.eigh(np.cov(pixels.T))
    root = vecs @ np.diag(np.sqrt(np.maximum(vals, 1e-12))) @ vecs.T
    return root / np.linalg.norm(root, axis=0).max()


class GradientAscent:
    """Images that maximise an ROI's predicted activation, by gradient ascent.

    Parameters
    ----------
    steps : int
        Optimisation steps.
    size : int, optional
        Side of the square images, pixels (default: the model's input size, else 224).
    lr : float
        Adam learning rate on the Fourier coefficients.
    decay : float
        Spectrum scaling ``1 / f**decay``.
    jitter : float
        Largest shift of the scored copies, as a fraction of the image side (shifts
        that are large relative to the model's receptive fields wash out
        position-specific preferences: early visual ROIs).
    scale : tuple of float
        Range of their zoom.
    rotate : float
        Largest rotation, degrees.
    selectivity : float
        Weight ``w`` of the other ROIs: the objective is ``z_target - w *
        mean(z_others)`` (``z``: activations in the calibration bank's SDs); 0
        maximises the target's activation only.
    colours : array-like of shape (3, 3), optional
        Colour basis (see :func:`colour_basis`; default: identity).
    batch_size : int
        Images optimised together (each depends on its own seed only).
    n_candidates : int, optional
        Images made per ROI before keeping the ``n`` the encoder ranks best
        (default: ``n``, no re-ranking).

    Notes
    -----
    The images are optimised on the encoder's extractor's device.
    """

    method = "ascent"

    def __init__(self, steps=128, size=None, lr=0.05, decay=1.0, jitter=0.02,
                 scale=(0.95, 1.05), rotate=3.0, selectivity=0.0, colours=None,
                 batch_size=8, n_candidates=None):  # fmt: skip
        self.steps = check_positive_int("steps", steps)
        self.size = None if size is None else _check_size(size)
        self.lr = _positive("lr", lr)
        self.decay = float(decay)
        self.jitter = float(jitter)
        if not 0 <= self.jitter < 0.5:
            raise ParameterError(
                f"Invalid value for 'jitter': expected a fraction of the side in [0, 0.5); "
                f"got {jitter!r}."
            )
        self.scale = (float(scale[0]), float(scale[1]))
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ParameterError(
                f"Invalid value for 'scale': expected 0 < low <= high; got {scale!r}."
            )
        self.rotate = float(rotate)
        self.selectivity = float(selectivity)
        self.colours = np.eye(3) if colours is None else np.asarray(colours, np.float64)
        if self.colours.shape != (3, 3):
            raise ParameterError(
                f"Invalid shape for 'colours': expected (3, 3); got {self.colours.shape}."
            )
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.n_candidates = n_candidates

    def generate(self, encoder, roi, n, seed=0, progress=False) -> Synthesis:
        """Optimise ``n_candidates`` images for ``roi``; keep the ``n`` best.

        Parameters
        ----------
        encoder : RoiEncoder
            The fitted (calibrated, when ``selectivity`` is used) encoder.
        roi : str
            Target ROI.
        n : int
            Images returned.
        seed : int
            Base seed; image ``i`` uses seed ``seed * 100003 + i``.
        progress : bool
            Progress bar over steps.

        Returns
        -------
        Synthesis
            Best first, scored on the uint8 images; baseline: the starting images.
        """
        loss_fn = objective_loss(encoder, roi, self.selectivity)
        col = encoder.unit_index(roi)
        size = self.size or _model_size(encoder)
        objective = encoder.pixel_objective()
        device = encoder.extractor.device

        def make(seeds):  # (optimised, starting) images
            return self._optimise(objective, loss_fn, col, seeds, size, device, progress)

        return generated(self, encoder, roi, n, seed, make, {"steps": self.steps, "size": size})

    def _optimise(self, objective, loss_fn, col, seeds, size, device, progress):
        """Optimise one batch of images; return (final, starting) uint8 images."""
        import torch
        from tqdm.auto import tqdm

        param = FourierImage(seeds, size, self.decay, self.colours, device=device)
        gens = [torch.Generator().manual_seed(s + 1) for s in seeds]
        opt = torch.optim.Adam(param.parameters(), lr=self.lr)
        with torch.no_grad():
            first = to_uint8(param())
        bar = tqdm(range(self.steps), desc=f"ascent {len(seeds)} images", disable=not progress,
                   leave=False)  # fmt: skip
        for _ in bar:
            opt.zero_grad()
            with torch.enable_grad():
                copies = random_views(param(), gens, self.jitter, self.scale, self.rotate)
                act = objective(copies)
                loss = loss_fn(act)
                loss.backward()
            opt.step()
            if progress:
                bar.set_postfix(activation=f"{float(act[:, col].detach().mean()):.3f}")
        with torch.no_grad():
            return to_uint8(param()), first


class FourierImage:
    """A batch of images parameterised by scaled Fourier coefficients and a colour basis.

    Parameters
    ----------
    seeds : sequence of int
        One seed per image (its starting coefficients).
    size : int
        Side, pixels.
    decay : float
        Spectrum scaling exponent.
    colours : array-like of shape (3, 3)
        Colour basis.
    init_sd : float
        SD of the starting coefficients (drawn on the CPU, so a seed gives the same
        image on every device).
    device : str
        Where the coefficients live.
    """

    def __init__(self, seeds, size, decay=1.0, colours=None, init_sd=0.01, device="cpu"):
        import torch

        fy = torch.fft.fftfreq(size)[:, None]
        fx = torch.fft.rfftfreq(size)[None, :]
        freq = torch.sqrt(fx**2 + fy**2).clamp(min=1.0 / size)
        scale = 1.0 / freq**decay
        self.spectrum_scale = (scale / scale.max()).to(device)
        shape = (3, size, size // 2 + 1, 2)
        coeffs = [
            torch.randn(shape, generator=torch.Generator().manual_seed(int(s))) * init_sd
            for s in seeds
        ]
        self.coeffs = torch.nn.Parameter(torch.stack(coeffs).to(device))
        self.size = size
        basis = np.eye(3) if colours is None else np.asarray(colours)
        self.colours = torch.as_tensor(basis, dtype=torch.float32, device=device)

    def parameters(self):
        """Return the optimised tensor."""
        return [self.coeffs]

    def __call__(self):
        """Images ``(n, 3, size, size)`` in [0, 1]."""
        import torch

        spec = torch.view_as_complex(self.coeffs) * self.spectrum_scale
        x = torch.fft.irfft2(spec, s=(self.size, self.size), norm="ortho") * self.size / 4.0
        x = torch.einsum("ij,njhw->nihw", self.colours, x)
        return torch.sigmoid(x)


def random_views(images, generators, jitter, scale, rotate):
    """Randomly zoomed, rotated and shifted copies (reflection padding), one draw per image.

    ``jitter`` is the largest shift as a fraction of the side.
    """
    import torch
    import torch.nn.functional as F

    n = images.shape[0]
    thetas = []
    for gen in generators[:n]:
        u = torch.rand(4, generator=gen)
        s = scale[0] + (scale[1] - scale[0]) * float(u[0])
        a = math.radians(rotate * (2 * float(u[1]) - 1))
        tx, ty = (2 * float(u[2]) - 1) * 2 * jitter, (2 * float(u[3]) - 1) * 2 * jitter
        cos, sin = math.cos(a) / s, math.sin(a) / s
        thetas.append([[cos, -sin, tx], [sin, cos, ty]])
    theta = torch.tensor(thetas, dtype=images.dtype, device=images.device)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, padding_mode="reflection", align_corners=False)


def _model_size(encoder) -> int:
    record = encoder.extractor.bundle.preprocess_config
    return int(record["size"]) if record else 224


def _check_size(size) -> int:
    size = check_positive_int("size", size)
    if size < 16:
        raise ParameterError(f"Invalid value for 'size': expected at least 16 pixels; got {size}.")
    return size


def _positive(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ParameterError(f"Invalid value for {name!r}: expected a number > 0; got {value!r}.")
    return float(value)
