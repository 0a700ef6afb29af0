r"""Extract layer features of a model for a dataset's stimuli into the feature cache.

Features are pooled per layer and cached under --out, keyed by model, weights, layer,
pooling, preprocessing and stimulus set; a rerun reuses finished layers and resumes
an interrupted extraction from its finished batches. Reductions (pca:<k>, srp:<k>)
are fitted on the training images only (NSD: all but the shared1000).

example:
  brainalign extract --model open_clip:ViT-B-32@random --layers visual.ln_post,embedding \
      --dataset nsd --root sample_nsd --subject 1 --out features
  brainalign extract --model torch:brainalign.data.sample:SampleNet@0 --list-layers
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    """Add this verb's arguments."""
    parser.add_argument(
        "--model", required=True, metavar="SPEC", help="model spec, e.g. open_clip:ViT-B-32@random"
    )
    parser.add_argument(
        "--list-layers", action="store_true", help="print the model's extractable layers and exit"
    )
    parser.add_argument(
        "--layers", default="embedding", help="comma-separated layer names (default: embedding)"
    )
    parser.add_argument("--dataset", help="dataset name (e.g. nsd)")
    parser.add_argument("--root", metavar="DIR", help="dataset folder")
    parser.add_argument("--subject", type=int, default=1, help="subject whose images to use")
    parser.add_argument("--out", metavar="DIR", help="feature cache folder")
    parser.add_argument(
        "--pooling", default="auto", help="auto, cls, mean, spatial, flatten, pca:<k>, srp:<k>"
    )
    parser.add_argument(
        "--preprocess",
        default=None,
        metavar="OVERRIDE",
        help="override fields of the model's image preprocessing (e.g. unit, crop_pct=1)",
    )
    parser.add_argument("--tower", default="auto", choices=["auto", "image", "text"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    parser.add_argument("--dtype", choices=["bf16", "fp16"], help="autocast on CUDA")
    parser.add_argument("--workers", type=int, default=0, help="image-reading workers")
    parser.add_argument("--seed", type=int, default=0, help="seed of @random weights")


def run(args) -> int:
    """List layers, or extract and print one line per layer."""
    from brainalign.data import get_dataset
    from brainalign.exceptions import ParameterError
    from brainalign.features import ModelSpec, Pooling, get_extractor

    spec, pooling = ModelSpec.parse(args.model), Pooling.parse(args.pooling)  # before loading
    extractor = get_extractor(
        spec, device=args.device, tower=args.tower, seed=args.seed, preprocess=args.preprocess
    )
    if args.list_layers:
        print("\n".join(extractor.list_layers()))
        return 0
    missing = [f"--{n}" for n in ("dataset", "root", "out") if getattr(args, n) is None]
    if missing:
        raise ParameterError(f"Missing option(s) {', '.join(missing)} (needed to extract).")
    adapter = get_dataset(args.dataset, args.root)
    if not hasattr(adapter, "stimulus_set"):
        raise ParameterError(f"Dataset {args.dataset!r} has no stimulus images to extract from.")
    stim = adapter.stimulus_set(args.subject)
    features = extractor.extract(
        stim["store"],
        ids=stim["ids"],
        layers=args.layers.split(","),
        pooling=pooling,
        batch_size=args.batch_size,
        cache_dir=args.out,
        fit_ids=stim["train_ids"],
        dtype=args.dtype,
        num_workers=args.workers,
        progress=not args.quiet,
        seed=args.seed,
    )
    for layer, fs in features.items():
        print(f"{layer}\t{fs.features.shape[0]} x {fs.features.shape[1]}\t{fs.metadata['key']}")
    return 0
