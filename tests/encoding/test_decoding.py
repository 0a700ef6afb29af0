"""DecodingModel, identification and caption retrieval: planted, reference and real data."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from brainalign.encoding import (
    DecodingModel,
    EncodingModel,
    caption_retrieval_scores,
    cosine_similarity,
    decode_rois,
    identification_accuracy,
    identification_null,
    identification_scores,
    pairwise_identification,
    pearson_r,
    retrieve_captions,
)
from brainalign.exceptions import DataError, ParameterError


def planted_decoding(n=240, dims=12, voxels=60, noise=1.0, seed=0):
    """Voxels that carry an embedding through a random mixing, plus noise."""
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, dims))
    mixing = rng.standard_normal((dims, voxels))
    vox = emb @ mixing + noise * rng.standard_normal((n, voxels))
    return vox.astype(np.float32), emb.astype(np.float32)


def brute_force_identification(pred, true):
    """Loop-by-loop reference: top-1 and pairwise accuracy by cosine."""

    def cos(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    n = len(pred)
    top1, wins = 0, 0.0
    for i in range(n):
        sims = [cos(pred[i], true[j]) for j in range(n)]
        top1 += all(sims[i] > sims[j] for j in range(n) if j != i)
        for j in range(n):
            if j != i:
                wins += 1.0 if sims[i] > sims[j] else 0.5 if sims[i] == sims[j] else 0.0
    return top1 / n, wins / (n * (n - 1))


def test_identification_equals_a_brute_force_count():
    rng = np.random.default_rng(1)
    true = rng.standard_normal((30, 6))
    pred = true + 1.5 * rng.standard_normal(true.shape)
    top1, pairwise = brute_force_identification(pred, true)
    assert identification_accuracy(pred, true) == pytest.approx(top1)
    assert pairwise_identification(pred, true) == pytest.approx(pairwise)
    scores = identification_scores(pred, true, top_k=(1, 5))
    assert scores["top1"] == (pytest.approx(top1), pytest.approx(1 / 30))
    assert scores["top5"][1] == pytest.approx(5 / 30)
    assert 0 < top1 < 1  # the example is neither trivial nor hopeless


def test_uninformative_predictions_score_chance_or_below():
    true = np.random.default_rng(2).standard_normal((10, 4))
    zeros = np.zeros_like(true)  # every candidate ties: ties count against the truth
    assert identification_accuracy(zeros, true) == 0.0
    assert pairwise_identification(zeros, true) == pytest.approx(0.5)
    constant = np.ones_like(true)  # one guess for all: exactly one stimulus is right
    assert identification_accuracy(constant, true) == pytest.approx(1 / 10)


def test_identification_rejects_mismatched_or_non_finite_input():
    true = np.zeros((5, 3))
    with pytest.raises(DataError, match="same shape"):
        identification_accuracy(np.zeros((4, 3)), true)
    with pytest.raises(DataError, match="NaN"):
        identification_accuracy(np.full((5, 3), np.nan), true)
    with pytest.raises(ParameterError, match="top_k"):
        identification_accuracy(true + 1, true, top_k=6)


def test_decoder_identifies_planted_embeddings_and_not_shuffled_ones():
    vox, emb = planted_decoding()
    train, test = slice(0, 200), slice(200, 240)
    dec = DecodingModel(alphas=np.logspace(-2, 4, 13)).fit(vox[train], emb[train])
    scores = dec.score_identification(vox[test], emb[test])
    assert scores["top1"][0] > 0.8 and scores["top1"][1] == pytest.approx(1 / 40)
    assert pearson_r(emb[test], dec.predict(vox[test])).min() > 0.7
    shuffled = np.random.default_rng(0).permutation(200)
    null = DecodingModel(alphas=np.logspace(-2, 4, 13)).fit(vox[train], emb[train][shuffled])
    assert null.score_identification(vox[test], emb[test])["top1"][0] < 0.2


@pytest.mark.parametrize("voxels", [30, 400])  # primal, and kernel form (voxels > samples)
def test_decoder_equals_scikit_learn_ridge_at_a_fixed_alpha(voxels):
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    vox, emb = planted_decoding(n=150, voxels=voxels)
    dec = DecodingModel(alphas=[37.0], cv=3).fit(vox, emb)
    scaled = StandardScaler().fit(vox)
    ref = Ridge(alpha=37.0).fit(scaled.transform(vox), emb)
    np.testing.assert_allclose(dec.predict(vox), ref.predict(scaled.transform(vox)), atol=2e-4)


def test_one_shared_alpha_equals_himalaya_without_local_alpha():
    from himalaya.ridge import RidgeCV

    vox, emb = planted_decoding(noise=4.0)
    emb[:, :6] *= 0.05  # dimensions that want different alphas on their own
    alphas = np.logspace(-1, 5, 13)
    per_target = DecodingModel(alphas=alphas, cv=4).fit(vox, emb)
    shared = DecodingModel(alphas=alphas, cv=4, alpha_per_target=False).fit(vox, emb)
    assert len(np.unique(per_target.best_alphas_)) > 1
    assert len(np.unique(shared.best_alphas_)) == 1
    scaled = (vox - shared.mean_) / shared.scale_
    ref = RidgeCV(alphas=alphas, cv=4, solver_params={"local_alpha": False}).fit(scaled, emb)
    np.testing.assert_allclose(shared.best_alphas_, np.asarray(ref.best_alphas_))
    himalaya_path = EncodingModel(alphas=alphas, cv=4, solver="ridge", alpha_per_target=False)
    np.testing.assert_allclose(himalaya_path.fit(vox, emb).best_alphas_, shared.best_alphas_)


@parametrize_with_checks([DecodingModel(alphas=[0.1, 1.0, 10.0], cv=3)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_retrieved_captions_are_the_nearest_by_cosine():
    rng = np.random.default_rng(3)
    bank = rng.standard_normal((25, 8))
    pred = rng.standard_normal((4, 8))
    captions = [f"caption {i}" for i in range(25)]
    table = retrieve_captions(pred, bank, captions, k=3)
    unit = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    for row in range(4):
        sims = unit @ (pred[row] / np.linalg.norm(pred[row]))
        expected = np.argsort(-sims)[:3]
        got = table[table["row"] == row]
        np.testing.assert_array_equal(got["bank_index"], expected)
        np.testing.assert_allclose(got["similarity"], sims[expected])
        assert got["caption"].tolist() == [captions[i] for i in expected]


def test_caption_recall_and_its_chance_level():
    rng = np.random.default_rng(4)
    owners = np.arange(40)
    bank_owner = np.repeat(owners, 3)  # three captions per image
    bank = rng.standard_normal((120, 16))
    # a prediction near its first own caption: recall@1 is perfect
    near = bank[::3] + 0.01 * rng.standard_normal((40, 16))
    perfect = caption_retrieval_scores(near, bank, bank_owner, owners, ks=(1, 5)).set_index(
        "metric"
    )
    assert perfect.loc["caption_recall@1", "value"] == 1.0
    assert perfect.loc["caption_median_rank", "value"] == 1.0
    # independent random captions: the mismatched-pairs chance of recall@5 is close to the
    # analytic one of captions at random positions (1 - C(117,5)/C(120,5))
    from math import comb

    random = caption_retrieval_scores(rng.standard_normal((40, 16)), bank, bank_owner, owners)
    chance = random.set_index("metric").loc["caption_recall@5", "chance"]
    assert chance == pytest.approx(1 - comb(117, 5) / comb(120, 5), abs=0.03)
    with pytest.raises(DataError, match="no caption"):
        caption_retrieval_scores(near, bank, bank_owner, owners + 100)


def test_haxby_face_vs_house_decodes_leave_one_run_out(haxby_dir):
    """The known result on this recording: about 0.9 accuracy (chance 0.5)."""
    from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from brainalign import load_dataset

    data = load_dataset("nifti", root=haxby_dir / "slice", labels="attributes_literal.txt")
    keep = np.isin(data.stimulus_ids, ["face", "house"])
    X, labels = data.responses[keep], data.stimulus_ids[keep]
    runs = data.row_meta["run"].to_numpy()[keep]
    prototypes = {"face": np.array([1.0, -1.0]), "house": np.array([-1.0, 1.0])}

    def accuracy(y):
        target = np.stack([prototypes[v] for v in y])
        correct = []
        for tr, te in LeaveOneGroupOut().split(X, y, runs):
            dec = DecodingModel(cv=GroupKFold(4)).fit(X[tr], target[tr], groups=runs[tr])
            correct.append(np.mean(dec.predict_label(X[te], prototypes) == y[te]))
        return float(np.mean(correct))

    acc = accuracy(labels)
    svc = make_pipeline(StandardScaler(), LinearSVC())
    reference = cross_val_score(svc, X, labels, groups=runs, cv=LeaveOneGroupOut()).mean()
    assert 0.85 <= acc <= 1.0
    assert abs(acc - reference) < 0.05
    rng = np.random.default_rng(0)  # labels shuffled within runs: chance
    shuffled = labels.copy()
    for run in np.unique(runs):
        shuffled[runs == run] = rng.permutation(shuffled[runs == run])
    assert abs(accuracy(shuffled) - 0.5) < 0.12


def test_each_planted_attribute_is_decoded_best_from_its_roi(nsd_sample, ground_truth):
    from brainalign import load_dataset
    from brainalign.features import FeatureSet

    truth = ground_truth["rois"]
    words = sorted({w for roi in truth.values() for w in roi["attributes"]})
    with pytest.warns(UserWarning, match="Dropped 4"):
        data = load_dataset("nsd", root=nsd_sample, subject=1, progress=False)
    data = data.average_repetitions()
    captions = [c[0] for c in data.stimuli.captions(data.stimulus_ids)]
    indicator = np.array(
        [[bool(re.search(rf"\b{w}s?\b", c)) for w in words] for c in captions], np.float32
    )
    targets = FeatureSet(indicator, data.stimulus_ids)
    result = decode_rois(data, targets, rois=list(truth), progress=False)
    true = targets.align(result["test_ids"])
    r = {roi: pearson_r(true, p) for roi, p in result["predictions"].items() if roi != "all"}
    best = {w: max(r, key=lambda roi, j=j: r[roi][j]) for j, w in enumerate(words)}
    hits = [w for w in words if w in truth[best[w]]["attributes"]]
    assert len(hits) >= len(words) - 1, best
    for j, w in enumerate(words):  # every attribute: far above the ROI without signal
        planted = max(r[roi][j] for roi in truth if w in truth[roi]["attributes"])
        assert planted > r["RSC"][j] + 0.2
    table = result["scores"]
    assert set(table["roi"]) == {"all", *truth}
    assert (table.loc[table["metric"] == "top1", "chance"] == 1 / len(true)).all()


def test_decode_cli_on_the_sample_retrieves_captions(nsd_sample, minilm_dir, tmp_path):
    from brainalign.cli import main

    out = tmp_path / "run"
    argv = ["decode", "--dataset", "nsd", "--root", str(nsd_sample), "--subject", "1"]
    argv += ["--model", f"hf:{minilm_dir}", "--target", "caption", "--rois", "FFA-1,RSC"]
    argv += ["--out", str(out), "-q"]
    with pytest.warns(UserWarning, match="Dropped 4"):
        assert main(argv) == 0
    table = pd.read_parquet(out / "decoding.parquet").set_index(["roi", "metric"])
    assert set(table.index.get_level_values("roi")) == {"all", "FFA-1", "RSC"}
    recall = table.loc[("all", "caption_recall@1")]
    assert recall["value"] > 5 * recall["chance"]
    assert table.loc[("all", "top1"), "value"] > 10 * table.loc[("all", "top1"), "chance"]
    assert table.loc[("RSC", "pairwise"), "value"] < 0.6  # RSC carries no signal
    retrieved = pd.read_parquet(out / "retrieved_captions.parquet")
    decoded = np.load(out / "decoded_embeddings.npz")
    assert set(retrieved["stimulus_id"]) == set(decoded["stimulus_ids"])
    assert retrieved.groupby("stimulus_id").size().eq(5).all()
    assert json.loads((out / "run.json").read_text())["command"] == "decode"


def test_decode_cli_refuses_a_caption_target_without_a_text_tower(nsd_sample, tmp_path, capsys):
    from brainalign.cli import main

    argv = ["decode", "--dataset", "nsd", "--root", str(nsd_sample), "--subject", "1"]
    argv += ["--model", "torch:brainalign.data.sample:SampleNet@0", "--target", "caption"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    assert "'target'" in capsys.readouterr().err


def test_decode_cli_on_eeg_decodes_over_time(tmp_path, capsys):
    from brainalign.cli import main
    from brainalign.data.sample import write_things_eeg2_sample

    root = write_things_eeg2_sample(tmp_path / "things", seed=0)
    truth = json.loads((root / "ground_truth.json").read_text())
    layer6 = next(e for e in truth["effects"] if e["layer"] == "layer6")
    out = tmp_path / "run"
    argv = ["decode", "--dataset", "things-eeg2", "--root", str(root), "--subject", "1"]
    argv += ["--model", truth["model"], "--layer", "layer6", "--out", str(out), "-q"]
    assert main(argv) == 0
    table = pd.read_parquet(out / "decoding.parquet")
    pairwise = table[(table["metric"] == "pairwise") & (table["scope"] == "time")]
    peak = pairwise.loc[pairwise["value"].idxmax()]
    assert abs(peak["time"] - layer6["latency_s"]) <= 0.03 and peak["value"] > 0.55
    before = pairwise[pairwise["time"] < 0]["value"]
    assert before.between(0.44, 0.56).all()  # 200 candidates: chance 0.5 +- noise
    assert (table.loc[table["metric"] == "top1", "chance"] == 1 / 200).all()
    assert "pairwise: peak" in capsys.readouterr().out


def test_a_degenerate_prediction_retrieves_nothing():
    bank = np.random.default_rng(5).standard_normal((12, 4))
    owners = np.arange(4)
    table = caption_retrieval_scores(np.zeros((4, 4)), bank, np.repeat(owners, 3), owners)
    table = table.set_index("metric")["value"]
    assert table["caption_recall@1"] == 0.0 and table["caption_median_rank"] == 10.0


def clustered_bank(n, per, distractors, dims, spread, n_ties, seed):
    """Captions that cluster around their image (as real captions do), some duplicated."""
    rng = np.random.default_rng(seed)
    centers = np.repeat(rng.standard_normal((n, dims)), per, axis=0)
    own = centers + spread * rng.standard_normal(centers.shape)
    bank = np.concatenate([own, rng.standard_normal((distractors, dims))])
    owner = np.concatenate([np.repeat(np.arange(n), per), np.full(distractors, -1)])
    dup = rng.choice(len(bank), (n_ties, 2), replace=False)  # the same caption twice: ties
    bank[dup[:, 0]] = bank[dup[:, 1]]
    return bank, owner


@pytest.mark.parametrize(
    ("n", "per", "distractors", "dims"), [(30, 1, 0, 8), (40, 3, 20, 16), (80, 5, 0, 12)]
)
def test_a_random_decoder_scores_each_caption_statistic_at_its_chance(n, per, distractors, dims):
    bank, owner = clustered_bank(n, per, distractors, dims, 0.4, n_ties=10, seed=n)
    rng = np.random.default_rng(0)
    tables = [
        caption_retrieval_scores(
            rng.standard_normal((n, dims)), bank, owner, np.arange(n), n_null=200, seed=rep
        ).set_index("metric")
        for rep in range(40)
    ]
    diff = np.array([t["value"] - t["chance"] for t in tables])  # (reps, metrics)
    se = diff.std(0, ddof=1) / np.sqrt(len(diff))
    assert (np.abs(diff.mean(0)) < 4 * se + 1e-3).all(), (tables[0].index, diff.mean(0), se)
    # the old chance of the median (the mean rank of the best of n_own captions at random
    # positions) is far from what a random decoder gets when several captions cluster
    median = np.array([t.loc["caption_median_rank", "value"] for t in tables])
    old = (len(bank) + 1) / (per + 1)
    assert (abs(median.mean() - old) > 8 * se[-1]) == (per > 1)


def test_caption_chance_counts_ties_and_needs_two_stimuli():
    bank = np.random.default_rng(5).standard_normal((12, 4))
    owners = np.arange(4)
    zeros = caption_retrieval_scores(np.zeros((4, 4)), bank, np.repeat(owners, 3), owners)
    assert (zeros["value"] == zeros["chance"]).all()  # all tie: every pairing is the same
    with pytest.raises(DataError, match="at least 2 stimuli"):
        caption_retrieval_scores(np.ones((2, 4)), bank, np.zeros(12), np.zeros(2))
    with pytest.raises(ParameterError, match="'n_null'"):
        caption_retrieval_scores(np.ones((4, 4)), bank, np.repeat(owners, 3), owners, n_null=0)


def test_identification_null_is_the_score_of_shuffled_stimuli():
    rng = np.random.default_rng(3)
    pred = rng.normal(size=(40, 6))
    true = pred + rng.normal(size=(40, 6))
    pred[5] = pred[6]  # ties follow the rules of the scores
    perms = np.vstack([np.arange(40), rng.permutation(40), rng.permutation(40)])
    null = identification_null(cosine_similarity(pred, true), perms, top_k=(1, 5))
    for b, perm in enumerate(perms):
        direct = identification_scores(pred, true[perm], top_k=(1, 5))  # row i's truth: perm[i]
        for metric, (value, _) in direct.items():
            assert null[metric][b] == pytest.approx(value, abs=1e-12)


def test_identification_null_holds_its_level_without_information():
    # Predictions unrelated to their stimuli: the 95 % quantile of the null is
    # exceeded in about 5 % of independent experiments (the binomial band is not
    # calibrated for pairwise scores, whose shuffles vary far less).
    rng = np.random.default_rng(4)
    exceed = []
    for _ in range(200):
        sim = cosine_similarity(rng.normal(size=(30, 5)), rng.normal(size=(30, 5)))
        perms = rng.permuted(np.tile(np.arange(30), (200, 1)), axis=1)
        observed = identification_null(sim, np.arange(30)[None])["pairwise"][0]
        exceed.append(observed > np.quantile(identification_null(sim, perms)["pairwise"], 0.95))
    assert 0.01 <= np.mean(exceed) <= 0.1
