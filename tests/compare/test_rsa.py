"""RSA: RDMs, comparisons and noise ceiling against rsatoolbox; bootstrap; plots; errors."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

import brainalign.compare as compare
from brainalign.compare import (
    RDM,
    RDM_COMPARISONS,
    bootstrap_compare,
    compare_rdms,
    compute_rdm,
    noise_ceiling,
    plot_rdm,
)
from brainalign.compare._rsa_compare import compare_vectors
from brainalign.exceptions import DataError, ParameterError

rsatoolbox = pytest.importorskip("rsatoolbox")

#: Our comparison names -> rsatoolbox's.
RSATOOLBOX_NAMES = {
    "spearman": "spearman",
    "pearson": "corr",
    "tau_a": "tau-a",
    "cosine": "cosine",
    "whitened_pearson": "corr_cov",
    "whitened_cosine": "cosine_cov",
}
ATOL = 1e-8


def _repeated_responses(n_stim=9, n_units=25, n_runs=3, seed=0):
    """Rows = stimuli x runs, shuffled; string ids; float run labels."""
    rng = np.random.default_rng(seed)
    patterns = rng.normal(size=(n_stim, n_units))
    ids = np.array([f"img{i:02d}" for i in range(n_stim)])
    rows = np.concatenate([patterns + 0.7 * rng.normal(size=patterns.shape) for _ in range(n_runs)])
    row_ids = np.tile(ids, n_runs)
    runs = np.repeat(np.arange(n_runs, dtype=float), n_stim)
    order = rng.permutation(len(rows))
    return rows[order], row_ids[order], runs[order]


def _rsatoolbox_rdm(rows, row_ids, runs, method, **kwargs):
    ds = rsatoolbox.data.Dataset(rows, obs_descriptors={"stim": row_ids, "run": runs})
    ref = rsatoolbox.rdm.calc_rdm(ds, method=method, descriptor="stim", **kwargs)
    return ref.get_vectors()[0], np.asarray(ref.pattern_descriptors["stim"])


def _random_rdm(ids, seed, ties=False):
    rng = np.random.default_rng(seed)
    values = rng.random(len(ids) * (len(ids) - 1) // 2)
    if ties:  # a categorical model: few distinct values
        values = np.round(values * 3)
    return RDM(values, ids, "model")


# ----------------------------------------------------------------------------- RDMs


@pytest.mark.parametrize(
    ("ours", "theirs"), [("correlation", "correlation"), ("sqeuclidean", "euclidean")]
)
def test_rdm_matches_rsatoolbox_after_averaging_repetitions(ours, theirs):
    rows, row_ids, runs = _repeated_responses()
    expected, ref_ids = _rsatoolbox_rdm(rows, row_ids, runs, theirs)
    rdm = compute_rdm(rows, row_ids, method=ours)
    assert rdm.method == ours and rdm.n_stimuli == 9
    np.testing.assert_allclose(rdm.select(ref_ids).dissimilarities, expected, rtol=0, atol=ATOL)


def test_euclidean_is_scipy_distance_between_stimulus_means():
    rows, row_ids, _ = _repeated_responses(seed=1)
    rdm = compute_rdm(rows, row_ids, method="euclidean")
    means = np.stack([rows[row_ids == s].mean(0) for s in rdm.stimulus_ids])
    np.testing.assert_allclose(rdm.dissimilarities, pdist(means), rtol=0, atol=ATOL)


def test_crossnobis_matches_rsatoolbox_with_partitions():
    rows, row_ids, runs = _repeated_responses(n_runs=4, seed=2)
    # An extra repetition of one stimulus inside run 1: averaged within its fold.
    extra = rows[(row_ids == "img03") & (runs == 1.0)] + 0.1
    rows, row_ids, runs = (
        np.vstack([rows, extra]),
        np.append(row_ids, "img03"),
        np.append(runs, 1.0),
    )
    expected, ref_ids = _rsatoolbox_rdm(rows, row_ids, runs, "crossnobis", cv_descriptor="run")
    rdm = compute_rdm(rows, row_ids, method="crossnobis", partitions=runs)
    np.testing.assert_allclose(rdm.select(ref_ids).dissimilarities, expected, rtol=0, atol=ATOL)


def test_crossnobis_default_partitions_are_repetition_numbers():
    rows, row_ids, runs = _repeated_responses(n_runs=3, seed=3)
    expected, ref_ids = _rsatoolbox_rdm(rows, row_ids, runs, "crossnobis")
    rdm = compute_rdm(rows, row_ids, method="crossnobis")
    np.testing.assert_allclose(rdm.select(ref_ids).dissimilarities, expected, rtol=0, atol=ATOL)


def test_crossnobis_is_unbiased_where_the_plain_distance_is_not():
    # Every stimulus evokes the same pattern: true distances are 0, only noise differs.
    rng = np.random.default_rng(4)
    n_stim, n_runs = 12, 6
    rows = np.tile(rng.normal(size=(1, 200)), (n_stim * n_runs, 1))
    rows += rng.normal(size=rows.shape)
    row_ids = np.tile(np.arange(n_stim), n_runs)
    cv = compute_rdm(rows, row_ids, method="crossnobis").dissimilarities
    plain = compute_rdm(rows, row_ids, method="sqeuclidean").dissimilarities
    # Noise variance 1 per unit, averaged over 6 runs: plain distance ~ 2 / 6.
    assert plain.mean() == pytest.approx(2 / n_runs, rel=0.1)
    assert abs(cv.mean()) < 0.02
    assert (cv < 0).any()


@pytest.mark.parametrize("method", ["correlation", "euclidean", "sqeuclidean", "crossnobis"])
def test_blocks_of_units_and_float32_give_the_same_rdm(method, tmp_path):
    rows, row_ids, runs = _repeated_responses(n_units=37, seed=5)
    path = tmp_path / "rows.npy"
    np.save(path, rows.astype(np.float32))
    mapped = np.load(path, mmap_mode="r")
    kwargs = {"partitions": runs} if method == "crossnobis" else {}
    whole = compute_rdm(rows.astype(np.float32), row_ids, method, **kwargs)
    blocked = compute_rdm(mapped, row_ids, method, max_elements=len(rows) * 4, **kwargs)
    assert blocked.dissimilarities.dtype == np.float64
    np.testing.assert_allclose(blocked.dissimilarities, whole.dissimilarities, rtol=1e-12)


def test_stimuli_keep_the_order_of_their_first_row():
    rows = np.random.default_rng(6).normal(size=(5, 4))
    rdm = compute_rdm(rows, [30, 10, 20, 10, 30])
    assert rdm.stimulus_ids.tolist() == [30, 10, 20]
    expected = 1 - np.corrcoef([rows[[0, 4]].mean(0), rows[[1, 3]].mean(0), rows[2]])
    np.testing.assert_allclose(rdm.to_matrix(), expected, atol=ATOL)


def test_rdm_container_round_trip_and_selection():
    matrix = squareform(np.arange(1.0, 7.0))
    rdm = RDM.from_matrix(matrix, ["a", "b", "c", "d"], "toy")
    np.testing.assert_array_equal(rdm.to_matrix(), matrix)
    sub = rdm.select(["d", "a"])
    assert sub.stimulus_ids.tolist() == ["d", "a"]
    assert sub.dissimilarities.tolist() == [matrix[3, 0]]
    assert repr(rdm) == "RDM(method='toy', n_stimuli=4)"


def test_rdm_container_errors():
    with pytest.raises(DataError, match="symmetric"):
        RDM.from_matrix(np.arange(9.0).reshape(3, 3), ["a", "b", "c"])
    with pytest.raises(DataError, match="needs 3 condensed"):
        RDM(np.ones(4), ["a", "b", "c"])
    with pytest.raises(DataError, match="unique; repeated: 'b'"):
        RDM(np.ones(3), ["a", "b", "b"])
    with pytest.raises(DataError, match="NaN"):
        RDM(np.array([1.0, np.nan, 2.0]), ["a", "b", "c"])
    with pytest.raises(DataError, match="1 stimulus id.*missing from this RDM: 'z'"):
        RDM(np.ones(3), ["a", "b", "c"]).select(["a", "z"])


def test_compute_rdm_errors():
    rows, row_ids, runs = _repeated_responses(seed=7)
    with pytest.raises(ParameterError, match="'method'.*'correlation'.*got 'cosine'"):
        compute_rdm(rows, row_ids, method="cosine")
    with pytest.raises(ParameterError, match="'partitions' is only used by method='crossnobis'"):
        compute_rdm(rows, row_ids, method="euclidean", partitions=runs)
    with pytest.raises(ParameterError, match="'max_elements'"):
        compute_rdm(rows, row_ids, max_elements=0)
    with pytest.raises(DataError, match="one id per row.*27"):
        compute_rdm(rows, row_ids[:-1])
    with pytest.raises(DataError, match="2-D"):
        compute_rdm(rows[0], row_ids[:1])
    flat = rows.copy()
    flat[row_ids == "img04"] = 1.0
    with pytest.raises(DataError, match="constant responses: 'img04'"):
        compute_rdm(flat, row_ids, method="correlation")
    broken = rows.copy()
    broken[np.flatnonzero(row_ids == "img02")[0], 3] = np.nan
    for method in ("correlation", "euclidean", "crossnobis"):
        with pytest.raises(DataError, match="NaN or infinite.*'img02'"):
            compute_rdm(broken, row_ids, method=method)


def test_crossnobis_partition_errors():
    rows, row_ids, runs = _repeated_responses(seed=8)
    keep = ~((row_ids == "img05") & (runs == 2.0))
    with pytest.raises(DataError, match=r"every partition.*'img05' \(partition 2\.0\)"):
        compute_rdm(rows[keep], row_ids[keep], "crossnobis", partitions=runs[keep])
    with pytest.raises(DataError, match="at least 2 partitions"):
        compute_rdm(rows, row_ids, "crossnobis", partitions=np.zeros(len(rows)))
    once = np.unique(row_ids, return_index=True)[1]
    with pytest.raises(DataError, match="at least 2 partitions"):
        compute_rdm(rows[once], row_ids[once], "crossnobis")


# ----------------------------------------------------------------------- comparisons


@pytest.mark.parametrize("method", RDM_COMPARISONS)
@pytest.mark.parametrize("ties", [False, True])
def test_comparisons_match_rsatoolbox_and_join_by_id(method, ties):
    ids = np.array([f"s{i}" for i in range(11)])
    model = _random_rdm(ids, seed=10, ties=ties)
    data = _random_rdm(ids, seed=11)
    expected = rsatoolbox.rdm.compare(
        model.dissimilarities[None], data.dissimilarities[None], method=RSATOOLBOX_NAMES[method]
    )[0, 0]
    shuffled = data.select(ids[np.random.default_rng(12).permutation(ids.size)])
    assert compare_rdms(model, shuffled, method) == pytest.approx(expected, abs=ATOL)
    self_similarity = 1.0
    if method == "tau_a":  # tied pairs are neither concordant nor discordant
        _, counts = np.unique(model.dissimilarities, return_counts=True)
        n0 = model.dissimilarities.size * (model.dissimilarities.size - 1) / 2
        self_similarity = 1 - (counts * (counts - 1) / 2).sum() / n0
    assert compare_rdms(model, model, method) == pytest.approx(self_similarity, abs=ATOL)


@pytest.mark.parametrize("method", RDM_COMPARISONS)
def test_comparisons_leave_out_nan_pairs_as_rsatoolbox(method):
    # The bootstrap marks the pairs of a stimulus with its own copy as NaN.
    rng = np.random.default_rng(13)
    a, b = rng.random(45), rng.random(45)
    a[[3, 17, 30]] = b[[3, 17, 30]] = np.nan
    expected = rsatoolbox.rdm.compare(a, b, method=RSATOOLBOX_NAMES[method])[0, 0]
    assert compare_vectors(a, b, method) == pytest.approx(expected, abs=ATOL)


def test_whitened_cosine_is_linear_cka_of_the_patterns():
    # For squared Euclidean RDMs, the whitened cosine equals (biased) linear CKA.
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(15, 8)), rng.normal(size=(15, 5))
    ids = np.arange(15)
    rx, ry = (RDM(pdist(a, "sqeuclidean"), ids) for a in (x, y))
    xc, yc = x - x.mean(0), y - y.mean(0)
    cka = np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    assert compare_rdms(rx, ry, "whitened_cosine") == pytest.approx(cka, abs=ATOL)


def test_constant_rdm_compares_as_zero():
    ids = list("abcde")
    flat, other = RDM(np.ones(10), ids), _random_rdm(ids, seed=15)
    for method in RDM_COMPARISONS:
        if method not in ("cosine", "whitened_cosine"):  # a flat RDM still has a direction
            assert compare_rdms(flat, other, method) == 0.0


def test_compare_errors_name_the_missing_ids():
    a = RDM(np.ones(6), ["a", "b", "c", "d"])
    b = RDM(np.ones(6), ["a", "b", "c", "x"])
    with pytest.raises(DataError, match=r"1 missing from rdm2: 'd'; 1 missing from rdm1: 'x'"):
        compare_rdms(a, b)
    with pytest.raises(ParameterError, match="'method'.*got 'kendall'"):
        compare_rdms(a, a, "kendall")
    with pytest.raises(ParameterError, match="'rdm2'.*expected RDM"):
        compare_rdms(a, np.ones(6))
    with pytest.raises(DataError, match="at least 3 stimuli"):
        compare_rdms(RDM([1.0], ["a", "b"]), RDM([1.0], ["a", "b"]))


# --------------------------------------------------------------------- noise ceiling


def _subject_rdms(n_subjects=5, n_stim=10, seed=20):
    rng = np.random.default_rng(seed)
    ids = np.array([f"s{i}" for i in range(n_stim)])
    shared = rng.random(n_stim * (n_stim - 1) // 2)
    rdms = [RDM(shared + 0.5 * rng.random(shared.size), ids) for _ in range(n_subjects)]
    return ids, rdms


@pytest.mark.parametrize("method", RDM_COMPARISONS)
def test_noise_ceiling_matches_rsatoolbox(method):
    ids, rdms = _subject_rdms()
    ref_rdms = rsatoolbox.rdm.RDMs(np.stack([r.dissimilarities for r in rdms]))
    name = RSATOOLBOX_NAMES[method]
    if method == "tau_a":  # rsatoolbox says it pools tau by ranks; so do we.
        with pytest.warns(UserWarning, match="averaged ranks"):
            lower, upper = rsatoolbox.inference.boot_noise_ceiling(ref_rdms, method=name)
    else:
        lower, upper = rsatoolbox.inference.boot_noise_ceiling(ref_rdms, method=name)
    # Subjects' RDMs in different stimulus orders: joined by id.
    rng = np.random.default_rng(21)
    shuffled = [
        r if i == 0 else r.select(ids[rng.permutation(ids.size)]) for i, r in enumerate(rdms)
    ]
    nc = noise_ceiling(shuffled, method)
    assert nc.lower == pytest.approx(lower, abs=ATOL)
    assert nc.upper == pytest.approx(upper, abs=ATOL)
    assert nc.lower < nc.upper


def test_noise_ceiling_of_identical_subjects_is_one():
    _, rdms = _subject_rdms(n_subjects=1)
    lower, upper = noise_ceiling(rdms * 3, "spearman")
    assert lower == pytest.approx(1.0) and upper == pytest.approx(1.0)


def test_noise_ceiling_errors():
    ids, rdms = _subject_rdms(n_subjects=2)
    with pytest.raises(DataError, match="at least 2 subjects"):
        noise_ceiling(rdms[:1])
    with pytest.raises(ParameterError, match="'rdms\\[1\\]'.*expected RDM"):
        noise_ceiling([rdms[0], "oops"])
    with pytest.raises(ParameterError, match="'method'"):
        noise_ceiling(rdms, "rank")
    other = RDM(rdms[1].dissimilarities, [*ids[:-1], "new"])
    with pytest.raises(DataError, match="missing from rdms\\[1\\]: 's9'"):
        noise_ceiling([rdms[0], other])


# ------------------------------------------------------------------------- bootstrap


def test_bootstrap_sample_matches_rsatoolbox_resample():
    ids, rdms = _subject_rdms(n_subjects=3, n_stim=12, seed=30)
    model = _random_rdm(ids, seed=31)
    result = bootstrap_compare(model, rdms, "whitened_pearson", n_bootstraps=3, seed=32)
    rng = np.random.default_rng(32)
    for b in range(3):
        idx = np.sort(rng.integers(0, ids.size, ids.size))
        ref = rsatoolbox.rdm.RDMs(np.stack([r.dissimilarities for r in [model, *rdms]]))
        sub = ref.subsample_pattern("index", idx).get_vectors()
        expected = rsatoolbox.rdm.compare(sub[:1], sub[1:], method="corr_cov").mean()
        assert result.samples[b] == pytest.approx(expected, abs=ATOL)
    full = np.mean([compare_rdms(model, r, "whitened_pearson") for r in rdms])
    assert result.value == pytest.approx(full)


def _population(n=600, p=6, noise=8.0, seed=40):
    """Return a model RDM and a data RDM (the model plus independent pair noise)."""
    rng = np.random.default_rng(seed)
    model = pdist(rng.normal(size=(n, p)), "sqeuclidean")
    return squareform(model), squareform(model + noise * rng.normal(size=model.size))


def test_bootstrap_interval_covers_the_population_value():
    # 100 samples of 30 stimuli from a population of 600 with a planted model-data match.
    model_sq, data_sq = _population()
    true = np.corrcoef(squareform(model_sq), squareform(data_sq))[0, 1]
    rng = np.random.default_rng(41)
    covered, values, widths = 0, [], []
    for i in range(100):
        pick = rng.choice(len(model_sq), size=30, replace=False)
        sub = np.ix_(pick, pick)
        model = RDM.from_matrix(model_sq[sub], pick)
        data = RDM.from_matrix(data_sq[sub], pick)
        ci = bootstrap_compare(model, data, "pearson", n_bootstraps=100, seed=i)
        assert ci.low <= ci.value <= ci.high
        covered += ci.low <= true <= ci.high
        values.append(ci.value)
        widths.append(ci.high - ci.low)
    assert 0.4 < true < 0.9  # planted: a real but imperfect match
    # Nominal 95 %: fewer than 88 of 100 has probability ~1 % for a calibrated interval.
    assert covered >= 88
    # The interval's width follows the real spread of the statistic across samples.
    assert 0.7 < np.mean(widths) / 3.92 / np.std(values) < 2.0


def test_bootstrap_is_deterministic_for_a_seed():
    ids, rdms = _subject_rdms(seed=50)
    model = _random_rdm(ids, seed=51)
    a = bootstrap_compare(model, rdms, "tau_a", n_bootstraps=40, seed=7)
    b = bootstrap_compare(model, rdms, "tau_a", n_bootstraps=40, seed=7)
    c = bootstrap_compare(model, rdms, "tau_a", n_bootstraps=40, seed=8)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert (a.low, a.high) == (b.low, b.high)
    assert not np.array_equal(a.samples, c.samples)
    assert a.confidence == 0.95 and a.samples.shape == (40,)


def test_bootstrap_errors():
    ids, rdms = _subject_rdms(seed=60)
    model = _random_rdm(ids, seed=61)
    with pytest.raises(ParameterError, match="'n_bootstraps'.*got 0"):
        bootstrap_compare(model, rdms, n_bootstraps=0)
    with pytest.raises(ParameterError, match="'confidence'.*\\(0, 1\\).*got 95"):
        bootstrap_compare(model, rdms, confidence=95)
    with pytest.raises(ParameterError, match="'model_rdm'"):
        bootstrap_compare(model.to_matrix(), rdms)
    with pytest.raises(ParameterError, match="'data_rdms\\[0\\]'"):
        bootstrap_compare(model, [np.ones(3)])
    with pytest.raises(DataError, match="missing from data_rdms: 's0'"):
        bootstrap_compare(model, rdms[0].select(ids[1:]))


# ----------------------------------------------------------------------------- plots


def test_plot_rdm_draws_labels_and_saves_atomically(tmp_path):
    from matplotlib.figure import Figure

    rdm = _random_rdm(np.array(["cat", "dog", "car", "bus"]), seed=70)
    fig = plot_rdm(rdm, labels=True, path=tmp_path / "figs" / "rdm.png")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "car", "bus"]
    np.testing.assert_array_equal(ax.images[0].get_array(), rdm.to_matrix())
    assert len(fig.axes) == 2  # image and colour bar
    assert (tmp_path / "figs" / "rdm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["rdm.png"]
    bare = plot_rdm(rdm, colorbar=False, title="model")
    assert bare.axes[0].get_xticks().size == 0 and bare.axes[0].get_title() == "model"
    assert len(bare.axes) == 1


def test_plot_rdm_into_given_axes_and_label_errors():
    from matplotlib.figure import Figure

    rdm = _random_rdm(["a", "b", "c"], seed=71)
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_rdm(rdm, labels=["x", "y", "z"], ax=ax) is fig
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y", "z"]
    with pytest.raises(ParameterError, match="'labels'.*expected 3 labels.*got 2"):
        plot_rdm(rdm, labels=["x", "y"])
    with pytest.raises(ParameterError, match="'rdm'"):
        plot_rdm(rdm.to_matrix())


# ------------------------------------------------------------------------ public API


def test_all_is_sorted_and_complete():
    assert compare.__all__ == sorted(compare.__all__)
    assert all(hasattr(compare, name) for name in compare.__all__)


def test_import_is_light():
    code = (
        "import sys, brainalign.compare; heavy = ('scipy', 'matplotlib', 'rsatoolbox', 'torch'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
