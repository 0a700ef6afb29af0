"""``brainalign align`` and ``fit/decode --shared-space`` on the alignment sample.

The sample (``brainalign sample nsd-alignment``) plants a shared latent that every
subject sees through its own voxel mixing, with per-subject voxel counts; the truth is
in ``shared_latent.npz``.
"""

import json
import warnings

import numpy as np
import pytest

from brainalign.alignment import SharedSpace, canonical_correlations
from brainalign.alignment._space import rows_of
from brainalign.exceptions import ParameterError
from brainalign.runs import DecodeSpec, RunDir, RunSpec, load_averaged, run_decode, run_fit
from brainalign.runs._align import read_split

MODEL = "torch:brainalign.data.sample:SampleNet@0"
LAYER = "layer2+layer4+layer6"


@pytest.fixture(scope="module")
def sample(alignment_sample):
    return alignment_sample


@pytest.fixture(scope="module")
def truth(sample):
    meta = json.loads((sample / "ground_truth.json").read_text())["shared_latent"]
    with np.load(sample / meta["file"]) as npz:
        return {"ids": npz["nsd_id"], "latent": npz["latent"], "n": meta["n_latent"]}


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():  # the loader drops the 4 invalid voxels, with a warning
        warnings.filterwarnings("ignore", message="Dropped 4 of")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def aligned(alignment_run):
    return alignment_run


@pytest.fixture(scope="module")
def data(sample):
    return {s: _quiet(load_averaged, "nsd", sample, s, "auto") for s in (1, 2, 3, 4)}


def test_voxel_counts_differ_and_the_split_holds_out_half_the_shared_images(aligned, data):
    record = aligned.record.read()
    counts = record["data"]["n_targets"]
    assert len(set(counts.values())) == 4  # per-subject voxel counts
    assert counts == {str(s): d.n_targets for s, d in data.items()}
    split = read_split(aligned)
    assert len(split["align"]) == len(split["test"]) == 150
    assert not np.intersect1d(split["align"], split["test"]).size
    space = SharedSpace.load(aligned.shared_space)
    assert space.stimulus_ids_.tolist() == split["align"].tolist()
    assert [space.maps_[s].n_targets for s in data] == list(map(int, counts.values()))


def test_the_shared_space_recovers_the_planted_latent(aligned, data, truth):
    space, split = SharedSpace.load(aligned.shared_space), read_split(aligned)
    rows = lambda ids: truth["latent"][np.searchsorted(truth["ids"], ids)]  # noqa: E731
    test = split["test"]
    z = np.mean([space.transform(s, rows_of(d, test)) for s, d in data.items()], axis=0)
    cc = canonical_correlations(z, rows(test))  # on stimuli the space never saw
    assert cc.mean() > 0.95 and (cc > 0.9).mean() >= 0.9
    # every planted latent column is read out of the space on held-out stimuli
    fit = np.linalg.lstsq(np.c_[space.shared_response_, np.ones(150)], rows(split["align"]))[0]
    pred = np.c_[z, np.ones(len(test))] @ fit
    r = [np.corrcoef(pred[:, j], rows(test)[:, j])[0, 1] for j in range(truth["n"])]
    assert min(r) > 0.8


def test_a_new_subject_with_100_images_reaches_its_own_encoder(aligned):
    curve = aligned.read_table("learning_curve")
    whole = curve[curve["roi"] == "all targets"]
    at100 = whole[whole["n_adapt"] == 100]
    assert len(at100) == 4 and (at100["ratio"] >= 0.9).all()
    # more alignment stimuli help
    by_m = whole.groupby("n_adapt")["mean_r_shared"].mean()
    assert by_m[50] < by_m[100] <= by_m[150] + 1e-9
    # planted ROIs are predicted, the ROI without signal is not
    rois = curve[curve["n_adapt"] == 100].groupby("roi")["mean_r_shared"].mean()
    assert rois["FFA-1"] > 0.4 and abs(rois["RSC"]) < 0.05
    # m below the space's dimensions cannot fit an orthonormal map: dropped
    assert 10 not in set(curve["n_adapt"])
    assert any("[10] dropped from 'adapt'" in w for w in aligned.record.read()["warnings"])


def test_cross_subject_identification_is_far_above_chance(aligned):
    ident = aligned.read_table("identification")
    top1 = ident[ident["metric"] == "top1"]
    cross = top1[(top1["decoder"] == "cross-subject") & (top1["n_adapt"] == 150)]
    assert len(cross) == 4
    assert (cross["value"] > 30 * cross["chance"]).all()  # chance 1/150
    assert (cross["chance"] == 1 / 150).all()
    own = top1[top1["decoder"] == "within-subject"]
    assert (own["value"] > 30 * own["chance"]).all()


def test_subject_to_subject_ceiling(aligned):
    table = aligned.read_table("subject_predictivity")
    whole = table[table["roi"] == "all targets"].set_index(["source", "target"])["mean_r"]
    assert len(whole) == 16  # 12 ordered pairs + "others" for each subject
    for t in (1, 2, 3, 4):
        singles = [whole[(str(s), t)] for s in (1, 2, 3, 4) if s != t]
        assert whole[("others", t)] > max(singles) > 0.3
    rsc = table[table["roi"] == "RSC"]["mean_r"]
    assert rsc.abs().max() < 0.1


def test_fit_through_the_shared_space(aligned, sample, data, tmp_path):
    spec = RunSpec(
        dataset="nsd",
        root=sample,
        subject=4,
        model=MODEL,
        layer=LAYER,
        shared_space=aligned.path,
        n_permutations=50,
        cache_dir=aligned.features,  # the align run's features: the same model and stimuli
    )
    result = _quiet(run_fit, spec, tmp_path / "fit", figures=False, progress=False)
    run = RunDir(tmp_path / "fit")
    record = run.record.read()
    assert record["shared_space"]["trained_on_subjects"] == [1, 2, 3]
    assert record["data"]["n_test"] == 150  # the align run's held-out stimuli
    scores = result["scores"]
    assert np.isnan(scores["cv_r2"]).all()  # never fitted on subject 4's responses
    rois = result["roi_scores"].set_index("roi")["mean_r"]
    curve = aligned.read_table("learning_curve")
    own = curve[(curve["held_out"] == 4) & (curve["roi"] == "FFA-1")]["mean_r_within"].iloc[0]
    assert rois["FFA-1"] > 0.9 * own
    # the weights written are the composed linear model: they predict what the fit did
    from brainalign.runs import read_weights

    w = read_weights(run)
    from brainalign.encoding import pearson_r
    from brainalign.runs._fit import extract_ids, stack_features

    test = read_split(aligned)["test"]
    four = data[4]
    _, feats = extract_ids(spec, four.stimuli, four.stimulus_ids, [], aligned.features)
    f = stack_features([feats[name] for name in LAYER.split("+")]).align(test)
    pred = ((f - w["mean"]) / w["scale"]) @ w["coef"] + w["intercept"]
    np.testing.assert_allclose(pearson_r(rows_of(four, test), pred), scores["r"], atol=1e-4)


def test_decode_through_the_shared_space(aligned, sample, tmp_path):
    spec = DecodeSpec(
        dataset="nsd", root=sample, subject=2, model=MODEL, layer=LAYER, shared_space=aligned.path
    )
    table = _quiet(run_decode, spec, tmp_path / "decode", progress=False)["decoding"]
    top1 = table.set_index("metric").loc["top1"]
    assert top1["roi"] == "shared space" and top1["value"] > 30 * top1["chance"]


def test_bad_shared_space_fails_before_the_run_directory(sample, tmp_path):
    spec = RunSpec(dataset="nsd", root=sample, subject=1, model=MODEL, shared_space=tmp_path)
    with pytest.raises(ParameterError, match="expected a finished align run"):
        run_fit(spec, tmp_path / "fit", progress=False)
    assert not (tmp_path / "fit").exists()


@pytest.mark.slow
def test_fit_and_decode_of_a_subject_outside_the_space_equal_the_learning_curve(
    aligned, sample, tmp_path
):
    """A space of subjects 1-3, subject 4 through it: the align run's held-out numbers."""
    from brainalign.runs import align_subjects

    out = tmp_path / "align123"
    _quiet(align_subjects, "nsd", sample, [1, 2, 3], MODEL, out, layer=LAYER, n_components=37,
           adapt=(50,), cache_dir=str(aligned.features), progress=False)  # fmt: skip
    common = dict(dataset="nsd", root=sample, subject=4, model=MODEL, layer=LAYER)
    common.update(shared_space=out, cache_dir=aligned.features)
    fit = _quiet(run_fit, RunSpec(**common, n_permutations=10), tmp_path / "fit", figures=False)
    record = RunDir(tmp_path / "fit").record.read()["shared_space"]
    assert record["subject_map"].startswith("adapted on the alignment stimuli it saw (150)")
    curve = aligned.read_table("learning_curve")
    mine = curve[(curve["held_out"] == 4) & (curve["n_adapt"] == 150)].set_index("roi")
    rois = fit["roi_scores"].set_index("roi")["mean_r"]
    for roi in ("FFA-1", "V1v", "PPA"):
        assert rois[roi] == pytest.approx(mine.loc[roi, "mean_r_shared"], abs=1e-6)
    decoded = _quiet(run_decode, DecodeSpec(**common), tmp_path / "decode", progress=False)
    top1 = decoded["decoding"].set_index("metric").loc["top1", "value"]
    ident = aligned.read_table("identification")
    pick = (ident["held_out"] == 4) & (ident["n_adapt"] == 150) & (ident["metric"] == "top1")
    assert top1 == pytest.approx(ident.loc[pick, "value"].item(), abs=1e-9)
