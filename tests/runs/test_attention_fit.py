"""fit --encoder attention on the spatial sample: planted receptive fields recovered."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from brainalign.data.sample import SPATIAL_RF
from brainalign.exceptions import DataError, ParameterError
from brainalign.runs import RunDir, RunSpec, compare_encoders, load_attention_encoder

#: Planted ROIs driven by one token, and those driven by the whole map.
LOCATED = [name for name, loc in SPATIAL_RF.items() if loc is not None]
WHOLE = [name for name, loc in SPATIAL_RF.items() if loc is None]


@pytest.fixture(scope="module")
def comparison(spatial_runs):
    return compare_encoders(spatial_runs["ridge"], spatial_runs["attention"]).set_index("roi")


def test_attention_beats_ridge_where_rois_look_at_one_place(comparison):
    for roi in LOCATED:
        row = comparison.loc[roi]
        assert row["difference_low"] > 0.05, (roi, row.to_dict())  # paired bootstrap interval
        assert row["mean_r_other"] > 0.5


def test_attention_equals_ridge_within_noise_for_whole_image_rois(comparison):
    for roi in WHOLE:
        row = comparison.loc[roi]
        # planted through the mean of all tokens: no location for attention to find
        assert abs(row["difference"]) < 0.03, (roi, row.to_dict())
        assert row["difference_low"] < 0.02


def test_attention_maps_peak_at_the_planted_locations(spatial_runs, spatial_sample):
    truth = json.loads((spatial_sample / "ground_truth.json").read_text())["spatial"]
    peaks = RunDir(spatial_runs["attention"]).read_table("attention").set_index("roi")
    for roi, loc in truth["rois"].items():
        row = peaks.loc[roi]
        if loc is None:
            assert row["spread"] > 0.97  # near uniform: the whole image
        else:
            assert [row["peak_row"], row["peak_col"]] == loc, roi
            assert row["peak_weight"] > 3 * row["uniform_weight"]
    with np.load(next((spatial_runs["attention"] / "attention").glob("*.npz"))) as npz:
        assert npz["maps"].shape == (200, len(peaks), 5, 5)
        np.testing.assert_allclose(npz["maps"].astype(np.float32).mean(0), npz["mean"], atol=1e-3)


def test_saved_encoder_reproduces_the_run_predictions(spatial_runs, spatial_sample):
    from brainalign.encoding import pearson_r
    from brainalign.features import FeatureSet
    from brainalign.runs import load_averaged, read_weights

    run = RunDir(spatial_runs["attention"])
    est = load_attention_encoder(run)
    cache = next(run.features.rglob("features.npy")).parent
    data = load_averaged("nsd", spatial_sample, 1, spatial_runs["rois"], False)
    test = data.split()[1]
    pred = est.predict(FeatureSet.load(cache).tokens(test.stimulus_ids))
    scores = run.read_table("scores")
    np.testing.assert_allclose(pearson_r(test.responses, pred), scores["r"], atol=1e-4)
    with pytest.raises(DataError, match="attention encoder.*--encoder ridge"):
        read_weights(run)
    with pytest.raises(DataError, match="ridge weights"):
        load_attention_encoder(spatial_runs["ridge"])


def test_report_shows_where_each_roi_looks(spatial_runs):
    from brainalign.report import render_report

    html = render_report(spatial_runs["attention"])
    start = html.index('<section id="attention">')
    section = html[start : html.index("</section>", start)]
    queries = RunDir(spatial_runs["attention"]).read_table("attention")["roi"]
    assert section.count("data:image/png") == 1 + len(queries)  # the grid, one per ROI
    for roi in SPATIAL_RF:
        assert f"{roi}: attention over" in section
    others = html[html.index('<section id="figures">') :] if 'id="figures"' in html else ""
    assert "attention over" not in others  # not shown twice


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"encoder": "transformer"}, "'encoder'"),
        ({"encoder": "attention", "pooling": "mean"}, "'pooling'.*'tokens'"),
        ({"encoder": "attention", "layer": "patch+block"}, "'encoder'.*a\\+b"),
        ({"epochs": 5}, "'epochs'.*attention only"),
        ({"encoder": "attention", "epochs": 0}, "'epochs'"),
    ],
)
def test_encoder_options_are_checked_when_the_spec_is_made(tmp_path, changes, match):
    base = dict(dataset="nsd", root=str(tmp_path), subject=1, model="torch:x:Y", layer="block")
    with pytest.raises(ParameterError, match=match):
        RunSpec(**{**base, **changes})
    spec = RunSpec(**base, encoder="attention")
    assert spec.pooling == "tokens" and spec.result_key()["encoder"] == "attention"
    assert "encoder" not in RunSpec(**base).result_key()  # finished ridge sweep tasks stay done


@pytest.mark.slow
def test_a_sweep_of_attention_encoders_writes_the_fit_run(spatial_runs, spatial_sample, tmp_path):
    from brainalign.runs import SweepSpec, sweep

    model = "torch:brainalign.data.sample:SamplePatchNet@0"
    spec = SweepSpec(dataset="nsd", root=spatial_sample, subjects=[1], models=[model],
                     layers=["block"], roi=spatial_runs["rois"], encoder="attention",
                     n_permutations=20, device="cpu")  # fmt: skip
    assert spec.pooling == "tokens" and spec.task(1, model, "block").encoder == "attention"
    result = sweep(spec, tmp_path / "sweep", figures=False, progress=False)
    assert result["failed"] == {}
    task = RunDir(tmp_path / "sweep").task(RunDir.task_name(1, model, "block"))
    fit = RunDir(spatial_runs["attention"])
    for name in ("scores", "attention"):  # the same spec gives the same run
        pd.testing.assert_frame_equal(task.read_table(name), fit.read_table(name))
    with pytest.raises(ParameterError, match="'pooling'.*'tokens'"):
        spec.replace(pooling="spatial")


def test_unknown_queries_fail_before_anything_is_loaded(spatial_sample, tmp_path):
    from brainalign.runs import run_fit

    spec = RunSpec(dataset="nsd", root=spatial_sample, subject=1, layer="block",
                   model="torch:brainalign.data.sample:SamplePatchNet@0", roi=("V1v",),
                   encoder="attention", queries=("V1v", "FFA1"))  # fmt: skip
    with pytest.raises(ParameterError, match="FFA1.*FFA-1"):
        run_fit(spec, tmp_path / "run", figures=False, progress=False)
    assert not (tmp_path / "run").exists()


def test_queries_follow_the_named_rois_and_default_to_one(spatial_sample, spatial_runs):
    from brainalign.runs import load_averaged
    from brainalign.runs._attention import attention_names, query_groups

    data = load_averaged("nsd", spatial_sample, 1, spatial_runs["rois"], False)
    groups = query_groups(data, ["V1v", "prf-visualrois"])
    assert set(groups[data.roi_mask("V1v")]) == {"V1v"}
    assert set(groups[data.roi_mask("V2d")]) == {"V2d"}  # the file, label by label
    assert set(groups[data.roi_mask("floc-faces")]) == {"unlabelled"}
    model = "torch:brainalign.data.sample:SamplePatchNet@0"
    spec = RunSpec(dataset="nsd", root=spatial_sample, subject=1, layer="block", model=model,
                   encoder="attention")  # fmt: skip
    assert attention_names(spec) == []  # roi auto: no atlas file is guessed
    assert set(query_groups(data, attention_names(spec))) == {"all targets"}
    assert attention_names(spec.replace(roi="floc-faces,V1v")) == ["floc-faces", "V1v"]
