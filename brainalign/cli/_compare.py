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
    """Add this verb's arguments (those of :class:`brainalign.runs.SweepSpec`)."""
    from brainalign.runs import SweepSpec

    SweepSpec.add_arguments(parser)
    parser.add_argument("--out", required=True, metavar="RUN", help="run directory")


def run(args) -> int:
    """Run (or resume) the sweep and print the best layer per ROI."""
    from brainalign.compare import best_layers
    from brainalign.runs import SweepSpec, sweep

    result = sweep(SweepSpec.from_args(args), args.out, progress=not args.quiet)
    if len(result["roi_scores"]):
        best = best_layers(result["roi_scores"])
        best["model"] = best["model"].str.split("@").str[0]
        print(best.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for name, error in result["failed"].items():
        print(f"failed: {name}: {error}")
    print(f"run directory: {args.out}")
    return 1 if result["failed"] else 0
