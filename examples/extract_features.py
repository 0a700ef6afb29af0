r"""Extract layer features for a subject's images and join them to the brain data.

Runs on the embedded sample out of the box (with the sample's own SampleNet); for a
real NSD download pass its root and any model spec:

    python examples/extract_features.py
    python examples/extract_features.py --root /data/nsd \
        --model open_clip:ViT-B-32@laion2b_s34b_b79k --layers visual.ln_post,embedding
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import brainalign
from brainalign.data import get_dataset
from brainalign.data.sample import sample_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="NSD root (default: the embedded sample)")
    parser.add_argument("--subject", type=int, default=1)
    parser.add_argument("--model", default="torch:brainalign.data.sample:SampleNet@0")
    parser.add_argument("--layers", default="layer2,layer4,layer6")
    parser.add_argument("--cache", type=Path, default=Path("feature_cache"))
    args = parser.parse_args(argv)
    root = args.root or sample_path("nsd", seed=0, progress=True)

    stim = get_dataset("nsd", root).stimulus_set(args.subject)
    extractor = brainalign.get_extractor(args.model)
    features = extractor.extract(
        stim["store"],
        ids=stim["ids"],
        layers=args.layers.split(","),
        cache_dir=args.cache,
        fit_ids=stim["train_ids"],
    )
    data = brainalign.load_dataset("nsd", root=root, subject=args.subject, average=True)
    for layer, fs in features.items():
        x = fs.align(data.stimulus_ids)  # one feature row per brain row, joined by id
        corr = np.corrcoef(x.mean(1), data.responses.mean(1))[0, 1]
        print(
            f"{layer}: {x.shape[0]} x {x.shape[1]} features, "
            f"r(mean feature, mean response) = {corr:+.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
