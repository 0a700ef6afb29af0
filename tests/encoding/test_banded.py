import numpy as np
import pytest

from brainalign.encoding import BandedEncodingModel, r2_per_target
from brainalign.exceptions import ParameterError


def two_spaces(seed=0, n=500):
    """Targets 0-3 driven by space A only, 4-7 by space B only, 8-9 by both."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, 12)).astype(np.float32)
    b = rng.standard_normal((n, 8)).astype(np.float32)
    ya = a @ rng.standard_normal((12, 4))
    yb = b @ rng.standard_normal((8, 4))
    both = a @ rng.standard_normal((12, 2)) + b @ rng.standard_normal((8, 2))
    y = np.hstack([ya, yb, both]) + rng.standard_normal((n, 10)) * 2
    return np.hstack([a, b]), y.astype(np.float32)


def test_variance_partitioning_assigns_each_target_to_its_space():
    X, Y = two_spaces()
    model = BandedEncodingModel(spaces=[12, 8], alphas=np.logspace(-2, 4, 7), n_iter=15, cv=4).fit(
        X[:400], Y[:400]
    )
    split = model.score_split(X[400:], Y[400:])
    assert split.shape == (2, 10)
    assert (split[0, :4] > 0.3).all() and (np.abs(split[1, :4]) < 0.05).all()
    assert (split[1, 4:8] > 0.3).all() and (np.abs(split[0, 4:8]) < 0.05).all()
    assert (split[:, 8:] > 0.1).all()
    pred = model.predict(X[400:])
    total = r2_per_target(Y[400:], pred - pred.mean(0) + Y[400:].mean(0))
    np.testing.assert_allclose(split.sum(0), total, rtol=1e-3, atol=1e-3)


def test_equals_himalaya_banded_ridge_called_directly():
    from himalaya.ridge import BandedRidgeCV

    X, Y = two_spaces(seed=1)
    alphas = np.logspace(-2, 4, 7)
    ours = BandedEncodingModel(spaces=[12, 8], alphas=alphas, n_iter=5, cv=3, random_state=3).fit(
        X, Y
    )
    Xs = (X - X.mean(0)) / X.std(0)
    ref = BandedRidgeCV(
        groups="input",
        cv=3,
        random_state=3,
        fit_intercept=False,
        solver_params={"n_iter": 5, "alphas": alphas, "progress_bar": False},
    )
    ref.fit([Xs[:, :12], Xs[:, 12:]], Y - Y.mean(0))
    np.testing.assert_allclose(ours.deltas_, ref.deltas_, rtol=1e-5)
    np.testing.assert_allclose(
        ours.predict(X), ref.predict([Xs[:, :12], Xs[:, 12:]]) + Y.mean(0), rtol=1e-3, atol=1e-3
    )


def test_spaces_must_cover_the_columns():
    X, Y = two_spaces()
    with pytest.raises(ParameterError, match="'spaces'.*add up to the 20"):
        BandedEncodingModel(spaces=[12, 7]).fit(X, Y)
