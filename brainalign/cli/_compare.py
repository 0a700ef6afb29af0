r"""Compare models and layers to brain regions: a resumable sweep on Dask.

Every (subject, model, layer) encoding fit is one task; features are extracted once
per model and shared by all subjects. Tasks run one after the other (--workers 0),
on a local Dask cluster (--workers N) or on a running scheduler (--scheduler
tcp://host:8786, e.g. one started by dask-jobqueue on SLURM). Each task writes a
complete fit run under RUN/tasks/ (run.json last); rerunning the same command skips
finished tasks, and a failed task is recorded in RUN/sweep.json without stopping the
others. Writes RUN/roi_scores.parquet and RUN/scores.parquet (all tasks),
RUN/best_layers.parquet (each ROI's layer chosen on the inner cross-validated score of
the training images, with its test score, bootstrap interval and how often it wins on
resampled test images; RUN/layer_selection.parquet), best-layer maps in RUN/maps/
(chosen the same way per voxel), and the layer profiles and
model x ROI heatmap in RUN/figures/. With --rsa, each layer's RDM is compared with
each ROI's RDM on the test images (RUN/rsa.parquet, with the noise ceiling across
subjects and, with --bootstraps N, confidence intervals over stimuli), and on a
subsample of training images (value_train, on which best RSA layers are chosen).
With --measures pls,cca,trsa,... each task also scores those measures between its
layer and each ROI (fitted ones on the training images; all on the test images, with
a permutation p from --permutations shuffles) into RUN/measures.parquet.
With --encoder attention every task is an attention encoder over the layer's patch
tokens (see `brainalign fit --help`); compare a task with the ridge task of another
sweep ROI by ROI with brainalign.runs.compare_encoders.

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
    from brainalign.cli import add_out_argument

    add_out_argument(parser)


def run(args) -> int:
    """Run (or resume) the sweep and print the best layer per ROI."""
    from brainalign.runs import RunDir, SweepSpec, sweep

    result = sweep(
        SweepSpec.from_args(args), args.out, progress=not args.quiet, overwrite=args.overwrite
    )
    best = RunDir(args.out).read_table("best_layers") if len(result["roi_scores"]) else None
    if best is not None and len(best):
        _print_best(best)
    for name, error in result["failed"].items():
        print(f"failed: {name}: {error}")
    print(f"run directory: {args.out}")
    return 1 if result["failed"] else 0


def _print_best(best) -> None:
    """Print the chosen layers: how they were chosen, their test r and its interval."""
    shown = {
        "subject": "subject",
        "model": "model",
        "roi": "roi",
        "best_layer": "best_layer",
        "best_mean_r": "test_mean_r",
        "best_mean_r_low": "ci_low",
        "best_mean_r_high": "ci_high",
        "selection_frequency": "times_best",
        "best_model": "best_model",
    }
    table = best[[c for c in shown if c in best]].rename(columns=shown)
    from brainalign.features import model_label

    table["model"] = table["model"].astype(str).map(model_label)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    on = str(best["selected_on"].iloc[0]) if "selected_on" in best else "test (optimistic)"
    print(
        f"best layers chosen on: {on}; test_mean_r is the chosen layer's held-out mean r, "
        "ci_low/ci_high its 95 % bootstrap interval over test images, times_best the share "
        "of test resamples in which that layer scores highest (near 1: a stable choice)."
    )
