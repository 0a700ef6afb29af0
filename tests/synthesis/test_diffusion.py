"""Encoder-guided diffusion: a tiny random Stable Diffusion pipeline, end to end on the CPU."""

import numpy as np
import pytest
import torch

from brainalign.exceptions import ParameterError
from brainalign.synthesis import GuidedDiffusion, load_pipeline
from brainalign.synthesis._diffusion import _eps_and_x0, _from_eps


@pytest.fixture(scope="module")
def encoder(sample_encoder):
    return sample_encoder["encoder"]


def test_guided_samples_drive_the_roi_more_than_unguided_ones(encoder, tiny_diffusion):
    pipe = load_pipeline(tiny_diffusion)
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    guided = GuidedDiffusion(pipe, steps=8, guidance_scale=130.0, batch_size=4)
    for roi in ("V1v", "PPA"):
        result = guided.generate(encoder, roi, 4, seed=0)
        col = encoder.unit_index(roi)
        assert result.images.shape == (4, 32, 32, 3) and result.images.dtype == np.uint8
        # the baseline: the same seeds (same starting noise) without guidance
        assert sorted(result.seeds) == [0, 1, 2, 3]
        assert np.all(result.activations[:, col] > result.baseline[:, col]), roi
    plain = GuidedDiffusion(pipe, steps=8, guidance_scale=0.0).generate(encoder, "PPA", 2, seed=0)
    np.testing.assert_array_equal(plain.activations, plain.baseline)  # scale 0 is unguided
    again = GuidedDiffusion(pipe, steps=8, guidance_scale=0.0).generate(encoder, "PPA", 2, seed=0)
    np.testing.assert_array_equal(plain.images, again.images)  # DDIM: seeds fix the samples


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction", "sample"])
def test_every_prediction_type_maps_to_the_same_noise_and_clean_sample(prediction):
    gen = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(2, 4, 3, 3, generator=gen), torch.randn(2, 4, 3, 3, generator=gen)
    a = torch.tensor(0.37)
    x = a.sqrt() * x0 + (1 - a).sqrt() * eps  # q(x_t | x_0)
    out = {"epsilon": eps, "v_prediction": a.sqrt() * eps - (1 - a).sqrt() * x0, "sample": x0}
    got_eps, got_x0 = _eps_and_x0(out[prediction], x, a, prediction)
    torch.testing.assert_close(got_eps, eps)
    torch.testing.assert_close(got_x0, x0)
    torch.testing.assert_close(_from_eps(eps, x, a, prediction), out[prediction])


def test_a_folder_without_a_pipeline_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="'pipeline'.*model_index.json"):
        load_pipeline(tmp_path)
    with pytest.raises(ParameterError, match="'guidance_scale'.*>= 0"):
        GuidedDiffusion(tmp_path, guidance_scale=-1)
