"""Run configs: --config TOML and run.json reruns reproduce a result exactly."""

import json

import pandas as pd
import pytest

from brainalign.cli import main

MODEL = "torch:brainalign.data.sample:SampleNet@0"


def fit_argv(root, out, *extra):
    argv = ["fit", "--dataset", "nsd", "--root", str(root), "--subject", "1"]
    argv += ["--model", MODEL, "--layer", "layer6", "--roi", "FFA-1,PPA"]
    return [*argv, "--cv", "3", "--permutations", "30", "--seed", "3", "--out", str(out), "-q"]


@pytest.fixture(scope="module")
def fitted(nsd_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("config") / "run"
    assert main(fit_argv(nsd_sample, out)) == 0  # (FFA-1 and PPA hold no dropped voxel)
    return out


def test_run_json_records_the_resolved_options(fitted, nsd_sample):
    config = json.loads((fitted / "run.json").read_text())["config"]
    assert config["verb"] == "fit"
    options = config["options"]
    assert options["permutations"] == 30 and options["seed"] == 3 and options["cv"] == 3
    assert options["root"] == str(nsd_sample) and options["roi"] == "FFA-1,PPA"
    assert "quiet" not in options and "config" not in options


def test_a_rerun_from_run_json_reproduces_the_scores(fitted, tmp_path):
    again = tmp_path / "again"
    assert main(["fit", "--config", str(fitted / "run.json"), "--out", str(again), "-q"]) == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(again / "scores.parquet"), pd.read_parquet(fitted / "scores.parquet")
    )


def test_a_toml_config_equals_the_same_flags(fitted, nsd_sample, tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text(
        "[fit]\n"
        f'dataset = "nsd"\nroot = "{nsd_sample}"\nsubject = 1\nmodel = "{MODEL}"\n'
        'layer = "layer6"\nroi = ["FFA-1", "PPA"]\ncv = 3\npermutations = 10\nseed = 3\n'
    )
    out = tmp_path / "toml"
    # the command line wins over the file: 30 permutations as in the fixture
    argv = ["fit", "--config", str(toml), "--permutations", "30", "--out", str(out), "-q"]
    assert main(argv) == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "scores.parquet"), pd.read_parquet(fitted / "scores.parquet")
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[fit]\nlayers = "x"\n', "'layers'"),
        ("not toml = = 1\n", "not valid"),
    ],
)
def test_bad_configs_exit_2_naming_the_problem(tmp_path, capsys, content, message):
    toml = tmp_path / "bad.toml"
    toml.write_text(content)
    assert main(["fit", "--config", str(toml), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--config" in err and message in err and len(err.strip().splitlines()) == 1


def test_a_run_record_of_another_verb_is_refused(fitted, tmp_path, capsys):
    argv = ["decode", "--config", str(fitted / "run.json"), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "records a 'brainalign fit' run" in capsys.readouterr().err


def test_the_command_line_wins_even_abbreviated(tmp_path):
    from brainalign.cli import build_parser
    from brainalign.cli._config import expand_config

    toml = tmp_path / "run.toml"
    toml.write_text('[fit]\npermutations = 7\nseed = 5\nlayer = "layer2"\n')
    parser = build_parser()
    argv = ["fit", "--config", str(toml), "--perm", "100", "--dataset", "nsd", "--root", "r"]
    argv += ["--subject", "1", "--model", "m", "--out", "o"]
    args = parser.parse_args(expand_config(parser, argv))
    assert (args.permutations, args.seed, args.layer) == (100, 5, "layer2")
