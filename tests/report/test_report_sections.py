import base64
import re

import numpy as np
import pandas as pd
import pytest

from brainalign.exceptions import DataError, MissingFileError
from brainalign.report import render_report, write_report

MODELS = ("torch:brainalign.data.sample:SampleNet@0", "open_clip:ViT-B-32@random")
LAYERS = ("layer2", "layer4", "layer6")

ALL_SECTIONS = {
    "provenance",
    "warnings",
    "roi-table",
    "sweep",
    "maps",
    "captions",
    "top-images",
    "decoding",
    "eeg",
    "figures",
}


@pytest.mark.parametrize(
    ("fill", "sections", "figures"),
    [
        (lambda b: b.record(), {"provenance", "warnings"}, set()),
        (lambda b: b.record(warnings=()), {"provenance"}, set()),
        (lambda b: b.roi_scores(), {"roi-table"}, set()),
        (
            lambda b: b.roi_scores(layers=LAYERS),
            {"roi-table", "sweep"},
            {"sweep-profiles", "sweep-heatmap"},
        ),
        (lambda b: b.roi_scores(models=MODELS), {"roi-table", "sweep"}, {"sweep-heatmap"}),
        (lambda b: b.captions(), {"captions"}, set()),
        (lambda b: b.top_images(), {"top-images"}, set()),
        (lambda b: b.decoding(), {"decoding"}, {"decoding-bars"}),
        (lambda b: b.decoding(timed=True), {"decoding"}, {"decoding-time"}),
        (lambda b: b.eeg_scores(), {"eeg"}, {"eeg-curves", "eeg-topomaps"}),
        (lambda b: b.rsa(), {"rsa"}, {"rsa-heatmap"}),
        (lambda b: b.retrieved_captions(), {"retrieved-captions"}, set()),
        (lambda b: b.figure("rdm_layer6.png"), {"figures"}, set()),
        (lambda b: b.figure("sub-01_model-M_layer-L_stat-r_glass.png"), {"maps"}, set()),
    ],
)
def test_sections_appear_only_with_their_data(builder, render, fill, sections, figures):
    fill(builder)
    _, page = render(builder.path)
    assert set(page.sections) == sections
    figure_ids = {"sweep-profiles", "sweep-heatmap", "decoding-bars", "decoding-time"}
    figure_ids |= {"eeg-curves", "eeg-topomaps", "rsa-heatmap"}
    assert page.ids & figure_ids == figures
    assert all(src.startswith("data:image/png;base64,") for src in page.srcs)


def test_full_run_has_every_fmri_section_in_order(full_run, render):
    _, page = render(full_run)
    assert page.sections == [
        "provenance",
        "warnings",
        "roi-table",
        "sweep",
        "maps",
        "captions",
        "top-images",
        "decoding",
    ]
    assert page.hrefs == ["#" + s for s in page.sections]  # the navigation, nothing else


def test_provenance_shows_the_record(builder, render):
    record = builder.record()
    html, page = render(builder.path)
    assert record["data"]["test_responses_sha256"] in html
    assert MODELS[0] in html and "2025-01-02T03:04:05+00:00" in html
    assert "Dropped 4 of 1380 voxels that are constant." in html


def test_roi_table_shows_the_best_layer_per_model_and_roi(builder, render):
    frame = builder.roi_scores(models=MODELS, layers=LAYERS, subjects=(1, 2))
    _, page = render(builder.path)
    rows = page.rows("roi-scores")
    labels = ("SampleNet@0", "ViT-B-32@random")  # the models' display names
    expected_order = [(str(s), m, roi) for s in (1, 2) for m in labels for roi in builder.ROIS]
    assert [(r["subject"], r["model"], r["ROI"]) for r in rows] == expected_order
    for row in rows:
        assert row["best layer"] == builder.BEST_LAYER[row["ROI"]]
        expected = frame[
            (frame["subject"].astype(str) == row["subject"])
            & (frame["model"] == MODELS[labels.index(row["model"])])
            & (frame["roi"] == row["ROI"])
        ]["mean_r"].max()
        assert float(row["mean r"]) == pytest.approx(expected, abs=5e-4)


def test_roi_table_of_one_fit_has_no_layer_column(builder, render):
    builder.roi_scores()
    _, page = render(builder.path)
    header = page.tables["roi-scores"][0]
    assert header == [
        "ROI",
        "mean r",
        "median r",
        "mean ncR² (%)",
        "fraction significant",
        "targets",
    ]
    assert [r["ROI"] for r in page.rows("roi-scores")] == list(builder.ROIS)  # file order


def test_text_is_escaped(builder, render):
    builder.captions()
    builder.top_images(rois=("<i>FFA",))
    frame = builder.roi_scores()
    frame.loc[0, "roi"] = "V1 & <i>V2</i>"
    frame.to_parquet(builder.path / "roi_scores.parquet")
    html, page = render(builder.path)
    assert page.scripts == 1  # the report's own sorting script only
    assert "<script>window" not in html and "<img src=x" not in html
    assert "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;window.__pwned = 1;&lt;/script&gt;faces &amp; &lt;b&gt;" in html
    captions = page.rows("roi-captions")
    assert captions[0]["caption"] == builder.EVIL  # shown as text, unchanged
    assert captions[0]["keywords"] == f"{builder.EVIL_KEYWORD}, face"
    assert page.rows("roi-scores")[0]["ROI"] == "V1 & <i>V2</i>"
    assert "<i>FFA: 00_img0.png" in page.alts


def test_report_is_self_contained(full_run, render):
    html, page = render(full_run)
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:|//|file:)""", html)
    assert "@import" not in html and "url(" not in html
    assert page.srcs and all(s.startswith("data:image/") for s in page.srcs)
    assert all(h.startswith("#") for h in page.hrefs)
    assert "default-src &#39;none&#39;; img-src data:;" in html  # a policy forbids any fetch


def test_existing_map_figures_are_embedded_verbatim(builder, render):
    path = builder.figure("sub-01_model-M_layer-L_stat-r_slices.png")
    builder.maps()  # present but not redrawn: the run's figures win
    _, page = render(builder.path)
    encoded = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
    assert page.srcs == [encoded]


def test_maps_are_drawn_when_the_run_has_no_figures(builder, render):
    from PIL import Image

    builder.maps(stats=("r", "ncr2", "alpha"))
    before = sorted(p.relative_to(builder.path) for p in builder.path.rglob("*"))
    html, page = render(builder.path)
    after = sorted(p.relative_to(builder.path) for p in builder.path.rglob("*"))
    assert [str(p) for p in sorted(set(after) - set(before))] == ["report.html"]
    assert len(page.srcs) == 4  # r and ncr2 (the default statistics), slices + glass brain
    assert "stat-r_slices" in html and "stat-ncr2_glass" in html and "stat-alpha" not in html
    for src in page.srcs:
        pixels = np.asarray(Image.open(_decode(src)).convert("L"), dtype=float)
        assert pixels.std() > 10  # something was drawn


def _decode(uri):
    import io

    return io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))


def test_captions_table_has_scores_and_baseline(builder, render):
    builder.captions()
    _, page = render(builder.path)
    rois = page.rows("roi-captions")
    assert [r["ROI"] for r in rois] == ["FFA-1", "PPA"]
    assert rois[1]["score"] == "0.310" and rois[1]["shuffled baseline"] == "0.040"
    assert rois[1]["score − baseline"] == "0.270"
    assert rois[1]["keywords"] == "house, garden"
    assert [r["voxel"] for r in page.rows("voxel-captions")] == ["17"]


def test_captions_are_informative_only_with_a_small_permutation_p(builder, render):
    builder.captions()
    _, page = render(builder.path)
    assert [r["informative"] for r in page.rows("roi-captions")] == ["not tested"] * 2
    frame = pd.read_parquet(builder.path / "captions.parquet")
    frame["p_value"] = [0.001, 0.2, 0.049]  # PPA beats its baseline (0.31 vs 0.04) by chance
    frame.to_parquet(builder.path / "captions.parquet", index=False)
    html, page = render(builder.path)
    rois = page.rows("roi-captions")
    assert [(r["p-value"], r["informative"]) for r in rois] == [("0.001", "yes"), ("0.200", "no")]
    assert page.rows("voxel-captions")[0]["informative"] == "yes"
    assert "below 0.05" in html and "fixed pool of random training-image captions" in html


def test_top_images_follow_the_rank_and_show_the_roi_caption(builder, render):
    from PIL import Image

    builder.captions(caption="a face")
    folder = builder.path / "elsewhere"
    folder.mkdir()
    for name in ("b.png", "a.jpg"):
        Image.new("RGB", (300, 200), (10, 200, 30)).save(folder / name)
    (folder / "broken.png").write_text("not an image")
    table = pd.DataFrame(
        {
            "roi": ["FFA-1", "FFA-1", "FFA-1"],
            "path": ["elsewhere/a.jpg", str(folder / "b.png"), "elsewhere/broken.png"],
            "rank": [2, 1, 3],
        }
    )
    table.to_parquet(builder.path / "top_images.parquet")
    html, page = render(builder.path)
    assert page.alts == ["FFA-1: b.png", "FFA-1: a.jpg"]
    assert "a face (score 0.420, shuffled baseline 0.050)" in html
    assert "Skipped broken.png for FFA-1" in html
    width, height = Image.open(_decode(page.srcs[0])).size
    assert max(width, height) == 160  # a thumbnail, not the full image


def test_decoding_table_and_peaks(builder, render):
    builder.decoding()
    _, page = render(builder.path)
    rows = page.rows("decoding-table")
    assert [(r["ROI"], r["metric"], r["value"], r["chance"]) for r in rows][:2] == [
        ("FFA-1", "top1", "0.210", "0.010"),
        ("FFA-1", "pairwise", "0.700", "0.500"),
    ]
    builder.decoding(timed=True)
    _, page = render(builder.path)
    peaks = page.rows("decoding-peaks")
    assert {r["peak time (s)"] for r in peaks} == {"0.100"}  # first time at the plateau
    assert {r["better than chance by"] for r in peaks} == {"0.300"}
    assert "decoding-table" not in page.ids


def test_eeg_peaks_and_topomaps(builder, render):
    builder.eeg_scores(peak=0.23)
    html, page = render(builder.path)
    (peak,) = page.rows("eeg-peaks")
    assert peak["latency (s)"] == "0.230" and peak["best channel"] == "O2"
    assert "Left out of the topomaps (no standard_1005 position): XYZ1" in html


def test_eeg_with_several_layers_shows_the_best_one(builder, render):
    frame = builder.eeg_scores(peak=0.2)
    weaker = frame.assign(layer="layer2", r=frame["r"] / 2, time=frame["time"])
    pd.concat([weaker, frame]).to_parquet(builder.path / "scores.parquet")
    html, page = render(builder.path)
    (peak,) = page.rows("eeg-peaks")
    assert peak["latency (s)"] == "0.200" and float(peak["its r"]) == pytest.approx(0.602, abs=1e-3)
    assert "Encoding peaks of SampleNet@0 layer6: latencies of the peaks of the highest r" in html


def test_eeg_without_positions_skips_topomaps_with_a_note(builder, render):
    builder.eeg_scores(channels=("Oz", "Q1", "Q2", "Q3"))
    html, page = render(builder.path)
    assert "eeg-curves" in page.ids and "eeg-topomaps" not in page.ids
    assert "No topomaps: only 1 of 4 channels have a position in the standard_1005" in html


def test_eeg_peaks_are_those_of_the_channel_maximum(builder, render):
    from brainalign.encoding import peak_latencies

    frame = builder.eeg_scores(peak=0.17)
    late = frame["channel"].eq("Cz")  # a second, focal effect at 350 ms
    frame.loc[late, "r"] += 0.5 * np.exp(-(((frame.loc[late, "time"] - 0.35) / 0.03) ** 2))
    frame.to_parquet(builder.path / "scores.parquet")
    _, page = render(builder.path)
    rows = page.rows("eeg-peaks")
    expected = peak_latencies(frame.groupby("time")["r"].max())
    assert [float(r["latency (s)"]) for r in rows] == pytest.approx(expected) == [0.17, 0.35]
    assert [r["best channel"] for r in rows] == ["O2", "Cz"]


def test_write_is_atomic_when_a_section_fails(full_run, monkeypatch):
    from brainalign.report import _render

    target = full_run / "report.html"
    target.write_text("previous report")

    def broken(contents):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(_render, "SECTION_BUILDERS", (*_render.SECTION_BUILDERS, broken))
    with pytest.raises(RuntimeError, match="drawing failed"):
        write_report(full_run)
    assert target.read_text() == "previous report"
    assert sorted(p.name for p in full_run.iterdir() if p.name.startswith(".")) == []


def test_write_is_atomic_when_the_disk_fails(builder, monkeypatch):
    from pathlib import Path

    builder.roi_scores()
    real_write = Path.write_text

    def half_then_fail(self, text, *args, **kwargs):
        real_write(self, text[:100], *args, **kwargs)
        raise OSError("No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        write_report(builder.path)
    monkeypatch.undo()
    assert sorted(p.name for p in builder.path.iterdir()) == ["roi_scores.parquet"]


def test_out_writes_elsewhere(builder, tmp_path):
    builder.roi_scores()
    out = write_report(builder.path, out=tmp_path / "shared" / "sub-01.html")
    assert out == tmp_path / "shared" / "sub-01.html" and out.is_file()
    assert out.stat().st_mode & 0o777 == 0o644  # readable by the colleague it is for
    assert not (builder.path / "report.html").exists()


def test_errors_name_the_problem(builder, tmp_path):
    with pytest.raises(MissingFileError, match="Missing run directory: expected .*nowhere"):
        write_report(tmp_path / "nowhere")
    with pytest.raises(DataError, match="Nothing to report in .*run: expected run.json"):
        render_report(builder.path)
    pd.DataFrame({"roi": ["V1"], "r": [0.1]}).to_parquet(builder.path / "roi_scores.parquet")
    with pytest.raises(DataError, match=r"roi_scores.parquet lacks the columns \['mean_r'\]"):
        render_report(builder.path)
    (builder.path / "roi_scores.parquet").unlink()
    (builder.path / "run.json").write_text("{not json")
    with pytest.raises(DataError, match="Malformed run record"):
        render_report(builder.path)
    (builder.path / "run.json").unlink()
    (builder.path / "decoding.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="Unreadable table .*decoding.parquet"):
        render_report(builder.path)


def test_several_subjects_are_not_a_sweep(builder, render):
    builder.roi_scores(subjects=(1, 2, 3))  # one model, one layer: no sweep section
    _, page = render(builder.path)
    assert "sweep" not in page.sections
    subjects = [r["subject"] for r in page.rows("roi-scores")]
    assert subjects[:: len(builder.ROIS)] == ["1", "2", "3"]


def test_a_sweep_manifest_stands_in_for_run_json(builder, render):
    import json

    manifest = {
        "parameters": {"dataset": "nsd", "subjects": [1], "models": list(MODELS[:1])},
        "tasks": {
            "sub-01_model-SampleNet_layer-layer2": {"status": "done"},
            "sub-01_model-SampleNet_layer-layer4": {"status": "failed", "error": "ValueError: x"},
        },
    }
    (builder.path / "sweep.json").write_text(json.dumps(manifest))
    html, page = render(builder.path)
    assert page.sections == ["provenance", "warnings"]
    assert "<dt>command</dt><dd>compare</dd>" in html and "1 done, 1 failed" in html
    assert "Task sub-01_model-SampleNet_layer-layer4 failed: ValueError: x" in html
    assert '"status"' not in html  # the task list is summarised, not dumped


def test_layer_order_follows_the_declared_layers_then_depth():
    from brainalign.report._sections import layer_order

    frame = pd.DataFrame({"layer": ["c", "a", "b", "a"], "layer_index": [2, 0, 1, 0]})
    assert layer_order(None, frame) == ["a", "b", "c"]
    assert layer_order(None, frame.drop(columns="layer_index")) == ["c", "a", "b"]
    record = {"parameters": {"layers": {"m1": ["b", "c"], "m2": ["b", "z"]}}}
    assert layer_order(record, frame) == ["b", "c", "z", "a"]
    assert layer_order({"parameters": {"layer": "c"}}, frame) == ["a", "b", "c"]


def test_a_sweep_shows_its_own_figures(builder, render):
    builder.roi_scores(layers=LAYERS)
    profiles = builder.figure("layer_profiles.png", color=(0, 0, 255))
    builder.figure("rdm_FFA-1.png")
    _, page = render(builder.path)
    assert page.sections == ["roi-table", "sweep", "figures"]
    encoded = "data:image/png;base64," + base64.b64encode(profiles.read_bytes()).decode()
    assert page.srcs[0] == encoded  # the sweep's profiles, then the heatmap drawn here
    assert len(page.srcs) == 3 and {"sweep-profiles", "sweep-heatmap"} <= page.ids


def test_decoding_without_roi_column(builder, render):
    frame = pd.DataFrame(
        {
            "scope": ["time", "time", "epoch"],
            "time": [0.0, 0.1, np.nan],
            "metric": ["top1"] * 3,
            "value": [0.01, 0.2, 0.15],
            "chance": [0.005] * 3,
        }
    )
    frame.to_parquet(builder.path / "decoding.parquet")
    _, page = render(builder.path)
    assert page.rows("decoding-table") == [
        {
            "ROI": "all",
            "metric": "top1",
            "value": "0.150",
            "chance": "0.005",
            "better than chance by": "0.145",
        }
    ]
    assert page.rows("decoding-peaks")[0]["peak time (s)"] == "0.100"


def test_rsa_table_names_the_best_layer_of_each_roi(builder, render):
    builder.rsa()
    _, page = render(builder.path)
    rows = {r["ROI"]: r for r in page.rows("rsa-table")}
    assert rows["FFA-1"]["best layer"] == LAYERS[-1] and rows["V1v"]["best layer"] == LAYERS[0]
    assert rows["FFA-1"]["RDM similarity"] == "0.400"


def test_retrieved_captions_show_the_first_rank_as_text(builder, render):
    builder.retrieved_captions()
    html, page = render(builder.path)
    rows = page.rows("retrieved-captions-table")
    assert [r["image"] for r in rows] == ["7", "9"]  # rank 1 of each image only
    assert rows[0]["decoded caption"] == builder.EVIL
    assert page.scripts == 1 and "<script>window" not in html
