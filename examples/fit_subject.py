r"""Fit one subject's encoding model, draw its maps and print the ROI table.

Features of one layer -> every nsdgeneral voxel (ridge, one alpha per voxel), scored
on the held-out shared1000 images. Runs on the embedded sample out of the box (where
layer6 of SampleNet drives OFA, FFA-1, OPA, PPA and VWFA-1); for a real NSD download
pass its root and any model spec:

    python examples/fit_subject.py
    python examples/fit_subject.py --root /data/nsd \
        --model open_clip:ViT-B-32@laion2b_s34b_b79k --layer embedding
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from brainalign.data.sample import sample_path
from brainalign.runs import fit_subject


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="NSD root (default: the embedded sample)")
    parser.add_argument("--subject", type=int, default=1)
    parser.add_argument("--model", default="torch:brainalign.data.sample:SampleNet@0")
    parser.add_argument("--layer", default="layer6")
    parser.add_argument("--out", type=Path, default=Path("run_fit"))
    parser.add_argument("--cv", type=int, default=5, help="folds for alpha selection")
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--device", default="auto", help="cpu, cuda, ...")
    parser.add_argument("--cache", type=Path, help="feature cache (default: OUT/features)")
    args = parser.parse_args(argv)
    root = args.root or sample_path("nsd", seed=0, progress=True)

    result = fit_subject(
        "nsd",
        root,
        args.subject,
        args.model,
        args.out,
        layer=args.layer,
        cv=args.cv,
        n_permutations=args.permutations,
        device=args.device,
        cache_dir=args.cache,
        progress=False,
    )
    figures = result["paths"]["figures"]  # slices + glass brain per statistic map

    rois = result["roi_scores"].sort_values("mean_r", ascending=False)
    planted = _planted_layers(root)
    if planted:  # the sample: its labelled ROIs, beside the layer planted in each
        rois = rois[rois["roi"].isin(list(planted))]
    print(f"sub-{args.subject:02d} {args.layer}: held-out r per ROI (best first)")
    print(f"{'roi':<14}{'voxels':>7}{'mean r':>9}{'mean ncR2 %':>13}{'frac p<.05':>12}  planted")
    for row in rois.itertuples():
        print(
            f"{row.roi:<14}{row.n_targets:>7}{row.mean_r:>9.3f}{row.mean_ncr2:>13.1f}"
            f"{row.frac_significant:>12.2f}  {planted.get(row.roi) or '-'}"
        )
    print(f"maps: {args.out / 'maps'} ({len(figures)} figures in {args.out / 'figures'})")
    return 0


def _planted_layers(root) -> dict:
    """ROI -> planted layer of the embedded sample ({} for real data)."""
    path = Path(root) / "ground_truth.json"
    if not path.exists():
        return {}
    return {roi: spec["layer"] for roi, spec in json.loads(path.read_text())["rois"].items()}


if __name__ == "__main__":
    raise SystemExit(main())
