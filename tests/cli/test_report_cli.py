import pandas as pd
import pytest

from brainalign.cli import main


def _roi_scores(run_dir):
    run_dir.mkdir(parents=True)
    pd.DataFrame(
        {"subject": [1], "model": ["m"], "layer": ["l"], "roi": ["FFA-1"], "mean_r": [0.4]}
    ).to_parquet(run_dir / "roi_scores.parquet")


def test_report_prints_the_written_path(tmp_path, capsys):
    run_dir = tmp_path / "run"
    _roi_scores(run_dir)
    assert main(["report", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "report.html")
    assert "FFA-1" in (run_dir / "report.html").read_text()
    out = tmp_path / "elsewhere" / "r.html"
    assert main(["report", str(run_dir), "--out", str(out), "-q"]) == 0
    assert capsys.readouterr().out.strip() == str(out) and out.is_file()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["report", "{tmp}/nowhere"], 1, "Missing run directory: expected {tmp}/nowhere"),
        (["report", "{tmp}/empty"], 1, "Nothing to report in {tmp}/empty"),
        (["report"], 2, "the following arguments are required: RUN"),
        (["report", "{tmp}/empty", "--frobnicate"], 2, "unrecognized arguments: --frobnicate"),
    ],
)
def test_report_errors_give_one_line_and_exit_codes(tmp_path, capsys, argv, code, message):
    (tmp_path / "empty").mkdir()
    assert main([a.format(tmp=tmp_path) for a in argv]) == code
    captured = capsys.readouterr()
    assert message.format(tmp=tmp_path) in captured.err and captured.out == ""
    if code == 1:
        assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err


def test_report_help_has_an_example(capsys):
    assert main(["report", "--help"]) == 0
    assert "example:\n  brainalign report run_fit" in capsys.readouterr().out


@pytest.mark.slow
def test_report_of_a_real_fit(nsd_sample, tmp_path, capsys):
    import json
    import re

    run_dir = tmp_path / "run_fit"
    fit = ["fit", "--dataset", "nsd", "--root", str(nsd_sample), "--subject", "1"]
    fit += ["--model", "torch:brainalign.data.sample:SampleNet@0", "--layer", "layer6"]
    fit += ["--roi", "floc-faces", "--permutations", "20", "--out", str(run_dir), "-q"]
    assert main(fit) == 0
    capsys.readouterr()
    assert main(["report", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "report.html")
    html = (run_dir / "report.html").read_text()
    record = json.loads((run_dir / "run.json").read_text())
    assert re.findall(r'<section id="([^"]+)"', html) == ["provenance", "roi-table", "maps"]
    assert record["data"]["test_responses_sha256"] in html
    assert all(f'<td data-sort="{roi.lower()}">{roi}</td>' in html for roi in ("FFA-1", "OFA"))
    figures = sorted(p.name[: -len(".png")] for p in (run_dir / "figures").glob("*.png"))
    # r, ncr2, log10pfdr: slices and glass brain; r, ncr2 on the fsnative and fsaverage
    # surfaces and their flat patches (the sample has NSD's volume -> surface transforms)
    assert len(figures) == 6 + 4 + 4 and sum("_surface" in f for f in figures) == 4
    assert sum(f.endswith("_flat") for f in figures) == 4
    captions = re.findall(r"<figcaption>([^<]+)</figcaption>", html)
    # captions in words, naming the file they show; r first
    assert sorted(re.search(r"File: (\S+)\.png", c).group(1) for c in captions) == figures
    assert captions[0].startswith("Held-out r, SampleNet layer6, subject 1")
    assert not any(c.startswith("sub-") for c in captions)
