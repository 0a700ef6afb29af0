"""Time-resolved encoding and decoding: planted effects, direct references, real EEG."""

import json
from pathlib import Path

import numpy as np
import pytest

from brainalign.data import crop_times, load_dataset, sensor_data
from brainalign.encoding import (
    EncodingModel,
    chance_band,
    classify_over_time,
    decode_over_time,
    identification_scores,
    onset_time,
    temporal_generalization,
    time_resolved_encoding,
)
from brainalign.exceptions import DataError, ParameterError

N170 = Path(__file__).resolve().parents[3] / "shared" / "data" / "n170_faces_houses" / "N170"
LAYERS = ("layer2", "layer4", "layer6")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from brainalign.data.sample import write_things_eeg2_sample

    root = write_things_eeg2_sample(tmp_path_factory.getbasetemp() / "things-eeg2", seed=0)
    truth = json.loads((root / "ground_truth.json").read_text())
    return root, truth


@pytest.fixture(scope="module")
def eeg(sample):
    return load_dataset("things-eeg2", root=sample[0], subject=1)


@pytest.fixture(scope="module")
def features(sample, eeg):
    from brainalign.features import get_extractor

    extractor = get_extractor(sample[1]["model"])
    ids = np.unique(eeg.stimulus_ids)
    return extractor.extract(eeg.stimuli, ids=ids, layers=list(LAYERS), progress=False)


@pytest.fixture(scope="module")
def fits(eeg, features):
    return {layer: time_resolved_encoding(eeg, features[layer]) for layer in LAYERS}


def _effect_curve(result, channels):
    grid = result.grid("r")
    return grid[[result.space.ch_names.index(c) for c in channels]].mean(0)


def test_encoding_recovers_each_planted_effect(fits, sample):
    times = fits["layer2"].space.times
    for effect in sample[1]["effects"]:
        curve = _effect_curve(fits[effect["layer"]], effect["channels"])
        assert abs(times[np.argmax(curve)] - effect["latency_s"]) <= 0.015, effect
        assert curve.max() > 0.6
        k = int(np.argmin(np.abs(times - effect["latency_s"])))
        others = [_effect_curve(fits[lay], effect["channels"])[k] for lay in LAYERS]
        others.remove(curve[k])
        assert curve[k] > max(others) + 0.05, (effect["layer"], curve[k], others)


def test_channels_and_times_without_signal_stay_near_zero(fits, sample):
    result = fits["layer6"]
    planted = {c for e in sample[1]["effects"] for c in e["channels"]}
    grid = result.grid("r")
    quiet = [k for k, c in enumerate(result.space.ch_names) if c not in planted]
    assert abs(np.nanmean(grid[quiet])) < 0.03
    assert np.nanmax(grid[:, result.space.times < 0]) < 0.3  # max over 1700 null cells
    nc = result.grid("nc")
    assert np.nanmean(nc[:, result.space.times < 0]) < 10
    p7 = result.space.ch_names.index("P7")
    assert nc[p7, np.argmin(np.abs(result.space.times - 0.17))] > 80


def test_peak_latencies_are_those_of_the_channel_maximum(fits, sample):
    from brainalign.encoding import peak_curve, peak_latencies
    from brainalign.maps import peak_times

    result = fits["layer6"]
    np.testing.assert_array_equal(result.peak_curve(), np.nanmax(result.grid("r"), axis=0))
    np.testing.assert_array_equal(result.peak_curve(), peak_curve(result.grid("r")))
    found = result.peak_latencies()
    assert found == peak_latencies(result.peak_curve(), result.space.times)
    assert found == peak_times(result.r, result.space)  # what the topomaps show
    planted = next(e["latency_s"] for e in sample[1]["effects"] if e["layer"] == "layer6")
    assert min(abs(t - planted) for t in found) <= 0.015
    top = result.space.times[np.nanargmax(result.peak_curve())]
    assert result.peak_latencies(n_peaks=1) == [top]


def test_scores_equal_a_direct_sklearn_computation(eeg, features, fits):
    from sklearn.linear_model import Ridge

    result = fits["layer6"]
    train, test = eeg.average_repetitions().split()
    X = features["layer6"].align(train.stimulus_ids).astype(np.float64)
    Xt = features["layer6"].align(test.stimulus_ids).astype(np.float64)
    mean, sd = X.mean(0), X.std(0)
    sd[sd == 0] = 1
    col = int(np.nanargmax(result.r))
    ridge = Ridge(alpha=result.alpha[col]).fit((X - mean) / sd, train.responses[:, col])
    pred = ridge.predict((Xt - mean) / sd)
    np.testing.assert_allclose(result.prediction[:, col], pred, rtol=2e-3, atol=2e-3)
    r = np.corrcoef(pred, test.responses[:, col])[0, 1]
    assert result.r[col] == pytest.approx(r, abs=1e-3)
    frame = result.to_frame()
    assert list(frame.columns) == ["channel", "time", "r", "r2", "nc", "ncr2", "alpha"]
    assert frame.loc[col, "channel"] == result.space.column_channels[col]


def test_decoding_identifies_stimuli_when_the_signal_is_there(eeg, features):
    data = crop_times(eeg, -0.2, 0.4)
    table = decode_over_time(data, features["layer6"], window=1)
    pairwise = table[(table.metric == "pairwise") & (table.scope == "time")]
    peak = pairwise.loc[pairwise.value.idxmax()]
    assert 0.1 <= peak.time <= 0.3
    assert peak.value > 0.56
    # 200 candidates: pairwise chance 0.5 with sd ~ 0.5 / sqrt(3 * 200) per time point
    pre = pairwise[pairwise.time < 0].value
    assert np.all(np.abs(pre - 0.5) < 4 * 0.5 / np.sqrt(3 * 200))
    top = table[table.metric == "top1"]
    assert set(top.chance.round(6)) == {0.005}
    assert set(table[table.metric == "top5"].chance.round(6)) == {0.025}
    assert set(table.n_candidates) == {200}
    epoch = table[(table.scope == "epoch") & (table.metric == "pairwise")]
    assert epoch.value.iloc[0] > 0.6
    # the band comes from shuffles of the test stimuli, family-wise over the windows:
    # the planted peak exceeds it, no pre-stimulus window does
    band = pairwise.chance_high.iloc[0]
    assert pairwise.chance_high.nunique() == 1 and 0.5 < band < peak.value
    assert (pre < band).all() and (pairwise[pairwise.time < 0].p_fwe > 0.05).all()
    assert peak.p_fwe < 0.01 and epoch.p_fwe.iloc[0] < 0.01


def test_decoding_equals_a_direct_fit_at_one_time(eeg, features):
    data = crop_times(eeg, 0.17, 0.17)
    table = decode_over_time(data, features["layer6"], whole_epoch=False)
    train, test = data.average_repetitions().split()
    est = EncodingModel().fit(train.responses, features["layer6"].align(train.stimulus_ids))
    pred = est.predict(test.responses)
    expected = identification_scores(pred, features["layer6"].align(test.stimulus_ids))
    got = table.set_index("metric").value
    for metric, (value, _) in expected.items():
        assert got[metric] == pytest.approx(value)


def test_temporal_generalization_diagonal_matches_decoding(eeg, features):
    data = crop_times(eeg, 0.14, 0.2)
    times, scores = temporal_generalization(data, features["layer6"], window=2)
    assert scores.shape == (times.size, times.size) == (6, 6)
    table = decode_over_time(data, features["layer6"], window=2, whole_epoch=False)
    diag = table[table.metric == "pairwise"].value.to_numpy()
    np.testing.assert_allclose(np.diag(scores), diag)


def test_array_features_need_ids(eeg, features):
    fs = features["layer6"]
    with pytest.raises(ParameterError, match="'feature_ids'"):
        time_resolved_encoding(eeg, fs.features)
    data = crop_times(eeg, 0.1, 0.1)
    a = decode_over_time(data, fs.features, feature_ids=fs.stimulus_ids, whole_epoch=False)
    b = decode_over_time(data, fs, whole_epoch=False)
    np.testing.assert_allclose(a.value, b.value)
    with pytest.raises(DataError, match="sensor space"):
        from brainalign.data import BrainData

        time_resolved_encoding(BrainData(np.zeros((2, 2)), [0, 1]), fs)


COLUMNS = [
    "time",
    "tmin",
    "tmax",
    "score",
    "chance",
    "chance_low",
    "chance_high",
    "p",
    "p_fwe",
    "significant",
    "cluster",
    "p_cluster",
    "significant_cluster",
    "n_trials",
    "n_permutations",
]


def _trials(seed, n=120, n_channels=3, n_times=8, rho=0.7, effect=None):
    """Trials of AR(1) noise over time (lag-1 correlation ``rho``), two balanced labels.

    ``effect``: (first, last, size) adds ``size`` SD to channel 0 at those time
    indices in the trials labelled "b"; without it the labels carry no information.
    """
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(n, n_channels, n_times))
    x = np.empty_like(noise)
    x[..., 0] = noise[..., 0]
    for t in range(1, n_times):
        x[..., t] = rho * x[..., t - 1] + np.sqrt(1 - rho**2) * noise[..., t]
    labels = rng.permutation(np.repeat(["a", "b"], n // 2))
    if effect is not None:
        first, last, size = effect
        x[labels == "b", 0, first : last + 1] += size
    names = [f"E{c}" for c in range(n_channels)]
    return sensor_data(x, labels, names, np.arange(n_times) / 100.0)


def test_classification_equals_sklearn_and_the_band_comes_from_permutations(eeg):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    data = crop_times(eeg.select_stimuli(eeg.test_ids[:2]), 0.0, 0.02)
    table = classify_over_time(data, cv=5, n_permutations=19)
    assert list(table.columns) == COLUMNS
    X, y = data.responses[:, data.space.time_columns()[20]], data.stimulus_ids
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    clf = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    d = cross_val_predict(clf, X, y, cv=cv, method="decision_function")
    assert table.score.iloc[0] == pytest.approx(roc_auc_score(y == np.unique(y)[1], d), abs=1e-6)
    # the vectorised LDA and a refit of scikit-learn's on every shuffle agree
    refit = classify_over_time(data, classifier=clf, cv=5, n_permutations=19)
    numeric = [c for c in COLUMNS if c not in ("significant", "significant_cluster")]
    np.testing.assert_allclose(refit[numeric].astype(float), table[numeric].astype(float), 1e-5)
    assert (table.chance_low < table.chance).all() and (table.chance < table.chance_high).all()
    assert table.p.between(1 / 40, 1).all() and (table.p_fwe >= table.p).all()
    np.testing.assert_array_equal(table.significant, table.p_fwe <= 0.05)
    analytic = classify_over_time(data, null="analytic")
    assert (analytic.chance_low.iloc[0], analytic.chance_high.iloc[0]) == chance_band(y, 3, 0.1)[1:]
    assert set(analytic.n_permutations) == {0} and analytic.p_cluster.isna().all()
    one = crop_times(data, 0.0, 0.0)
    acc = classify_over_time(one, scoring="accuracy", classifier="logistic", n_permutations=19)
    assert acc.chance.iloc[0] == pytest.approx(0.5, abs=0.1)


def test_folds_of_every_shuffle_are_those_of_stratified_kfold():
    from sklearn.model_selection import StratifiedKFold

    from brainalign.encoding._time_resolved import _label_matrix, _stratified_folds

    codes = _label_matrix(np.random.default_rng(0).integers(0, 3, 57), 6, 1)
    folds = _stratified_folds(codes, 4, 7)
    for row, code in enumerate(codes):
        cv = StratifiedKFold(4, shuffle=True, random_state=7)
        for k, (_, test) in enumerate(cv.split(np.zeros(code.size), code)):
            assert (folds[row, test] == k).all()


def test_classification_rejects_bad_parameters():
    data = _trials(0, n_times=2)
    with pytest.raises(ParameterError, match="'classifier'"):
        classify_over_time(data, classifier="svm")
    with pytest.raises(ParameterError, match="'null'"):
        classify_over_time(data, null="exact")
    with pytest.raises(ParameterError, match="'n_permutations'.*at least 19"):
        classify_over_time(data, n_permutations=10)
    with pytest.raises(ParameterError, match="'alpha'"):
        classify_over_time(data, alpha=1.5)
    with pytest.raises(ParameterError, match="'cv'"):
        classify_over_time(data, cv=1)


def test_onset_of_a_planted_effect():
    data = _trials(1, n_times=10, effect=(4, 6, 1.0))
    table = classify_over_time(data, n_permutations=99)
    assert table.significant.iloc[4:7].all() and not table.significant.iloc[:3].any()
    assert onset_time(table) == pytest.approx(0.04)
    assert onset_time(table, "significant_cluster") <= 0.04
    assert table.p_cluster[table.cluster == table.cluster.iloc[5]].max() <= 0.05
    assert np.isnan(onset_time(table, min_windows=8))
    with pytest.raises(ParameterError, match="'column'"):
        onset_time(table, column="p")


def _false_positives(n_runs, n_permutations):
    """Rates of claims on data without effect: the permutation null vs the analytic band."""
    per_window, family, cluster, old, scores = [], [], [], [], []
    for seed in range(n_runs):
        data = _trials(seed)
        table = classify_over_time(data, n_permutations=n_permutations, random_state=seed)
        per_window.append(table.p <= 0.05)
        family.append(table.significant.any())
        cluster.append(table.significant_cluster.any())
        _, low, high = chance_band(data.stimulus_ids, len(table))  # the old band
        old.append(((table.score < low) | (table.score > high)).any())
        scores.append(table.score)
    sd = np.std(scores) / np.sqrt((120 + 1) / (12 * 60 * 60))  # over the Mann-Whitney SD
    return np.mean(per_window), np.mean(family), np.mean(cluster), np.mean(old), sd


@pytest.mark.parametrize(
    ("n_runs", "n_permutations", "margin"),
    [(100, 99, 0.04), pytest.param(400, 199, 0.02, marks=pytest.mark.slow)],
)
def test_permutation_band_holds_its_level_at_chance(n_runs, n_permutations, margin):
    """Labels independent of 3 channels x 8 autocorrelated time points, 120 trials.

    Measured with 400 runs of 199 permutations: 5.3 % of windows have p <= 0.05,
    4.8 % of runs cross the max-statistic band, 4.3 % have a significant cluster;
    the old analytic band (Bonferroni, two-sided 0.05) is crossed in 29 % of runs,
    as the null SD of the pooled cross-validated AUC is 1.40 times Mann-Whitney's.
    """
    per_window, family, cluster, old, sd = _false_positives(n_runs, n_permutations)
    assert 0.03 <= per_window <= 0.07
    assert family <= 0.05 + margin and cluster <= 0.05 + margin
    assert old > 0.15 and sd > 1.25  # the analytic band fails the same check


def test_real_n170_face_vs_house_decoding_over_time():
    """Subject 1 of eeg-notebooks' N170 (Muse, 4 channels, ~1150 clean trials).

    Permutation null (200 shuffles), max statistic over the 65 time points (alpha
    0.05). Measured here: AUC within the band before onset, first significant time
    195 ms (the N170; a cluster of p <= 0.05 windows from 141 ms also beats the
    null cluster mass), local peak ~210 ms, global maximum 0.62 at ~290 ms.
    """
    if not N170.exists():
        pytest.skip(f"real data not found at {N170}")
    data = load_dataset(
        "muse",
        root=N170,
        subject=1,
        event_map={1: "house", 2: "face"},
        tmin=-0.1,
        tmax=0.4,
        reject={"eeg": 100e-6},
        decim=2,
    )
    table = classify_over_time(data, classifier="lda", cv=5)
    pre = table[table.time < 0]
    assert ((pre.score > pre.chance_low) & (pre.score < pre.chance_high)).all()
    assert (pre.p_fwe > 0.05).all()
    onset = onset_time(table)
    assert 0.19 <= onset <= 0.23  # decoding starts within the N170 window
    first = table[(table.time >= onset) & (table.time <= 0.25)]
    assert 0.19 <= first.time[first.score.idxmax()] <= 0.23
    assert table.score.max() > 0.58
