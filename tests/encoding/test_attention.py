"""AttentionEncoder on synthetic tokens with planted receptive fields (ground truth)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from brainalign.encoding import AttentionEncoder, EncodingModel, pearson_r
from brainalign.exceptions import DataError, ParameterError

GRID = (4, 4)
#: Group -> planted token (row-major), or None: the mean over every token.
PLANTED = {"left": 5, "right": 10, "whole": None}
N_TRAIN, N_TEST, DIM, PER_GROUP = 500, 200, 8, 6


def _planted(seed=0, noise=0.5):
    """Tokens (n, 16, 8) and targets driven by one token per group, or by their mean."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_TEST
    X = rng.standard_normal((n, GRID[0] * GRID[1], DIM)).astype(np.float32)
    cols, groups = [], []
    for name, token in PLANTED.items():
        source = X.mean(1) * np.sqrt(X.shape[1]) if token is None else X[:, token]
        w = rng.standard_normal((DIM, PER_GROUP))
        cols.append(source @ w / np.sqrt(DIM))
        groups += [name] * PER_GROUP
    Y = np.hstack(cols) + noise * rng.standard_normal((n, len(groups)))
    return X, Y, np.array(groups)


@pytest.fixture(scope="module")
def fitted():
    X, Y, groups = _planted()
    est = AttentionEncoder(groups=groups, grid=GRID, d_model=16, n_heads=2, max_epochs=60,
                           device="cpu")  # fmt: skip
    est.fit(X[:N_TRAIN], Y[:N_TRAIN])
    return est, X, Y, groups


def _ridge_on_mean(X, Y):
    ridge = EncodingModel().fit(X[:N_TRAIN].mean(1), Y[:N_TRAIN])
    return ridge.predict(X[N_TRAIN:].mean(1))


def test_beats_ridge_on_pooled_tokens_for_planted_locations(fitted):
    est, X, Y, groups = fitted
    r_att = pearson_r(Y[N_TRAIN:], est.predict(X[N_TRAIN:]))
    r_ridge = pearson_r(Y[N_TRAIN:], _ridge_on_mean(X, Y))
    for name in ("left", "right"):
        m = groups == name
        # one token of 16 is 1/16 of the mean: ridge on the mean keeps little of it
        assert r_att[m].mean() > 0.8
        assert r_att[m].mean() > r_ridge[m].mean() + 0.4


def test_attention_maps_peak_at_the_planted_tokens(fitted):
    est, X, _, _ = fitted
    maps = est.attention_maps(X[N_TRAIN:])
    assert maps.shape == (N_TEST, 3, *GRID)
    np.testing.assert_allclose(maps.sum((2, 3)), 1.0, atol=1e-5)
    mean = maps.mean(0)
    for name, token in PLANTED.items():
        g = list(est.groups_).index(name)
        if token is None:  # no location: no token stands out
            assert mean[g].max() < 2.5 / mean[g].size
        else:
            assert int(mean[g].argmax()) == token
            assert mean[g].ravel()[token] > 0.5


def test_equals_ridge_within_noise_without_spatial_structure(fitted):
    est, X, Y, groups = fitted
    m = groups == "whole"
    truth, att, ridge = Y[N_TRAIN:, m], est.predict(X[N_TRAIN:])[:, m], _ridge_on_mean(X, Y)[:, m]
    rng = np.random.default_rng(1)
    diffs = []
    for _ in range(200):
        rows = rng.integers(0, N_TEST, N_TEST)
        diffs.append(
            pearson_r(truth[rows], att[rows]).mean() - pearson_r(truth[rows], ridge[rows]).mean()
        )
    low, high = np.quantile(diffs, [0.025, 0.975])
    assert low < 0 < high or abs(np.mean(diffs)) < 0.01  # no difference beyond the resampling
    assert abs(np.mean(diffs)) < 0.02


def test_heads_refit_by_ridge_map_each_group_to_its_own_targets(fitted):
    est, X, Y, groups = fitted
    assert est.coef_.shape == (16, len(groups))
    assert np.isfinite(est.best_alphas_).all() and np.isfinite(est.cv_scores_).all()
    # a target's prediction depends on its own group's attended token only
    tokens = est.attended_tokens(X[N_TRAIN:])
    g = list(est.groups_).index("left")
    cols = np.flatnonzero(est.group_index_ == g)
    by_hand = (tokens[:, g] - est.head_mean_[g]) / est.head_scale_[g] @ est.coef_[:, cols]
    np.testing.assert_allclose(est.predict(X[N_TRAIN:])[:, cols], by_hand + est.intercept_[cols],
                               rtol=1e-4, atol=1e-4)  # fmt: skip


def test_seeded_fits_are_identical_and_round_trip_through_arrays(fitted):
    est, X, Y, groups = fitted
    again = AttentionEncoder(groups=groups, grid=GRID, d_model=16, n_heads=2, max_epochs=60,
                             device="cpu")  # fmt: skip
    again.fit(X[:N_TRAIN], Y[:N_TRAIN])
    np.testing.assert_array_equal(again.predict(X[N_TRAIN:]), est.predict(X[N_TRAIN:]))
    loaded = AttentionEncoder.from_arrays(est.to_arrays())
    np.testing.assert_allclose(loaded.predict(X[N_TRAIN:]), est.predict(X[N_TRAIN:]), atol=1e-5)
    np.testing.assert_allclose(loaded.attention_maps(X[:5]), est.attention_maps(X[:5]), atol=1e-6)


def test_trained_heads_on_interleaved_groups_predict_and_stop_early(tmp_path):
    X, Y, groups = _planted(seed=2)
    order = np.random.default_rng(3).permutation(len(groups))  # groups interleaved
    Y, groups = Y[:, order], groups[order]
    est = AttentionEncoder(groups=groups, d_model=16, n_heads=2, refit_heads=False,
                           max_epochs=200, patience=3, device="cpu")  # fmt: skip
    est.fit(X[:N_TRAIN], Y[:N_TRAIN])
    assert len(est.history_) < 200  # stopped on the validation split
    assert est.best_epoch_ == int(np.argmin([h["val_loss"] for h in est.history_]))
    assert np.isnan(est.best_alphas_).all() and (est.cv_scores_ < 0).all()
    pred = est.predict(X[N_TRAIN:])
    r = pearson_r(Y[N_TRAIN:], pred)
    assert r[groups == "left"].mean() > 0.7 and r[groups == "right"].mean() > 0.7
    # each target's prediction is its own group's head on its own group's token
    tokens = est.attended_tokens(X[N_TRAIN:])
    for j in (0, 1, len(groups) - 1):
        by_hand = tokens[:, est.group_index_[j]] @ est.coef_[:, j] + est.intercept_[j]
        np.testing.assert_allclose(pred[:, j], by_hand, rtol=1e-4, atol=1e-4)
    np.savez(tmp_path / "enc.npz", **est.to_arrays())
    with np.load(tmp_path / "enc.npz", allow_pickle=False) as npz:
        loaded = AttentionEncoder.from_arrays({k: npz[k] for k in npz.files}, device="auto")
    np.testing.assert_allclose(loaded.predict(X[N_TRAIN:]), pred, atol=1e-5)


def test_bad_input_is_refused_with_the_parameter_named():
    X, Y, groups = _planted()
    with pytest.raises(DataError, match="'X'.*n_tokens"):
        AttentionEncoder().fit(X.mean(1), Y)
    with pytest.raises(DataError, match="'y'"):
        AttentionEncoder().fit(X, Y[:10])
    with pytest.raises(ParameterError, match="'groups'"):
        AttentionEncoder(groups=groups[:3]).fit(X, Y)
    with pytest.raises(ParameterError, match="'n_heads'"):
        AttentionEncoder(d_model=10, n_heads=4).fit(X, Y)
    with pytest.raises(ParameterError, match="'grid'"):
        AttentionEncoder(grid=(3, 3)).fit(X, Y)
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="finite"):
        AttentionEncoder().fit(bad, Y)
    with pytest.raises(NotFittedError):
        AttentionEncoder().predict(X)
