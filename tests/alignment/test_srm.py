"""SRM and Procrustes against reference implementations, on random data."""

import numpy as np
import pytest
import scipy.linalg

from brainalign.alignment import (
    canonical_correlations,
    hyperalign,
    orthogonal_procrustes,
    polar,
    srm,
)
from brainalign.exceptions import DataError


def _subjects(n=60, k=4, voxels=(30, 30, 30), noise=0.3, seed=0):
    """Subjects seeing the same stimuli: a shared latent through random orthonormal bases."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, k))
    bases = [polar(rng.standard_normal((v, k))) for v in voxels]
    data = [latent @ w.T + noise * rng.standard_normal((n, w.shape[0])) for w in bases]
    return latent, bases, data


#: Fewer voxels than stimuli (the SVD path) and more (the stimulus Gram path).
SHAPES = [(60, 25), (30, 80)]


@pytest.mark.parametrize(("n", "v"), SHAPES)
def test_deterministic_srm_equals_fastsrm(n, v):
    import fastsrm.srm as fastsrm  # the dev extra pins it

    _, _, data = _subjects(n=n, voxels=(v, v, v))
    ours = srm(data, 4, "deterministic", n_iter=30, random_state=3)
    # fastsrm: voxels x stimuli per subject, S (k, n)
    ref_w, ref_s = fastsrm.detsrm([x.T for x in data], 4, n_iter=30, random_state=3)
    np.testing.assert_allclose(ours["shared"], ref_s.T, atol=1e-6)
    for w, rw in zip(ours["bases"], ref_w, strict=True):
        np.testing.assert_allclose(w, rw, atol=1e-6)


def _independent_prob_srm(data, k, n_iter, seed):
    """Probabilistic SRM (diagonal shared covariance) written from the EM equations."""
    X = [x.T for x in data]
    n = X[0].shape[1]
    S = np.random.RandomState(seed).randn(k, n)
    W = []
    for x in X:
        u, _, vt = np.linalg.svd(x @ S.T, full_matrices=False)
        W.append(u @ vt)
    sig = np.ones(len(X))
    cov = np.ones(k)
    for _ in range(n_iter):
        post = 1.0 / (1.0 / cov + sum(1.0 / s for s in sig))
        S = post[:, None] * sum(w.T @ x / s for w, x, s in zip(W, X, sig, strict=True))
        for i, x in enumerate(X):
            u, _, vt = np.linalg.svd(x @ S.T, full_matrices=False)
            W[i] = u @ vt
            expected = np.sum((x - W[i] @ S) ** 2) + n * post.sum()
            sig[i] = expected / (n * x.shape[0])
        cov = post + (S**2).sum(1) / n
    return W, S, sig


@pytest.mark.parametrize(("n", "v"), SHAPES)
def test_probabilistic_srm_equals_independent_em(n, v):
    _, _, data = _subjects(n=n, voxels=(v, v + 15, v + 8))  # per-subject voxel counts
    ours = srm(data, 4, "probabilistic", n_iter=15, tol=0.0, random_state=1)
    W, S, sig = _independent_prob_srm(data, 4, 15, 1)
    # ours stops after computing S of iteration 16 (no update): compare bases and sigmas
    for w, rw in zip(ours["bases"], W, strict=True):
        np.testing.assert_allclose(w, rw, atol=1e-6)
    np.testing.assert_allclose(ours["sigmas"], sig, rtol=1e-6)


def test_srm_recovers_the_planted_latent_with_unequal_voxel_counts():
    latent, _, data = _subjects(n=80, voxels=(30, 45, 60), noise=0.5)
    for method in ("deterministic", "probabilistic"):
        out = srm(data, 4, method, n_iter=100)
        assert canonical_correlations(out["shared"], latent).min() > 0.9


def test_procrustes_equals_scipy():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((50, 12)), rng.standard_normal((50, 12))
    r, scale = orthogonal_procrustes(a, b)
    ref, _ = scipy.linalg.orthogonal_procrustes(a, b)
    np.testing.assert_allclose(r, ref, atol=1e-10)
    assert scale == 1.0
    # a rotated and scaled copy is recovered exactly, scale included
    rot = polar(rng.standard_normal((12, 12)))
    r, scale = orthogonal_procrustes(a, 2.5 * a @ rot, scaling=True)
    np.testing.assert_allclose(r, rot, atol=1e-10)
    assert scale == pytest.approx(2.5, rel=1e-10)


def test_procrustes_into_fewer_dimensions_is_the_best_orthonormal_map():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((40, 15)), rng.standard_normal((40, 6))
    r, _ = orthogonal_procrustes(a, b)
    np.testing.assert_allclose(r.T @ r, np.eye(6), atol=1e-10)
    best = np.linalg.norm(a - b @ r.T)  # the narrow target generating the source
    for _ in range(20):  # no other orthonormal map does better
        other = polar(r + 0.1 * rng.standard_normal(r.shape))
        assert np.linalg.norm(a - b @ other.T) >= best - 1e-12
    with pytest.raises(DataError, match="more columns"):
        orthogonal_procrustes(b, a)


def test_hyperalignment_recovers_the_planted_latent():
    latent, _, data = _subjects(n=80, voxels=(30, 45, 60), noise=0.5)
    out = hyperalign(data, 4)
    assert canonical_correlations(out["shared"], latent).min() > 0.9
    assert [w.shape for w in out["bases"]] == [(30, 4), (45, 4), (60, 4)]


def test_canonical_correlations_equal_the_eigenvalue_formula():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((100, 3))
    b = a @ rng.standard_normal((3, 5)) + rng.standard_normal((100, 5))
    ac, bc = a - a.mean(0), b - b.mean(0)
    saa, sbb, sab = ac.T @ ac, bc.T @ bc, ac.T @ bc
    m = np.linalg.solve(saa, sab) @ np.linalg.solve(sbb, sab.T)
    ref = np.sqrt(np.sort(np.linalg.eigvals(m).real)[::-1])
    np.testing.assert_allclose(canonical_correlations(a, b), ref, atol=1e-10)


def test_bad_inputs_are_named():
    with pytest.raises(DataError, match="at least 2 subjects"):
        srm([np.zeros((5, 3))], 2)
    with pytest.raises(DataError, match="row counts"):
        srm([np.zeros((5, 3)), np.zeros((6, 3))], 2)
    with pytest.raises(DataError, match="n_components=4 exceeds"):
        srm([np.ones((10, 3)), np.ones((10, 8))], 4)
    with pytest.raises(DataError, match="NaN"):
        srm([np.full((10, 3), np.nan), np.ones((10, 8))], 2)
