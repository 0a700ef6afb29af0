r"""Make or choose images predicted to drive the ROIs of a fit run (BrainDiVE-style).

fit run -> its encoder (weights, ROI masks, feature extractor) -> per ROI:
  bank       the bank images the encoder ranks highest (default bank: the training
             images; --bank DIR: any embedding bank in the run's feature space);
  ascent     gradient ascent in image space through the extractor and the encoder
             (Fourier parameterisation, decorrelated colours, random views);
  diffusion  a local diffusers pipeline (--pipeline DIR, e.g. Stable Diffusion 2.1)
             steered at every step by the encoder's gradient on the clean-image
             estimate (GPU recommended).
Every image is scored as a natural image is: z = predicted activation in SDs above
the bank's mean; selectivity = z of the target minus the mean z of the ROIs that
share no voxel with it; compared with the best bank image and with the same seeds
unoptimised (ascent), unguided (diffusion) or random bank images (bank).
Writes OUT/images/<roi>/, OUT/synthesis.parquet, OUT/synthesis_scores.parquet,
OUT/figures/ and OUT/run.json; `brainalign report OUT` draws the grids.

example:
  brainalign synthesize run_fit --roi FFA-1,PPA --method ascent --n 16 --out run_synth
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    """Add this verb's arguments."""
    from brainalign.runs import SynthesisSpec

    SynthesisSpec.add_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="synthesis run directory")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace another run that --out holds"
    )


def run(args) -> int:
    """Synthesise and print one line per ROI."""
    from brainalign.runs import SynthesisSpec, synthesize

    spec = SynthesisSpec.from_args(args)
    result = synthesize(spec, args.out, progress=not args.quiet, overwrite=args.overwrite)
    for roi, s in result["record"]["summary"].items():
        print(
            f"{roi}: median z {s['median_z']:.2f} (baseline {s['median_baseline_z']:.2f}, "
            f"best bank image {s['bank_best_z']:.2f}; {100 * s['frac_above_bank']:.0f} % "
            f"above it), selectivity {s['median_selectivity']:.2f}"
        )
    print(f"synthesis run: {args.out} (synthesis.parquet, images/, figures/)")
    return 0
