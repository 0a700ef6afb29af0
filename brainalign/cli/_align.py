r"""Fit a shared space over subjects and measure what it is worth.

The stimuli every subject saw are split once: --n-align of them fit the space (SRM,
probabilistic SRM, hyperalignment or ridge maps; voxel counts may differ), the rest
are held out from everything. Each subject is held out in turn: the space and a
shared-space encoder and decoder are fitted on the others, the held-out subject is
adapted with m alignment stimuli (--adapt), and its held-out r and identification are
set beside its own within-subject encoder and decoder. Subject-to-subject ridge maps
give a ceiling. Writes RUN/shared_space.npz (for fit/decode --shared-space RUN),
RUN/learning_curve.parquet, RUN/identification.parquet,
RUN/subject_predictivity.parquet, RUN/split.parquet and RUN/figures/.

example:
  brainalign sample nsd-alignment --out sample_align
  brainalign align --dataset nsd --root sample_align --subjects 1,2,3,4 --method srm \
      --n-components 37 --model torch:brainalign.data.sample:SampleNet@0 \
      --layer layer2+layer4+layer6 --out run_align
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    """Add this verb's arguments (those of :class:`brainalign.runs.AlignSpec`)."""
    from brainalign.cli import add_out_argument
    from brainalign.runs import AlignSpec

    AlignSpec.add_arguments(parser)
    add_out_argument(parser)


def run(args) -> int:
    """Run the alignment and print the learning curve and identification summary."""
    from brainalign.runs import AlignSpec, run_align

    result = run_align(
        AlignSpec.from_args(args), args.out, progress=not args.quiet, overwrite=args.overwrite
    )
    curve = result["learning_curve"]
    whole = curve[curve["roi"] == "all targets"]
    table = whole.pivot(index="n_adapt", columns="held_out", values="ratio")
    print("held-out mean r through the shared space / with the subject's own encoder:")
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    ident = result["identification"]
    top1 = ident[ident["metric"] == "top1"]
    last = top1[top1["n_adapt"].isna() | (top1["n_adapt"] == top1["n_adapt"].max())]
    shown = last.pivot(index="held_out", columns="decoder", values="value")
    chance = float(top1["chance"].mean())
    print(f"top-1 identification of held-out stimuli (chance {chance:.3f}):")
    print(shown.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"run directory: {args.out}")
    return 0
