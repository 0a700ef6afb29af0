"""`brainalign synthesize RUN`: the synthesis run directory, resumption, bad inputs."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from brainalign.captions import EmbeddingBank
from brainalign.cli import main
from brainalign.runs import SynthesisSpec, synthesize

IMAGE_COLUMNS = ["subject", "model", "layer", "method", "roi", "rank", "image_id", "seed", "file"]


@pytest.fixture(scope="module")
def fitted(sample_encoder):
    return sample_encoder


def test_the_run_scores_the_images_it_wrote(synthesis_run, fitted):
    table = pd.read_parquet(synthesis_run / "synthesis.parquet")
    assert list(table.columns[: len(IMAGE_COLUMNS)]) == IMAGE_COLUMNS
    assert table.groupby("roi")["rank"].apply(list).to_dict() == {"FFA-1": [1, 2], "V1v": [1, 2]}
    enc = fitted["encoder"]
    for kind, column in (("file", "activation"), ("baseline_file", "baseline_activation")):
        pixels = [np.asarray(Image.open(synthesis_run / f)) for f in table[kind]]
        cols = [enc.unit_index(r) for r in table["roi"]]
        rescored = enc.score_images(pixels)[np.arange(len(table)), cols]
        np.testing.assert_allclose(rescored, table[column], atol=1e-4)  # float32 batches
    best = enc.zscores(enc.bank_max_)
    np.testing.assert_allclose(
        table["bank_best_z"], best[[enc.unit_index(r) for r in table["roi"]]]
    )
    assert table["above_bank"].all() and (table["z"] > table["baseline_z"]).all()
    scores = pd.read_parquet(synthesis_run / "synthesis_scores.parquet")
    assert len(scores) == len(table) * len(enc.units)
    record = json.loads((synthesis_run / "run.json").read_text())
    assert record["command"] == "synthesize" and record["source"]["layer"] == "layer6"
    assert record["summary"]["V1v"]["frac_above_bank"] == 1.0
    assert record["rois"]["V1v"]["n_candidates"] == 2
    figures = sorted(p.name for p in (synthesis_run / "figures").iterdir())
    assert figures == [
        "synthesis_roi-FFA1.png",
        "synthesis_roi-V1v.png",
        "synthesis_selectivity.png",
    ]


def test_a_rerun_resumes_and_a_different_run_is_refused(synthesis_run, sample_fit_run, capsys):
    png = next((synthesis_run / "images" / "V1v").glob("01_*.png"))
    before = png.stat().st_mtime_ns
    argv = ["synthesize", str(sample_fit_run), "--roi", "FFA-1,V1v", "--n", "2", "--steps", "40"]
    argv += ["--size", "68", "--out", str(synthesis_run), "-q"]
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        assert main(argv) == 0
    assert png.stat().st_mtime_ns == before
    assert "V1v: median z" in capsys.readouterr().out
    assert main([*argv[:-3], "--steps", "41", "--out", str(synthesis_run)]) == 2
    assert "holds a different run (steps: 40 there, 41 here)" in capsys.readouterr().err


def test_bank_search_over_an_outside_bank(sample_fit_run, fitted, tmp_path):
    bank = fitted["bank"]
    keep = np.arange(0, len(bank), 3)
    outside = EmbeddingBank(bank.embeddings[keep], bank.ids[keep]).save(tmp_path / "bank")
    spec = SynthesisSpec(run=sample_fit_run, rois="PPA", method="bank", n=5, bank=outside,
                         device="cpu")  # fmt: skip
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        result = synthesize(spec, tmp_path / "out", progress=False)
    table = result["table"]
    act = fitted["encoder"].predict_features(bank.embeddings[keep])
    col = fitted["encoder"].unit_index("PPA")
    assert table["image_id"].tolist() == [
        str(i) for i in bank.ids[keep][np.argsort(-act[:, col])[:5]]
    ]
    assert table["file"].isna().all() and table["rank"].tolist() == [1, 2, 3, 4, 5]
    assert table["above_bank"].sum() == 0  # the best bank image is the bank's own best
    np.testing.assert_allclose(table["bank_best"], act[:, col].max())


def test_diffusion_from_a_local_pipeline(sample_fit_run, tiny_diffusion, tmp_path):
    argv = ["synthesize", str(sample_fit_run), "--roi", "PPA", "--method", "diffusion", "--n", "2"]
    argv += ["--steps", "8", "--pipeline", str(tiny_diffusion), "--out", str(tmp_path / "d"), "-q"]
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        assert main(argv) == 0
    table = pd.read_parquet(tmp_path / "d" / "synthesis.parquet")
    assert table["method"].eq("diffusion").all() and len(table) == 2
    assert all((tmp_path / "d" / f).is_file() for f in table["baseline_file"])
    assert table["activation"].mean() > table["baseline_activation"].mean()


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--roi", "FFA1"], 2, "Invalid value for 'rois'.*'FFA1'.*FFA-1"),
        (["--pipeline", "."], 2, "'pipeline': expected no pipeline unless --method diffusion"),
        (["--method", "diffusion"], 2, "'pipeline': expected a local diffusers pipeline"),
        (["--n", "0"], 2, "'n': expected an integer >= 1"),
        (["--selectivity", "-1"], 2, "'selectivity': expected a number >= 0"),
        (["--n", "4", "--candidates", "2"], 2, "'n_candidates': expected an integer >= 4"),
        (["--bank", "."], 2, "'bank': expected an embedding bank"),
    ],
)
def test_bad_inputs_fail_early_with_one_line(sample_fit_run, tmp_path, capsys, extra, code,
                                             message):  # fmt: skip
    import re

    argv = ["synthesize", str(sample_fit_run), *extra, "--out", str(tmp_path / "o"), "-q"]
    loads = extra[0] == "--roi"  # ROI names are the data's: known once it is read
    with pytest.warns(UserWarning, match="Dropped 4 of") if loads else _nothing():
        assert main(argv) == code
    err = capsys.readouterr().err
    assert re.search(message, err) and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_not_a_fit_run_and_writing_into_the_fit_run_are_refused(sample_fit_run, tmp_path, capsys):
    assert main(["synthesize", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "'run': expected a fit run directory" in capsys.readouterr().err
    assert main(["synthesize", str(sample_fit_run), "--out", str(sample_fit_run)]) == 2
    assert "beside the fit run, not into it" in capsys.readouterr().err


def test_a_bank_of_another_feature_space_is_a_data_error(sample_fit_run, tmp_path, capsys):
    folder = EmbeddingBank(np.zeros((10, 7), np.float32), np.arange(10)).save(tmp_path / "b")
    argv = ["synthesize", str(sample_fit_run), "--method", "bank", "--bank", str(folder)]
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        assert main([*argv, "--out", str(tmp_path / "o")]) == 1
    assert "has 7 dimensions; the run's features 256" in capsys.readouterr().err


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_run_json_reruns_the_synthesis_exactly(sample_fit_run, tmp_path):
    first = ["synthesize", str(sample_fit_run), "--roi", "V1v", "--method", "bank", "--n", "3"]
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        assert main([*first, "--seed", "7", "--out", str(tmp_path / "a"), "-q"]) == 0
    again = ["synthesize", str(sample_fit_run), "--config", str(tmp_path / "a" / "run.json")]
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        assert main([*again, "--out", str(tmp_path / "b"), "-q"]) == 0
    a, b = (pd.read_parquet(tmp_path / d / "synthesis.parquet") for d in "ab")
    pd.testing.assert_frame_equal(a.drop(columns=["file", "baseline_file"]),
                                  b.drop(columns=["file", "baseline_file"]))  # fmt: skip
    assert json.loads((tmp_path / "b" / "run.json").read_text())["parameters"]["seed"] == 7


def test_an_interrupted_run_of_other_options_is_not_resumed(sample_fit_run, tmp_path):
    argv = ["synthesize", str(sample_fit_run), "--roi", "V1v", "--method", "bank", "--n", "3"]
    out = tmp_path / "s"
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        assert main([*argv, "--out", str(out), "-q"]) == 0
    (out / "run.json").unlink()  # as if interrupted before the record
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        assert main([*argv[:-1], "5", "--out", str(out), "-q"]) == 0
    table = pd.read_parquet(out / "synthesis.parquet")
    assert table["rank"].tolist() == [1, 2, 3, 4, 5]  # made again, not the 3 of the other run
    assert json.loads((out / "images" / "parameters.json").read_text())["n"] == 5
