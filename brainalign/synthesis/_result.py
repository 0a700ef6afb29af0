"""What every generator returns: images, their predicted activations, and a baseline."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from brainalign._utils import check_positive_int
from brainalign.exceptions import DataError, ParameterError


@dataclass
class Synthesis:
    """Images for one target ROI, best first, with what the encoder predicts for them.

    Attributes
    ----------
    method : str
        ``bank``, ``ascent`` or ``diffusion``.
    target : str
        The ROI the images were chosen or made to drive.
    units : list of str
        The encoder's units (columns of the activation arrays).
    images : numpy.ndarray of shape (n, H, W, 3), uint8, or None
        The images (None for a bank without pixels).
    activations : numpy.ndarray of shape (n, n_units)
        Predicted activation of every unit, scored on the uint8 images as a
        natural image is (preprocessing, extraction, encoder).
    ids : list of str
        Bank stimulus ids, or ``<method>-seed<seed>`` for generated images.
    seeds : list of int or None
        The seed that made each image (None for bank images).
    baseline : numpy.ndarray of shape (n_baseline, n_units)
        Activations of the reference images: for generators, the same seeds
        without optimisation (the starting image) or without guidance; for a bank,
        random bank images.
    baseline_images : numpy.ndarray or None
        The reference images, when kept.
    info : dict
        Settings and measured facts (steps, time, candidates).
    """

    method: str
    target: str
    units: list
    images: np.ndarray | None
    activations: np.ndarray
    ids: list
    seeds: list
    baseline: np.ndarray
    baseline_images: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.ids)
        if self.activations.shape != (n, len(self.units)):
            raise DataError(
                f"A synthesis needs one activation row per image; got {self.activations.shape} "
                f"for {n} images and {len(self.units)} units."
            )
        if self.images is not None and len(self.images) != n:
            raise DataError(f"Got {len(self.images)} images for {n} ids.")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def target_activation(self) -> np.ndarray:
        """Predicted activation of the target ROI per image."""
        return self.activations[:, self.units.index(self.target)]


def objective_loss(encoder, roi, selectivity=0.0):
    """Return the loss a generator minimises for ``roi`` (minus activation or selectivity).

    ``selectivity`` 0: ``-sum(activation of roi)``; ``w`` > 0: ``-sum(z_roi - w
    mean(z_others))`` on the calibration bank's scale (``others``: the ROIs sharing
    no target with ``roi``). Sums, not means, so an image's gradient does not
    depend on the rest of its batch.

    Returns
    -------
    callable
        ``loss(activations (n, n_units) tensor) -> scalar tensor``.
    """
    col = encoder.unit_index(roi)
    if not selectivity:
        return lambda act: -act[:, col].sum()
    import torch

    others = torch.as_tensor(encoder.others(roi))
    if encoder.bank_mean_ is None:
        raise ParameterError(
            "Invalid value for 'selectivity': it weighs the other ROIs on the calibration "
            "bank's scale; calibrate the encoder first (RoiEncoder.calibrate)."
        )
    mean = torch.as_tensor(encoder.bank_mean_, dtype=torch.float32)
    sd = torch.as_tensor(encoder.bank_sd_, dtype=torch.float32)

    def loss(act):
        z = (act - mean.to(act)) / sd.to(act)
        rest = z[:, others].mean(1) if len(others) else torch.zeros_like(z[:, col])
        return -(z[:, col] - selectivity * rest).sum()

    return loss


def generated(generator, encoder, roi, n, seed, make, info) -> Synthesis:
    """Make a generator's candidates batch by batch, score them, keep the ``n`` best.

    Parameters
    ----------
    generator : GradientAscent or GuidedDiffusion
        Its ``method``, ``batch_size`` and ``n_candidates``.
    encoder : RoiEncoder
        Scores the uint8 images and their baseline as natural images.
    roi : str
        Target ROI.
    n : int
        Images kept.
    seed : int
        Base seed (:func:`image_seeds`).
    make : callable
        ``make(seeds) -> (images, baseline_images)``, uint8 ``(len(seeds), H, W, 3)``.
    info : dict
        The generator's settings, recorded with the time taken.

    Returns
    -------
    Synthesis
        Best first; each baseline row follows its seed.
    """
    n = check_positive_int("n", n)
    n_candidates = generator.n_candidates
    total = n if n_candidates is None else max(n, int(n_candidates))
    seeds = image_seeds(seed, total)
    col = encoder.unit_index(roi)
    clock = time.perf_counter()
    made, start = [], []
    for lo in range(0, total, generator.batch_size):
        images, baseline = make(seeds[lo : lo + generator.batch_size])
        made.append(images)
        start.append(baseline)
    elapsed = time.perf_counter() - clock
    images, base_images = np.concatenate(made), np.concatenate(start)
    acts, base = encoder.score_images(images), encoder.score_images(base_images)
    images, acts, kept, base, base_images = keep_best(
        images, acts, seeds, base, base_images, col, n
    )
    return Synthesis(
        method=generator.method,
        target=roi,
        units=list(encoder.units),
        images=images,
        activations=acts,
        ids=[f"{generator.method}-seed{s}" for s in kept],
        seeds=kept,
        baseline=base,
        baseline_images=base_images,
        info={
            **info,
            "n_candidates": total,
            "seconds": elapsed,
            "images_per_minute": 60.0 * total / max(elapsed, 1e-9),
        },
    )


def keep_best(images, activations, seeds, baseline, baseline_images, target_col, n):
    """Re-rank candidates by the encoder's predicted target activation and keep ``n``.

    Ties are broken by seed order, so the kept set does not depend on batching.

    Returns
    -------
    tuple
        ``images, activations, seeds, baseline, baseline_images`` of the kept rows,
        best first (the baseline rows follow their seeds).
    """
    order = np.lexsort((np.arange(len(seeds)), -activations[:, target_col]))[:n]
    pick = list(order)
    return (
        images[pick],
        activations[pick],
        [seeds[i] for i in pick],
        baseline[pick],
        None if baseline_images is None else baseline_images[pick],
    )


def to_uint8(images) -> np.ndarray:
    """Float images ``(n, 3, H, W)`` in [0, 1] (torch) -> uint8 ``(n, H, W, 3)``."""
    x = images.detach().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    return np.round(x * 255.0).astype(np.uint8)


def image_seeds(seed: int, n: int) -> list[int]:
    """One seed per candidate image: ``seed * 100003 + i`` (an image depends on its seed only)."""
    n = check_positive_int("n", n)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"Invalid value for 'seed': expected an integer >= 0; got {seed!r}.")
    return [int(seed) * 100003 + i for i in range(n)]
