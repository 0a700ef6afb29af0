"""Fits on the Algonauts 2023 layout, scored as the challenge scores them.

The sample in the challenge layout holds the NSD sample's fsaverage betas of subject 1
(z-scored per session, averaged over repetitions; test split = the shared images), so
a fit on it must recover the planted ROI -> layer truth under the challenge's metric,
and agree with a fit on the NSD fsaverage surface of the same subject.
"""

import json

import numpy as np
import pandas as pd
import pytest

from brainalign import get_extractor, load_dataset
from brainalign.cli import main
from brainalign.data import BrainData, algonauts_score, get_dataset
from brainalign.data.sample import PLANTED, write_algonauts2023_sample
from brainalign.encoding import challenge_scores
from brainalign.encoding._challenge import (
    CHALLENGE_FILE,
    challenge_summary,
)
from brainalign.exceptions import DataError, ParameterError
from brainalign.runs import fit_subject, run_challenge_scores

LAYERS = ("layer2", "layer4", "layer6")
MODEL = "torch:brainalign.data.sample:SampleNet@0"
HEMIS = ("lh", "rh")


@pytest.fixture(scope="module")
def challenge(nsd_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("algonauts") / "challenge"
    return write_algonauts2023_sample(out, seed=0, nsd_root=nsd_sample, subjects=[1])


@pytest.fixture(scope="module")
def runs(challenge, tmp_path_factory):
    """Fit each SampleNet layer to subject 1: layer6 with the CLI, the others in Python."""
    folder = tmp_path_factory.mktemp("runs")
    data = load_dataset("algonauts2023", root=challenge, subject=1)
    cache = folder / "layer6" / "features"  # the CLI's cache: features extracted once
    feats = get_extractor(MODEL, device="cpu").extract(
        data.stimuli,
        ids=data.stimulus_ids,
        layers=list(LAYERS),
        cache_dir=cache,
        fit_ids=data.split()[0].stimulus_ids,
        progress=False,
    )
    for layer in LAYERS[:-1]:
        fit_subject(
            "algonauts2023",
            challenge,
            1,
            MODEL,
            folder / layer,
            layer=layer,
            n_permutations=10,
            device="cpu",
            cache_dir=cache,
            figures=False,  # the CLI fit below draws (and warns about the sample's mesh)
            progress=False,
        )
    argv = ["fit", "--dataset", "algonauts2023", "--root", str(challenge), "--subject", "1"]
    argv += ["--model", MODEL, "--layer", "layer6", "--permutations", "10", "--device", "cpu"]
    with pytest.warns(UserWarning, match="No surface figure"):  # sample mesh: no figure
        assert main([*argv, "--out", str(folder / "layer6"), "-q"]) == 0
    scores = {layer: pd.read_parquet(folder / layer / "scores.parquet") for layer in LAYERS}
    tables = {layer: challenge_scores(scores[layer], data.col_meta) for layer in LAYERS}
    return {"data": data, "feats": feats, "dir": folder, "scores": scores, "tables": tables}


def _score(table, roi, hemi="both"):
    row = table[(table["roi"] == roi) & (table["hemi"] == hemi)]
    assert len(row) == 1, (roi, hemi)
    return float(row["score"].iloc[0])


def _challenge_code(challenge, run_dir, feats):
    """Score as the challenge code does, per hemisphere, from its files and the weights."""
    from scipy.stats import pearsonr

    sub = challenge / "subj01" / "test_split"
    ids = [int(p.name[-9:-4]) for p in sorted((sub / "test_images").glob("test-*.png"))]
    weights = np.load(next(run_dir.glob("*_stat-weights.npz")))
    X = (feats.align(ids) - weights["mean"]) / weights["scale"]
    pred = X @ weights["coef"] + weights["intercept"]
    acc, start = {}, 0
    for h in HEMIS:
        bio = np.load(sub / "test_fmri" / f"{h}_test_fmri.npy")
        synt = pred[:, start : start + bio.shape[1]]
        start += bio.shape[1]
        r = np.array([pearsonr(bio[:, v], synt[:, v])[0] for v in range(bio.shape[1])])
        nc = np.load(sub / "noise_ceiling" / f"{h}_noise_ceiling.npy").astype(np.float64)
        r[r < 0] = 0
        nc[nc == 0] = 1e-14
        acc[h] = np.minimum(r**2 / nc * 100, 100)
    return acc


def test_the_score_is_the_challenges_own_computation(runs, challenge):
    table = runs["tables"]["layer6"]
    acc = _challenge_code(challenge, runs["dir"] / "layer6", runs["feats"]["layer6"])
    both = np.concatenate([acc[h] for h in HEMIS])
    assert _score(table, "all-vertices") == pytest.approx(np.median(both), abs=1e-3)
    for h in HEMIS:
        assert _score(table, "all-vertices", h) == pytest.approx(np.median(acc[h]), abs=1e-3)
    # nc in scores.parquet is the challenge's file (fraction) in percent
    scores = runs["scores"]["layer6"]
    files = [challenge / f"subj01/test_split/noise_ceiling/{h}_noise_ceiling.npy" for h in HEMIS]
    np.testing.assert_allclose(
        scores["nc"], 100 * np.concatenate([np.load(f) for f in files]), atol=1e-4
    )
    assert _score(table, "all-vertices") == pytest.approx(
        algonauts_score(scores["r"].to_numpy(), scores["nc"].to_numpy()), rel=1e-12
    )
    ffa = runs["data"].col_meta["floc-faces"].to_numpy() == "FFA-1"
    assert _score(table, "FFA-1") == pytest.approx(np.median(both[ffa]), abs=1e-3)
    assert table["n_targets"].iloc[:3].tolist() == [1376, 686, 690]


def test_each_planted_roi_is_scored_best_by_its_planted_layer(runs):
    tables = runs["tables"]
    for roi, (planted, _) in PLANTED.items():
        if planted is None:
            continue
        score = {layer: _score(tables[layer], roi) for layer in LAYERS}
        assert max(score, key=score.get) == planted, (roi, score)
        assert score[planted] > 50, (roi, score)
    for layer in LAYERS:  # RSC has voxels but no signal
        assert _score(tables[layer], "RSC") < 25
    faces = {layer: _score(tables[layer], "floc-faces") for layer in LAYERS}
    prf = {layer: _score(tables[layer], "prf-visualrois") for layer in LAYERS}
    assert max(faces, key=faces.get) == "layer6" and max(prf, key=prf.get) == "layer2"


def test_scores_agree_with_the_nsd_surface_fit_of_the_same_betas(runs, nsd_sample, tmp_path):
    with pytest.warns(UserWarning, match="Dropped 4 of 1380 vertices"):
        nsd = fit_subject(
            "nsd-fsaverage",
            nsd_sample,
            1,
            MODEL,
            tmp_path / "nsd",
            layer="layer6",
            n_permutations=10,
            device="cpu",
            figures=False,
            progress=False,
        )["scores"]
    mine = runs["scores"]["layer6"]
    both = mine.merge(nsd, on=["hemi", "vertex"], suffixes=("", "_nsd"))
    assert len(both) == len(mine) == len(nsd) == 1376
    np.testing.assert_allclose(both["nc"], both["nc_nsd"], atol=1e-4)
    # Ridge folds are blocks of training rows, ordered by NSD id here and by first
    # presentation in NSD: where both pick the same penalty, the fits are the same.
    same = (both["alpha"] == both["alpha_nsd"]).to_numpy()
    assert same.mean() > 0.7
    np.testing.assert_allclose(both["r"][same], both["r_nsd"][same], atol=1e-4)
    assert np.corrcoef(both["r"], both["r_nsd"])[0, 1] > 0.99
    scores = [algonauts_score(both[c].to_numpy(), both["nc"].to_numpy()) for c in ("r", "r_nsd")]
    assert scores[0] == pytest.approx(scores[1], abs=1.0)


def test_a_run_directory_is_scored_with_labels_from_the_challenge_folder(runs):
    run = runs["dir"] / "layer4"
    from_dir = run_challenge_scores(run)
    pd.testing.assert_frame_equal(from_dir, runs["tables"]["layer4"])
    assert from_dir[["subject", "layer"]].iloc[0].tolist() == [1, "layer4"]
    hemis_only = challenge_scores(runs["scores"]["layer4"])
    assert hemis_only["roi"].unique().tolist() == ["all-vertices"]
    pd.testing.assert_frame_equal(hemis_only, from_dir.iloc[:3])


def test_the_challenge_score_is_recorded_in_the_run(runs, tmp_path):
    run = runs["dir"] / "layer2"
    data, scores = runs["data"], runs["scores"]["layer2"]
    test = data.split()[1]
    table = pd.read_parquet(run / CHALLENGE_FILE)  # written by the fit's post-step
    pd.testing.assert_frame_equal(table, runs["tables"]["layer2"])
    record = json.loads((run / "run.json").read_text())
    assert record["challenge_score"] == {
        h: _score(runs["tables"]["layer2"], "all-vertices", h) for h in ("both", *HEMIS)
    }
    assert record["parameters"]["layer"] == "layer2"  # the rest of run.json is kept
    summary = challenge_summary(table)
    assert summary.startswith(
        f"Algonauts 2023 challenge score: {record['challenge_score']['both']:.1f}"
    )
    assert "floc-faces" in summary
    no_ceiling = BrainData(test.responses, test.stimulus_ids, info=test.info)
    other = BrainData(test.responses, test.stimulus_ids, col_meta=test.col_meta)
    adapter = get_dataset("algonauts2023", test.info["root"])
    assert adapter.extra_scores(scores, no_ceiling) == []  # nothing to score without a ceiling
    assert not get_dataset("nsd", test.info["root"]).has("extra_scores")
    del other


def test_scores_without_a_noise_ceiling_or_columns_are_refused(runs, tmp_path):
    scores = runs["scores"]["layer2"]
    with pytest.raises(DataError, match=r"noise ceiling for every vertex.*3 of 1376"):
        challenge_scores(scores.assign(nc=np.r_[np.full(3, np.nan), scores["nc"][3:]]))
    with pytest.raises(ParameterError, match="missing hemi"):
        challenge_scores(scores.drop(columns="hemi"))
    with pytest.raises(ParameterError, match=r"one row per score \(1376\); got 2"):
        challenge_scores(scores, runs["data"].col_meta.iloc[:2])
    (tmp_path / "run.json").write_text(json.dumps({"parameters": {"dataset": "nsd"}}))
    with pytest.raises(DataError, match="not the run directory of an algonauts2023 fit.*'nsd'"):
        run_challenge_scores(tmp_path)


def test_fit_names_each_vertex_by_its_finest_label_and_writes_the_score(runs):
    # 'all-vertices' is the coarsest label: a vertex in FFA-1 is named FFA-1
    scores = runs["scores"]["layer6"]
    ffa = runs["data"].col_meta["floc-faces"].to_numpy() == "FFA-1"
    assert (scores["roi"] == "FFA-1").sum() == ffa.sum() > 0
    written = pd.read_parquet(runs["dir"] / "layer6" / CHALLENGE_FILE)
    pd.testing.assert_frame_equal(written, runs["tables"]["layer6"])
