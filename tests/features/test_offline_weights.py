"""Pretrained weights come from the local cache, or fail at once in one line."""

import time

import numpy as np
import pytest
import torch

from brainalign.exceptions import DataError, ParameterError
from brainalign.features import _weights, check_model, get_extractor, model_layers

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Empty caches everywhere and HF_HUB_OFFLINE=1; returns the hub cache folder."""
    hub = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # open_clip's ~/.cache/clip
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return hub


@pytest.fixture
def unreachable(offline, monkeypatch):
    """Allow downloads in the environment, but let the connectivity probe fail."""
    for var in _weights.OFFLINE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_weights, "_reachable_hosts", {})
    monkeypatch.setattr(_weights, "_probe", lambda host, port=443: False)
    return offline


def _fails_fast(spec, **kwargs) -> str:
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        get_extractor(spec, device="cpu", **kwargs)
    assert time.perf_counter() - start < 5
    message = str(info.value)
    assert "\n" not in message
    return message


def _cache_repo(hub, repo_id, folder, revision="0" * 40):
    """Lay out ``folder``'s files as the hub cache entry of ``repo_id`` (symlinks)."""
    entry = hub / f"models--{repo_id.replace('/', '--')}"
    snapshot = entry / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (entry / "refs").mkdir()
    (entry / "refs" / "main").write_text(revision)
    for path in folder.iterdir():
        if path.is_file():
            (snapshot / path.name).symlink_to(path)


def test_uncached_open_clip_tag_fails_at_once_in_one_line(tiny_clip, offline):
    message = _fails_fast("open_clip:ViT-B-32@laion2b_s34b_b79k")
    assert "open_clip weights 'laion2b_s34b_b79k'" in message
    assert "not in the local cache" in message and "HF_HUB_OFFLINE=1" in message
    assert message.endswith("pass a local checkpoint: open_clip:ViT-B-32@/path/ckpt.pt")


def test_unreachable_hub_fails_at_once_without_retries(tiny_clip, unreachable, caplog):
    message = _fails_fast("open_clip:RN50@openai")
    assert "'openai'" in message and "the hub cannot be reached" in message
    assert "Retry" not in caplog.text
    message = _fails_fast(f"hf:{MINILM}")
    assert f"Hugging Face weights '{MINILM}'" in message and "cannot be reached" in message


def test_uncached_hf_id_fails_at_once_in_one_line(offline):
    message = _fails_fast(f"hf:{MINILM}@v1.0", tower="text")
    assert f"'{MINILM}@v1.0' are not in the local cache" in message
    assert message.endswith("pass a local checkpoint: hf:/path/to/local/model_dir")


def test_uncached_timm_and_torchvision_weights_fail_at_once(offline):
    assert "timm weights 'pretrained' of resnet18" in _fails_fast("timm:resnet18@pretrained")
    message = _fails_fast("torchvision:resnet18@DEFAULT")
    assert "torchvision:resnet18@/path/state_dict.pth" in message


def test_cached_hf_id_loads_from_the_cache_like_its_folder(offline, minilm_dir):
    _cache_repo(offline, MINILM, minilm_dir)
    cached = get_extractor(f"hf:{MINILM}", device="cpu")
    local = get_extractor(f"hf:{minilm_dir}", device="cpu")
    texts = ["a dog on a beach", "two red cups"]
    a = cached.extract(texts, progress=False)["embedding"]
    b = local.extract(texts, progress=False)["embedding"]
    np.testing.assert_allclose(a.features, b.features, rtol=1e-5, atol=1e-6)
    assert a.metadata["weights"] == f"hub:{MINILM}@main"
    check_model(f"hf:{MINILM}", ["encoder.layer.5", "embedding"])


def test_cached_open_clip_tag_loads_without_network(tiny_clip, offline, monkeypatch, images):
    import open_clip
    from open_clip.pretrained import _PRETRAINED, _pcfg

    monkeypatch.setitem(_PRETRAINED, tiny_clip, {"tiny": _pcfg(hf_hub="brainalign/tiny-clip/")})
    random = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu", seed=3)
    folder = offline.parent / "repo"
    folder.mkdir()
    torch.save(random.bundle.model.state_dict(), folder / "open_clip_pytorch_model.bin")
    _cache_repo(offline, "brainalign/tiny-clip", folder)
    cached = get_extractor(f"open_clip:{tiny_clip}@tiny", device="cpu")
    a = random.extract(images[:4], progress=False)["embedding"]
    b = cached.extract(images[:4], progress=False)["embedding"]
    np.testing.assert_array_equal(a.features, b.features)
    assert b.metadata["weights"] == "tiny"
    assert open_clip.list_pretrained_tags_by_model(tiny_clip) == ["tiny"]


def test_local_open_clip_checkpoint_loads_offline(tiny_clip, offline, tmp_path, images):
    random = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu", seed=5)
    path = tmp_path / "ckpt.pt"
    torch.save(random.bundle.model.state_dict(), path)
    check_model(f"open_clip:{tiny_clip}@{path}", ["visual.ln_post"])
    loaded = get_extractor(f"open_clip:{tiny_clip}@{path}", device="cpu")
    a = random.extract(images[:3], progress=False)["embedding"].features
    np.testing.assert_array_equal(
        a, loaded.extract(images[:3], progress=False)["embedding"].features
    )


def test_check_model_names_every_bad_layer_with_close_matches():
    spec = "torch:brainalign.data.sample:SampleNet@0"
    check_model(spec, ["layer4", "embedding"])
    with pytest.raises(ParameterError) as info:
        check_model(spec, ["layr4", "layer4", "fc9x", "layer66"])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("Unknown layers of _SampleNet: 'layr4' (did you mean 'layer4'")
    assert "'fc9x' (no close match)" in message and "'layer66' (did you mean 'layer6'" in message
    assert message.endswith(f"(list them: brainalign extract --model {spec} --list-layers)")
    with pytest.raises(ParameterError, match="^Unknown layer 'layr4' of _SampleNet; did you"):
        check_model(spec, "layr4")


def test_check_model_layers_match_the_extractor_and_are_fast(tiny_clip):
    spec = f"open_clip:{tiny_clip}@random"
    for tower in ("image", "text"):
        layers, name = model_layers(spec, tower)
        extractor = get_extractor(spec, device="cpu", tower=tower)
        assert layers == extractor.list_layers(runnable=False)  # names, without a forward pass
        assert name == "CLIP"
    start = time.perf_counter()
    check_model(spec, ["visual.ln_post", "embedding"])
    with pytest.raises(ParameterError, match="'visual.ln_post'.*'transfomer.resblocks.1'"):
        check_model(spec, ["visual.ln_post", "transfomer.resblocks.1"], tower="text")
    assert time.perf_counter() - start < 2


def test_check_model_rejects_unknown_names_before_loading(offline):
    cases = {
        "openclip:ViT-B-32": "family.*'open_clip'",
        "open_clip:ViT-B-23@random": "open_clip architecture.*got 'ViT-B-23'.*'ViT-B-32'",
        "open_clip:ViT-B-32@laion2b_s34b_b79": "pretrained tag.*Did you mean 'laion2b_s34b_b79k'",
        "timm:resnet81": "timm architecture.*'resnet18'",
        "timm:resnet18@a1_in1": "tag of timm resnet18.*'a1_in1k'",
        "torchvision:resnet18@IMAGENET1K": "torchvision resnet18.*'IMAGENET1K_V1'",
    }
    for spec, match in cases.items():
        with pytest.raises(ParameterError, match=match):
            check_model(spec, ["embedding"])
    start = time.perf_counter()
    with pytest.raises(DataError, match="'laion2b_s34b_b79k' of ViT-B-32 are not in the local"):
        check_model("open_clip:ViT-B-32@laion2b_s34b_b79k", ["visual.ln_post"])
    assert time.perf_counter() - start < 5


def test_check_model_builds_real_skeletons_without_weights():
    start = time.perf_counter()
    check_model("open_clip:ViT-B-32", ["visual.transformer.resblocks.11", "embedding"])
    check_model("timm:resnet18", ["layer4"])
    with pytest.raises(ParameterError, match="'layer5' of ResNet; did you mean 'layer4'"):
        check_model("torchvision:resnet18@random", ["layer5"])
    assert time.perf_counter() - start < 30  # meta-device skeletons: no weights, no init


def test_cli_prints_the_weights_error_in_one_line(offline, capsys):
    from brainalign.cli import main

    argv = ["extract", "--model", "open_clip:ViT-B-32@laion2b_s34b_b79k", "--list-layers"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("brainalign extract: error: open_clip weights 'laion2b_s34b_b79k'")
    assert "\n" not in err
