import numpy as np
import pytest
from scipy import stats

from brainalign.encoding import noise_normalized_r2, pearson_r, permutation_test, r2_per_target
from brainalign.exceptions import DataError, ParameterError


def test_pearson_and_r2_match_scipy_and_sklearn():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    t = rng.standard_normal((50, 6))
    p = t + rng.standard_normal((50, 6)) * np.arange(1, 7)
    expected = [stats.pearsonr(t[:, j], p[:, j])[0] for j in range(6)]
    np.testing.assert_allclose(pearson_r(t, p), expected, rtol=1e-10)
    np.testing.assert_allclose(r2_per_target(t, p), r2_score(t, p, multioutput="raw_values"))
    const = p.copy()
    const[:, 0] = 1.0
    assert pearson_r(t, const)[0] == 0.0


def test_noise_normalised_r2_follows_algonauts():
    r = np.array([-0.3, 0.0, 0.3, 0.5, 0.9])
    nc = np.array([50.0, 50.0, 36.0, 20.0, 0.0])
    out = noise_normalized_r2(r, nc)
    np.testing.assert_allclose(out[:4], [0.0, 0.0, 25.0, 100.0])  # 0.25/0.2 -> clipped
    assert np.isnan(out[4])


def test_permutation_test_is_calibrated_and_powerful():
    rng = np.random.default_rng(1)
    n, t = 100, 400
    truth = rng.standard_normal((n, t))
    null_pred = rng.standard_normal((n, t))  # unrelated predictions
    p_null, _ = permutation_test(truth, null_pred, n_permutations=1000, seed=0)
    assert abs(np.mean(p_null < 0.05) - 0.05) < 0.03  # nominal false-positive rate
    good = truth + rng.standard_normal((n, t))  # r about 0.7
    p_good, q_good = permutation_test(truth, good, n_permutations=1000, seed=0)
    assert p_good.max() == 1 / 1001 and (q_good < 0.05).all()
    # agrees with a plain loop over permutations for one target
    r_obs = stats.pearsonr(truth[:, 0], null_pred[:, 0])[0]
    perm_rng = np.random.default_rng(0)
    perms = np.argsort(perm_rng.random((1000, n)), axis=1)
    loop = [stats.pearsonr(truth[perm, 0], null_pred[:, 0])[0] for perm in perms]
    assert p_null[0] == pytest.approx((1 + np.sum(np.array(loop) >= r_obs - 1e-12)) / 1001)


def test_permutation_chunks_do_not_change_p_values():
    rng = np.random.default_rng(3)
    truth = rng.standard_normal((30, 20))
    pred = truth + rng.standard_normal((30, 20))
    big, _ = permutation_test(truth, pred, n_permutations=300, seed=1)
    small, _ = permutation_test(truth, pred, n_permutations=300, seed=1, max_elements=700)
    np.testing.assert_array_equal(big, small)


def test_fdr_matches_scipy():
    rng = np.random.default_rng(2)
    truth = rng.standard_normal((40, 30))
    pred = truth[:, ::-1] + truth
    p, q = permutation_test(truth, pred, n_permutations=200)
    np.testing.assert_allclose(q, stats.false_discovery_control(p))


def test_scores_need_enough_finite_held_out_stimuli():
    with pytest.raises(DataError, match="at least 3 held-out stimuli; got 2"):
        pearson_r(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(DataError, match="differ in shape"):
        r2_per_target(np.ones((5, 3)), np.ones((5, 2)))
    bad = np.ones((5, 2))
    bad[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        pearson_r(bad, np.ones((5, 2)))


def test_noise_normalised_r2_needs_a_ceiling_above_min_nc():
    r = np.array([0.3, 0.3, 0.3, 0.3, 0.3])
    nc = np.array([50.0, 10.0, 5.0, -4.0, np.nan])  # signed ceilings may be negative
    out = noise_normalized_r2(r, nc)
    np.testing.assert_allclose(out[0], 18.0)
    assert np.isnan(out[1:]).all()  # NC <= 10 %: undefined, not 100 %
    loose = noise_normalized_r2(r, nc, min_nc=0)
    np.testing.assert_allclose(loose[:3], [18.0, 90.0, 100.0])
    assert np.isnan(loose[3:]).all()
    with pytest.raises(ParameterError, match="Invalid value for 'min_nc'.*got -1.0"):
        noise_normalized_r2(r, nc, min_nc=-1)


def _repeated_null(rng, counts, n_targets=1000):
    """Unaveraged repeats: a strong stimulus response, predictions unrelated to it."""
    ids = np.repeat(np.arange(counts.size), counts)
    truth = (2 * rng.standard_normal((counts.size, n_targets)))[ids]
    truth += rng.standard_normal(truth.shape)
    order = rng.permutation(ids.size)  # rows of a stimulus need not be adjacent
    pred = rng.standard_normal((counts.size, n_targets))[ids]
    return truth[order], pred[order], ids[order]


@pytest.mark.parametrize("repeats", ["equal", "unequal"])
def test_stimulus_permutation_is_calibrated_on_repeats_where_rows_are_not(repeats):
    rng = np.random.default_rng(0)
    counts = np.full(40, 4) if repeats == "equal" else rng.integers(1, 7, 40)
    truth, pred, ids = _repeated_null(rng, counts)
    p_stim, _ = permutation_test(truth, pred, n_permutations=400, stimulus_ids=ids)
    assert abs(np.mean(p_stim < 0.05) - 0.05) < 0.02
    with pytest.warns(UserWarning, match="repeat another row: .* pass 'stimulus_ids'"):
        p_rows, _ = permutation_test(truth, pred, n_permutations=400)
    assert np.mean(p_rows < 0.05) > 0.12  # about 19 %: repeats shuffled as rows


def test_stimulus_permutation_agrees_with_a_loop_and_keeps_power():
    rng = np.random.default_rng(4)
    counts = rng.integers(1, 5, 25)
    truth, pred, ids = _repeated_null(rng, counts, n_targets=3)
    p, _ = permutation_test(truth, pred, n_permutations=300, seed=5, stimulus_ids=ids)
    per_stim = pred[np.unique(ids, return_index=True)[1]]
    perms = np.argsort(np.random.default_rng(5).random((300, counts.size)), axis=1)
    r_obs = stats.pearsonr(truth[:, 0], pred[:, 0])[0]
    loop = [stats.pearsonr(truth[:, 0], per_stim[perm][ids, 0])[0] for perm in perms]
    assert p[0] == pytest.approx((1 + np.sum(np.array(loop) >= r_obs - 1e-12)) / 301)
    signal = rng.standard_normal((counts.size, 3))
    truth = signal[ids] + rng.standard_normal((ids.size, 3))
    p_good, _ = permutation_test(truth, signal[ids], n_permutations=300, stimulus_ids=ids)
    assert p_good.max() == 1 / 301


def test_unique_stimulus_ids_give_the_row_permutation_exactly():
    rng = np.random.default_rng(6)
    truth = rng.standard_normal((50, 8))
    pred = truth + 2 * rng.standard_normal((50, 8))
    plain, _ = permutation_test(truth, pred, n_permutations=200, seed=3)
    ids = [f"img{i}" for i in rng.permutation(50)]
    with_ids, _ = permutation_test(truth, pred, n_permutations=200, seed=3, stimulus_ids=ids)
    np.testing.assert_array_equal(plain, with_ids)


def test_stimulus_permutation_errors():
    truth, pred = np.ones((6, 2)), np.arange(12.0).reshape(6, 2)
    truth[:, 0] = np.arange(6)
    with pytest.raises(ParameterError, match="'stimulus_ids': expected one id per row"):
        permutation_test(truth, pred, stimulus_ids=[0, 1, 2])
    with pytest.raises(DataError, match="Predictions differ between repeats of stimulus 0"):
        permutation_test(truth, pred, stimulus_ids=[0, 0, 1, 1, 2, 2])
