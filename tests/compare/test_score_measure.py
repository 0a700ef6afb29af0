"""score_measure: every measure on the sample's planted ROI -> layer truth, and its null."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.compare import MEASURES, score_measure
from brainalign.compare._measures import DISTANCES
from brainalign.data.sample import PLANTED
from brainalign.exceptions import DataError, ParameterError

LAYERS = ("layer2", "layer4", "layer6")
#: Measures that recover the planted layer of every layer group of the sample (a linear
#: readout of one SampleNet layer per ROI, with per-voxel weights): the fitted readouts
#: and the RDM measures (ridge: tests/encoding/test_sample_recovery.py).
RECOVERING = ("ridge", "pls", "cca", "rsa", "trsa")
#: Measures that recover the layer4 and layer6 groups but not the early (layer2) ROIs:
#: CKA ties layer2 with layer4 there (0.479 vs 0.480), and the shape distances (alpha
#: 1) put layer4 closest: the whole geometry of a layer, not its readout, is compared.
HIGHER_ONLY = ("cka", "procrustes", "angular")


@pytest.fixture(scope="module")
def sample(nsd_sample, tmp_path_factory):
    from brainalign import get_extractor, load_dataset

    with pytest.warns(UserWarning, match="Dropped 4 of"):
        data = load_dataset("nsd", root=nsd_sample, subject=1, average=True)
    ext = get_extractor("torch:brainalign.data.sample:SampleNet@0", device="cpu")
    feats = ext.extract(data.stimuli, ids=data.stimulus_ids, layers=list(LAYERS),
                        cache_dir=tmp_path_factory.mktemp("features"), progress=False)  # fmt: skip
    return data, feats, data.split()[1].stimulus_ids


def _scores(sample, measure, layer_group):
    data, feats, test_ids = sample
    rois = [roi for roi, (lay, _) in PLANTED.items() if lay == layer_group]
    y = data.responses[:, data.roi_mask(rois)]
    return {
        layer: score_measure(measure, feats[layer].features, y, feats[layer].stimulus_ids,
                             data.stimulus_ids, test_ids, n_permutations=0).value
        for layer in LAYERS
    }  # fmt: skip


@pytest.mark.parametrize("measure", [m for m in RECOVERING + HIGHER_ONLY if m != "ridge"])
def test_measures_recover_the_planted_layer_of_each_roi_group(sample, measure):
    groups = LAYERS if measure in RECOVERING else LAYERS[1:]
    for group in groups:
        values = _scores(sample, measure, group)
        best = (min if measure in DISTANCES else max)(values, key=values.get)
        assert best == group, (measure, group, values)


def test_svcca_and_pwcca_saturate_when_units_outnumber_stimuli(sample):
    # 256 units per layer, 200 held-out images: CCA finds perfect canonical pairs in
    # any layer; these are model-model measures for many more stimuli than units
    values = _scores(sample, "pwcca", "layer6")
    assert all(v > 0.99 for v in values.values())


@pytest.mark.parametrize("measure", ["cka", "cca", "angular"])
def test_the_permutation_null_is_calibrated(measure):
    rng = np.random.default_rng(0)
    n, hits, runs = 60, 0, 300
    for _ in range(runs):
        x, y = rng.standard_normal((n, 4)), rng.standard_normal((n, 3))  # independent
        ids = np.arange(n)
        result = score_measure(measure, x, y, ids, ids, ids[40:], n_permutations=39,
                               seed=int(rng.integers(1 << 30)))  # fmt: skip
        hits += result.p <= 0.05
    assert 0.02 <= hits / runs <= 0.08, hits / runs  # 5 % (binomial sd 1.3 % at 300 runs)


def test_score_measure_joins_by_id_and_gives_an_interval():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((100, 5))
    y = x @ rng.standard_normal((5, 6)) + 0.5 * rng.standard_normal((100, 6))
    ids = np.arange(100)
    order = rng.permutation(100)
    test = ids[70:]
    a = score_measure("ridge", x, y, ids, ids, test, n_permutations=0)
    b = score_measure("ridge", x[order], y, ids[order], ids, test, n_permutations=0)
    assert a.value == pytest.approx(b.value, abs=1e-6)  # rows joined by id, not position
    c = score_measure("cka", x, y, ids, ids, test, n_permutations=50, n_bootstraps=100)
    assert c.low < c.value < c.high and c.p < 0.05 and c.null_high < c.value
    assert np.isnan(score_measure("rsa", x, y, ids, ids, test, n_bootstraps=10).low)
    with pytest.raises(ParameterError, match="'measure'"):
        score_measure("mutual_information", x, y, ids, ids, test)
    with pytest.raises(DataError, match="missing"):
        score_measure("cka", x[:50], y, ids[:50], ids, test)
    assert set(MEASURES) >= set(RECOVERING + HIGHER_ONLY)
