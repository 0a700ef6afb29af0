"""Encoder-guided diffusion (BrainDiVE, Luo et al. 2023) with any local diffusers pipeline.

At every denoising step the model's noise prediction gives the step's estimate of
the clean image, ``x0 = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)``; it is decoded
(through the VAE of a latent pipeline), scored by the fitted encoder, and the
gradient of the target ROI's predicted activation with respect to ``x_t`` shifts
the noise prediction, ``eps <- eps - s sqrt(1 - a_t) grad`` (classifier guidance
with the encoder as the classifier, scale ``s``; BrainDiVE used about 130 with
Stable Diffusion 2.1 and an empty prompt). The sampler is DDIM (deterministic
given the starting noise), so the unguided samples of the same seeds are the
baseline.

A GPU is recommended: each step back-propagates through the UNet and the VAE
decoder (Stable Diffusion 2.1 at 512 px: tens of seconds per image on a CPU).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from brainalign._utils import check_positive_int
from brainalign.exceptions import DataError, ParameterError
from brainalign.synthesis._result import Synthesis, generated, objective_loss, to_uint8


def load_pipeline(path, device="cpu", dtype=None, progress=False):
    """Load a diffusers pipeline saved on disk (never downloads).

    Parameters
    ----------
    path : str or Path
        A folder written by ``DiffusionPipeline.save_pretrained`` (e.g. a Stable
        Diffusion 2.1 snapshot): ``model_index.json``, ``unet/``, ``scheduler/``
        and, for latent models, ``vae/`` (and ``text_encoder/``, ``tokenizer/``).
    device : str
        Torch device.
    dtype : torch.dtype, optional
        Weights' dtype (e.g. ``torch.float16`` on a GPU).
    progress : bool
        Show the libraries' loading bars.

    Returns
    -------
    diffusers.DiffusionPipeline
        The pipeline on ``device``.
    """
    try:
        import diffusers
    except ImportError as exc:
        raise ParameterError(
            "Invalid value for 'method': diffusion needs the diffusers package "
            "(pip install 'brainalign[synthesis]')."
        ) from exc
    path = Path(path)
    if not (path / "model_index.json").is_file():
        raise ParameterError(
            f"Invalid value for 'pipeline': expected a local diffusers pipeline folder with "
            f"model_index.json; got {str(path)!r}."
        )
    kwargs = {"local_files_only": True}
    if dtype is not None:
        kwargs["torch_dtype"] = dtype
    with _quiet_loading(progress):
        try:
            pipe = diffusers.DiffusionPipeline.from_pretrained(str(path), **kwargs)
        except Exception as exc:  # noqa: BLE001 - the library's many load errors, one message
            raise DataError(f"Cannot load the diffusers pipeline in {path}: {exc}") from exc
    return pipe.to(device)


@contextlib.contextmanager
def _quiet_loading(progress: bool):
    """Keep diffusers' and transformers' loading bars (unless ``progress``) and advice quiet."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    libraries = (diffusers_logging, transformers_logging)
    levels = [lib.get_verbosity() for lib in libraries]
    for lib in libraries:
        lib.set_verbosity_error()  # e.g. "install accelerate for faster loading"
        if not progress:
            lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib, level in zip(libraries, levels, strict=True):
            lib.set_verbosity(level)
            lib.enable_progress_bar()


class GuidedDiffusion:
    """Images sampled from a diffusion model, steered by a fitted encoder.

    Parameters
    ----------
    pipeline : diffusers.DiffusionPipeline, str or Path
        A pipeline with ``unet`` and ``scheduler`` (and ``vae``, ``text_encoder``
        and ``tokenizer`` for Stable Diffusion), or its local folder.
    steps : int
        Denoising steps (DDIM).
    guidance_scale : float
        Encoder guidance ``s`` (0: unguided).
    size : int, optional
        Side of the images, pixels (default: the UNet's sample size times the VAE's
        scale).
    prompt : str
        Text condition of a text-conditioned UNet (BrainDiVE: empty).
    selectivity : float
        Weight of the other ROIs in the objective (as :class:`GradientAscent`).
    batch_size : int
        Images denoised together.
    n_candidates : int, optional
        Images sampled per ROI before keeping the ``n`` the encoder ranks best
        (BrainDiVE: 1000 seeds, the top 20 %).
    """

    method = "diffusion"

    def __init__(self, pipeline, steps=50, guidance_scale=130.0, size=None, prompt="",
                 selectivity=0.0, batch_size=4, n_candidates=None):  # fmt: skip
        self.pipeline = pipeline
        self.steps = check_positive_int("steps", steps)
        if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float)):
            raise ParameterError(
                f"Invalid value for 'guidance_scale': expected a number; got {guidance_scale!r}."
            )
        if guidance_scale < 0:
            raise ParameterError(
                f"Invalid value for 'guidance_scale': expected >= 0; got {guidance_scale!r}."
            )
        self.guidance_scale = float(guidance_scale)
        self.size = size
        self.prompt = str(prompt)
        self.selectivity = float(selectivity)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.n_candidates = n_candidates

    def _pipe(self, device, progress=False):
        if isinstance(self.pipeline, (str, Path)):
            self.pipeline = load_pipeline(self.pipeline, device, progress=progress)
        for name in ("unet", "scheduler"):
            if getattr(self.pipeline, name, None) is None:
                raise ParameterError(
                    f"Invalid value for 'pipeline': expected a diffusers pipeline with a "
                    f"{name}; got {type(self.pipeline).__name__}."
                )
        return self.pipeline

    def generate(self, encoder, roi, n, seed=0, progress=False) -> Synthesis:
        """Sample ``n_candidates`` guided images for ``roi``; keep the ``n`` best.

        The baseline is the same seeds sampled without guidance.

        Parameters
        ----------
        encoder : RoiEncoder
            The fitted encoder.
        roi : str
            Target ROI.
        n : int
            Images returned.
        seed : int
            Base seed (image ``i``: ``seed * 100003 + i``, its starting noise).
        progress : bool
            Progress bar over denoising steps.

        Returns
        -------
        Synthesis
            Best first, scored on the uint8 images.
        """
        loss = objective_loss(encoder, roi, self.selectivity)
        objective = encoder.pixel_objective()
        pipe = self._pipe(encoder.extractor.device, progress)

        def make(seeds):
            guided = self.sample(pipe, seeds, objective, loss, self.guidance_scale, progress)
            return guided, self.sample(pipe, seeds, None, None, 0.0, progress)

        info = {"steps": self.steps, "guidance_scale": self.guidance_scale,
                "pipeline": type(pipe).__name__}  # fmt: skip
        return generated(self, encoder, roi, n, seed, make, info)

    def sample(self, pipe, seeds, objective=None, loss=None, scale=0.0, progress=False):
        """Denoise one batch from the seeds' starting noise; return uint8 images.

        Parameters
        ----------
        pipe : diffusers.DiffusionPipeline
            The pipeline.
        seeds : sequence of int
            One seed per image.
        objective : callable, optional
            Float images in [0, 1] -> activations (needed when ``scale`` > 0).
        loss : callable, optional
            Activations -> scalar to minimise.
        scale : float
            Guidance scale.
        progress : bool
            Progress bar.

        Returns
        -------
        numpy.ndarray of shape (n, H, W, 3), uint8
            The samples.
        """
        import torch
        from diffusers import DDIMScheduler
        from tqdm.auto import tqdm

        unet, vae = pipe.unet, getattr(pipe, "vae", None)
        device, dtype = unet.device, unet.dtype
        scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
        prediction = scheduler.config.prediction_type
        scheduler.set_timesteps(self.steps, device=device)
        alphas = scheduler.alphas_cumprod.to(device)
        shape, factor = self._latent_shape(unet, vae)
        latents = (
            torch.stack(
                [torch.randn(shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds]
            ).to(device, dtype)
            * scheduler.init_noise_sigma
        )
        condition = self._condition(pipe, len(seeds), device)
        label = "guided" if scale else "unguided"
        for t in tqdm(scheduler.timesteps, desc=f"diffusion ({label})", disable=not progress,
                      leave=False):  # fmt: skip
            a = alphas[t].to(torch.float32)
            with torch.set_grad_enabled(scale > 0):
                x = latents.detach().requires_grad_(scale > 0)
                out = _unet(unet, scheduler.scale_model_input(x, t), t, condition)
                eps, x0 = _eps_and_x0(out.float(), x.float(), a, prediction)
                if scale > 0:
                    images = self._decode(vae, x0, factor)
                    value = loss(objective(images))
                    grad = torch.autograd.grad(value, x)[0].float()
                    # loss = -activation: eps - s sqrt(1 - a) d(activation)/dx
                    eps = eps.detach() + scale * torch.sqrt(1 - a) * grad
            model_output = _from_eps(eps.detach(), x.detach().float(), a, prediction)
            latents = scheduler.step(model_output.to(dtype), t, latents).prev_sample
        with torch.no_grad():
            return to_uint8(self._decode(vae, latents.float(), factor))

    def _latent_shape(self, unet, vae):
        channels = unet.config.in_channels
        factor = 1 if vae is None else 2 ** (len(vae.config.block_out_channels) - 1)
        side = self.size // factor if self.size else _sample_side(unet.config.sample_size)
        if self.size and self.size % factor:
            raise ParameterError(
                f"Invalid value for 'size': expected a multiple of the VAE's scale {factor}; "
                f"got {self.size}."
            )
        return (channels, side, side), factor

    def _condition(self, pipe, n, device):
        """Text embeddings of the prompt for a text-conditioned UNet, else None."""
        import torch

        if getattr(pipe.unet.config, "cross_attention_dim", None) is None:
            return None
        encoder, tokenizer = getattr(pipe, "text_encoder", None), getattr(pipe, "tokenizer", None)
        if encoder is None or tokenizer is None:
            raise ParameterError(
                "Invalid value for 'pipeline': its UNet is text-conditioned but the pipeline "
                "has no text_encoder and tokenizer."
            )
        ids = tokenizer(
            [self.prompt] * n,
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids.to(device)
        with torch.no_grad():
            return encoder(ids)[0]

    @staticmethod
    def _decode(vae, x0, factor):
        """Model-space sample -> float image in [0, 1] (through the VAE of a latent model)."""
        if vae is None:
            return (x0 / 2 + 0.5).clamp(0, 1)
        scaling = getattr(vae.config, "scaling_factor", 0.18215)
        image = vae.decode((x0 / scaling).to(vae.dtype)).sample.float()
        return (image / 2 + 0.5).clamp(0, 1)


def _sample_side(sample_size) -> int:
    if isinstance(sample_size, (list, tuple)):
        return int(sample_size[0])
    return int(sample_size)


def _unet(unet, x, t, condition):
    if condition is None:
        return unet(x, t).sample
    return unet(x, t, encoder_hidden_states=condition).sample


def _eps_and_x0(out, x, a, prediction):
    """Noise and clean-sample estimates from a model output of any prediction type."""
    import torch

    sa, sb = torch.sqrt(a), torch.sqrt(1 - a)
    if prediction == "epsilon":
        eps = out
    elif prediction == "v_prediction":
        eps = sa * out + sb * x
    elif prediction == "sample":
        eps = (x - sa * out) / sb
    else:
        raise DataError(f"Unknown prediction type {prediction!r} of the scheduler.")
    return eps, (x - sb * eps) / sa


def _from_eps(eps, x, a, prediction):
    """Return the model output (of the scheduler's prediction type) that corresponds to ``eps``."""
    import torch

    sa, sb = torch.sqrt(a), torch.sqrt(1 - a)
    if prediction == "epsilon":
        return eps
    x0 = (x - sb * eps) / sa
    if prediction == "v_prediction":
        return sa * eps - sb * x0
    return x0
