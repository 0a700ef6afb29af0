"""`brainalign caption RUN`: captions.parquet and thumbnails from a fit run."""

import pandas as pd
import pytest

from brainalign.cli import main


@pytest.fixture(scope="module")
def fit_run(sample_fit_run):
    return sample_fit_run


def test_caption_writes_the_table_and_thumbnails(fit_run, capsys):
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        code = main(["caption", str(fit_run), "--rois", "FFA-1,PPA", "-q"])
    assert code == 0
    out = capsys.readouterr().out
    assert "PPA: 'images of house" in out and "captions.parquet" in out
    assert "p 0.001: informative)" in out.split("FFA-1: ")[1].splitlines()[0]
    table = pd.read_parquet(fit_run / "captions.parquet")
    assert list(table["unit"]) == ["FFA-1", "PPA"] and table["method"].eq("lavca").all()
    assert len(list((fit_run / "top_images" / "PPA").glob("*.png"))) == 12
    assert table["n_pool"].eq(100).all() and table["p_value"].between(0, 1).all()


def test_caption_pool_and_permutations_are_options(fit_run, tmp_path, capsys):
    argv = ["caption", str(fit_run), "--rois", "RSC", "--pool", "20", "--permutations", "99"]
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        assert main([*argv, "--no-thumbnails", "--out", str(tmp_path / "c"), "-q"]) == 0
    assert ": not informative)" in capsys.readouterr().out  # the null ROI
    table = pd.read_parquet(tmp_path / "c" / "captions.parquet")
    assert table["n_pool"].tolist() == [20] and (table["p_value"] * 100).round(6).iloc[0] % 1 == 0


def test_caption_usage_and_data_errors(fit_run, tmp_path, capsys):
    assert main(["caption", str(fit_run), "--method", "clip"]) == 2
    assert main(["caption", str(tmp_path)]) == 2
    assert "'run_dir'" in capsys.readouterr().err
    assert main(["caption", "--help"]) == 0
    assert "brainalign caption run_fit" in capsys.readouterr().out
