import json

import numpy as np
import pytest

from brainalign.cli import main


def test_info_reports_what_the_sample_holds(nsd_sample, ground_truth, capsys):
    assert main(["info", "--dataset", "nsd", "--root", str(nsd_sample), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["dataset"], summary["modality"]) == ("nsd", "fmri")
    assert sorted(summary["subjects"]) == ["1", "2"]
    subject = summary["subjects"]["1"]
    assert subject["sessions"] == [1, 2, 3, 4] and subject["n_trials"] == 3000
    assert subject["formats"] == ["nifti", "hdf5"]
    assert subject["n_stimuli"] == 1000
    assert subject["rois"]["floc-faces"]["FFA-1"] == ground_truth["rois"]["FFA-1"]["n_voxels"]
    assert summary["stimuli"]["shape"] == [73000, 425, 425, 3]


def test_info_text_output(nsd_sample, capsys):
    assert main(["info", "--dataset", "nsd", "--root", str(nsd_sample), "--subject", "2"]) == 0
    out = capsys.readouterr().out
    assert "subject 2: 4 sessions [1, 2, 3, 4], 3000 trials" in out
    assert "subject 1" not in out
    assert "roi floc-places: OPA" in out


def test_info_on_the_real_haxby_data(haxby_dir, capsys):
    assert main(["info", "--dataset", "nifti", "--root", str(haxby_dir / "slice")]) == 0
    out = capsys.readouterr().out
    assert "subject all: 1452 trials" in out and "530 targets" in out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["info", "--dataset", "nds", "--root", "."], 2, "Unknown dataset 'nds'"),
        (["info", "--dataset", "nsd"], 2, "--root"),
        (["frobnicate"], 2, "invalid choice"),
        (
            ["info", "--dataset", "nsd", "--root", "/no/such/folder"],
            1,
            "Missing NSD root folder: expected /no/such/folder",
        ),
    ],
)
def test_errors_give_one_line_and_exit_codes(argv, code, message, capsys):
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert message in err
    if code == 1:
        assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_missing_subject_is_a_data_error(nsd_sample, capsys):
    assert main(["info", "--dataset", "nsd", "--root", str(nsd_sample), "--subject", "4"]) == 1
    assert "available subjects: [1, 2]" in capsys.readouterr().err


def test_verbose_shows_the_traceback(nsd_sample):
    from brainalign.exceptions import DataError

    with pytest.raises(DataError):
        main(["info", "-v", "--dataset", "nsd", "--root", str(nsd_sample), "--subject", "4"])


def test_help_for_every_verb_has_an_example(capsys):
    for verb in ("sample", "info", "extract"):
        assert main([verb, "--help"]) == 0
        assert "example:" in capsys.readouterr().out
    assert main(["--help"]) == 0
    assert "sample" in capsys.readouterr().out


def test_sample_writes_and_reuses(tmp_path, capsys):
    out = tmp_path / "mini"
    argv = [
        "sample",
        "nsd",
        "--out",
        str(out),
        "--seed",
        "3",
        "--sessions",
        "1",
        "--subjects",
        "1",
        "-q",
    ]
    assert main(argv) == 0
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["seed"] == 3 and truth["subjects"] == [1]
    stamp = (out / "ground_truth.json").stat().st_mtime_ns
    assert main(argv) == 0
    assert (out / "ground_truth.json").stat().st_mtime_ns == stamp
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)


def test_extract_lists_layers(capsys):
    assert (
        main(["extract", "--model", "torch:brainalign.data.sample:SampleNet@0", "--list-layers"])
        == 0
    )
    assert capsys.readouterr().out.split() == [
        "flatten",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "layer5",
        "layer6",
        "embedding",
    ]


def test_extract_writes_the_cache_and_reuses_it(nsd_sample, tmp_path, capsys):
    from brainalign.features import FeatureSet

    argv = [
        "extract",
        "--model",
        "torch:brainalign.data.sample:SampleNet@0",
        "--layers",
        "layer2,layer6",
        "--dataset",
        "nsd",
        "--root",
        str(nsd_sample),
        "--subject",
        "2",
        "--out",
        str(tmp_path),
        "--batch-size",
        "200",
        "-q",
    ]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[:2] for line in lines] == [
        ["layer2", "1000 x 256"],
        ["layer6", "1000 x 256"],
    ]
    entries = sorted(tmp_path.glob("*/*/meta.json"))
    assert len(entries) == 2
    stamp = [p.stat().st_mtime_ns for p in entries]
    assert main(argv) == 0
    assert [p.stat().st_mtime_ns for p in entries] == stamp
    fs = FeatureSet.load(entries[0].parent)
    assert fs.metadata["model"] == "torch:brainalign.data.sample:SampleNet"
    assert len(np.unique(fs.stimulus_ids)) == 1000


def test_extract_needs_a_dataset(capsys):
    code = main(["extract", "--model", "torch:brainalign.data.sample:SampleNet@0"])
    assert code == 2
    assert "--dataset, --root, --out" in capsys.readouterr().err


def test_every_demo_step_is_a_valid_command_line(tmp_path):
    from brainalign.cli import _demo, build_parser

    parser = build_parser()
    steps = _demo.steps(tmp_path, workers=2, seed=0)
    verbs = [argv[0] for argv in steps]
    assert verbs[:3] == ["sample", "info", "fit"] and verbs.count("report") == 3
    for argv in steps:
        args = parser.parse_args(argv)  # a usage error would raise SystemExit
        assert args.verb == argv[0]
