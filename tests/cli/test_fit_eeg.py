"""``brainalign sample things-eeg2`` and ``brainalign fit`` on the EEG sample."""

import json

import numpy as np
import pandas as pd
import pytest

from brainalign.cli import main

MODEL = "torch:brainalign.data.sample:SampleNet@0"


@pytest.fixture(scope="module")
def eeg_root(tmp_path_factory, capsys_module=None):
    root = tmp_path_factory.getbasetemp() / "things-eeg2"  # shared with the data tests
    assert main(["sample", "things-eeg2", "--out", str(root), "-q"]) == 0
    return root


@pytest.fixture(scope="module")
def eeg_run(eeg_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "eeg"
    argv = ["fit", "--dataset", "things-eeg2", "--root", str(eeg_root), "--subject", "1"]
    argv += ["--model", MODEL, "--layer", "layer6", "--out", str(out)]
    assert main([*argv, "-q"]) == 0
    return out


def test_sample_cli_writes_the_ground_truth(eeg_root, capsys):
    assert main(["sample", "things-eeg2", "--out", str(eeg_root), "-q"]) == 0
    assert capsys.readouterr().out.strip() == str(eeg_root)
    truth = json.loads((eeg_root / "ground_truth.json").read_text())
    assert truth["effects"][1]["channels"] == ["P7", "PO7", "P8", "PO8"]


def test_fit_writes_channel_and_time_scores(eeg_run, eeg_root):
    scores = pd.read_parquet(eeg_run / "scores.parquet")
    assert len(scores) == 17 * 100
    expected = ["subject", "model", "layer", "target", "roi", "channel", "time"]
    assert list(scores.columns[:7]) == expected
    assert {"r", "r2", "nc", "ncr2", "alpha", "p", "p_fdr"} <= set(scores.columns)
    assert (scores["roi"] == scores["channel"]).all()
    truth = json.loads((eeg_root / "ground_truth.json").read_text())
    effect = next(e for e in truth["effects"] if e["layer"] == "layer6")
    planted = scores[scores.channel.isin(effect["channels"])]
    by_time = planted.groupby("time")["r"].mean()
    assert abs(by_time.idxmax() - effect["latency_s"]) <= 0.015
    assert (planted.loc[planted.time.sub(effect["latency_s"]).abs() < 0.005, "p_fdr"] < 0.05).all()
    baseline = scores[scores.time < 0]
    assert (baseline["p_fdr"] < 0.05).mean() < 0.02
    assert np.isfinite(scores["nc"]).all()


def test_fit_writes_figures_weights_and_no_nifti(eeg_run):
    assert not (eeg_run / "maps").exists()
    figures = sorted(p.name for p in (eeg_run / "figures").glob("*.png"))
    assert figures == [
        "sub-01_layer-layer6_stat-r_timecourse.png",
        "sub-01_layer-layer6_stat-r_topomap.png",
    ]
    weights = np.load(next(eeg_run.glob("*_stat-weights.npz")))
    assert weights["coef"].shape == (256, 1700)
    assert weights["channel"][100] == "P3" and weights["time"][100] == pytest.approx(-0.2)
    rois = pd.read_parquet(eeg_run / "roi_scores.parquet").set_index("roi")
    assert rois.loc["P7", "n_targets"] == 100
    run = json.loads((eeg_run / "run.json").read_text())
    assert run["parameters"]["roi"] == "auto"  # resolved when loading: every channel
