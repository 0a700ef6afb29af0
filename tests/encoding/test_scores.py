import numpy as np
import pytest
from scipy import stats

from brainalign.encoding import noise_normalized_r2, pearson_r, permutation_test, r2_per_target
from brainalign.exceptions import DataError


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
