r"""Caption what the ROIs (and best voxels) of a fit run are selective for, with scores.

fit run -> the encoding model's preferred direction per ROI or voxel -> LaVCa-style
(keywords of the captions of the bank images predicted to drive the unit most,
composed into a sentence) or BrainSCUBA-style (the direction projected onto the
bank's image embeddings and captioned by the nearest bank caption) -> each caption
scored on the held-out images (LaVCa's sentence-level Spearman score, and the
predicted activation when the features are an open_clip embedding) beside a
shuffled-caption baseline: the mean score on the unit of a fixed, seeded pool of
random captions of the training images (the same for every unit, whichever units
are captioned). p is the permutation p-value of score - baseline (the unit's
responses permuted over the test images); a caption is informative when p < 0.05.
Best voxels (--voxels) are picked on training data (the run's inner-CV R²).
The default bank is the dataset's training images.
Writes RUN/captions.parquet and RUN/top_images/<roi>/<rank>_<id>.png.

example:
  brainalign caption run_fit --rois FFA-1,PPA,V1v --method lavca
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    """Add this verb's arguments."""
    parser.add_argument("run_dir", metavar="RUN", help="fit run directory")
    parser.add_argument(
        "--bank", default=None, metavar="DIR", help="embedding bank folder (default: train images)"
    )
    parser.add_argument("--method", default="lavca", choices=["lavca", "brainscuba"])
    parser.add_argument(
        "--rois", default=None, help="comma-separated ROIs (default: every ROI but nsdgeneral)"
    )
    parser.add_argument("--top-n", type=int, default=50, help="top images per unit")
    parser.add_argument("--voxels", type=int, default=0, help="best voxels captioned too")
    parser.add_argument("--keywords", type=int, default=3, help="keywords per caption")
    parser.add_argument(
        "--keyword-method", default="enrichment", choices=["enrichment", "tfidf", "frequency"]
    )
    parser.add_argument("--template", default="images of {keywords}", help="sentence template")
    parser.add_argument(
        "--text-model",
        default=None,
        metavar="SPEC",
        help="sentence model for the score (e.g. hf:DIR; default: TF-IDF bag of words)",
    )
    parser.add_argument("--tau", type=float, default=150.0, help="BrainSCUBA softmax tau")
    parser.add_argument("--roi-method", default="mean", choices=["mean", "pca"])
    parser.add_argument("--no-thumbnails", action="store_true", help="skip RUN/top_images")
    parser.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="folder of captions.parquet and top_images/ (default: the fit run RUN)",
    )
    parser.add_argument(
        "--pool", type=int, default=100, help="captions in the shuffled-baseline pool"
    )
    parser.add_argument(
        "--permutations", type=int, default=1000, help="test-image permutations behind p"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the baseline pool and permutations"
    )
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, mps")


def run(args) -> int:
    """Caption the run and print one line per unit."""
    from brainalign.captions._evaluate import INFORMATIVE_P
    from brainalign.runs import caption_run

    table = caption_run(
        args.run_dir,
        bank=args.bank,
        method=args.method,
        rois=None if args.rois is None else args.rois.split(","),
        top_n=args.top_n,
        n_voxels=args.voxels,
        n_keywords=args.keywords,
        keyword_method=args.keyword_method,
        template=args.template,
        text_model=args.text_model,
        tau=args.tau,
        roi_method=args.roi_method,
        thumbnails=not args.no_thumbnails,
        out=args.out,
        n_shuffles=args.pool,
        n_permutations=args.permutations,
        seed=args.seed,
        device=args.device,
        progress=not args.quiet,
    )
    for row in table.itertuples():
        verdict = "informative" if row.p_value < INFORMATIVE_P else "not informative"
        print(
            f"{row.unit}: {row.caption!r} (score {row.score:.3f}, "
            f"shuffled {row.shuffled_score:.3f}, p {row.p_value:.3f}: {verdict})"
        )
    print(f"captions: {args.out or args.run_dir}/captions.parquet")
    return 0
