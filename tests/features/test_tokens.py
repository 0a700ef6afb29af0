"""pooling="tokens": the patch grid of ViTs and CNN maps, cached with its layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.exceptions import DataError, ParameterError
from brainalign.features import get_extractor, patch_tokens, token_layout


@pytest.mark.parametrize(
    ("shape", "layout"),
    [
        ((197, 768), {"grid": [14, 14], "dim": 768, "prefix": 1}),  # ViT-B/16: class token
        ((261, 768), {"grid": [16, 16], "dim": 768, "prefix": 5}),  # DINOv2 + 4 registers
        ((49, 512), {"grid": [7, 7], "dim": 512, "prefix": 0}),  # no class token
        ((64, 7, 7), {"grid": [7, 7], "dim": 64, "prefix": 0}),  # CNN map (c, h, w)
        ((7, 7, 96), {"grid": [7, 7], "dim": 96, "prefix": 0}),  # Swin stage (h, w, c)
    ],
)
def test_token_layout_of_real_output_shapes(shape, layout):
    assert token_layout(shape) == layout


def test_token_layout_refuses_outputs_without_a_grid():
    with pytest.raises(ParameterError, match="'tokens' needs a patch grid.*\\(512,\\)"):
        token_layout((512,))
    with pytest.raises(ParameterError, match="patch grid"):
        token_layout((75, 64))  # 64 + 11 leading tokens: more than 8


def test_patch_tokens_put_each_location_in_its_row_major_slot():
    maps = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    tokens = patch_tokens(maps)
    assert tokens.shape == (2, 16, 3)
    for r in range(4):
        for c in range(4):
            torch.testing.assert_close(tokens[:, r * 4 + c], maps[:, :, r, c])
    vit = torch.randn(2, 1 + 9, 5)
    torch.testing.assert_close(patch_tokens(vit), vit[:, 1:])


def test_extracted_tokens_equal_the_network_map(tmp_path):
    from brainalign.data.sample import SamplePatchNet

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 40, 40, 3), dtype=np.uint8)
    ext = get_extractor("torch:brainalign.data.sample:SamplePatchNet@0", device="cpu")
    fs = ext.extract(images, layers=["block"], pooling="tokens", cache_dir=tmp_path,
                     progress=False)["block"]  # fmt: skip
    assert fs.metadata["tokens"] == {"grid": [5, 5], "dim": 64, "prefix": 0}
    assert fs.token_grid == (5, 5) and fs.token_shape == (25, 64)
    net = SamplePatchNet(0)
    with torch.no_grad():
        maps = net(net.preprocess(images)).numpy()
    expected = maps.reshape(6, 64, 25).transpose(0, 2, 1)
    np.testing.assert_allclose(fs.tokens(), expected, atol=1e-6)
    np.testing.assert_allclose(fs.tokens([3, 1]), expected[[3, 1]], atol=1e-6)
    again = ext.extract(images, layers=["block"], pooling="tokens", cache_dir=tmp_path,
                        progress=False)["block"]  # fmt: skip
    assert again.token_grid == (5, 5)  # the layout survives the cache
    spatial = ext.extract(images, layers=["block"], pooling="spatial", progress=False)["block"]
    np.testing.assert_allclose(fs.tokens().mean(1), spatial.features, atol=1e-6)
    with pytest.raises(DataError, match="pooling='tokens'"):
        spatial.tokens()


def test_vit_tokens_drop_the_class_token():
    images = np.random.default_rng(1).integers(0, 256, size=(2, 64, 64, 3), dtype=np.uint8)
    ext = get_extractor("timm:vit_tiny_patch16_224@random", device="cpu")
    layer = "blocks.11"
    fs = ext.extract(images, layers=[layer], pooling="tokens", progress=False)[layer]
    assert fs.metadata["tokens"]["prefix"] == 1 and fs.token_grid == (14, 14)
    cls = ext.extract(images, layers=[layer], pooling="cls", progress=False)[layer]
    mean = ext.extract(images, layers=[layer], pooling="mean", progress=False)[layer]
    # mean pooling averages class + patch tokens; tokens hold the patches only
    n = 14 * 14 + 1
    np.testing.assert_allclose((fs.tokens().sum(1) + cls.features) / n, mean.features, atol=1e-4)


def test_open_clip_tokens_are_the_patches_on_their_grid(tiny_clip):
    images = np.random.default_rng(2).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu", seed=1)
    block = "visual.transformer.resblocks.1"
    fs = ext.extract(images, layers=[block], pooling="tokens", progress=False)[block]
    assert fs.metadata["tokens"] == {"grid": [4, 4], "dim": 32, "prefix": 1}  # 32 px / 8
    flat = ext.extract(images, layers=[block], pooling="flatten", progress=False)[block]
    # flatten keeps every token (class first): the tokens are its last 16, in order
    np.testing.assert_array_equal(fs.tokens(), flat.features.reshape(3, 17, 32)[:, 1:])
