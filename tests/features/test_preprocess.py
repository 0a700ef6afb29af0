"""The preprocessing record: faithful to each library's transform, and overridable."""

import numpy as np
import pytest
import torch
from PIL import Image

from brainalign.exceptions import ParameterError
from brainalign.features import Preprocess, get_extractor
from brainalign.features._preprocess import from_open_clip, from_torchvision


@pytest.fixture(scope="module")
def photo():
    import skimage.data

    return Image.fromarray(skimage.data.coffee())


def test_a_torchvision_preset_rebuilt_from_its_record_gives_the_same_tensor(photo):
    import torchvision

    preset = torchvision.models.get_model_weights("resnet50").IMAGENET1K_V2.transforms()
    record = from_torchvision(preset, "torchvision")
    assert (record.size, record.crop_pct, record.interpolation) == (224, 224 / 232, "bilinear")
    torch.testing.assert_close(record.transform()(photo), preset(photo), rtol=0, atol=0.02)


def test_an_open_clip_config_rebuilt_from_its_record_gives_the_same_tensor(photo):
    import open_clip

    transform = open_clip.image_transform(224, is_train=False)
    cfg = {"size": 224, "mean": open_clip.OPENAI_DATASET_MEAN, "std": open_clip.OPENAI_DATASET_STD}
    record = from_open_clip({**cfg, "interpolation": "bicubic"}, "open_clip")
    torch.testing.assert_close(record.transform()(photo), transform(photo), rtol=0, atol=0.02)


def test_a_squash_resize_equals_resize_both_sides_then_crop(photo):
    from torchvision import transforms as T

    record = Preprocess(227, 227 / 256, "bilinear", (0,) * 3, (1,) * 3, resize="squash")
    expected = T.Compose([T.Resize((256, 256)), T.CenterCrop(227), T.ToTensor()])(photo)
    torch.testing.assert_close(record.transform()(photo), expected, rtol=0, atol=1e-6)


def test_an_override_replaces_only_the_fields_it_names():
    base = Preprocess(240, 0.9, "bicubic", (0.5,) * 3, (0.5,) * 3, "timm pretrained_cfg")
    changed = base.override("imagenet; crop_pct=1")
    assert (changed.size, changed.interpolation, changed.crop_pct) == (240, "bicubic", 1.0)
    assert changed.mean == (0.485, 0.456, 0.406) and changed.std == (0.229, 0.224, 0.225)
    assert changed.source == "override (crop_pct=1.0 mean=0.485,0.456,0.406 std=0.229,0.224,0.225)"
    assert base.override(None) is base
    assert Preprocess.check_override("std=1,1,1  unit") == "mean=0,0,0 std=1,1,1"


def test_a_torch_model_with_an_override_gets_that_transform():
    ext = get_extractor(
        "torch:brainalign.data.sample:SampleNet@0", preprocess="size=17 crop_pct=1 unit"
    )
    image = np.random.default_rng(0).integers(0, 256, (1, 17, 17, 3), dtype=np.uint8)
    x = ext.bundle.prepare(list(image))["x"]
    np.testing.assert_allclose(x[0].numpy(), image[0].transpose(2, 0, 1) / 255, atol=0.02)
    assert ext.bundle.preprocess_config["size"] == 17


def test_hf_models_keep_their_processor():
    with pytest.raises(ParameterError, match="preprocessor_config.json"):
        get_extractor("hf:/no/such/folder", preprocess="unit")


def test_a_run_spec_keeps_the_canonical_override_and_refuses_a_bad_one():
    from brainalign.runs import RunSpec

    spec = RunSpec(dataset="nsd", root="x", subject=1, model="timm:resnet18@random",
                   preprocess="std=1,1,1  unit")  # fmt: skip
    assert spec.preprocess == "mean=0,0,0 std=1,1,1"
    assert "preprocess" in spec.result_key()
    assert "preprocess" not in spec.replace(preprocess=None).result_key()  # old tasks stay done
    with pytest.raises(ParameterError, match="'preprocess'.*interpolation among"):
        spec.replace(preprocess="interpolation=lanczos9")


def test_a_segmentation_preset_has_no_record_and_no_override():
    import torchvision

    preset = torchvision.models.segmentation.FCN_ResNet50_Weights.DEFAULT.transforms()
    assert from_torchvision(preset, "torchvision") is None
