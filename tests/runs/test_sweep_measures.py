"""compare --measures: every task scores its ROIs by the other measures, with their null."""

from __future__ import annotations

import pytest

from brainalign.exceptions import ParameterError
from brainalign.runs import RunDir, SweepSpec, sweep

MODEL = "torch:brainalign.data.sample:SampleNet@0"


@pytest.fixture(scope="module")
def measured(nsd_sample, tmp_path_factory):
    spec = SweepSpec(dataset="nsd", root=nsd_sample, subjects=[1], models=[MODEL],
                     layers=["layer2", "layer6"], roi=["V1v", "FFA-1"], n_permutations=20,
                     device="cpu", measures=["cca", "pls", "trsa"])  # fmt: skip
    out = tmp_path_factory.mktemp("measures") / "sweep"
    result = sweep(spec, out, figures=False, progress=False)  # no invalid voxel in these ROIs
    assert result["failed"] == {}
    return spec, out, RunDir(out).read_table("measures")


def test_each_measure_ranks_the_planted_layer_first(measured):
    _, _, table = measured
    assert set(table["measure"]) == {"cca", "pls", "trsa"}
    for roi, planted, other in (("V1v", "layer2", "layer6"), ("FFA-1", "layer6", "layer2")):
        for measure in ("cca", "pls", "trsa"):
            rows = table[(table["roi"] == roi) & (table["measure"] == measure)]
            value = rows.set_index("layer")["value"]
            assert value[planted] > value[other], (roi, measure, value.to_dict())
            best = rows[rows["layer"] == planted].iloc[0]
            assert best["value"] > best["null_high"] and best["p"] < 0.05  # above chance
    task = next(RunDir(measured[1]).path.glob("tasks/*"))
    assert (table["n_test"] == RunDir(task).record.read()["data"]["n_test"]).all()


def test_a_finished_sweep_with_measures_resumes_without_refitting(measured):
    spec, out, _ = measured
    before = {p.name: p.stat().st_mtime_ns for p in (out / "tasks").rglob("run.json")}
    sweep(spec, out, figures=False, progress=False)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "tasks").rglob("run.json")}
    assert before == after


def test_report_shows_a_table_per_measure(measured):
    from brainalign.report import render_report

    html = render_report(measured[1])
    start = html.index('<section id="measures">')
    section = html[start : html.index("</section>", start)]
    for measure in ("cca", "pls", "trsa"):
        assert f'id="measure-{measure}"' in section


def test_unknown_measures_are_refused(nsd_sample):
    with pytest.raises(ParameterError, match="'measures'.*mutual_info"):
        SweepSpec(dataset="nsd", root=nsd_sample, subjects=[1], models=[MODEL],
                  layers=["layer2"], measures="cca,mutual_info")  # fmt: skip
