"""Exactness of the eigendecomposition K-fold ridge engine against himalaya."""

import numpy as np
import pytest
from sklearn.model_selection import KFold

from brainalign.encoding._ridge_cv import ridge_cv_eigh

ALPHAS = np.logspace(-3, 6, 19)


def data(n, p, t, seed=0, condition=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    if condition is not None:  # ill-conditioned: singular values spread over 10^condition
        u, _, vt = np.linalg.svd(X, full_matrices=False)
        X = (u * np.logspace(0, -condition, min(n, p))) @ vt * np.sqrt(n)
    W = rng.standard_normal((p, t)) * 0.3
    Y = X @ W + rng.standard_normal((n, t)) * np.linspace(0.3, 6, t) + 2.0
    return X.astype(np.float32), Y.astype(np.float32)


def direct_solve(X, Y, alphas):
    Xc = X.astype(np.float64) - X.mean(0)
    Yc = Y.astype(np.float64) - Y.mean(0)
    g = Xc.T @ Xc
    return np.stack(
        [
            np.linalg.solve(g + a * np.eye(g.shape[0]), Xc.T @ Yc[:, j])
            for j, a in enumerate(alphas)
        ],
        axis=1,
    )


@pytest.mark.parametrize("condition", [None, 4])
def test_primal_matches_himalaya_ridgecv_and_a_float64_solve(condition):
    from himalaya.ridge import RidgeCV

    X, Y = data(500, 30, 40, condition=condition)
    folds = list(KFold(5).split(X))
    ours = ridge_cv_eigh(X, Y, ALPHAS, folds)
    ref = RidgeCV(alphas=ALPHAS, cv=folds, fit_intercept=True).fit(X, Y)
    same = np.isclose(ours["best_alphas"], ref.best_alphas_, rtol=1e-5)
    assert same.mean() >= 0.95  # ties aside (float32 scores a hair apart)
    np.testing.assert_allclose(ours["cv_scores"], ref.cv_scores_, rtol=1e-4)
    w = direct_solve(X, Y, ours["best_alphas"])
    assert np.abs(ours["coef"] - w).max() / np.abs(w).max() < 1e-4
    assert not ours["dual"]


@pytest.mark.parametrize("condition", [None, 4])
def test_dual_matches_himalaya_kernelridgecv_and_a_float64_solve(condition):
    from himalaya.kernel_ridge import KernelRidgeCV

    X, Y = data(60, 150, 30, seed=1, condition=condition)
    folds = list(KFold(4).split(X))
    ours = ridge_cv_eigh(X, Y, ALPHAS, folds)
    ref = KernelRidgeCV(alphas=ALPHAS, cv=folds, fit_intercept=True, warn=False).fit(X, Y)
    assert ours["dual"]
    assert np.isclose(ours["best_alphas"], ref.best_alphas_, rtol=1e-5).mean() >= 0.95
    w = direct_solve(X, Y, ours["best_alphas"])
    assert np.abs(ours["coef"] - w).max() / np.abs(w).max() < 1e-4


def test_chunks_and_torch_backend_agree():
    X, Y = data(300, 20, 25, seed=2)
    folds = list(KFold(3).split(X))
    whole = ridge_cv_eigh(X, Y, ALPHAS, folds)
    chunked = ridge_cv_eigh(X, Y, ALPHAS, folds, n_targets_batch=7)
    torch_out = ridge_cv_eigh(X, Y, ALPHAS, folds, backend="torch")
    for other in (chunked, torch_out):
        np.testing.assert_array_equal(other["best_alphas"], whole["best_alphas"])
        np.testing.assert_allclose(other["coef"], whole["coef"], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(other["intercept"], whole["intercept"], rtol=1e-4, atol=1e-5)


def test_without_intercept_matches_himalaya():
    from himalaya.ridge import RidgeCV

    X, Y = data(400, 25, 10, seed=3)
    X, Y = X - X.mean(0), Y - Y.mean(0)
    folds = list(KFold(4).split(X))
    ours = ridge_cv_eigh(X, Y, ALPHAS, folds, fit_intercept=False)
    ref = RidgeCV(alphas=ALPHAS, cv=folds, fit_intercept=False).fit(X, Y)
    assert np.isclose(ours["best_alphas"], ref.best_alphas_, rtol=1e-5).mean() >= 0.95
    np.testing.assert_allclose(ours["coef"], ref.coef_, rtol=1e-3, atol=1e-5)


def test_primal_with_more_features_than_test_samples_scores_from_predictions():
    from himalaya.ridge import RidgeCV

    X, Y = data(200, 80, 15, seed=4)  # n_test = 40 < p = 80 <= n
    folds = list(KFold(5).split(X))
    ours = ridge_cv_eigh(X, Y, ALPHAS, folds)
    ref = RidgeCV(alphas=ALPHAS, cv=folds, fit_intercept=True).fit(X, Y)
    assert np.isclose(ours["best_alphas"], ref.best_alphas_, rtol=1e-5).mean() >= 0.95
    np.testing.assert_allclose(ours["cv_scores"], ref.cv_scores_, rtol=1e-4)
