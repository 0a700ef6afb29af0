import numpy as np
import pytest
import torch

from brainalign.features import get_extractor

TEXTS = ["a red striped circle on the left", "two faces", "three blue houses at the top", "a word"]


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    return get_extractor(f"hf:{minilm_dir}", device="cpu")


def test_minilm_layers_and_widths(minilm):
    blocks = minilm.list_layers("encoder.layer.?")
    assert blocks == [f"encoder.layer.{i}" for i in range(6)]
    out = minilm.extract(TEXTS, layers=blocks + ["embedding"], progress=False)
    assert all(out[b].features.shape == (4, 384) for b in blocks)
    assert out["embedding"].metadata["tower"] == "text"


def test_minilm_mean_pooling_is_mask_aware(minilm, minilm_dir):
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(minilm_dir)
    model = transformers.AutoModel.from_pretrained(minilm_dir).eval()
    batch = tok(TEXTS, padding=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any()  # padding present: the mask matters
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state.numpy()
    mask = batch["attention_mask"].numpy()[..., None]
    by_hand = (hidden * mask).sum(1) / mask.sum(1)
    out = minilm.extract(
        TEXTS, layers=["encoder.layer.5", "embedding"], pooling="mean", batch_size=4, progress=False
    )
    np.testing.assert_allclose(out["embedding"].features, by_hand, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["encoder.layer.5"].features, by_hand, rtol=1e-4, atol=1e-5)
    assert not np.allclose(hidden.mean(1), by_hand, atol=1e-3)  # naive mean differs


def test_minilm_matches_sentence_transformers_and_is_deterministic(minilm, minilm_dir):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm_dir), device="cpu").encode(TEXTS)
    ours = minilm.extract(TEXTS, batch_size=2, progress=False)["embedding"].features
    ours = ours / np.linalg.norm(ours, axis=1, keepdims=True)  # the ST pipeline normalises
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)
    again = minilm.extract(TEXTS, batch_size=2, progress=False)["embedding"].features
    np.testing.assert_array_equal(
        again, minilm.extract(TEXTS, batch_size=2, progress=False)["embedding"].features
    )
    # The semantics are real: the two captions about houses/faces are not confused.
    sims = reference @ reference.T
    assert sims[0, 1] < sims[0, 0]


def test_hf_vision_model_from_a_local_directory(tmp_path, images):
    import transformers

    config = transformers.ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    torch.manual_seed(0)
    transformers.ViTModel(config).save_pretrained(tmp_path)
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    ext = get_extractor(f"hf:{tmp_path}", device="cpu")
    assert ext.bundle.modality == "image"
    out = ext.extract(images, layers=["layers.1", "embedding"], pooling="cls", progress=False)
    model = transformers.ViTModel.from_pretrained(tmp_path).eval()
    pixels = ext.bundle.prepare(list(images))["pixel_values"]
    assert pixels.shape == (20, 3, 32, 32)
    with torch.no_grad():
        ref = model(pixel_values=pixels, output_hidden_states=True)
    np.testing.assert_allclose(
        out["embedding"].features, ref.pooler_output.numpy(), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        out["layers.1"].features, ref.hidden_states[2][:, 0].numpy(), rtol=1e-4, atol=1e-5
    )
    assert out["embedding"].metadata["weights"].startswith("sha256:")


def test_timm_model_random_and_from_a_checkpoint(tmp_path, images):
    ext = get_extractor("timm:resnet10t@random", device="cpu", seed=2)
    assert "layer4" in ext.list_layers()
    out = ext.extract(images[:4], layers=["layer3", "embedding"], progress=False)
    assert out["layer3"].features.shape == (4, 256)  # spatial average of (256, h, w)
    assert out["layer3"].metadata["original_shape"][0] == 256
    path = tmp_path / "resnet10t.pth"
    torch.save(ext.bundle.model.state_dict(), path)
    loaded = get_extractor(f"timm:resnet10t@{path}", device="cpu")
    again = loaded.extract(images[:4], layers=["layer3", "embedding"], progress=False)
    for layer in out:
        np.testing.assert_array_equal(out[layer].features, again[layer].features)


def test_torchvision_model_random_and_from_a_state_dict(tmp_path, images):
    ext = get_extractor("torchvision:squeezenet1_1@random", device="cpu", seed=0)
    out = ext.extract(images[:3], layers=["features.12", "embedding"], progress=False)
    assert out["embedding"].features.shape == (3, 1000)
    path = tmp_path / "sq.pth"
    torch.save(ext.bundle.model.state_dict(), path)
    loaded = get_extractor(f"torchvision:squeezenet1_1@{path}", device="cpu")
    again = loaded.extract(images[:3], layers=["features.12"], progress=False)
    np.testing.assert_array_equal(out["features.12"].features, again["features.12"].features)


def test_images_from_a_folder(tmp_path, images):
    from PIL import Image

    for i, img in enumerate(images[:5]):
        Image.fromarray(img).save(tmp_path / f"img_{i}.png")
    ext = get_extractor("torch:brainalign.data.sample:SampleNet@0", device="cpu")
    a = ext.extract(tmp_path, layers=["layer1"], progress=False)["layer1"]
    b = ext.extract(images[:5], layers=["layer1"], progress=False)["layer1"]
    assert a.stimulus_ids.tolist() == [f"img_{i}" for i in range(5)]
    np.testing.assert_allclose(a.features, b.features, rtol=1e-6)


def test_device_resolution():
    from brainalign.exceptions import ParameterError
    from brainalign.features import resolve_device

    assert resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device() in ("cpu", "mps")
        with pytest.raises(ParameterError, match="CUDA is not available"):
            resolve_device("cuda")


def test_pil_images_and_dataloader_workers_give_the_same_features(images):
    from PIL import Image

    ext = get_extractor("torch:brainalign.data.sample:SampleNet@0", device="cpu")
    pil = [Image.fromarray(a) for a in images]
    a = ext.extract(pil, layers=["layer3"], batch_size=4, num_workers=2, progress=False)
    b = ext.extract(images, layers=["layer3"], batch_size=7, progress=False)
    np.testing.assert_allclose(a["layer3"].features, b["layer3"].features, rtol=1e-5, atol=1e-5)
