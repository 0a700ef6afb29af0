"""``brainalign demo --pretrained``: real ImageNet weights on the real face/house data.

EfficientNet-Lite0 (installed offline by the dev extra) over the 96 face and house
photos of eeg-notebooks' N170 experiment, and the N170 recording of its subject 1.
"""

from pathlib import Path

import numpy as np
import pytest

from brainalign.cli import main
from brainalign.exceptions import DataError
from brainalign.runs import RunDir, category_rdm

N170 = Path(__file__).resolve().parents[3] / "shared" / "data" / "n170_faces_houses"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if not N170.exists():
        pytest.skip(f"real data not found at {N170}")
    out = tmp_path_factory.mktemp("demo_pretrained")
    assert main(["demo", "--pretrained", "--data", str(N170), "--out", str(out), "-q"]) == 0
    return RunDir(out / "run_categories")


def test_trained_layers_carry_the_category_and_random_ones_do_not(demo):
    rsa = demo.read_table("rsa")
    trained, random = (rows for _, rows in rsa.groupby(rsa["model"].str.contains("@random")))
    assert list(trained["layer"]) == list(random["layer"])  # same layers, input first
    assert trained["value"].iloc[-1] > 0.45 > random["value"].max() + 0.1
    assert trained["value"].iloc[-1] - trained["value"].iloc[0] > 0.2
    # the interval excludes the untrained architecture from blocks.3 on
    deep = trained["layer"].isin(["blocks.3", "blocks.4", "blocks.5", "blocks.6", "classifier"])
    assert (trained["value_low"].to_numpy()[deep] > random["value_high"].to_numpy()[deep]).all()


def test_the_recording_decodes_the_category_at_the_n170(demo):
    table = demo.read_table("decoding")
    before = table[table["time"] < 0]
    assert (before["value"] < before["chance_high"]).all()
    early = table[(table["time"] >= 0.15) & (table["time"] <= 0.25)]
    assert early["significant"].any()  # the N170 window (about 195-230 ms on this Muse)
    assert table["value"].max() > 0.58


def test_the_record_and_report_say_what_ran(demo):
    record = demo.record.read()
    trained = next(v for k, v in record["features"].items() if "@random" not in k)
    assert trained["preprocess"]["source"] == "timm pretrained_cfg of tf_efficientnet_lite0"
    assert trained["weights"].startswith("sha256:")
    images = str((N170 / "stim" / "face_house").resolve())
    eeg = {"dataset": "muse", "n_trials": 1150}
    assert record["data"] == {"images": images, "n_images": 96, "eeg": eeg}
    html = (demo.path / "report.html").read_text()
    assert 'id="categories"' in html and "Highest layer per model" in html
    assert "Representational similarity" not in html and "Other figures" not in html


def test_a_category_rdm_needs_two_categories():
    rdm = category_rdm(["a/1", "a/2", "b/1", "b/2"])
    np.testing.assert_array_equal(rdm.dissimilarities, [0, 1, 1, 1, 1, 0])
    with pytest.raises(DataError, match="at least 2 sub-folders"):
        category_rdm(["a/1", "a/2"])


def test_bad_demo_data_and_event_maps_get_one_line(tmp_path, capsys):
    assert main(["demo", "--pretrained", "--data", str(tmp_path), "--out", str(tmp_path)]) == 1
    assert "Missing folder for --pretrained" in capsys.readouterr().err
    argv = ["categories", "--images", str(tmp_path), "--model", "timm:resnet18@random"]
    argv += ["--layers", "layer1", "--out", str(tmp_path / "o"), "--eeg", "muse:x"]
    assert main([*argv, "--event-map", "house=1"]) == 2
    assert "--event-map" in capsys.readouterr().err


def test_a_flat_or_thin_folder_is_refused():
    with pytest.raises(DataError, match="sub-folders named by category; 1 are not"):
        category_rdm(["a/1", "a/2", "b/1", "b/2", "c"])
    with pytest.raises(DataError, match=r"at least 2 images; got \{'a': 2, 'b': 1\}"):
        category_rdm(["a/1", "a/2", "b/1"])
