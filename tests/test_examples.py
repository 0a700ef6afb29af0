import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_nsd_data_tour_on_the_sample(nsd_sample, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "nsd_data_tour.py"),
            "--root",
            str(nsd_sample),
            "--sessions",
            "1,3,4",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = {line.split()[0]: line.split() for line in out.stdout.splitlines() if line}
    # RSC carries no planted signal, FFA-1 does: the printed medians must show it.
    assert float(lines["FFA-1"][2]) > 20 > float(lines["RSC"][2])
    truth = np.asarray(nib.load(nsd_sample / "true_noise_ceiling.nii.gz").dataobj)
    nc = np.asarray(nib.load(tmp_path / "sub-01_stat-nc.nii.gz").dataobj)
    inside = nc != 0
    assert np.corrcoef(truth[inside], nc[inside])[0, 1] > 0.85


def test_extract_features_on_the_sample(nsd_sample, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "extract_features.py"),
            "--root",
            str(nsd_sample),
            "--layers",
            "layer2,embedding",
            "--cache",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line for line in out.stdout.splitlines() if "features" in line]
    assert [r.split(":")[0] for r in rows] == ["layer2", "embedding"]
    assert all("1000 x 256 features" in r for r in rows)
    assert len(list(tmp_path.glob("*/*/meta.json"))) == 2


# -- one example per task, on the sample, with small settings ------------------------
def _run_example(name, *args) -> list[str]:
    """Run ``examples/<name>`` with ``args``; return its stdout lines."""
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.splitlines()


def _rows(lines) -> dict:
    """First word of each line -> its words."""
    return {line.split()[0]: line.split() for line in lines if line.strip()}


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory) -> Path:
    """One feature cache for the examples that use subject 1's images (computed once)."""
    return tmp_path_factory.mktemp("example_features")


@pytest.fixture(scope="session")
def eeg_sample_root(tmp_path_factory) -> Path:
    """Build the THINGS-EEG2 sample (the folder of tests/data's ``eeg_sample``)."""
    from brainalign.data.sample import write_things_eeg2_sample

    return write_things_eeg2_sample(tmp_path_factory.getbasetemp() / "things-eeg2", seed=0)


@pytest.fixture(scope="session")
def fit_run(nsd_sample, feature_cache, tmp_path_factory):
    """Run examples/fit_subject.py once; the report and captions examples reuse its run."""
    run = tmp_path_factory.mktemp("example_fit") / "run"
    lines = _run_example(
        "fit_subject.py", "--root", nsd_sample, "--out", run,
        "--cv", 3, "--permutations", 10, "--cache", feature_cache,
    )  # fmt: skip
    return run, lines


def test_fit_subject_example(fit_run):
    run, lines = fit_run
    rows = _rows(lines)
    # layer6 drives FFA-1 and PPA; RSC carries no signal
    assert rows["FFA-1"][-1] == rows["PPA"][-1] == "layer6"
    assert float(rows["FFA-1"][2]) > 0.3 > 0.1 > float(rows["RSC"][2])
    assert len(list((run / "figures").glob("*.png"))) >= 3
    assert "maps:" in lines[-1]


def test_compare_layers_example(nsd_sample, tmp_path):
    lines = _run_example(
        "compare_layers.py", "--root", nsd_sample, "--subjects", 1,
        "--out", tmp_path / "run", "--cv", 3, "--permutations", 10,
    )  # fmt: skip
    rows = _rows(lines)
    # the planted driving layer is recovered (best layer, then the planted one)
    for roi, layer in (
        ("FFA-1", "layer6"),
        ("PPA", "layer6"),
        ("V1v", "layer2"),
        ("hV4", "layer4"),
    ):
        assert rows[roi][2:] == [layer, layer], rows[roi]
    assert (tmp_path / "run" / "figures" / "layer_profiles_planted.png").stat().st_size > 0


def test_rsa_example(nsd_sample, tmp_path):
    lines = _run_example(
        "rsa.py", "--root", nsd_sample, "--bootstraps", 50, "--out", tmp_path / "rsa"
    )
    assert lines[0].startswith("100 shared images, 2 subjects")
    table = {line.split()[0]: line.split()[1:] for line in lines[2:10:2]}
    best = {line.split()[0]: line for line in lines[2:10:2]}
    for roi, values in table.items():
        rho = [float(v) for v in values[:3]]
        low, up = float(values[3]), float(values[4])
        assert low <= up, roi
        assert max(rho) > 0.05, roi
    detail = dict(zip(best, lines[3:11:2], strict=True))
    assert "best layer6" in detail["FFA-1"] and "best layer2" in detail["V1v"]
    for text in detail.values():  # value inside its bootstrap CI
        value = float(text.split("rho ")[1].split()[0])
        low, high = (float(v) for v in text.split("CI ")[1].split("]")[0].split(", "))
        assert low <= value <= high
    assert (tmp_path / "rsa" / "rdm_PPA_vs_layer6.png").stat().st_size > 0


def test_decode_example(nsd_sample, feature_cache, tmp_path):
    lines = _run_example(
        "decode.py", "--root", nsd_sample, "--out", tmp_path / "run",
        "--cv", 3, "--cache", feature_cache,
    )  # fmt: skip
    rows = _rows(lines)
    chance_top1, chance_2way = float(rows["chance"][1]), float(rows["chance"][3])
    assert chance_top1 == pytest.approx(0.01) and chance_2way == pytest.approx(0.5)
    # FFA-1 (driven by layer6) identifies the image far above chance; RSC does not
    assert float(rows["FFA-1"][3]) > 10 * chance_top1
    assert float(rows["FFA-1"][5]) > 0.8
    assert float(rows["RSC"][5]) < 0.65


def test_eeg_time_resolved_example(eeg_sample_root, tmp_path):
    lines = _run_example(
        "eeg_time_resolved.py", "--root", eeg_sample_root, "--cv", 3, "--tmax", 0.4,
        "--out", tmp_path,
    )  # fmt: skip
    peaks = [line for line in lines if line.startswith("encoding r peak")]
    latencies = sorted(int(line.split(" at ")[1].split()[0]) for line in peaks)
    # the planted effects peak at 100, 170 and 300 ms; the 100 ms one is a shoulder on
    # the across-channel maximum, so at least two peaks, each near a planted latency
    planted = (100, 170, 300)
    assert len(latencies) >= 2, latencies
    assert all(min(abs(f - p) for p in planted) <= 30 for f in latencies), latencies
    assert any(abs(f - 170) <= 30 for f in latencies), latencies
    decoding = next(line for line in lines if line.startswith("2-way"))
    assert float(decoding.split("peak ")[1].split()[0]) > 0.55
    assert (tmp_path / "topomaps_r.png").stat().st_size > 0


def test_report_example(nsd_sample, fit_run):
    run, _ = fit_run  # a finished fit: the example only writes the report
    lines = _run_example("report.py", "--root", nsd_sample, "--out", run)
    path = Path(lines[-1].split(": ")[-1])
    assert path == run / "report.html"
    html = path.read_text()
    for section in ("provenance", "roi-table", "maps"):
        assert f'id="{section}"' in html
    assert "FFA-1" in html


def test_captions_example(nsd_sample, fit_run):
    run, _ = fit_run
    lines = _run_example("captions.py", "--root", nsd_sample, "--out", run, "--rois", "FFA-1,PPA")
    rows = {line.split()[0]: line for line in lines[1:3]}
    # the caption names the planted attribute and beats its shuffled baseline
    for roi, word in (("FFA-1", "face"), ("PPA", "house")):
        assert word in rows[roi].split("(score")[0]
        score = float(rows[roi].split("score ")[1].split(",")[0])
        shuffled = float(rows[roi].split("shuffled ")[1].split(")")[0])
        assert score > shuffled
