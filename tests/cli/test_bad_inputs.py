"""Bad inputs on every verb: the right exit code, one clear line, nothing left behind.

Each case runs the command line on the sample (or on a small fixture) and asserts the
exit status, that stderr is exactly one line holding the expected words, that no
traceback is printed, and that the output location gained no file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest

from brainalign.cli import main

MODEL = "torch:brainalign.data.sample:SampleNet@0"


@pytest.fixture(scope="module")
def places(nsd_sample, tmp_path_factory):
    """Write the inputs the cases point at: a file, foreign and finished runs, a config.

    The model libraries are imported first: the cases time how fast a bad input is
    refused, not how long ``import open_clip`` takes on a cold start.
    """
    import open_clip  # noqa: F401

    base = tmp_path_factory.mktemp("bad-inputs")
    a_file = base / "a_file.txt"
    a_file.write_text("not a run\n")
    foreign = base / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("my notes\n")
    layer6 = base / "layer6_run"  # a finished fit run of layer6 (its record is enough here)
    _write_record(layer6, "fit", _fit_parameters(nsd_sample, layer="layer6"))
    eeg = base / "eeg_run"  # a time-resolved run: scores with channel and time
    _write_record(eeg, "fit", _fit_parameters(nsd_sample, dataset="things-eeg2"))
    pd.DataFrame({"target": [0], "channel": ["Oz"], "time": [0.1], "r": [0.2]}).to_parquet(
        eeg / "scores.parquet"
    )
    align = base / "align_run"  # a finished align run's record (and a space file)
    _write_record(align, "align", _align_parameters(nsd_sample))
    (align / "shared_space.npz").write_bytes(b"")
    bad_toml = base / "bad.toml"
    bad_toml.write_text("this is = = not toml\n")
    found = {"root": nsd_sample, "file": a_file, "foreign": foreign, "layer6": layer6}
    found["align"] = align
    return {k: str(v) for k, v in {**found, "eeg": eeg, "bad_toml": bad_toml}.items()}


def _fit_parameters(root, layer="layer6", dataset="nsd") -> dict:
    from brainalign.runs import RunSpec

    spec = RunSpec(dataset=dataset, root=str(root), subject=1, model=MODEL, layer=layer)
    return spec.to_json()


def _align_parameters(root) -> dict:
    from brainalign.runs import AlignSpec

    return AlignSpec(dataset="nsd", root=str(root), subjects="1,2,3", model=MODEL).to_json()


def _write_record(path, command, parameters) -> None:
    from brainalign.runs import RunDir

    RunDir(path).path.mkdir(parents=True)
    RunDir(path).record.write({"command": command, "parameters": parameters})


#: Command-line prefixes; ``{root}``, ``{out}`` and the places' names are filled in.
PREFIX = {
    "FIT": "fit --dataset nsd --root {root} --subject 1 --model MODEL --out {out} -q",
    "SWEEP": "compare --dataset nsd --root {root} --models MODEL --out {out} -q",
    "DECODE": "decode --dataset nsd --root {root} --subject 1 --model MODEL --layer layer6 "
    "--out {out} -q",
    "ALIGN": "align --dataset nsd --root {root} --model MODEL --layer layer6 --out {out} -q",
}
_CLIP_WEIGHTS = "open_clip:ViT-B-32@laion2b_s34b_b79k"

# (id, command line, exit code, words that the one stderr line must hold)
CASES = [
    ("unknown-verb", "frobnicate", 2, "invalid choice"),
    ("unknown-dataset", "info --dataset nds --root .", 2, "'nds'"),
    ("missing-root", "info --dataset nsd", 2, "--root"),
    ("root-not-found", "info --dataset nsd --root /no/such", 1, "/no/such"),
    ("info-subject", "info --dataset nsd --root {root} --subject 4", 1, "subjects"),
    ("fit-subject", "FIT --layer layer4 --subject 3", 2, "subject 3"),
    ("fit-subject-zero", "FIT --layer layer4 --subject 0", 2, "subject"),
    ("fit-subject-text", "FIT --layer layer4 --subject one", 2, "--subject"),
    ("fit-roi", "FIT --layer layer4 --roi FFA-3", 2, "did you mean 'FFA-2'"),
    ("fit-roi-typo", "FIT --layer layer4 --roi floc-fcaes", 2, "floc-faces"),
    ("fit-layer", "FIT --layer layr6", 2, "layer6"),
    ("fit-combined-layer", "FIT --layer layer2+layr4", 2, "layr4"),
    ("fit-model-family", "FIT --layer layer4 --model nosuch:thing", 2, "nosuch"),
    ("fit-model-module", "FIT --layer x --model torch:no.such.module:Net", 2, "no.such.module"),
    ("fit-clip-arch", "FIT --layer x --model open_clip:ViT-B-3@random", 2, "ViT-B-3"),
    ("fit-clip-weights", f"FIT --layer x --model {_CLIP_WEIGHTS}", 1, "laion2b_s34b_b79k"),
    ("fit-cv", "FIT --layer layer4 --cv 1", 2, "'cv'"),
    ("fit-permutations", "FIT --layer layer4 --permutations 0", 2, "permutations"),
    ("fit-pooling-k", "FIT --layer layer4 --pooling pca:0", 2, "pooling"),
    ("fit-pooling", "FIT --layer layer4 --pooling bogus", 2, "pooling"),
    ("fit-device", "FIT --layer layer4 --device tpu", 2, "device"),
    ("fit-backend", "FIT --layer layer4 --backend tpu", 2, "--backend"),
    ("fit-seed", "FIT --layer layer4 --seed x", 2, "--seed"),
    ("fit-out-file", "FIT --layer layer4 --out {file}", 2, "is a file"),
    ("fit-out-foreign", "FIT --layer layer4 --out {foreign}", 2, "notes.txt"),
    ("fit-out-other-run", "FIT --layer layer4 --out {layer6}", 2, "'layer6' there, 'layer4' here"),
    ("fit-dataset-root", "FIT --layer layer4 --root /no/such", 1, "/no/such"),
    ("compare-layers", "SWEEP --subjects 1,2 --layers layer2,layr4,layr5", 2, "layr5"),
    ("compare-subjects", "SWEEP --subjects 1,3 --layers layer2", 2, "subject 3"),
    ("compare-all-bad", "SWEEP --subjects 1,3 --layers layr4 --roi FFA-9", 2, "FFA-9"),
    ("compare-workers", "SWEEP --subjects 1 --layers layer2 --workers -1", 2, "workers"),
    ("compare-rsa", "SWEEP --subjects 1 --layers layer2 --rsa bogus", 2, "--rsa"),
    ("compare-out-file", "SWEEP --subjects 1 --layers layer2 --out {file}", 2, "is a file"),
    ("compare-out-fit-run", "SWEEP --subjects 1 --layers layer2 --out {layer6}", 2, "different"),
    ("decode-rois", "DECODE --rois FFA-3,PPA", 2, "FFA-3"),
    ("decode-target", "DECODE --target sound", 2, "--target"),
    ("decode-captions", "DECODE --captions 0", 2, "captions"),
    ("decode-out-other-run", "DECODE --out {layer6}", 2, "different run"),
    ("decode-shared-space", "DECODE --shared-space {foreign}", 2, "finished align run"),
    ("fit-shared-space-fit-run", "FIT --layer layer4 --shared-space {layer6}", 2, "align run"),
    ("align-two-subjects", "ALIGN --subjects 1,2", 2, "at least 3 different subjects"),
    ("align-subjects", "ALIGN --subjects 1,2,3", 2, "subject 3"),
    ("align-layer", "ALIGN --subjects 1,2,3 --layer layr6", 2, "layr6"),
    ("fit-shared-space-roi", "FIT --layer layer4 --roi FFA-1 --shared-space {align}", 2, "roi"),
    ("align-method", "ALIGN --subjects 1,2,3 --method cca", 2, "--method"),
    ("align-components", "ALIGN --subjects 1,2,3 --n-components 0", 2, "n_components"),
    ("align-adapt", "ALIGN --subjects 1,2,3 --adapt 1,10", 2, "'adapt'"),
    ("caption-missing-run", "caption {out} -q", 2, "run"),
    ("caption-not-a-run", "caption {foreign} -q", 2, "run.json"),
    ("caption-eeg-run", "caption {eeg} -q", 2, "time-resolved"),
    ("caption-method", "caption {layer6} --method magic", 2, "--method"),
    ("report-missing", "report {out}", 1, "out"),
    ("report-file", "report {file}", 1, "a_file.txt"),
    (
        "extract-layer",
        "extract --model MODEL --layers layr4 --dataset nsd --root {root} --out {out}",
        2,
        "layr4",
    ),  # fmt: skip
    ("sample-dataset", "sample nds --out {out}", 2, "invalid choice"),
    ("config-missing", "fit --config {out}/none.toml", 2, "none.toml"),
    ("config-bad", "fit --config {bad_toml}", 2, "bad.toml"),
]


def command_line(line: str, places: dict) -> list[str]:
    """Expand a case's prefix and placeholders into argv (later options win)."""
    verb, _, rest = line.partition(" ")
    line = f"{PREFIX[verb]} {rest}" if verb in PREFIX else line
    argv = [a.replace("MODEL", MODEL) if a == "MODEL" else a for a in line.split()]
    argv = [a.format(**places) for a in argv]
    return _last_wins(argv)


def _last_wins(argv: list[str]) -> list[str]:
    """Drop an option given twice except its last value (``--layer`` after the prefix)."""
    seen, keep = set(), []
    pairs = list(enumerate(argv))
    for i, a in reversed(pairs):
        value_of = i > 0 and argv[i - 1].startswith("--") and not a.startswith("-")
        option = argv[i - 1] if value_of else a
        if option.startswith("--") and option in seen and option not in ("--config",):
            continue
        if not value_of and a.startswith("--"):
            seen.add(a)
        keep.append(a)
    return keep[::-1]


def _tree(path) -> dict:
    return {p: p.stat().st_mtime_ns for p in path.rglob("*")} if path.exists() else {}


@pytest.mark.parametrize(
    ("line", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_fails_in_one_line_and_leaves_nothing(
    places, tmp_path, capsys, line, code, words
):
    named = {**places, "out": str(tmp_path / "out")}
    watched = [tmp_path, *(places[k] for k in ("foreign", "layer6", "eeg"))]
    before = [_tree(Path(w)) for w in watched]
    started = time.perf_counter()
    assert main(command_line(line, named)) == code
    seconds = time.perf_counter() - started
    err = capsys.readouterr().err.strip()
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert words in lines[0]
    assert [_tree(Path(w)) for w in watched] == before  # nothing written, nothing changed
    assert seconds < 5 or os.environ.get("BRAINALIGN_SLOW_MACHINE"), f"took {seconds:.1f} s"


def test_the_matrix_covers_every_verb_with_forty_cases():
    verbs = {PREFIX.get(c[1].split()[0], c[1]).split()[0] for c in CASES}
    every = {"info", "fit", "compare", "decode", "caption", "report", "extract", "sample", "align"}
    assert every <= verbs
    assert len(CASES) >= 40


def test_warnings_are_one_line_each_and_quiet_silences_them():
    import subprocess
    import sys

    code = (
        "import warnings\n"
        "from brainalign.cli import warning_lines\n"
        "with warning_lines(quiet={quiet}, verbose={verbose}):\n"
        "    warnings.warn('several\\n   lines')\n"
    )
    shown = {}
    for quiet, verbose in ((False, False), (True, False), (False, True)):
        run = subprocess.run(
            [sys.executable, "-c", code.format(quiet=quiet, verbose=verbose)],
            capture_output=True,
            text=True,
            check=True,
        )
        shown[quiet, verbose] = run.stderr
    assert shown[False, False] == "brainalign: warning: several lines\n"
    assert shown[True, False] == ""
    assert "UserWarning: several" in shown[False, True] and "<string>:4" in shown[False, True]
