r"""Compare the layers of a model to brain regions (which layer explains which ROI).

A sweep over subjects x models x layers (one encoding fit per task, resumable, on
Dask with ``--workers N``), then the best layer per ROI and a layer-profile figure.
Runs on the embedded sample out of the box, where the planted answer is known
(``ground_truth.json``: V1-V2 follow layer2, V3/hV4/EBA layer4, OFA/FFA-1/OPA/PPA/
VWFA-1 layer6); for a real NSD download pass its root, models and layers:

    python examples/compare_layers.py
    python examples/compare_layers.py --workers 2
    python examples/compare_layers.py --root /data/nsd --subjects 1,2,5,7 \
        --models open_clip:ViT-B-32@laion2b_s34b_b79k \
        --layers visual.transformer.resblocks.3,visual.transformer.resblocks.7,embedding
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from brainalign.compare import best_layers, plot_layer_profiles
from brainalign.data.sample import sample_path
from brainalign.runs import run_sweep


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="NSD root (default: the embedded sample)")
    parser.add_argument("--subjects", default="1,2")
    parser.add_argument("--models", default="torch:brainalign.data.sample:SampleNet@0")
    parser.add_argument("--layers", default="layer2,layer4,layer6")
    parser.add_argument("--out", type=Path, default=Path("run_compare"))
    parser.add_argument("--workers", type=int, default=0, help="local Dask workers")
    parser.add_argument("--cv", type=int, default=5, help="folds for alpha selection")
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--cache", type=Path, help="feature cache (default: OUT/features)")
    args = parser.parse_args(argv)
    root = args.root or sample_path("nsd", seed=0, progress=True)

    result = run_sweep(
        "nsd",
        root,
        subjects=args.subjects.split(","),
        models=args.models.split(","),
        layers=args.layers.split(","),
        out=args.out,
        cv=args.cv,
        n_permutations=args.permutations,
        workers=args.workers,
        cache_dir=args.cache,
        progress=False,
    )
    if result["failed"]:
        print(f"failed tasks: {result['failed']}")
        return 1
    table = result["roi_scores"]
    table = table.assign(model=table["requested_model"])  # the specs as given
    truth = _planted_layers(root)
    rois = [r for r in truth if r in set(table["roi"])] or sorted(table["roi"].unique())

    # best layer of each ROI, per subject and model, then agreed over subjects
    best = best_layers(table[table["roi"].isin(rois)])
    print(f"{'roi':<10}{'model':<12}{'best layer per subject':<28}{'planted':<10}")
    for (model, roi), part in best.groupby(["model", "roi"], sort=False):
        per_subject = ",".join(part.sort_values("subject")["best_layer"])
        short = model.split(":")[-1]
        print(f"{roi:<10}{short:<12}{per_subject:<28}{truth.get(roi) or '-':<10}")
    figure = args.out / "figures" / "layer_profiles_planted.png"
    plot_layer_profiles(table, rois=rois, path=figure)
    print(f"layer profiles: {figure}")
    return 0


def _planted_layers(root) -> dict:
    """ROI -> planted layer of the embedded sample ({} for real data)."""
    path = Path(root) / "ground_truth.json"
    if not path.exists():
        return {}
    return {roi: spec["layer"] for roi, spec in json.loads(path.read_text())["rois"].items()}


if __name__ == "__main__":
    raise SystemExit(main())
