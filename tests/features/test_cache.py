import numpy as np
import pytest

from brainalign.exceptions import ParameterError
from brainalign.features import get_extractor

BLOCK = "visual.transformer.resblocks.0"


class Store:
    """A stimulus store read by id (like NSDStimuli) that can fail once."""

    def __init__(self, images, fail_at=None):
        self.data = images
        self.fail_at = fail_at
        self.reads = 0

    def fingerprint(self):
        return "store-v1"

    def images(self, ids):
        self.reads += 1
        if self.fail_at is not None and self.reads == self.fail_at:
            raise KeyboardInterrupt("simulated crash")
        return self.data[np.asarray(ids)]


def entries(cache):
    return sorted(
        p.parent.name + "/" + p.name for p in cache.glob("*/*") if (p / "meta.json").exists()
    )


def forward_counter(ext):
    calls = []
    ext.bundle.model.visual.register_forward_hook(lambda *a: calls.append(1))
    return calls


def test_cache_hit_equals_recomputation_and_is_memory_mapped(tiny_clip, images, tmp_path):
    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu")
    first = ext.extract(images, layers=[BLOCK, "embedding"], cache_dir=tmp_path, progress=False)
    calls = forward_counter(ext)
    again = ext.extract(images, layers=[BLOCK, "embedding"], cache_dir=tmp_path, progress=False)
    assert calls == []  # served from the cache
    fresh = ext.extract(images, layers=[BLOCK, "embedding"], progress=False)
    for layer in first:
        assert isinstance(again[layer].features, np.memmap)
        np.testing.assert_array_equal(again[layer].features, fresh[layer].features)
    assert len(entries(tmp_path)) == 2
    assert not (tmp_path / "partial").exists() or not any((tmp_path / "partial").iterdir())


@pytest.mark.parametrize(
    "change", ["layer", "pooling", "image_size", "weights", "content", "ids", "tower"]
)
def test_every_key_change_invalidates(tiny_clip, images, tmp_path, change):
    base = dict(spec=f"open_clip:{tiny_clip}@random", seed=0, tower="image")
    call = dict(stimuli=images, layers=[BLOCK], pooling="auto", ids=None)
    ext = get_extractor(base["spec"], device="cpu", seed=0)
    before = ext.extract(**call, cache_dir=tmp_path, progress=False)[BLOCK]
    if change == "layer":
        call["layers"] = ["visual.transformer.resblocks.1"]
    elif change == "pooling":
        call["pooling"] = "cls"
    elif change == "image_size":  # the Brain-Score 2503 case: same weights, other size
        base["spec"] = f"open_clip:{tiny_clip}-48@random"
    elif change == "weights":
        base["seed"] = 1
    elif change == "content":
        changed = images.copy()
        changed[3, 0, 0, 0] ^= 1
        call["stimuli"] = changed
    elif change == "ids":
        call["ids"] = np.arange(100, 100 + len(images))
    elif change == "tower":
        base["tower"] = "text"
        call.update(stimuli=["a"] * len(images), layers=["transformer.resblocks.0"])
    ext = get_extractor(base["spec"], device="cpu", seed=base["seed"], tower=base["tower"])
    after = ext.extract(**call, cache_dir=tmp_path, progress=False)
    layer = call["layers"][0]
    assert after[layer].metadata["key"] != before.metadata["key"]
    assert len(entries(tmp_path)) == 2
    if change in ("content", "image_size", "weights", "pooling"):
        assert not np.allclose(after[layer].features, before.features)


def test_interrupted_extraction_resumes_from_finished_batches(tiny_clip, images, tmp_path):
    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu")
    crashing = Store(images, fail_at=4)  # batches 1-3 finish, the 4th read crashes
    with pytest.raises(KeyboardInterrupt):
        ext.extract(
            crashing,
            ids=np.arange(20),
            layers=[BLOCK, "embedding"],
            batch_size=3,
            cache_dir=tmp_path,
            progress=False,
        )
    partial = list((tmp_path / "partial").glob("*/batch_*.npz"))
    assert len(partial) == 3
    calls = forward_counter(ext)
    resumed = ext.extract(
        Store(images),
        ids=np.arange(20),
        layers=[BLOCK, "embedding"],
        batch_size=3,
        cache_dir=tmp_path,
        progress=False,
    )
    assert len(calls) == 4  # 7 batches in all, 3 read back from disk
    clean = ext.extract(images, layers=[BLOCK, "embedding"], batch_size=3, progress=False)
    for layer in clean:
        np.testing.assert_allclose(resumed[layer].features, clean[layer].features, rtol=1e-6)
    assert not list((tmp_path / "partial").glob("*/batch_*.npz"))


def test_reductions_are_fitted_on_training_stimuli_only(tiny_clip, images, tmp_path):
    from sklearn.decomposition import PCA

    ext = get_extractor(f"open_clip:{tiny_clip}@random", device="cpu")
    fit = np.arange(12)
    out = ext.extract(
        images, layers=[BLOCK], pooling="pca:4", fit_ids=fit, cache_dir=tmp_path, progress=False
    )[BLOCK]
    flat = ext.extract(images, layers=[BLOCK], pooling="flatten", progress=False)[BLOCK].features
    ref = PCA(4).fit(flat[fit]).transform(flat)
    signs = np.sign((out.features * ref).sum(0))
    np.testing.assert_allclose(out.features, ref * signs, rtol=1e-3, atol=1e-3)
    assert out.metadata["original_shape"] == [17, 32] and out.metadata["n_fit"] == 12
    stored = np.load(next(tmp_path.glob("*/*/reduction.npz")))
    assert stored["components"].shape == (4, 17 * 32)
    other = ext.extract(
        images,
        layers=[BLOCK],
        pooling="pca:4",
        fit_ids=np.arange(8, 20),
        cache_dir=tmp_path,
        progress=False,
    )[BLOCK]
    assert other.metadata["key"] != out.metadata["key"]  # other training set, other entry
    srp = ext.extract(images, layers=[BLOCK], pooling="srp:8", fit_ids=fit, progress=False)
    assert srp[BLOCK].features.shape == (20, 8)
    with pytest.raises(ParameterError, match="fitted on training stimuli only"):
        ext.extract(images, layers=[BLOCK], pooling="pca:4", progress=False)
    with pytest.raises(ParameterError, match="'pooling'.*pca:<k>"):
        ext.extract(images, layers=[BLOCK], pooling="pca", progress=False)
