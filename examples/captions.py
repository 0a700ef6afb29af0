r"""Caption what ROIs are selective for, in words, with a score beside a shuffled baseline.

Fits one subject (or reuses a fit run), then captions each ROI from its encoding
model's preferred direction: LaVCa-style (keywords of the captions of the bank images
predicted to drive the ROI most, composed into a sentence) or BrainSCUBA-style (the
direction projected onto the bank's image embeddings, captioned by the nearest bank
caption). Each caption is scored on the held-out images against shuffled captions.
On the embedded sample the planted attributes (``ground_truth.json``: FFA-1 "face",
PPA "house", V1v "top") are printed beside the captions. For a real NSD download pass
its root and model:

    python examples/captions.py
    python examples/captions.py --method brainscuba
    python examples/captions.py --root /data/nsd --rois FFA-1,PPA,VWFA-1,OPA \
        --model open_clip:ViT-B-32@laion2b_s34b_b79k --layer embedding
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from brainalign.data.sample import sample_path
from brainalign.runs import caption_run, fit_subject


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="NSD root (default: the embedded sample)")
    parser.add_argument("--subject", type=int, default=1)
    parser.add_argument("--model", default="torch:brainalign.data.sample:SampleNet@0")
    parser.add_argument("--layer", default="layer6")
    parser.add_argument("--rois", default="FFA-1,PPA,VWFA-1,V1v")
    parser.add_argument("--method", default="lavca", choices=["lavca", "brainscuba"])
    parser.add_argument("--out", type=Path, default=Path("run_captions"))
    parser.add_argument("--cv", type=int, default=5, help="folds for alpha selection")
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--cache", type=Path, help="feature cache (default: OUT/features)")
    args = parser.parse_args(argv)
    root = args.root or sample_path("nsd", seed=0, progress=True)

    if not (args.out / "run.json").exists():  # reuse a finished fit
        fit_subject(
            "nsd",
            root,
            args.subject,
            args.model,
            args.out,
            layer=args.layer,
            cv=args.cv,
            n_permutations=args.permutations,
            cache_dir=args.cache,
            progress=False,
        )
    table = caption_run(
        args.out, method=args.method, rois=args.rois.split(","), thumbnails=False, progress=False
    )
    planted = _planted_attributes(root)
    print(f"{args.method} captions of sub-{args.subject:02d} {args.layer}:")
    for row in table.itertuples():
        truth = f"  [planted: {', '.join(planted[row.unit]) or 'none'}]" if planted else ""
        print(
            f"{row.unit:<8}{row.caption!r} (score {row.score:.3f}, "
            f"shuffled {row.shuffled_score:.3f}){truth}"
        )
    print(f"captions: {args.out / 'captions.parquet'}")
    return 0


def _planted_attributes(root) -> dict:
    """ROI -> planted image attributes of the embedded sample ({} for real data)."""
    path = Path(root) / "ground_truth.json"
    if not path.exists():
        return {}
    rois = json.loads(path.read_text())["rois"]
    return {roi: spec["attributes"] for roi, spec in rois.items()}


if __name__ == "__main__":
    raise SystemExit(main())
