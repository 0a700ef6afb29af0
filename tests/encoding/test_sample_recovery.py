"""The encoding model recovers what the embedded sample planted."""

import nibabel as nib
import numpy as np
import pytest

from brainalign import get_extractor, load_dataset
from brainalign.data.sample import PLANTED
from brainalign.encoding import EncodingModel, noise_normalized_r2, pearson_r, permutation_test

LAYERS = ("layer2", "layer4", "layer6")


@pytest.fixture(scope="module")
def fitted(nsd_sample, tmp_path_factory):
    """Fit every SampleNet layer to subject 1 (train), predict the shared1000 (test)."""
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        data = load_dataset("nsd", root=nsd_sample, subject=1, average=True)
    train, test = data.split()
    ext = get_extractor("torch:brainalign.data.sample:SampleNet@0", device="cpu")
    feats = ext.extract(
        data.stimuli,
        ids=data.stimulus_ids,
        layers=list(LAYERS),
        cache_dir=tmp_path_factory.mktemp("features"),
        progress=False,
    )
    pred = {}
    for layer in LAYERS:
        model = EncodingModel(alphas=np.logspace(0, 5, 11)).fit(
            feats[layer].align(train.stimulus_ids), train.responses
        )
        pred[layer] = model.predict(feats[layer].align(test.stimulus_ids))
    r = {layer: pearson_r(test.responses, p) for layer, p in pred.items()}
    return {"data": data, "test": test, "pred": pred, "r": r}


def test_each_layer_group_is_fit_best_by_its_planted_layer(fitted):
    data, r = fitted["data"], fitted["r"]
    for layer in LAYERS:
        rois = [roi for roi, (lay, _) in PLANTED.items() if lay == layer]
        mask = data.roi_mask(rois)
        means = {name: float(r[name][mask].mean()) for name in LAYERS}
        assert max(means, key=means.get) == layer, (layer, means)


def test_no_signal_voxels_stay_non_significant_at_fdr_005(fitted, nsd_sample):
    data, test = fitted["data"], fitted["test"]
    _, q = permutation_test(test.responses, fitted["pred"]["layer6"], n_permutations=1000)
    truth = np.asarray(nib.load(nsd_sample / "true_noise_ceiling.nii.gz").dataobj)
    null = truth[tuple(data.space.ijk.T)] == 0
    assert null.sum() > 200  # RSC and the unlabelled part of nsdgeneral
    assert np.mean(q[null] < 0.05) <= 0.05
    assert np.mean(q[data.roi_mask("FFA-1")] < 0.05) > 0.8  # the planted ROI is found


def test_noise_normalised_scores_of_planted_rois(fitted):
    data, test = fitted["data"], fitted["test"]
    ncr2 = noise_normalized_r2(fitted["r"]["layer6"], test.noise_ceiling())
    planted = data.roi_mask(["FFA-1", "PPA"])
    assert np.all((ncr2[planted] >= 0) & (ncr2[planted] <= 100))
    assert np.median(ncr2[planted]) > 30
