"""ModelSpec and Pooling: one parser for model specs and pooling strings."""

import dataclasses

import numpy as np
import pytest

from brainalign.exceptions import ParameterError
from brainalign.features import FAMILIES, POOLINGS, ModelSpec, Pooling, get_extractor
from brainalign.features._models import _LOADERS
from brainalign.features._pooling import pool

SAMPLE = "torch:brainalign.data.sample:SampleNet@0"

#: (spec, family, name, weights): the forms of DESIGN.md, plus resolved specs.
SPECS = [
    ("open_clip:ViT-B-32@laion2b_s34b_b79k", "open_clip", "ViT-B-32", "laion2b_s34b_b79k"),
    ("open_clip:ViT-B-32@/path/ckpt.pt", "open_clip", "ViT-B-32", "/path/ckpt.pt"),
    ("open_clip:ViT-B-32@random", "open_clip", "ViT-B-32", "random"),
    ("open_clip:ViT-B-32", "open_clip", "ViT-B-32", None),
    ("hf:facebook/dinov2-small", "hf", "facebook/dinov2-small", None),
    ("hf:/data/models/all-MiniLM-L6-v2", "hf", "/data/models/all-MiniLM-L6-v2", None),
    ("hf:facebook/dinov2-small@main", "hf", "facebook/dinov2-small", "main"),
    ("timm:resnet50", "timm", "resnet50", None),
    ("timm:vit_small_patch16_224@pretrained", "timm", "vit_small_patch16_224", "pretrained"),
    ("timm:resnet50@/w/resnet50.pth", "timm", "resnet50", "/w/resnet50.pth"),
    ("torchvision:resnet18@DEFAULT", "torchvision", "resnet18", "DEFAULT"),
    (SAMPLE, "torch", "brainalign.data.sample:SampleNet", "0"),
    ("torch:my_pkg.nets:build", "torch", "my_pkg.nets:build", None),
    # resolved specs (FeatureExtractor.spec): the weights run to the end
    ("torch:brainalign.data.sample:SampleNet@state:ab12", "torch", SAMPLE[6:-2], "state:ab12"),
    ("open_clip:ViT-B-32@random@0", "open_clip", "ViT-B-32", "random@0"),
    ("hf:org/m@hub:org/m@main", "hf", "org/m", "hub:org/m@main"),
]


def _old_short(spec: str) -> str:
    """Return the file-name formula of _sweep._clean_model and _run.map_name."""
    return "".join(c for c in spec.split("@")[0].split(":")[-1] if c.isalnum())


@pytest.mark.parametrize(("text", "family", "name", "weights"), SPECS)
def test_every_spec_form_parses_and_round_trips(text, family, name, weights):
    spec = ModelSpec.parse(text)
    assert (spec.family, spec.name, spec.weights) == (family, name, weights)
    assert str(spec) == spec.text == text
    assert spec.model_id == text.split("@")[0]
    assert ModelSpec.parse(spec) is spec
    assert ModelSpec(family, name, weights) == spec


@pytest.mark.parametrize("text", [s[0] for s in SPECS])
def test_short_is_the_old_file_name_formula(text):
    assert ModelSpec.parse(text).short == _old_short(text)


def test_short_and_text_tower_values():
    assert ModelSpec.parse("open_clip:ViT-B-32@random").short == "ViTB32"
    assert ModelSpec.parse(SAMPLE).short == "SampleNet"
    assert ModelSpec.parse("hf:facebook/dinov2-small").short == "facebookdinov2small"
    assert ModelSpec.parse("open_clip:ViT-B-32@random").has_text_tower
    for text in ("hf:x/y", "timm:resnet50", "torchvision:resnet18", SAMPLE):
        assert not ModelSpec.parse(text).has_text_tower


def test_with_weights_and_immutability():
    spec = ModelSpec.parse("open_clip:ViT-B-32@random")
    assert spec.with_weights("/p/ckpt.pt").text == "open_clip:ViT-B-32@/p/ckpt.pt"
    assert spec.with_weights(None).text == "open_clip:ViT-B-32"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "RN50"


def test_every_family_has_a_loader():
    assert sorted(_LOADERS) == sorted(FAMILIES)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("openclip:ViT-B-32", "'spec'.*family.*got 'openclip'.*Did you mean 'open_clip'"),
        ("keras:ResNet50", "'spec'.*family among hf, open_clip.*got 'keras'"),
        ("ViT-B-32", "'spec'.*'<family>:<name>\\[@<weights>\\]'.*got 'ViT-B-32'"),
        ("open_clip:", "'spec'.*model name after 'open_clip:'.*got ''"),
        ("open_clip:@random", "'spec'.*model name after 'open_clip:'.*got ''"),
        ("open_clip:ViT-B-32@", "'spec'.*weights text after '@'.*got 'open_clip:ViT-B-32@'"),
        ("torch:my_pkg.nets", "'spec'.*'torch:<module path>:<factory>.*got 'torch:my_pkg.nets'"),
        ("torch::Net@0", "'spec'.*'torch:<module path>:<factory>.*got 'torch::Net@0'"),
        ("torch:my_pkg:", "'spec'.*'torch:<module path>:<factory>.*got 'torch:my_pkg:'"),
        (3, "'spec'.*got 3"),
        (None, "'spec'.*got None"),
    ],
)
def test_bad_specs_name_the_parameter(text, match):
    with pytest.raises(ParameterError, match=match):
        ModelSpec.parse(text)


def test_direct_construction_is_validated():
    with pytest.raises(ParameterError, match="'spec'.*without '@'.*got 'ViT@B'"):
        ModelSpec("open_clip", "ViT@B")
    with pytest.raises(ParameterError, match="'spec'.*weights text.*got ''"):
        ModelSpec("timm", "resnet50", "")
    with pytest.raises(ParameterError, match="'spec'.*family.*got 'tf'"):
        ModelSpec("tf", "resnet50")


@pytest.mark.parametrize(
    ("text", "method", "k", "fitted", "token_width"),
    [
        ("auto", "auto", None, False, False),
        ("cls", "cls", None, False, False),
        ("mean", "mean", None, False, False),
        ("spatial", "spatial", None, False, False),
        ("flatten", "flatten", None, False, True),
        ("tokens", "tokens", None, False, True),
        ("pca:256", "pca", 256, True, True),
        ("srp:1", "srp", 1, True, True),
    ],
)
def test_every_pooling_parses_and_round_trips(text, method, k, fitted, token_width):
    pooling = Pooling.parse(text)
    assert (pooling.method, pooling.k) == (method, k)
    assert (pooling.fitted, pooling.token_width) == (fitted, token_width)
    assert str(pooling) == pooling.text == text
    assert Pooling.parse(pooling) is pooling
    assert Pooling(method, k) == pooling


def test_poolings_constant_lists_every_method():
    assert POOLINGS == (
        "auto", "cls", "mean", "spatial", "flatten", "tokens", "pca:<k>", "srp:<k>"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("pca:0", "'pooling'.*integer k >= 1 in 'pca:<k>'; got 'pca:0'"),
        ("srp:0", "'pooling'.*integer k >= 1 in 'srp:<k>'; got 'srp:0'"),
        ("pca:x", "'pooling'.*integer k >= 1 in 'pca:<k>'; got 'pca:x'"),
        ("pca:-3", "'pooling'.*integer k >= 1.*got 'pca:-3'"),
        ("pca:1.5", "'pooling'.*integer k >= 1.*got 'pca:1.5'"),
        ("pca:", "'pooling'.*integer k >= 1.*got 'pca:'"),
        ("pca", "'pooling'.*one of auto, cls.*pca:<k>, srp:<k>; got 'pca'"),
        ("foo", "'pooling'.*one of auto.*got 'foo'"),
        ("mean:3", "'pooling'.*one of auto.*got 'mean:3'"),
        ("PCA:4", "'pooling'.*one of auto.*got 'PCA:4'"),
        (None, "'pooling'.*got None"),
        (4, "'pooling'.*got 4"),
    ],
)
def test_bad_poolings_name_the_parameter(text, match):
    with pytest.raises(ParameterError, match=match):
        Pooling.parse(text)


def test_direct_pooling_construction_is_validated():
    with pytest.raises(ParameterError, match="'pooling'.*no k for 'mean'"):
        Pooling("mean", 3)
    with pytest.raises(ParameterError, match="'pooling'.*integer k >= 1 in 'pca:<k>'; got None"):
        Pooling("pca")
    with pytest.raises(ParameterError, match="'pooling'.*got True"):
        Pooling("srp", True)
    with pytest.raises(ParameterError, match="'pooling'.*one of auto.*got 'max'"):
        Pooling("max")


def test_pool_takes_a_pooling_or_its_text():
    torch = pytest.importorskip("torch")
    tokens = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    torch.testing.assert_close(pool(tokens, Pooling.parse("cls")), tokens[:, 0])
    torch.testing.assert_close(pool(tokens, "pca:2"), tokens.reshape(2, 12))
    with pytest.raises(ParameterError, match="'pooling'"):
        pool(tokens, "pca")


def test_get_extractor_takes_a_spec_object_like_its_text(images):
    from_text = get_extractor(SAMPLE, device="cpu")
    from_spec = get_extractor(ModelSpec.parse(SAMPLE), device="cpu")
    assert from_spec.spec == from_text.spec
    assert from_spec.bundle.model_id == from_text.bundle.model_id == SAMPLE[:-2]
    a = from_text.extract(images[:4], layers=["layer2"], progress=False)["layer2"]
    b = from_spec.extract(images[:4], layers=["layer2"], progress=False)["layer2"]
    np.testing.assert_array_equal(a.features, b.features)
    assert a.metadata == b.metadata


def test_extract_takes_pooling_objects_like_their_text(images):
    ext = get_extractor(SAMPLE, device="cpu")
    fit = np.arange(10)
    kwargs = dict(layers=["layer2"], fit_ids=fit, progress=False)
    a = ext.extract(images, pooling="pca:3", **kwargs)["layer2"]
    b = ext.extract(images, pooling={"layer2": Pooling("pca", 3)}, **kwargs)["layer2"]
    assert a.features.shape == (len(images), 3)
    np.testing.assert_allclose(a.features, b.features)
    assert a.metadata["pooling"] == b.metadata["pooling"] == "pca:3"
    assert a.metadata["key"] == b.metadata["key"]


def test_cli_extract_refuses_a_bad_pooling_before_loading(capsys):
    from brainalign.cli import main

    code = main(["extract", "--model", SAMPLE, "--pooling", "pca:0", "--list-layers"])
    assert code == 2
    assert "'pooling'" in capsys.readouterr().err


def test_spec_and_pooling_are_exported():
    import brainalign.features as features

    assert {"FAMILIES", "ModelSpec", "POOLINGS", "Pooling"} <= set(features.__all__)
    assert features.__all__ == sorted(features.__all__)
    assert "parse_spec" not in features.__all__  # one parser: ModelSpec.parse
