import numpy as np
import pytest
import torch

from brainalign.exceptions import DataError, MissingFileError, ParameterError
from brainalign.features import FeatureSet, get_extractor, list_layers

BLOCK = "visual.transformer.resblocks.1"


def test_open_clip_layers_and_embedding_match_encode_image(tiny_clip, images):
    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu", seed=1)
    layers = ext.list_layers("visual.*")
    assert "visual.transformer.resblocks.0" in layers and "visual.ln_post" in layers
    assert ext.list_layers()[-1] == "embedding"
    out = ext.extract(images, layers=[BLOCK, "visual.ln_post", "embedding"], progress=False)
    model = ext.bundle.model
    with torch.no_grad():
        reference = model.encode_image(ext.bundle.prepare(list(images))["x"]).numpy()
    np.testing.assert_allclose(out["embedding"].features, reference, rtol=1e-5, atol=1e-6)
    assert out[BLOCK].metadata["original_shape"] == [17, 32]  # 16 patches + CLS, width 32
    assert out[BLOCK].features.shape == (20, 32)
    assert out["embedding"].metadata["weights"] == "random@1"


def test_random_weights_are_seeded(tiny_clip, images):
    def emb(seed):
        ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu", seed=seed)
        return ext.extract(images[:4], progress=False)["embedding"].features

    np.testing.assert_array_equal(emb(3), emb(3))
    assert not np.allclose(emb(3), emb(4))


def test_local_checkpoint_gives_identical_features(tiny_clip, images, tmp_path):
    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu", seed=7)
    path = tmp_path / "tiny.pt"
    torch.save({"state_dict": ext.bundle.model.state_dict()}, path)
    loaded = get_extractor(f"open_clip:{tiny_clip}@{path}", device="cpu")
    a = ext.extract(images, layers=[BLOCK, "embedding"], progress=False)
    b = loaded.extract(images, layers=[BLOCK, "embedding"], progress=False)
    for layer in a:
        np.testing.assert_array_equal(a[layer].features, b[layer].features)
    assert b["embedding"].metadata["weights"].startswith("sha256:")
    with pytest.raises(MissingFileError, match="nowhere.pt"):
        get_extractor(f"open_clip:{tiny_clip}@{tmp_path / 'nowhere.pt'}")


def test_pretrained_tag_offline_fails_with_a_clear_message():
    with pytest.raises(
        DataError, match="open_clip weights 'openai' of RN50 are not in the local cache.*local"
    ):
        get_extractor("open_clip:RN50@openai", device="cpu")


def test_unknown_names_list_close_matches(tiny_clip):
    with pytest.raises(ParameterError, match="pretrained tag of open_clip.*got 'laion'"):
        get_extractor(f"open_clip:{tiny_clip}@laion")
    with pytest.raises(ParameterError, match="Did you mean 'ViT-B-32'"):
        get_extractor("open_clip:ViT-B-23@random")
    with pytest.raises(ParameterError, match="'spec'.*family.*got 'openclip'.*'open_clip'"):
        get_extractor("openclip:ViT-B-32")
    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu")
    with pytest.raises(
        ParameterError,
        match="Unknown layer 'visual.transformer.resblock.1'.*visual.transformer.resblocks.1",
    ):
        ext.extract(np.zeros((1, 8, 8, 3), np.uint8), layers=["visual.transformer.resblock.1"])


def test_text_tower(tiny_clip):
    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu", tower="text")
    assert not any(n.startswith("visual") for n in ext.list_layers())
    texts = ["a red circle", "two blue houses on the left", "a face"]
    out = ext.extract(texts, layers=["transformer.resblocks.1", "embedding"], progress=False)
    with torch.no_grad():
        ref = ext.bundle.model.encode_text(ext.bundle.prepare(texts)["text"]).numpy()
    np.testing.assert_allclose(out["embedding"].features, ref, rtol=1e-5, atol=1e-6)
    assert out["transformer.resblocks.1"].features.shape == (3, 32)


def test_outputs_do_not_depend_on_batch_size(tiny_clip, images):
    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu")
    a = ext.extract(images, layers=[BLOCK, "embedding"], batch_size=3, progress=False)
    b = ext.extract(images, layers=[BLOCK, "embedding"], batch_size=20, progress=False)
    for layer in a:
        np.testing.assert_allclose(a[layer].features, b[layer].features, rtol=1e-4, atol=1e-5)


class Exploding(torch.nn.Module):
    """A two-layer model whose forward fails on request."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.head = torch.nn.Linear(4, 2)
        self.fail = False

    @staticmethod
    def preprocess(images):
        return torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255

    def forward(self, x):
        if self.fail:
            raise RuntimeError("boom")
        return self.head(self.conv(x).mean(dim=(2, 3)))


def test_hooks_are_removed_and_mode_restored_after_a_failure(monkeypatch, images):
    import sys
    import types

    module = types.ModuleType("exploding_models")
    module.make = Exploding
    monkeypatch.setitem(sys.modules, "exploding_models", module)
    ext = get_extractor("torch:exploding_models:make", device="cpu")
    model = ext.bundle.model
    model.train()
    model.fail = True
    with pytest.raises(RuntimeError, match="boom"):
        ext.extract(images, layers=["conv", "embedding"], progress=False)
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())
    model.fail = False
    out = ext.extract(images, layers=["conv"], pooling="spatial", progress=False)
    with torch.no_grad():
        ref = model.conv(Exploding.preprocess(images)).mean(dim=(2, 3)).numpy()
    np.testing.assert_allclose(out["conv"].features, ref, rtol=1e-5, atol=1e-6)
    flat = ext.extract(images[:2], layers=["conv"], pooling="flatten", progress=False)
    assert flat["conv"].features.shape == (2, 4 * 38 * 38)
    assert flat["conv"].metadata["original_shape"] == [4, 38, 38]
    with pytest.raises(ParameterError, match="Pooling 'cls' expects tokens"):
        ext.extract(images[:2], layers=["conv"], pooling="cls", progress=False)


def test_samplenet_through_the_extractor_matches_the_sample_generator(nsd_sample, ground_truth):
    # The sample's planted features came from the 85 px drawings; the extractor reads
    # the stored 425 px images by id from nsd_stimuli.hdf5. Both must agree.
    from brainalign.data import NSDStimuli
    from brainalign.data.sample import sample_layer_features
    from brainalign.data.sample._images import draw_image, sample_attributes
    from brainalign.data.sample._nsd import SampleConfig, plan_design

    pool = plan_design(SampleConfig(seed=0))["pool"]
    attrs = sample_attributes(np.random.default_rng([0, 1]), len(pool))
    rng = np.random.default_rng([0, 5])
    drawn = [draw_image(attrs.iloc[i], rng) for i in range(6)]
    expected = sample_layer_features(drawn, ["layer4"])["layer4"]
    ext = get_extractor(ground_truth["model"], device="cpu")
    got = ext.extract(
        NSDStimuli.from_root(nsd_sample), ids=pool[:6], layers=["layer4"], progress=False
    )["layer4"]
    np.testing.assert_allclose(got.features, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got.stimulus_ids, pool[:6])


def test_featureset_align_joins_by_id():
    fs = FeatureSet(np.arange(12, dtype=np.float32).reshape(4, 3), [40, 10, 30, 20])
    np.testing.assert_array_equal(fs.align([10, 10, 20]), [[3, 4, 5], [3, 4, 5], [9, 10, 11]])
    with pytest.raises(DataError, match="2 stimulus id.*no features.*50, 60"):
        fs.align([10, 50, 60])


def test_list_layers_on_any_module():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
    assert list_layers(model) == ["0", "1"]


def test_layers_of_the_other_tower_are_rejected(tiny_clip):
    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu", tower="text")
    with pytest.raises(ParameterError, match="Unknown layer 'visual.ln_post'"):
        ext.extract(["a"], layers=["visual.ln_post"], progress=False)
