"""RoiEncoder: ROI predictions from weights, the extraction path, differentiable inputs."""

import numpy as np
import pytest
import torch

from brainalign.captions import EmbeddingBank
from brainalign.exceptions import DataError, ParameterError
from brainalign.features import get_extractor, load_reduction
from brainalign.synthesis import RoiEncoder, pixel_preprocessing

SAMPLE_MODEL = "torch:brainalign.data.sample:SampleNet@0"


def _images(n, size=40, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_roi_prediction_is_the_mean_of_its_voxels_predictions():
    rng = np.random.default_rng(0)
    d, v = 12, 9
    weights = {
        "coef": rng.normal(size=(d, v)),
        "intercept": rng.normal(size=v),
        "mean": rng.normal(size=d),
        "scale": rng.uniform(0.5, 2, size=d),
    }
    masks = {"A": np.arange(v) < 4, "B": np.arange(v) >= 4, "AB": np.arange(v) % 2 == 0}
    enc = RoiEncoder.from_weights(None, ["x"], {"x": "auto"}, weights, masks)
    x = rng.normal(size=(7, d))
    voxels = ((x - weights["mean"]) / weights["scale"]) @ weights["coef"] + weights["intercept"]
    for i, mask in enumerate(masks.values()):
        np.testing.assert_allclose(enc.predict_features(x)[:, i], voxels[:, mask].mean(1))
    # the ROIs sharing no voxel with A: only B ("AB" holds voxels 0 and 2 of A)
    assert [enc.units[i] for i in enc.others("A")] == ["B"]
    assert list(enc.others("AB")) == []
    with pytest.raises(ParameterError, match="'roi'.*'C'"):
        enc.others("C")


def test_calibration_and_selectivity_match_numpy(tmp_path):
    rng = np.random.default_rng(1)
    enc = RoiEncoder(None, ["x"], {"x": "auto"}, rng.normal(size=(3, 5)), rng.normal(size=3),
                     ["A", "B", "C"])  # fmt: skip
    feats = rng.normal(size=(300, 5)).astype(np.float32)
    bank = EmbeddingBank.load(EmbeddingBank(feats, np.arange(300)).save(tmp_path / "bank"))
    enc.calibrate(bank, chunk_size=64)
    act = feats.astype(np.float64) @ enc.directions.T + enc.offsets
    np.testing.assert_allclose(enc.bank_mean_, act.mean(0))
    np.testing.assert_allclose(enc.bank_sd_, act.std(0, ddof=1))
    np.testing.assert_allclose(enc.bank_max_, act.max(0))
    z = (act[:4] - act.mean(0)) / act.std(0, ddof=1)
    np.testing.assert_allclose(enc.selectivity(act[:4], "B"), z[:, 1] - z[:, [0, 2]].mean(1))
    with pytest.raises(DataError, match="dimensions"):
        enc.calibrate(EmbeddingBank(np.zeros((4, 6)), np.arange(4)))


@pytest.mark.parametrize("pooling", ["auto", "pca:6"])
def test_scores_through_the_model_equal_the_extracted_features(tmp_path, pooling):
    extractor = get_extractor(SAMPLE_MODEL, device="cpu")
    images, ids = _images(24), np.arange(24)
    fs = extractor.extract(images, ids=ids, layers=["layer4"], pooling=pooling,
                           cache_dir=tmp_path, fit_ids=ids[:16], progress=False)  # fmt: skip
    fs = fs["layer4"]
    reduction = load_reduction(tmp_path, fs)
    assert (reduction is None) == (pooling == "auto")
    rng = np.random.default_rng(2)
    d = fs.features.shape[1]
    enc = RoiEncoder(extractor, ["layer4"], {"layer4": pooling}, rng.normal(size=(3, d)),
                     rng.normal(size=3), ["A", "B", "C"], {"layer4": reduction})  # fmt: skip
    expected = enc.predict_features(fs.align(ids))
    np.testing.assert_allclose(enc.score_images(images, batch_size=7), expected, atol=1e-4)


def test_differentiable_preprocessing_follows_the_model(tiny_clip):
    sample = get_extractor(SAMPLE_MODEL, device="cpu").bundle
    clip = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu").bundle
    images = _images(3, size=64)
    floats = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    for bundle, tol in ((sample, 1e-6), (clip, 0.03)):  # PIL's uint8 resize vs torch's
        want = bundle.prepare(list(images))
        got = pixel_preprocessing(bundle)(floats)
        assert set(got) == set(want)
        key = next(iter(want))
        assert got[key].shape == want[key].shape
        np.testing.assert_allclose(got[key].numpy(), want[key].numpy(), atol=tol)


def test_a_numpy_preprocessing_is_refused_with_the_way_out():
    def factory():
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))

    import sys
    import types

    module = types.ModuleType("brainalign_test_numpy_prep")
    module.factory = factory
    sys.modules[module.__name__] = module
    try:
        prep = lambda x: torch.zeros(len(x), 3, 8, 8)  # noqa: E731
        bundle = get_extractor(f"torch:{module.__name__}:factory", preprocess=prep).bundle
        with pytest.raises(ParameterError, match="preprocess_tensor.*Bank search works"):
            pixel_preprocessing(bundle)
    finally:
        del sys.modules[module.__name__]
