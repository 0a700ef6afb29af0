r"""Category structure of a model's layers, beside a recording's category decoding.

Each layer's RDM over an image folder (sub-folders are categories) is compared with
the category RDM (Kendall tau_a, bootstrap CI over images), for the model and, as a
baseline, the same architecture with random weights. With --eeg, single trials whose
events are the categories are decoded over time (LDA, ROC AUC, permutation band).

example:
  brainalign categories --images stim/face_house --model timm:tf_efficientnet_lite0@ckpt.pth \
      --layers conv_stem,blocks.2,blocks.4,blocks.6,conv_head --out run_categories \
      --eeg muse:N170 --subject 1 --event-map 1=house,2=face
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    """Add this verb's arguments."""
    parser.add_argument("--images", required=True, metavar="DIR", help="folder of categories")
    parser.add_argument("--model", required=True, metavar="SPEC", help="model spec")
    parser.add_argument("--layers", required=True, help="comma-separated layers, input first")
    parser.add_argument("--out", required=True, metavar="DIR", help="run directory")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the random-weights baseline"
    )
    parser.add_argument(
        "--eeg", metavar="DATASET:ROOT", help="single-trial recording, e.g. muse:N170"
    )
    parser.add_argument("--subject", type=int, default=1, help="subject of the recording")
    parser.add_argument(
        "--event-map", default=None, help="event code=category pairs, e.g. 1=house,2=face"
    )
    parser.add_argument("--tmin", type=float, default=-0.1, help="epoch start (s)")
    parser.add_argument("--tmax", type=float, default=0.4, help="epoch end (s)")
    parser.add_argument(
        "--reject-uv", type=float, default=100.0, help="drop epochs beyond this peak-to-peak (µV)"
    )
    parser.add_argument("--decim", type=int, default=2, help="keep every n-th sample")
    parser.add_argument("--bootstraps", type=int, default=1000, help="bootstrap samples")
    parser.add_argument("--permutations", type=int, default=1000, help="label shuffles")
    parser.add_argument("--preprocess", default=None, metavar="OVERRIDE", help="see fit --help")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    parser.add_argument("--seed", type=int, default=0, help="seed")
    parser.add_argument("--overwrite", action="store_true", help="replace what --out holds")


def _event_map(text):
    from brainalign.exceptions import ParameterError

    if text is None:
        return None
    pairs = [item.partition("=") for item in text.split(",")]
    if not all(eq and code.strip().isdigit() and name for code, eq, name in pairs):
        raise ParameterError(
            f"Invalid value for '--event-map': expected code=category pairs such as "
            f"1=house,2=face; got {text!r}."
        )
    return {int(code): name.strip() for code, _, name in pairs}


def run(args) -> int:
    """Score every layer, decode the recording, and print the best layer."""
    from brainalign.exceptions import ParameterError
    from brainalign.runs import category_run

    eeg = None
    if args.eeg:
        dataset, sep, root = args.eeg.partition(":")
        if not sep or not root:
            raise ParameterError(
                f"Invalid value for '--eeg': expected DATASET:ROOT; got {args.eeg!r}."
            )
        eeg = {
            "dataset": dataset,
            "root": root,
            "subject": args.subject,
            "tmin": args.tmin,
            "tmax": args.tmax,
            "reject": {"eeg": args.reject_uv * 1e-6},
            "decim": args.decim,
        }
        event_map = _event_map(args.event_map)
        if event_map:
            eeg["event_map"] = event_map
    result = category_run(
        args.images,
        args.model,
        [layer for layer in args.layers.split(",") if layer],
        args.out,
        baseline=not args.no_baseline,
        eeg=eeg,
        n_bootstraps=args.bootstraps,
        n_permutations=args.permutations,
        preprocess=args.preprocess,
        device=args.device,
        seed=args.seed,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    rsa = result["rsa"]
    for model, rows in rsa.groupby("model", sort=False):
        best = rows.loc[rows["value"].idxmax()]
        print(f"{model}\tbest layer {best['layer']}\ttau_a {best['value']:.3f}")
    if result["decoding"] is not None:
        table = result["decoding"]
        peak = table.loc[table["value"].idxmax()]
        print(f"decoding peak {peak['value']:.3f} at {peak['time']:.3f} s")
    print(f"wrote {result['paths']['run'].parent}")
    return 0
