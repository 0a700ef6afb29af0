r"""Fit one subject's encoding model for one layer and write the run directory.

dataset -> features (cached in RUN/features) -> ridge with per-voxel alphas on the
training images -> scores on the held-out images (NSD: shared1000): r, R2,
noise-ceiling-normalised R2, permutation p values with FDR. Writes RUN/scores.parquet,
RUN/roi_scores.parquet, RUN/maps/*.nii.gz, RUN/figures/*.png (slices and glass
brain), the weights (.npz) and RUN/run.json.

EEG datasets with stimulus images (things-eeg2) fit every channel at every time point: the
scores gain channel and time columns, the split-half noise ceiling comes from the
repetitions, and RUN/figures holds topomaps at the peak latencies and r(t) per
channel instead of brain maps.

Surface datasets (nsd-fsaverage, nsd-nativesurface, algonauts2023) fit every vertex: the
scores gain hemi and vertex columns, RUN/maps holds one .mgh per statistic and
hemisphere (*_hemi-L_stat-r.mgh), and RUN/figures the maps drawn on the data's meshes
(or nilearn's fsaverage5 when the vertex counts match).

example:
  brainalign fit --dataset nsd --root sample_nsd --subject 1 \
      --model torch:brainalign.data.sample:SampleNet@0 --layer layer6 --out run_fit
  brainalign fit --dataset things-eeg2 --root sample_eeg --subject 1 \
      --model torch:brainalign.data.sample:SampleNet@0 --layer layer6 --out run_eeg
  brainalign fit --dataset nsd-fsaverage --root sample_nsd --subject 1 \
      --model torch:brainalign.data.sample:SampleNet@0 --layer layer6 --out run_surf
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    """Add this verb's arguments."""
    from brainalign.cli._common import add_model_options, add_subject_options

    add_subject_options(parser)
    parser.add_argument(
        "--roi",
        default="auto",
        help="comma-separated ROI (fMRI) or channel (EEG) names to fit (default: auto = "
        "nsdgeneral for fMRI, every channel for EEG)",
    )
    parser.add_argument("--out", required=True, metavar="RUN", help="run directory")
    add_model_options(parser, permutations=1000)


def run(args) -> int:
    """Fit, write the run directory and print the ROI summary."""
    from brainalign.encoding import fit_subject
    from brainalign.maps import plot_run_maps, plot_run_surface_maps, plot_run_topomaps

    result = fit_subject(
        args.dataset,
        args.root,
        args.subject,
        args.model,
        args.out,
        layer=args.layer,
        roi=args.roi if args.roi == "auto" else args.roi.split(","),
        pooling=args.pooling,
        cv=args.cv,
        n_permutations=args.permutations,
        device=args.device,
        backend=args.backend,
        seed=args.seed,
        progress=not args.quiet,
    )
    if "channel" in result["scores"]:  # EEG: channels x times
        plot_run_topomaps(args.out)
    else:  # volume maps as slices; surface maps (and volume maps projected) on meshes
        if "vertex" not in result["scores"]:
            plot_run_maps(args.out)
        plot_run_surface_maps(args.out)
    rois = result["roi_scores"]
    print(
        rois[["roi", "n_targets", "mean_r", "mean_ncr2", "frac_significant"]].to_string(
            index=False, float_format=lambda v: f"{v:.3f}"
        )
    )
    if "challenge_scores" in result:  # algonauts2023: the challenge's metric
        from brainalign.encoding._challenge import challenge_summary

        print(challenge_summary(result["challenge_scores"]))
    print(f"run directory: {args.out}")
    return 0
