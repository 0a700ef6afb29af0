"""CCA, SVCCA, PWCCA, shape metrics, tRSA and PLS against references and planted truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from sklearn.cross_decomposition import CCA

from brainalign.compare import (
    RDM,
    canonical_correlations,
    cca_score,
    compare_rdms,
    compute_rdm,
    geotopological,
    normalised_shape,
    pls_predictivity,
    pwcca,
    shape_distance,
    svcca,
)
from brainalign.exceptions import DataError, ParameterError


def _coupled(n=600, p=6, q=5, seed=0, strength=(2.0, 1.0, 0.5)):
    """Two representations sharing len(strength) latent signals of decreasing strength."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, len(strength))) * np.asarray(strength)
    x = z @ rng.standard_normal((len(strength), p)) + rng.standard_normal((n, p))
    y = z @ rng.standard_normal((len(strength), q)) + rng.standard_normal((n, q))
    return x, y


def _formula_rho(x, y, reg=0.0):
    """Canonical correlations from the eigenvalues of Cxx^-1 Cxy Cyy^-1 Cyx."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    n = len(x) - 1
    cxx, cyy, cxy = xc.T @ xc / n, yc.T @ yc / n, xc.T @ yc / n
    cxx = cxx + reg * np.trace(cxx) / len(cxx) * np.eye(len(cxx))
    cyy = cyy + reg * np.trace(cyy) / len(cyy) * np.eye(len(cyy))
    m = np.linalg.solve(cxx, cxy) @ np.linalg.solve(cyy, cxy.T)
    return np.sqrt(np.clip(np.sort(np.linalg.eigvals(m).real)[::-1], 0, None))


def test_canonical_correlations_equal_the_formula_and_scikit_learn():
    x, y = _coupled()
    fit = canonical_correlations(x, y)
    np.testing.assert_allclose(fit["train"], _formula_rho(x, y)[:5], atol=1e-10)
    ref = CCA(n_components=3, scale=False, max_iter=20000, tol=1e-15).fit(x, y)
    xs, ys = ref.transform(x, y)
    sk = [abs(np.corrcoef(xs[:, i], ys[:, i])[0, 1]) for i in range(3)]
    np.testing.assert_allclose(fit["train"][:3], sk, atol=1e-6)
    # the weights give unit-variance variates with the reported correlations
    h, g = (x - fit["x_mean"]) @ fit["x_weights"], (y - fit["y_mean"]) @ fit["y_weights"]
    np.testing.assert_allclose(np.diag(np.corrcoef(h.T, g.T)[:5, 5:]), fit["train"], atol=1e-10)
    np.testing.assert_allclose(h.var(0, ddof=1), 1.0, atol=1e-10)


def test_regularised_cca_equals_its_formula():
    x, y = _coupled(n=80, p=20, q=15, seed=1)
    for reg in (0.1, 1.0):
        fit = canonical_correlations(x, y, reg=reg)
        np.testing.assert_allclose(fit["train"], _formula_rho(x, y, reg)[:15], atol=1e-8)


def test_held_out_cca_recovers_planted_coupling_and_not_noise():
    x, y = _coupled(n=800)
    train, test = np.arange(600), np.arange(600, 800)
    fit = canonical_correlations(x, y, train, test, n_components=5)
    assert fit["test"][0] > 0.8 and fit["test"][1] > 0.5  # the two strong planted signals
    assert np.abs(fit["test"][3:]).max() < 0.2  # beyond the planted ones: noise
    rng = np.random.default_rng(5)
    scores = [cca_score(x, rng.permutation(y), train, test, n_components=1) for _ in range(40)]
    assert abs(np.mean(scores)) < 0.05 and np.max(scores) < 0.25  # shuffled: nothing held out
    with pytest.raises(DataError, match="did not fit"):
        cca_score(x, y, train, train)


def test_svcca_and_pwcca_equal_independent_computations():
    from sklearn.decomposition import PCA

    x, y = _coupled(n=500, p=8, q=7, seed=2)
    xr = PCA(n_components=0.99, svd_solver="full").fit_transform(x)
    yr = PCA(n_components=0.99, svd_solver="full").fit_transform(y)
    rho = _formula_rho(xr, yr)[: min(xr.shape[1], yr.shape[1])]
    assert svcca(x, y, keep=0.99) == pytest.approx(rho.mean(), abs=1e-8)
    # PWCCA from scikit-learn's canonical variates and the formula's correlations
    k = min(x.shape[1], y.shape[1])
    ref = CCA(n_components=k, scale=False, max_iter=20000, tol=1e-15).fit(x, y)
    h = ref.transform(x)
    weights = np.abs(np.corrcoef(h.T, x.T)[:k, k:]).sum(1)
    expected = weights @ _formula_rho(x, y)[:k] / weights.sum()
    assert pwcca(x, y) == pytest.approx(expected, abs=1e-5)
    assert pwcca(x, x) == pytest.approx(1.0, abs=1e-10)


def test_procrustes_distance_equals_scipy_after_normalisation():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((50, 6)), rng.standard_normal((50, 4))
    a = normalised_shape(x)
    b = np.pad(normalised_shape(y), ((0, 0), (0, a.shape[1] - 4)))  # zero-padded units
    r, _ = orthogonal_procrustes(b, a)
    expected = np.linalg.norm(a - b @ r)
    assert shape_distance(x, y, kind="procrustes") == pytest.approx(expected, abs=1e-10)
    angle = shape_distance(x, y, kind="angular")
    assert np.sqrt(2 - 2 * np.cos(angle)) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("kind", ["angular", "procrustes"])
def test_shape_distances_are_metrics(alpha, kind):
    rng = np.random.default_rng(4)
    reps = [rng.standard_normal((40, 5)) @ rng.standard_normal((5, 5)) for _ in range(6)]
    d = np.array([[shape_distance(a, b, alpha=alpha, kind=kind) for b in reps] for a in reps])
    np.testing.assert_allclose(d, d.T, atol=1e-12)  # symmetry
    np.testing.assert_allclose(np.diag(d), 0.0, atol=1e-6)  # identity
    assert (d[~np.eye(6, dtype=bool)] > 1e-3).all()
    for i in range(6):  # triangle inequality
        for j in range(6):
            assert (d[i, j] <= d[i] + d[:, j] + 1e-10).all()
    rotation, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    moved = 3.0 * reps[0] @ rotation + 2.0  # rotated, scaled, shifted: the same shape
    assert shape_distance(reps[0], moved, alpha=alpha, kind=kind) == pytest.approx(0, abs=1e-6)


def test_full_whitening_ignores_any_invertible_linear_map():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((60, 4))
    mixed = x @ rng.standard_normal((4, 4))
    assert shape_distance(x, mixed, alpha=0.0) == pytest.approx(0.0, abs=1e-6)
    assert shape_distance(x, mixed, alpha=1.0) > 0.05  # the shape itself changed
    with pytest.raises(ParameterError, match="'alpha'"):
        shape_distance(x, x, alpha=1.5)
    with pytest.raises(DataError, match="constant"):
        shape_distance(x, np.ones((60, 3)))


def test_trsa_with_open_thresholds_is_rsa_and_thresholds_clamp():
    rng = np.random.default_rng(7)
    ids = np.arange(12)
    model = compute_rdm(rng.standard_normal((12, 5)), ids)
    brain = compute_rdm(rng.standard_normal((12, 8)), ids)
    plain = compare_rdms(model, brain, "spearman")
    open_ = geotopological(model, 0.0, np.inf, quantiles=False)
    np.testing.assert_array_equal(open_.dissimilarities, model.dissimilarities)
    assert compare_rdms(open_, geotopological(brain, 0, np.inf, quantiles=False)) == plain
    full = geotopological(model, 0.0, 1.0)  # quantiles 0..1: an affine map onto [0, 1]
    assert compare_rdms(full, geotopological(brain, 0.0, 1.0), "pearson") == pytest.approx(
        compare_rdms(model, brain, "pearson"), abs=1e-12
    )
    d = RDM(np.array([0.1, 0.2, 0.5, 0.8, 0.9, 1.0]), ["a", "b", "c", "d"])
    gt = geotopological(d, 0.2, 0.8, quantiles=False).dissimilarities
    np.testing.assert_allclose(gt, [0.0, 0.0, 0.5, 1.0, 1.0, 1.0])
    with pytest.raises(ParameterError, match="'lower'/'upper'"):
        geotopological(d, 0.8, 0.2)


def test_pls_predictivity_recovers_a_planted_linear_map():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((400, 30))
    y = x[:, :5] @ rng.standard_normal((5, 12)) + 0.5 * rng.standard_normal((400, 12))
    train, test = np.arange(300), np.arange(300, 400)
    r = pls_predictivity(x, y, train, test, n_components=10)
    assert r.shape == (12,) and r.min() > 0.85
    noise = pls_predictivity(x, rng.standard_normal((400, 12)), train, test)
    assert abs(noise.mean()) < 0.1
