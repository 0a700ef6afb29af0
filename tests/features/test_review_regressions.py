"""Behaviour that an independent review found missing, kept under test."""

import numpy as np
import pytest
import torch

from brainalign.exceptions import DataError, ParameterError
from brainalign.features import get_extractor
from brainalign.features._pooling import pool


def test_in_place_operations_after_a_layer_do_not_change_it(images):
    ext = get_extractor("torchvision:resnet18@random", device="cpu")
    out = ext.extract(images[:2], layers=["bn1", "layer1.0.bn2"], progress=False)
    model = ext.bundle.model
    x = ext.bundle.prepare(list(images[:2]))["x"]
    with torch.no_grad():
        bn1 = model.bn1(model.conv1(x))
        block = model.layer1[0]
        h = model.maxpool(model.relu(bn1.clone()))  # the ReLU is in place
        bn2 = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(h)))))
    np.testing.assert_allclose(out["bn1"].features, bn1.mean(dim=(2, 3)).numpy(), atol=1e-5)
    np.testing.assert_allclose(
        out["layer1.0.bn2"].features, bn2.mean(dim=(2, 3)).numpy(), atol=1e-5
    )
    assert (bn1.min() < 0) and out["bn1"].features.min() < 0  # not the in-place ReLU's output


def test_a_module_reused_in_one_pass_is_refused(images):
    ext = get_extractor("torchvision:resnet18@random", device="cpu")
    with pytest.raises(ParameterError, match="ran more than once.*parent block"):
        ext.extract(images[:2], layers=["layer1.0.relu"], progress=False)


def test_spatial_pooling_finds_the_channel_axis():
    nchw = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    nhwc = nchw.permute(0, 2, 3, 1)
    expected = nchw.mean(dim=(2, 3))
    torch.testing.assert_close(pool(nchw, "spatial"), expected)
    torch.testing.assert_close(pool(nhwc, "auto"), expected)
    with pytest.raises(ParameterError, match="channel axis"):
        pool(torch.zeros(2, 4, 4, 4), "spatial")


class SeqFirst(torch.nn.Module):
    """Returns tokens sequence-first from its 'tokens' layer, as old open_clip did."""

    def __init__(self):
        super().__init__()
        self.tokens = torch.nn.Identity()

    @staticmethod
    def preprocess(images):
        return torch.as_tensor(images[:, :5, :4, 0]).float()  # (n, 5 tokens, 4 dims)

    def forward(self, x):
        return self.tokens(x.transpose(0, 1)).mean(0)


def _register(monkeypatch, name, factory):
    import sys
    import types

    module = types.ModuleType(name)
    module.make = factory
    monkeypatch.setitem(sys.modules, name, module)
    return f"torch:{name}:make"


def test_layers_that_are_not_batch_first_are_refused(monkeypatch, images):
    ext = get_extractor(_register(monkeypatch, "seqfirst_models", SeqFirst), device="cpu")
    with pytest.raises(DataError, match="gave 5 rows for a batch of 3.*not batch-first"):
        ext.extract(images[:3], layers=["tokens"], progress=False)


def test_user_module_weights_are_identified_by_their_values(monkeypatch, images, tmp_path):
    # The factory draws from torch's global RNG, so 'seed' changes the weights: the
    # cache must not serve seed 0's features to seed 1.
    spec = _register(
        monkeypatch,
        "linear_models",
        lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)),
    )

    def prep(x):
        return torch.as_tensor(x[:, :2, :2]).float()

    def run(seed):
        ext = get_extractor(spec, device="cpu", seed=seed, preprocess=prep)
        return ext.bundle.weights, ext.extract(images[:2], cache_dir=tmp_path, progress=False)[
            "embedding"
        ].features

    (w0, f0), (w1, f1), (w0b, f0b) = run(0), run(1), run(0)
    assert w0 != w1 and w0 == w0b
    assert not np.allclose(f0, f1)
    np.testing.assert_array_equal(f0, f0b)


def test_array_fingerprint_includes_the_shape(tiny_clip, images, tmp_path):
    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu")
    a = images[:3, :20]
    b = np.ascontiguousarray(a).reshape(3, 40, 20, 3)  # same bytes, other images
    ka = ext.extract(a, cache_dir=tmp_path, progress=False)["embedding"]
    kb = ext.extract(b, cache_dir=tmp_path, progress=False)["embedding"]
    assert ka.metadata["key"] != kb.metadata["key"]


def test_bad_requests_fail_early(tiny_clip, images):
    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu")
    with pytest.raises(ParameterError, match="no stimuli"):
        ext.extract(images[:0], progress=False)
    with pytest.raises(ParameterError, match="'dtype'"):
        ext.extract(images[:1], dtype="fp8", progress=False)
    text = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu", tower="text")
    with pytest.raises(ParameterError, match="flattens text tokens"):
        text.extract(["a"], layers=["ln_final"], pooling="flatten", progress=False)


def test_resume_with_every_batch_saved_keeps_integer_shapes(
    tiny_clip, images, tmp_path, monkeypatch
):
    from brainalign.features._extractor import FeatureExtractor

    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu")
    real_finish = FeatureExtractor._finish

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("crash after the last batch")

    monkeypatch.setattr(FeatureExtractor, "_finish", crash)
    with pytest.raises(KeyboardInterrupt):
        ext.extract(
            images, layers=["visual.ln_post"], batch_size=8, cache_dir=tmp_path, progress=False
        )
    monkeypatch.setattr(FeatureExtractor, "_finish", real_finish)
    out = ext.extract(
        images, layers=["visual.ln_post"], batch_size=8, cache_dir=tmp_path, progress=False
    )["visual.ln_post"]
    assert out.metadata["original_shape"] == [17, 32]
