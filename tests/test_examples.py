import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

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
