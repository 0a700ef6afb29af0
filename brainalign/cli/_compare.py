r"""Compare models and layers to brain regions: a resumable sweep on Dask.

Every (subject, model, layer) encoding fit is one task; features are extracted once
per model and shared by all subjects. Tasks run one after the other (--workers 0),
on a local Dask cluster (--workers N) or on a running scheduler (--scheduler
tcp://host:8786, e.g. one started by dask-jobqueue on SLURM). Each task writes a
complete fit run under RUN/tasks/ (run.json last); rerunning the same command skips
finished tasks, and a failed task is recorded in RUN/sweep.json without stopping the
others. Writes RUN/roi_scores.parquet and RUN/scores.parquet (all tasks),
RUN/best_layers.parquet, best-layer maps in RUN/maps/, and the layer profiles and
model x ROI heatmap in RUN/figures/. With --rsa, each layer's RDM is compared with
each ROI's RDM on the test images (RUN/rsa.parquet, with the noise ceiling across
subjects and, with --bootstraps N, confidence intervals over stimuli).

example:
  brainalign compare --dataset nsd --root sample_nsd --subjects 1,2 \
      --models torch:brainalign.data.sample:SampleNet@0 --layers layer2,layer4,layer6 \
      --workers 2 --out run_compare
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    """Add this verb's arguments."""
    from brainalign.cli._common import add_model_options

    parser.add_argument("--dataset", required=True, help="dataset name (e.g. nsd)")
    parser.add_argument("--root", required=True, metavar="DIR", help="dataset folder")
    parser.add_argument("--subjects", required=True, help="comma-separated subject numbers")
    parser.add_argument("--models", required=True, metavar="SPECS", help="comma-separated specs")
    parser.add_argument("--layers", required=True, help="comma-separated layers (of every model)")
    parser.add_argument("--out", required=True, metavar="RUN", help="run directory")
    parser.add_argument(
        "--roi", default="nsdgeneral", help="comma-separated ROIs to fit (default: nsdgeneral)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=int, default=0, help="local Dask workers (0: run in this process)"
    )
    where.add_argument("--scheduler", metavar="ADDR", help="address of a running Dask scheduler")
    parser.add_argument(
        "--rsa",
        metavar="DISTANCE",
        choices=["correlation", "euclidean", "sqeuclidean"],
        help="also compare layer and ROI RDMs on the test images (writes RUN/rsa.parquet)",
    )
    parser.add_argument("--rsa-comparison", default="spearman", help="RDM comparison")
    parser.add_argument(
        "--bootstraps", type=int, default=0, help="bootstrap samples for RSA intervals"
    )
    add_model_options(parser, permutations=200)


def run(args) -> int:
    """Run (or resume) the sweep and print the best layer per ROI."""
    from brainalign.compare import best_layers, run_sweep

    result = run_sweep(
        args.dataset,
        args.root,
        _subjects(args.subjects),
        args.models.split(","),
        args.layers.split(","),
        args.out,
        roi=args.roi.split(","),
        pooling=args.pooling,
        cv=args.cv,
        n_permutations=args.permutations,
        rsa=args.rsa,
        rsa_comparison=args.rsa_comparison,
        n_bootstraps=args.bootstraps,
        workers=args.workers,
        scheduler=args.scheduler,
        device=args.device,
        backend=args.backend,
        seed=args.seed,
        progress=not args.quiet,
    )
    if len(result["roi_scores"]):
        best = best_layers(result["roi_scores"])
        best["model"] = best["model"].str.split("@").str[0]
        print(best.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for name, error in result["failed"].items():
        print(f"failed: {name}: {error}")
    print(f"run directory: {args.out}")
    return 1 if result["failed"] else 0


def _subjects(text: str) -> list[int]:
    from brainalign.exceptions import ParameterError

    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise ParameterError(
            f"Invalid value for '--subjects': expected comma-separated numbers; got {text!r}."
        ) from None
