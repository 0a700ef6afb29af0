"""Images predicted to drive a brain region, from a fitted encoder (BrainDiVE-style).

Three generators share one interface, ``generator.generate(encoder, roi, n, seed)
-> Synthesis`` (images, the predicted activation of every ROI, a baseline):

* :class:`BankSearch`: the natural images of a (memory-mapped) embedding bank the
  encoder ranks highest;
* :class:`GradientAscent`: images optimised through the feature extractor and the
  encoder (Fourier parameterisation, decorrelated colours, random views);
* :class:`GuidedDiffusion`: a local diffusers pipeline whose denoising is steered by
  the gradient of the encoder's prediction on each step's clean-image estimate
  (BrainDiVE, Luo et al. 2023).

:class:`RoiEncoder` is the fitted encoder as a function of images; every image is
scored as a natural image is (uint8 pixels, the model's preprocessing), so a
generated image and a bank image are compared on the same footing.
"""

from brainalign.synthesis._ascent import FourierImage, GradientAscent, colour_basis
from brainalign.synthesis._bank import BankSearch
from brainalign.synthesis._diffusion import GuidedDiffusion, load_pipeline
from brainalign.synthesis._encoder import RoiEncoder, pixel_preprocessing, tensor_preprocess
from brainalign.synthesis._result import Synthesis

#: Generators by method name (``brainalign synthesize --method``).
GENERATORS = {"bank": BankSearch, "ascent": GradientAscent, "diffusion": GuidedDiffusion}

__all__ = [
    "BankSearch",
    "FourierImage",
    "GENERATORS",
    "GradientAscent",
    "GuidedDiffusion",
    "RoiEncoder",
    "Synthesis",
    "colour_basis",
    "load_pipeline",
    "pixel_preprocessing",
    "tensor_preprocess",
]
