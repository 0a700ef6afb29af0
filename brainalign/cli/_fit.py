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

--encoder attention fits a transformer brain encoder instead of the ridge: one learned
query per ROI label cross-attends over the layer's patch tokens (pooling tokens) and a
linear head maps it to that ROI's targets (refitted by cross-validated ridge). Same
scores and maps, plus RUN/attention.parquet (peak of each ROI's mean attention map),
RUN/attention/*.npz (the maps of every held-out stimulus) and RUN/figures/attention_*.png.

example:
  brainalign fit --dataset nsd --root sample_nsd --subject 1 \
      --model torch:brainalign.data.sample:SampleNet@0 --layer layer6 --out run_fit
  brainalign fit --dataset things-eeg2 --root sample_eeg --subject 1 \
      --model torch:brainalign.data.sample:SampleNet@0 --layer layer6 --out run_eeg
  brainalign fit --dataset nsd-fsaverage --root sample_nsd --subject 1 \
      --model torch:brainalign.data.sample:SampleNet@0 --layer layer6 --out run_surf
  brainalign fit --dataset nsd --root sample_spatial --subject 1 \
      --model torch:brainalign.data.sample:SamplePatchNet@0 --layer block \
      --roi prf-visualrois,floc-faces --encoder attention --out run_attention
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    """Add this verb's arguments (those of :class:`brainalign.runs.RunSpec`)."""
    from brainalign.runs import RunSpec

    RunSpec.add_arguments(parser, permutations=1000)
    RunSpec.add_encoder_arguments(parser)
    from brainalign.cli import add_out_argument

    add_out_argument(parser)


def run(args) -> int:
    """Fit, write the run directory (with its figures) and print the ROI summary."""
    from brainalign.runs import RunSpec, run_fit

    result = run_fit(
        RunSpec.from_args(args), args.out, progress=not args.quiet, overwrite=args.overwrite
    )
    rois = result["roi_scores"]
    columns = ["roi", "n_targets", "mean_r", "mean_r_low", "mean_r_high", "mean_ncr2"]
    columns += ["n_ncr2", "frac_significant"]
    print(
        rois[[c for c in columns if c in rois]].to_string(
            index=False, float_format=lambda v: f"{v:.3f}"
        )
    )
    print(
        "mean_r: mean held-out r of the ROI's targets, mean_r_low/high its 95 % bootstrap "
        "interval over test images; mean_ncr2: mean ncR² (%) over the n_ncr2 targets whose "
        "noise ceiling is high enough to normalise by; frac_significant: share of targets "
        "with FDR-corrected permutation p < 0.05."
    )
    for extra in result["extra_scores"]:  # the dataset's own metric (algonauts2023)
        print(extra.text)
    print(f"run directory: {args.out}")
    return 0
