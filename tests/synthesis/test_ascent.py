"""Gradient ascent on the sample: planted ROIs driven beyond the best bank image, selectively."""

import numpy as np
import pytest

from brainalign.data.sample._samplenet import PLANTED
from brainalign.synthesis import GradientAscent, colour_basis

#: The sample's ROIs with a planted effect (a driving layer or image attributes).
DRIVEN = [roi for roi, (layer, attrs) in PLANTED.items() if layer or attrs]


@pytest.fixture(scope="module")
def fitted(sample_encoder):
    return sample_encoder


def _ascent(ctx, **options):
    train = ctx["train"]
    colours = colour_basis(list(train.stimuli.images(train.stimulus_ids[:32])))
    return GradientAscent(size=68, colours=colours, **options)


def test_ascent_beats_the_best_bank_image_and_is_selective(fitted):
    enc = fitted["encoder"]
    ascent = _ascent(fitted, steps=100)
    assert len(DRIVEN) == 15
    for roi in DRIVEN:
        result = ascent.generate(enc, roi, 1, seed=0)
        col, others = enc.unit_index(roi), enc.others(roi)
        z = enc.zscores(result.activations)[0]
        best_bank = enc.zscores(enc.bank_max_)[col]
        assert z[col] > best_bank + 0.5, roi  # beyond every natural image of the bank
        assert z[col] > z[others].max() + 1.0, roi  # the target, not the other ROIs
        assert enc.zscores(result.baseline)[0, col] < best_bank  # the starting image is not
        assert result.images.dtype == np.uint8 and result.images.shape == (1, 68, 68, 3)


def test_seeds_give_identical_images_and_reranking_keeps_the_best(fitted):
    enc = fitted["encoder"]
    ascent = _ascent(fitted, steps=15, batch_size=2)
    first, again = ascent.generate(enc, "PPA", 3, seed=4), ascent.generate(enc, "PPA", 3, seed=4)
    np.testing.assert_array_equal(first.images, again.images)
    assert first.seeds == again.seeds and sorted(first.seeds) == [400012, 400013, 400014]
    one_by_one = _ascent(fitted, steps=15, batch_size=1).generate(enc, "PPA", 3, seed=4)
    assert np.abs(one_by_one.images.astype(int) - first.images.astype(int)).max() <= 1
    assert not np.array_equal(ascent.generate(enc, "PPA", 1, seed=5).images, first.images[:1])
    kept = _ascent(fitted, steps=15, batch_size=2, n_candidates=3).generate(enc, "PPA", 1, seed=4)
    assert kept.seeds == first.seeds[:1]  # the best of the same three candidates
    np.testing.assert_array_equal(kept.images[0], first.images[0])
    assert np.all(np.diff(first.target_activation) <= 0)  # best first
