import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from brainalign.encoding import EncodingModel, himalaya_backend
from brainalign.exceptions import ParameterError


def planted(n=300, p=20, t=15, noise=1.0, seed=0):
    """Features and responses with known weights (himalaya-style generator)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)).astype(np.float32) * rng.uniform(0.5, 3, p)
    W = rng.standard_normal((p, t)).astype(np.float32)
    Y = X @ W + noise * rng.standard_normal((n, t)).astype(np.float32) + 4.0
    return X, Y, W


def test_equals_scikit_learn_ridge_at_a_fixed_alpha():
    X, Y, _ = planted()
    ours = EncodingModel(alphas=[30.0]).fit(X[:250], Y[:250])
    ref = make_pipeline(StandardScaler(), Ridge(alpha=30.0)).fit(X[:250], Y[:250])
    np.testing.assert_allclose(ours.predict(X[250:]), ref.predict(X[250:]), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.coef_, ref[-1].coef_.T, rtol=1e-4, atol=1e-5)


def test_equals_himalaya_called_directly():
    from himalaya.ridge import RidgeCV

    X, Y, _ = planted(noise=3.0)
    alphas = np.logspace(-1, 4, 11)
    ours = EncodingModel(alphas=alphas, cv=4).fit(X, Y)
    Xs = (X - X.mean(0)) / X.std(0)
    ref = RidgeCV(alphas=alphas, cv=4, fit_intercept=True).fit(Xs, Y)
    np.testing.assert_allclose(ours.best_alphas_, ref.best_alphas_, rtol=1e-6)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.cv_scores_, np.asarray(ref.cv_scores_).ravel(), rtol=1e-5)
    assert ours.solver_ == "eigh"
    via_himalaya = EncodingModel(alphas=alphas, cv=4, solver="ridge").fit(X, Y)
    np.testing.assert_allclose(via_himalaya.coef_, ref.coef_, rtol=1e-4, atol=1e-5)


def test_kernel_solver_when_features_outnumber_samples():
    from himalaya.kernel_ridge import KernelRidgeCV

    X, Y, _ = planted(n=60, p=200, t=5)
    ours = EncodingModel(alphas=[1.0, 100.0, 1e4], cv=3).fit(X, Y)
    assert ours.solver_ == "eigh"  # the dual form of the engine
    Xs = (X - X.mean(0)) / X.std(0)
    ref = KernelRidgeCV(alphas=[1.0, 100.0, 1e4], cv=3, fit_intercept=True, warn=False).fit(Xs, Y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(Xs), rtol=1e-3, atol=1e-3)
    primal = EncodingModel(alphas=[100.0], solver="ridge").fit(X, Y)
    dual = EncodingModel(alphas=[100.0], solver="kernel").fit(X, Y)
    np.testing.assert_allclose(primal.predict(X), dual.predict(X), rtol=1e-3, atol=1e-3)


def test_per_target_alphas_follow_the_noise():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 30)).astype(np.float32)
    w = rng.standard_normal((30, 1)).astype(np.float32)
    clean = X @ w
    Y = np.hstack(
        [clean + 0.1 * rng.standard_normal((400, 1)), clean + 30 * rng.standard_normal((400, 1))]
    ).astype(np.float32)
    model = EncodingModel(alphas=np.logspace(-2, 6, 17)).fit(X, Y)
    assert model.best_alphas_[1] > 10 * model.best_alphas_[0]


def test_grouped_cv_and_standardisation_on_training_data_only():
    X, Y, _ = planted()
    groups = np.repeat(np.arange(10), 30)
    model = EncodingModel(alphas=[1.0, 10.0], cv=GroupKFold(5)).fit(X, Y, groups=groups)
    precomputed = EncodingModel(alphas=[1.0, 10.0], cv=list(GroupKFold(5).split(X, Y, groups)))
    np.testing.assert_array_equal(precomputed.fit(X, Y).best_alphas_, model.best_alphas_)
    np.testing.assert_allclose(model.mean_, X.mean(0), rtol=1e-5)
    shifted = EncodingModel(alphas=[10.0]).fit(X + 100.0, Y)
    np.testing.assert_allclose(
        shifted.predict(X[:5] + 100.0),
        EncodingModel(alphas=[10.0]).fit(X, Y).predict(X[:5]),
        rtol=1e-3,
    )


def test_backend_is_restored_even_when_fit_fails(monkeypatch):
    from himalaya.backend import get_backend
    from himalaya.ridge import RidgeCV

    X, Y, _ = planted()
    before = get_backend().name

    def boom(self, X, y=None):
        raise RuntimeError("solver failed")

    monkeypatch.setattr(RidgeCV, "fit", boom)
    with pytest.raises(RuntimeError, match="solver failed"):
        EncodingModel(backend="torch", solver="ridge").fit(X, Y)
    assert get_backend().name == before
    with pytest.raises(ParameterError, match="'backend'"):
        with himalaya_backend("jax-gpu"):
            pass


def test_torch_backend_matches_numpy():
    X, Y, _ = planted()
    a = EncodingModel(alphas=np.logspace(-1, 3, 5), backend="numpy").fit(X, Y)
    b = EncodingModel(alphas=np.logspace(-1, 3, 5), backend="torch").fit(X, Y)
    np.testing.assert_allclose(a.best_alphas_, b.best_alphas_, rtol=1e-6)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("alphas", [[0.0, 1.0], [-1.0], [], [np.nan]])
def test_alpha_grid_must_be_positive(alphas):
    X, Y, _ = planted()
    with pytest.raises(ParameterError, match="'alphas'.*positive"):
        EncodingModel(alphas=alphas).fit(X, Y)


def test_nan_features_are_refused():
    X, Y, _ = planted()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        EncodingModel().fit(X, Y)


@parametrize_with_checks([EncodingModel(alphas=[0.1, 1.0, 10.0], cv=3)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_batching_over_targets_gives_the_same_fit():
    X, Y, _ = planted(t=40)
    whole = EncodingModel(alphas=np.logspace(-1, 3, 5)).fit(X, Y)
    batched = EncodingModel(alphas=np.logspace(-1, 3, 5), n_targets_batch=7).fit(X, Y)
    np.testing.assert_allclose(batched.best_alphas_, whole.best_alphas_, rtol=1e-6)
    np.testing.assert_allclose(batched.coef_, whole.coef_, rtol=1e-4, atol=1e-6)
