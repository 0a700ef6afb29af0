import numpy as np
import pytest

from brainalign import load_dataset
from brainalign.data.sample import PLANTED, SampleNet


def linear_cka(a, b):
    a = a - a.mean(0)
    b = b - b.mean(0)
    return np.linalg.norm(a.T @ b) ** 2 / (np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b))


@pytest.fixture(scope="module")
def averaged(nsd_sample):
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        data = load_dataset("nsd", root=nsd_sample, subject=1, average=True)
    return data


@pytest.fixture(scope="module")
def layer_features(averaged):
    """SampleNet features of the stored images (read back from nsd_stimuli.hdf5)."""
    import torch

    net = SampleNet(0)
    feats = {name: [] for name in ("layer2", "layer4", "layer6")}
    with torch.no_grad():
        for start in range(0, averaged.n_rows, 200):
            images = averaged.stimuli.images(averaged.stimulus_ids[start : start + 200])
            out = net.forward_layers(net.preprocess(images))
            for name in feats:
                feats[name].append(out[name].numpy())
    return {name: np.concatenate(v) for name, v in feats.items()}


def test_samplenet_layers_decorrelate(layer_features):
    cka = {
        (a, b): linear_cka(layer_features[a], layer_features[b])
        for a, b in [("layer2", "layer4"), ("layer4", "layer6"), ("layer2", "layer6")]
    }
    assert all(v < 0.85 for v in cka.values()), cka
    assert cka[("layer2", "layer6")] < 0.7, cka


def test_samplenet_is_seeded_and_preprocess_pools_exactly():
    import torch

    a, b, c = SampleNet(0), SampleNet(0), SampleNet(1)
    torch.testing.assert_close(a.layer3.weight, b.layer3.weight)
    assert not torch.equal(a.layer3.weight, c.layer3.weight)
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (2, 85, 85, 3), dtype=np.uint8)
    big = small.repeat(5, axis=1).repeat(5, axis=2)
    torch.testing.assert_close(a.preprocess(small), a.preprocess(big))
    odd = rng.integers(0, 256, (1, 100, 90, 3), dtype=np.uint8)
    assert a.preprocess(odd).shape == (1, 3, 17, 17)


def _held_out_r(x, y, train, test):
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x[train])
    model = RidgeCV(alphas=np.logspace(0, 5, 11)).fit(scaler.transform(x[train]), y[train])
    pred = model.predict(scaler.transform(x[test]))
    pred, obs = pred - pred.mean(0), y[test] - y[test].mean(0)
    return (pred * obs).sum(0) / np.sqrt((pred**2).sum(0) * (obs**2).sum(0))


def test_planted_layer_is_recovered_with_a_margin(averaged, layer_features):
    # DESIGN.md: the driving layer must beat the others clearly, or the planted
    # ROI -> layer truth is not recoverable.
    is_test = np.isin(averaged.stimulus_ids, averaged.test_ids)
    train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    for layer in ("layer2", "layer4", "layer6"):
        rois = [r for r, (lay, _) in PLANTED.items() if lay == layer]
        y = averaged.select_rois(rois).responses
        scores = {
            name: float(np.mean(_held_out_r(x, y, train, test)))
            for name, x in layer_features.items()
        }
        others = max(v for k, v in scores.items() if k != layer)
        assert scores[layer] - others > 0.03, (layer, scores)
