"""Linear CKA: the formulas written out, invariances, debiasing, joins and errors."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from brainalign.compare import linear_cka
from brainalign.compare._cka import _cheaper_form
from brainalign.exceptions import DataError, ParameterError


def _reference_cka(x, y, debiased):
    """CKA from the textbook formulas, with raw (uncentred) kernels for the debiased one."""
    n = len(x)
    k, l_ = x @ x.T, y @ y.T
    if debiased:
        hsic = _song_unbiased_hsic
    else:
        h = np.eye(n) - np.ones((n, n)) / n

        def hsic(a, b):
            return np.trace(a @ h @ b @ h) / (n - 1) ** 2

    return hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))


def _song_unbiased_hsic(k, l_):
    """Song et al. (2012), eq. 5, with the diagonals of both kernels set to zero."""
    n = len(k)
    kt, lt = k - np.diag(np.diag(k)), l_ - np.diag(np.diag(l_))
    one = np.ones(n)
    return (
        np.trace(kt @ lt)
        + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
        - 2 / (n - 2) * one @ kt @ lt @ one
    ) / (n * (n - 3))


def _pair(n, px, py, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, px)) + 3.0  # offsets: centring matters
    y = x[:, : min(px, py)] @ rng.normal(size=(min(px, py), py)) + rng.normal(size=(n, py))
    return x, y


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("form", ["gram", "feature", "auto"])
@pytest.mark.parametrize(("n", "px", "py"), [(12, 300, 150), (200, 5, 8)])
def test_cka_equals_the_formulas(debiased, form, n, px, py):
    x, y = _pair(n, px, py, seed=n + px)
    expected = _reference_cka(x, y, debiased)
    assert linear_cka(x, y, debiased=debiased, form=form) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_of_a_representation_with_itself_is_one(debiased):
    x, _ = _pair(30, 50, 10, seed=1)
    assert linear_cka(x, x, debiased=debiased) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_is_invariant_to_rotation_scaling_and_offset_only(debiased):
    x, y = _pair(25, 10, 6, seed=2)
    base = linear_cka(x, y, debiased=debiased)
    q = ortho_group.rvs(10, random_state=3)
    assert linear_cka(7.5 * x @ q - 2.0, y, debiased=debiased) == pytest.approx(base, abs=1e-10)
    # Not invariant to stretching some features more than others.
    stretched = x * np.geomspace(0.1, 10, 10)
    assert abs(linear_cka(stretched, y, debiased=debiased) - base) > 0.01


def test_debiased_cka_is_near_zero_for_independent_data_where_biased_is_not():
    rng = np.random.default_rng(4)
    biased, debiased = [], []
    for _ in range(5):
        x, y = rng.normal(size=(40, 2000)), rng.normal(size=(40, 1500))
        biased.append(linear_cka(x, y))
        debiased.append(linear_cka(x, y, debiased=True))
    assert min(biased) > 0.9  # many features, few stimuli: the biased estimate saturates
    assert abs(np.mean(debiased)) < 0.05 and max(np.abs(debiased)) < 0.15


def test_rows_are_joined_by_stimulus_id():
    x, y = _pair(20, 15, 7, seed=5)
    ids = np.array([f"img{i}" for i in range(20)])
    order = np.random.default_rng(6).permutation(20)
    expected = linear_cka(x, y, debiased=True)
    assert linear_cka(x, y[order], ids, ids[order], debiased=True) == pytest.approx(expected)
    # Without the ids, the shuffled rows are a different (worse) pairing.
    assert linear_cka(x, y[order], debiased=True) < expected - 0.1


def test_blocks_and_memory_maps_give_the_same_value(tmp_path):
    x, y = _pair(30, 40, 25, seed=7)
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    for form in ("gram", "feature"):
        for debiased in (False, True):
            whole = linear_cka(x.astype(np.float32), y, debiased=debiased, form=form)
            small = linear_cka(mapped, y, debiased=debiased, form=form, max_elements=64)
            assert small == pytest.approx(whole, abs=1e-10)


def test_auto_form_follows_the_shape():
    assert _cheaper_form(100, 5000, 4000) == "gram"
    assert _cheaper_form(10000, 64, 32) == "feature"


def test_errors_name_the_problem():
    x, y = _pair(10, 4, 3, seed=8)
    ids = np.arange(10)
    with pytest.raises(ParameterError, match="'form'.*got 'kernel'"):
        linear_cka(x, y, form="kernel")
    with pytest.raises(ParameterError, match="'debiased'.*expected bool"):
        linear_cka(x, y, debiased="yes")
    with pytest.raises(ParameterError, match="both 'x_ids' and 'y_ids'.*got x_ids only"):
        linear_cka(x, y, x_ids=ids)
    with pytest.raises(DataError, match="1 missing from y: 9; 1 missing from x: 10"):
        linear_cka(x, y, ids, np.r_[ids[:-1], 10])
    with pytest.raises(DataError, match="'y_ids' must give one id per row"):
        linear_cka(x, y, ids, ids[:-1])
    with pytest.raises(DataError, match="same number of stimuli.*10 and 9"):
        linear_cka(x, y[:-1])
    with pytest.raises(DataError, match="Debiased CKA needs at least 4 stimuli; got 3"):
        linear_cka(x[:3], y[:3], debiased=True)
    with pytest.raises(DataError, match="'y' is constant"):
        linear_cka(x, np.ones_like(y))
    bad = x.copy()
    bad[2, 1] = np.inf
    with pytest.raises(DataError, match="NaN or infinite"):
        linear_cka(bad, y)
    with pytest.raises(DataError, match="2-D"):
        linear_cka(x[None], y)
