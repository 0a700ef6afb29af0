r"""Run the whole pipeline on the embedded sample, on CPU in minutes.

sample nsd -> fit (subject 1, SampleNet layer6) -> compare (2 subjects x layers
2/4/6, with RSA, on 2 local Dask workers) -> caption (the fit's ROIs) -> decode
(subject 1, per ROI) -> report (of the fit and of the sweep). Each step is the
verb of the same name, so the printed commands can be rerun one by one; a second
`brainalign demo` reuses the sample and the finished sweep tasks.

example:
  brainalign demo --out demo_output
"""

from __future__ import annotations

from pathlib import Path

MODEL = "torch:brainalign.data.sample:SampleNet@0"


def add_arguments(parser) -> None:
    """Add this verb's arguments."""
    parser.add_argument("--out", default="demo_output", metavar="DIR", help="output folder")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers for the sweep")
    parser.add_argument("--seed", type=int, default=0, help="sample and model seed")


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


def run(args) -> int:
    """Run each step through the command line; stop at the first failure."""
    import shlex

    from brainalign.cli import main

    extra = ["-q"] if args.quiet else ["-v"] if args.verbose else []
    for argv in steps(Path(args.out), args.workers, args.seed):
        print(f"$ brainalign {shlex.join(argv)}", flush=True)
        status = main([*argv, *extra])
        if status:
            print(f"demo stopped: 'brainalign {argv[0]}' exited {status}")
            return status
    print(f"open {Path(args.out) / 'run_fit' / 'report.html'} in a browser")
    return 0
