"""The same spec run as ``fit`` and as a one-task ``compare`` gives the same run."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainalign.data._surface import read_mgh
from brainalign.runs import RunDir, RunSpec, SweepSpec, fit_subject, run_sweep

MODEL = "torch:brainalign.data.sample:SampleNet@0"


@pytest.fixture(scope="module")
def algonauts_sample(nsd_sample, tmp_path_factory):
    from brainalign.data.sample import write_algonauts2023_sample

    return write_algonauts2023_sample(tmp_path_factory.mktemp("algonauts") / "c", 0, nsd_sample)


def _same_run(fit_dir, task_dir):
    for name in ("scores", "roi_scores"):
        pd.testing.assert_frame_equal(
            RunDir(fit_dir).read_table(name), RunDir(task_dir).read_table(name)
        )
    fit_maps = sorted(p.name for p in (fit_dir / "maps").iterdir())
    assert fit_maps == sorted(p.name for p in (task_dir / "maps").iterdir())
    for name in fit_maps:
        if name.endswith((".nii.gz", ".mgh")):
            read = read_mgh if name.endswith(".mgh") else lambda p: nib.load(p).get_fdata()
            a, b = read(fit_dir / "maps" / name), read(task_dir / "maps" / name)
            np.testing.assert_array_equal(a, b)
    return fit_maps


def test_fit_and_a_one_task_sweep_write_the_same_run(nsd_sample, tmp_path):
    options = {"n_permutations": 20, "device": "cpu", "seed": 3}
    with pytest.warns(UserWarning, match="Dropped 4 of 1380 voxels"):  # the sample's planted
        fit = fit_subject("nsd", nsd_sample, 1, MODEL, tmp_path / "fit", layer="layer4",
                          figures=False, progress=False, **options)  # fmt: skip
    with pytest.warns(UserWarning, match="Dropped 4 of 1380 voxels.*sweep task"):
        result = run_sweep("nsd", nsd_sample, [1], [MODEL], ["layer4"], tmp_path / "sweep",
                           figures=False, progress=False, **options)  # fmt: skip
    assert result["failed"] == {}
    task = RunDir(tmp_path / "sweep").task(RunDir.task_name(1, MODEL, "layer4")).path
    maps = _same_run(tmp_path / "fit", task)
    assert any(m.endswith("_stat-r.nii.gz") for m in maps)
    assert fit["scores"]["r"].mean() > 0.05  # a real fit, not two empty tables
    # the record names the weights, the preprocessing and the cache entry of each layer
    features = RunDir(tmp_path / "fit").record.read()["features"]
    in_task = RunDir(task).record.read()["features"]
    key = features["layers"]["layer4"].pop("cache_key")
    in_task["layers"]["layer4"].pop("cache_key")  # a sweep caches every subject's images
    assert features == in_task
    assert features["weights"] == fit["scores"]["model"].iloc[0].split("@", 1)[1]
    assert features["preprocess"].startswith("brainalign.data.sample._samplenet.")
    assert list((tmp_path / "fit" / "features").rglob(f"*{key}*"))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fit_and_a_one_task_sweep_give_the_same_challenge_scores(algonauts_sample, tmp_path):
    options = {"n_permutations": 10, "device": "cpu"}
    fit_subject("algonauts2023", algonauts_sample, 1, MODEL, tmp_path / "fit", layer="layer6",
                figures=False, progress=False, **options)  # fmt: skip
    run_sweep("algonauts2023", algonauts_sample, [1], [MODEL], ["layer6"], tmp_path / "sweep",
              figures=False, progress=False, **options)  # fmt: skip
    task = RunDir(tmp_path / "sweep").task(RunDir.task_name(1, MODEL, "layer6"))
    _same_run(tmp_path / "fit", task.path)
    fit = RunDir(tmp_path / "fit")
    pd.testing.assert_frame_equal(
        fit.read_table("challenge_scores"), task.read_table("challenge_scores")
    )
    assert fit.record.read()["challenge_score"] == task.record.read()["challenge_score"]


def test_specs_round_trip_through_json_and_validate_early(nsd_sample):
    spec = RunSpec(dataset="nsd", root=nsd_sample, subject=1, model=MODEL, layer="layer2+layer6",
                   roi="FFA-1,PPA", alphas=[1, 10], cv=3)  # fmt: skip
    assert RunSpec.from_json(spec.to_json()) == spec
    assert spec.roi == ("FFA-1", "PPA") and spec.layers == ["layer2", "layer6"]
    sweep = SweepSpec(dataset="nsd", root=nsd_sample, subjects="1,2", models=[MODEL],
                      layers="layer2,layer4")  # fmt: skip
    assert SweepSpec.from_json(sweep.to_json()) == sweep
    assert [t.subject for t in sweep.tasks()] == [1, 2, 1, 2]
    from brainalign.exceptions import ParameterError

    for bad, match in (
        ({"subject": 0}, "'subject'"),
        ({"cv": 1}, "'cv'"),
        ({"layer": "a+"}, "'layer'"),
        ({"backend": "jax"}, "'backend'"),
        ({"alphas": [0]}, "'alphas'"),
        ({"model": "nope"}, "'model'"),
    ):
        with pytest.raises(ParameterError, match=match):
            spec.replace(**bad)
    with pytest.raises(ParameterError, match="'record'.*bogus"):
        RunSpec.from_json({**spec.to_json(), "bogus": 1})
