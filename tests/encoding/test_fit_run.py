import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainalign.cli import main

SCORE_COLUMNS = [
    "subject",
    "model",
    "layer",
    "target",
    "roi",
    "r",
    "r2",
    "nc",
    "ncr2",
    "cv_r2",
    "alpha",
    "p",
    "p_fdr",
]
ROI_COLUMNS = [
    "subject",
    "model",
    "layer",
    "roi",
    "mean_r",
    "mean_r_low",
    "mean_r_high",
    "median_r",
    "mean_cv_r2",
    "mean_ncr2",
    "n_ncr2",
    "frac_significant",
    "n_targets",
]


def fit_argv(root, out, layer="layer6"):
    return [
        "fit",
        "--dataset",
        "nsd",
        "--root",
        str(root),
        "--subject",
        "1",
        "--model",
        "torch:brainalign.data.sample:SampleNet@0",
        "--layer",
        layer,
        "--out",
        str(out),
        "--permutations",
        "500",
        "-q",
    ]


@pytest.fixture(scope="module")
def run_dir(nsd_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "fit"
    argv = fit_argv(nsd_sample, out)
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        assert main(argv) == 0
    return out


def test_run_directory_follows_the_contract(run_dir):
    scores = pd.read_parquet(run_dir / "scores.parquet")
    assert list(scores.columns[:5]) == SCORE_COLUMNS[:5]
    assert set(SCORE_COLUMNS) <= set(scores.columns)
    rois = pd.read_parquet(run_dir / "roi_scores.parquet")
    assert list(rois.columns) == ROI_COLUMNS
    assert (
        scores["model"]
        == "torch:brainalign.data.sample:SampleNet@" + scores["model"].iloc[0].split("@")[1]
    ).all()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["parameters"]["layer"] == "layer6" and record["versions"]["himalaya"]
    assert any("Dropped 4 of" in w for w in record["warnings"])
    weights = np.load(run_dir / "sub-01_model-SampleNet_layer-layer6_stat-weights.npz")
    assert weights["coef"].shape == (256, len(scores))


def test_maps_hold_the_scores_at_their_voxels(run_dir):
    scores = pd.read_parquet(run_dir / "scores.parquet")
    ijk = tuple(scores[["i", "j", "k"]].to_numpy().T)
    for stat, column in (("r", "r"), ("alpha", "alpha")):
        path = next(
            (run_dir / "maps").glob(f"sub-01_model-SampleNet_layer-layer6_stat-{stat}.nii.gz")
        )
        vol = np.asarray(nib.load(path).dataobj)
        np.testing.assert_allclose(vol[ijk], scores[column], rtol=1e-6)
    logp = np.asarray(nib.load(next((run_dir / "maps").glob("*stat-log10pfdr.nii.gz"))).dataobj)
    np.testing.assert_allclose(logp[ijk], -np.log10(scores["p_fdr"]), rtol=1e-5)


def test_roi_summary_matches_the_voxel_table(run_dir):
    scores = pd.read_parquet(run_dir / "scores.parquet")
    rois = pd.read_parquet(run_dir / "roi_scores.parquet").set_index("roi")
    ffa = scores[scores["roi"] == "FFA-1"]
    assert rois.loc["FFA-1", "n_targets"] == len(ffa)
    assert rois.loc["FFA-1", "mean_r"] == pytest.approx(ffa["r"].mean())
    assert rois.loc["FFA-1", "frac_significant"] > 0.9
    assert rois.loc["RSC", "frac_significant"] < 0.15  # no planted signal
    # the interval holds the mean; the inner-CV score (training images) tracks test r
    assert ((rois["mean_r_low"] <= rois["mean_r"]) & (rois["mean_r"] <= rois["mean_r_high"])).all()
    assert rois.loc["FFA-1", "mean_r_high"] - rois.loc["FFA-1", "mean_r_low"] < 0.2
    assert np.corrcoef(scores["cv_r2"], scores["r"])[0, 1] > 0.8
    assert rois.loc["RSC", "n_ncr2"] < 0.2 * rois.loc["RSC", "n_targets"]  # ceilings near 0


def test_a_different_run_in_out_is_refused_and_left_intact(run_dir, nsd_sample, capsys):
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    assert main(fit_argv(nsd_sample, run_dir, layer="layer4")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "holds a different run" in err and "'layer6' there, 'layer4' here" in err
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == before


def test_rerun_reproduces_the_numbers(run_dir, nsd_sample, tmp_path):
    out = tmp_path / "again"
    argv = fit_argv(nsd_sample, out)
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        assert main(argv) == 0
    a = pd.read_parquet(run_dir / "scores.parquet")
    b = pd.read_parquet(out / "scores.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_fit_rejects_an_unknown_layer(nsd_sample, tmp_path, capsys):
    argv = [
        "fit",
        "--dataset",
        "nsd",
        "--root",
        str(nsd_sample),
        "--subject",
        "1",
        "--model",
        "torch:brainalign.data.sample:SampleNet@0",
        "--layer",
        "layer9",
        "--out",
        str(tmp_path),
        "-q",
    ]
    assert main(argv) == 2  # refused before the data are loaded (no "Dropped" warning)
    assert "layer9" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_figures_are_drawn_and_not_blank(run_dir):
    from PIL import Image

    figures = sorted((run_dir / "figures").glob("*.png"))
    names = {p.name for p in figures}
    assert "sub-01_model-SampleNet_layer-layer6_stat-r_slices.png" in names
    assert "sub-01_model-SampleNet_layer-layer6_stat-ncr2_glass.png" in names
    for path in figures:
        pixels = np.asarray(Image.open(path).convert("L"), dtype=float)
        assert pixels.std() > 10  # something was drawn
