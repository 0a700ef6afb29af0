"""Bank search equals a brute-force ranking of the whole bank."""

import numpy as np
import pytest

from brainalign.captions import EmbeddingBank
from brainalign.synthesis import BankSearch, RoiEncoder


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(5000, 16)).astype(np.float32)
    feats[4000] = feats[17]  # a tie: the lower row comes first
    folder = tmp_path_factory.mktemp("bank")
    ids = np.array([f"img{i:05d}" for i in range(len(feats))])
    return EmbeddingBank.load(EmbeddingBank(feats, ids).save(folder))  # memory-mapped


def test_bank_search_equals_brute_force(bank):
    rng = np.random.default_rng(1)
    enc = RoiEncoder(None, ["x"], {"x": "auto"}, rng.normal(size=(4, 16)), rng.normal(size=4),
                     ["A", "B", "C", "D"]).calibrate(bank)  # fmt: skip
    enc.directions[2] = np.asarray(bank.embeddings[17], np.float64)  # row 17 ties with 4000
    act = np.asarray(bank.embeddings, np.float64) @ enc.directions.T + enc.offsets
    search = BankSearch(bank, chunk_size=333)
    for col, roi in enumerate(enc.units):
        found = search.generate(enc, roi, 25, seed=3)
        order = np.lexsort((np.arange(len(act)), -act[:, col]))[:25]
        assert found.ids == [f"img{i:05d}" for i in order]
        np.testing.assert_allclose(found.activations, act[order])
        assert found.images is None and found.seeds == [None] * 25
        assert len(found.baseline) == 25
    rows, scores = search.search(enc, 5)
    np.testing.assert_allclose(scores, np.sort(act, 0)[::-1][:5].T)
    tied = act[:, 2] == act[17, 2]
    assert tied.sum() == 2 and act[:, 2].argmax() == 17  # rows 17 and 4000, lower first
    assert BankSearch(bank).generate(enc, "C", 2).ids == ["img00017", "img04000"]


def test_bank_search_returns_the_pixels_and_draws_a_seeded_baseline(bank):
    enc = RoiEncoder(None, ["x"], {"x": "auto"}, np.ones((1, 16)), [0.0], ["A"])
    pixels = {i: np.full((4, 4, 3), k % 256, np.uint8) for k, i in enumerate(bank.ids)}
    search = BankSearch(bank, images=lambda ids: [pixels[i] for i in ids])
    first, again = search.generate(enc, "A", 3, seed=5), search.generate(enc, "A", 3, seed=5)
    other = search.generate(enc, "A", 3, seed=6)
    assert first.images.shape == (3, 4, 4, 3)
    assert [int(im[0, 0, 0]) for im in first.images] == [int(i[3:]) % 256 for i in first.ids]
    np.testing.assert_array_equal(first.baseline, again.baseline)
    assert not np.array_equal(first.baseline, other.baseline)
