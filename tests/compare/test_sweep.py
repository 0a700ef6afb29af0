"""Sweeps: the planted layer of every ROI, resume after a kill, Dask equals serial."""

import json
import os
import signal
import subprocess
import sys
import time

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainalign.cli import main
from brainalign.compare import best_layers
from brainalign.exceptions import ParameterError
from brainalign.runs import run_sweep

MODEL = "torch:brainalign.data.sample:SampleNet@0"
LAYERS = ["layer2", "layer4", "layer6"]


def sweep_argv(root, out, *extra):
    return [
        "compare",
        "--dataset",
        "nsd",
        "--root",
        str(root),
        "--subjects",
        "1,2",
        "--models",
        MODEL,
        "--layers",
        ",".join(LAYERS),
        "--cv",
        "3",
        "--permutations",
        "20",
        "--out",
        str(out),
        "-q",
        *extra,
    ]


@pytest.fixture(scope="module")
def serial_sweep(nsd_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "serial"
    with pytest.warns(UserWarning, match="Dropped 4"):
        assert main(sweep_argv(nsd_sample, out, "--rsa", "correlation", "--bootstraps", "20")) == 0
    return out


def test_sweep_recovers_the_planted_layer_of_every_roi(serial_sweep, ground_truth):
    table = pd.read_parquet(serial_sweep / "roi_scores.parquet")
    assert len(table.groupby(["subject", "layer"])) == 6
    best = best_layers(table)
    planted = {roi: t["layer"] for roi, t in ground_truth["rois"].items() if t["layer"]}
    for subject in (1, 2):
        found = best[best["subject"] == subject].set_index("roi")["best_layer"]
        assert {roi: found[roi] for roi in planted} == planted
    # the sweep's own table: chosen on the training images, stable for planted ROIs
    written = pd.read_parquet(serial_sweep / "best_layers.parquet")
    assert written["selected_on"].eq("inner CV (train)").all()
    sub1 = written[written["subject"] == 1].set_index("roi")
    assert (sub1.loc[list(planted), "selection_frequency"] > 0.9).all()
    assert (sub1["best_mean_r_low"] <= sub1["best_mean_r"]).all()
    assert (sub1["best_mean_r"] <= sub1["best_mean_r_high"]).all()
    # the layer-number map: each voxel's layer chosen on its inner-CV R² (training
    # images), and the r map holds the chosen layer's test r
    scores = pd.read_parquet(serial_sweep / "scores.parquet")
    maps = serial_sweep / "maps"
    img = nib.load(next(maps.glob("sub-01_*_stat-bestlayer.nii.gz")))
    sub1 = scores[scores["subject"] == 1]
    cv = sub1.pivot_table(index=["i", "j", "k"], columns="layer_index", values="cv_r2")
    r = sub1.pivot_table(index=["i", "j", "k"], columns="layer_index", values="r")
    expected = cv.to_numpy().argmax(1)
    ijk = tuple(np.asarray(cv.index.tolist()).T)
    np.testing.assert_array_equal(np.asarray(img.dataobj)[ijk], expected + 1)
    best_r = nib.load(next(maps.glob("sub-01_*_stat-bestr.nii.gz"))).get_fdata()[ijk]
    chosen_r = r.to_numpy()[np.arange(len(r)), expected]
    np.testing.assert_allclose(best_r, chosen_r, atol=1e-6)
    assert (expected != r.to_numpy().argmax(1)).any()  # not the choice on the test r
    legend = json.loads(next((serial_sweep / "maps").glob("sub-01_*bestlayer.json")).read_text())
    assert legend["values"] == {"1": "layer2", "2": "layer4", "3": "layer6"}
    assert (serial_sweep / "figures" / "layer_profiles.png").stat().st_size > 10_000


def test_rsa_finds_the_planted_layers_and_equals_a_direct_computation(
    serial_sweep, nsd_sample, ground_truth
):
    from brainalign import get_extractor, load_dataset
    from brainalign.compare import compare_rdms, compute_rdm

    rsa = pd.read_parquet(serial_sweep / "rsa.parquet")
    models = pd.read_parquet(serial_sweep / "roi_scores.parquet")["model"]
    assert set(rsa["model"]) == set(models) and len(set(models)) == 1  # one name per model
    planted = {roi: t["layer"] for roi, t in ground_truth["rois"].items() if t["layer"]}
    for column in ("value", "value_train"):  # chosen on test, and on training images
        best = rsa.loc[rsa.groupby("roi")[column].idxmax()].set_index("roi")["layer"]
        assert {roi: best[roi] for roi in planted} == planted
    assert (rsa["nc_lower"] <= rsa["nc_upper"]).all()
    assert ((rsa["value_low"] <= rsa["value"]) & (rsa["value"] <= rsa["value_high"])).all()
    # one cell by hand: FFA-1 x layer6, mean Spearman over the two subjects
    extractor = get_extractor(MODEL)
    values = []
    for subject in (1, 2):
        data = load_dataset("nsd", root=nsd_sample, subject=subject, roi="FFA-1", progress=False)
        test = data.average_repetitions().split()[1]
        feats = extractor.extract(test.stimuli, ids=test.stimulus_ids, layers=["layer6"])
        layer = compute_rdm(feats["layer6"].features, test.stimulus_ids)
        values.append(compare_rdms(layer, compute_rdm(test.responses, test.stimulus_ids)))
    cell = rsa[(rsa["roi"] == "FFA-1") & (rsa["layer"] == "layer6")]["value"].item()
    assert cell == pytest.approx(np.mean(values), abs=1e-6)


def finished_tasks(out):
    found = []
    for path in (out / "tasks").glob("*/run.json"):
        try:
            if "sweep_task" in json.loads(path.read_text()):
                found.append(path)
        except ValueError:
            continue
    return found


def test_a_killed_sweep_resumes_to_the_same_table(serial_sweep, nsd_sample, tmp_path):
    out = tmp_path / "killed"
    code = (
        f"from brainalign.cli import main; raise SystemExit(main({sweep_argv(nsd_sample, out)!r}))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-c", code],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while len(finished_tasks(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    survivors = {p: p.stat().st_mtime_ns for p in finished_tasks(out)}
    assert 2 <= len(survivors) < 6, "the sweep was not interrupted mid-way"
    with pytest.warns(UserWarning, match="Dropped 4"):
        assert main(sweep_argv(nsd_sample, out)) == 0
    assert {p: p.stat().st_mtime_ns for p in survivors} == survivors  # not redone
    for name in ("roi_scores", "scores"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(out / f"{name}.parquet"),
            pd.read_parquet(serial_sweep / f"{name}.parquet"),
        )
    status = json.loads((out / "sweep.json").read_text())["tasks"]
    assert len(status) == 6 and all(s["status"] == "done" for s in status.values())


def test_two_dask_workers_give_the_serial_result(serial_sweep, nsd_sample, tmp_path):
    out = tmp_path / "dask"
    with pytest.warns(UserWarning, match="Dropped 4"):
        assert main(sweep_argv(nsd_sample, out, "--workers", "2")) == 0
    for name in ("roi_scores", "scores"):
        dask_table = pd.read_parquet(out / f"{name}.parquet")
        serial = pd.read_parquet(serial_sweep / f"{name}.parquet")
        # same alphas and layers; float32 sums differ with the BLAS thread count
        numeric = serial.select_dtypes("number").columns
        pd.testing.assert_frame_equal(
            dask_table.drop(columns=numeric), serial.drop(columns=numeric)
        )
        np.testing.assert_allclose(dask_table[numeric], serial[numeric], rtol=1e-3, atol=1e-4)
    scores = pd.read_parquet(out / "scores.parquet")
    np.testing.assert_array_equal(
        scores["alpha"], pd.read_parquet(serial_sweep / "scores.parquet")["alpha"]
    )


def test_a_failing_task_is_reported_and_the_others_finish(
    nsd_sample, tmp_path, capsys, monkeypatch
):
    import brainalign.runs._sweep as sweep_module
    from brainalign.exceptions import DataError

    fit_task = sweep_module.fit_task

    def failing(task, *args, **kwargs):  # layer4 breaks at fit time (e.g. a bad file)
        if task["spec"].layer == "layer4":
            raise DataError("planted failure of layer4")
        return fit_task(task, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "fit_task", failing)
    out = tmp_path / "failing"
    argv = ["compare", "--dataset", "nsd", "--root", str(nsd_sample), "--subjects", "1"]
    argv += ["--models", MODEL, "--layers", "layer4,layer6"]
    argv += ["--cv", "3", "--permutations", "5", "--out", str(out), "-q"]
    with pytest.warns(UserWarning, match="Dropped 4"):
        assert main(argv) == 1
    status = json.loads((out / "sweep.json").read_text())["tasks"]
    failed = {n: s for n, s in status.items() if s["status"] == "failed"}
    assert len(status) == 2 and len(failed) == 1
    (error,) = (s["error"] for s in failed.values())
    assert "planted failure of layer4" in error
    table = pd.read_parquet(out / "roi_scores.parquet")
    assert set(table["layer"]) == {"layer6"}
    assert "planted failure" in capsys.readouterr().out


def test_a_sweep_with_a_bad_model_is_refused_before_any_task(nsd_sample, tmp_path, capsys):
    out = tmp_path / "bad-model"
    argv = ["compare", "--dataset", "nsd", "--root", str(nsd_sample), "--subjects", "1,3"]
    argv += ["--models", f"{MODEL},torch:brainalign.no_such_module:Net", "--layers", "layr6"]
    argv += ["--out", str(out), "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    for bad in ("subject 3", "no_such_module", "layr6"):  # every bad item, one message
        assert bad in err
    assert not out.exists()


def test_bad_sweep_options_are_refused(nsd_sample, tmp_path, capsys):
    with pytest.raises(ParameterError, match="'workers'"):
        run_sweep("nsd", nsd_sample, [1], [MODEL], ["layer6"], tmp_path / "a", workers=-1)
    with pytest.raises(ParameterError, match="'layers'"):
        run_sweep("nsd", nsd_sample, [1], [MODEL], {"other": ["x"]}, tmp_path / "b")
    argv = sweep_argv(nsd_sample, tmp_path / "c")
    argv[argv.index("1,2")] = "one,two"
    assert main(argv) == 2
    assert "'subjects'" in capsys.readouterr().err


def test_layer_combinations_and_the_best_model_map(nsd_sample, tmp_path):
    other = "torch:brainalign.data.sample:SampleNet@1"  # same architecture, other weights
    layers = {MODEL: ["layer6", "layer2+layer6"], other: ["layer6"]}
    result = run_sweep(
        "nsd", nsd_sample, [1], [MODEL, other], layers, tmp_path / "run",
        roi=["FFA-1", "V1v"], cv=3, n_permutations=5, progress=False,
    )  # fmt: skip
    table = result["roi_scores"].set_index(["requested_model", "layer", "roi"])["mean_r"]
    # V1v is driven by layer2: adding it to layer6 (banded ridge) must help there
    assert table[(MODEL, "layer2+layer6", "V1v")] > table[(MODEL, "layer6", "V1v")] + 0.05
    # the planted model wins the voxels of FFA-1 against the same net with other weights
    scores = result["scores"]
    ffa = scores[(scores["roi"] == "FFA-1")][["i", "j", "k"]].drop_duplicates()
    maps = tmp_path / "run" / "maps"
    best = np.asarray(nib.load(maps / "sub-01_stat-bestmodel.nii.gz").dataobj)
    assert np.mean(best[tuple(ffa.to_numpy().T)] == 1) > 0.9
    legend = json.loads((maps / "sub-01_stat-bestmodel.json").read_text())["values"]
    assert legend == {"1": MODEL, "2": other}


# -- figures --------------------------------------------------------------------------
def _sweep_table():
    """Two subjects, two models, three layers (file order shuffled), two ROIs."""
    rows = []
    for subject in (1, 2):
        for model in ("torch:pkg.mod:Net@0", "open_clip:ViT-B-32@laion"):
            for index, layer in [(2, "layer6"), (0, "layer2"), (1, "layer4")]:
                for roi, best in (("V1v", 0), ("FFA-1", 2)):
                    score = 0.5 - 0.1 * abs(index - best) + 0.01 * subject
                    rows.append((subject, model, layer, index, roi, score))
    return pd.DataFrame(rows, columns=["subject", "model", "layer", "layer_index", "roi", "mean_r"])


def test_layer_profiles_draw_one_panel_per_roi_in_depth_order(tmp_path):
    from brainalign.compare import plot_layer_profiles

    table = _sweep_table()
    fig = plot_layer_profiles(table, path=tmp_path / "figures" / "profiles.png")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["V1v", "FFA-1"]
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["layer2", "layer4", "layer6"]
    lines = [line for line in panels[1].get_lines() if line.get_label() == "Net@0"]
    np.testing.assert_allclose(lines[0].get_ydata(), [0.315, 0.415, 0.515])  # subject mean
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Net@0", "ViT-B-32@laion"]
    assert (tmp_path / "figures" / "profiles.png").stat().st_size > 10_000
    other = table[table["model"].str.startswith("open_clip")].assign(layer=lambda f: "b" + f.layer)
    mixed = pd.concat([table[table["model"].str.startswith("torch")], other])
    fig = plot_layer_profiles(mixed, rois=["FFA-1"])  # no shared layers: relative depth
    assert fig.get_supxlabel() == "relative depth"
    depth = [np.asarray(line.get_xdata(), float) for line in fig.axes[0].get_lines()[:2]]
    np.testing.assert_allclose(depth, [[0, 0.5, 1]] * 2)


def test_model_roi_heatmap_names_the_best_layer_of_the_subject_mean(tmp_path):
    from brainalign.compare import plot_model_roi_heatmap

    fig = plot_model_roi_heatmap(_sweep_table(), path=tmp_path / "heatmap.png")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.get_images()[0].get_array(), [[0.515, 0.515]] * 2)
    assert [t.get_text() for t in ax.texts] == ["layer2", "layer6"] * 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Net@0", "ViT-B-32@laion"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["V1v", "FFA-1"]
    assert (tmp_path / "heatmap.png").stat().st_size > 0
    fig = plot_model_roi_heatmap(
        _sweep_table(), rois=["FFA-1"], models=["open_clip:ViT-B-32@laion"]
    )
    assert [t.get_text() for t in fig.axes[0].texts] == ["layer6"]
