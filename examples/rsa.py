r"""Representational similarity analysis of ROIs and model layers on the shared images.

For every ROI and subject, an RDM (1 - Pearson r between image patterns) over the
test images all subjects saw (NSD: the shared1000); for every layer, an RDM of its
features over the same images. Then: Spearman correlation of each layer RDM with each
ROI's RDMs, the noise ceiling of each ROI across subjects, a bootstrap confidence
interval (over images) for the best layer, linear CKA, and a figure of the RDMs.
Runs on the embedded sample out of the box; for a real NSD download pass its root:

    python examples/rsa.py
    python examples/rsa.py --root /data/nsd --subjects 1,2,5,7 \
        --model open_clip:ViT-B-32@laion2b_s34b_b79k \
        --layers visual.transformer.resblocks.3,visual.transformer.resblocks.7,embedding
"""

from __future__ import annotations

import argparse
from pathlib import Path

import brainalign
from brainalign.compare import (
    bootstrap_compare,
    compare_rdms,
    compute_rdm,
    linear_cka,
    noise_ceiling,
    plot_rdm,
)
from brainalign.data.sample import sample_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="NSD root (default: the embedded sample)")
    parser.add_argument("--subjects", default="1,2")
    parser.add_argument("--rois", default="V1v,hV4,FFA-1,PPA")
    parser.add_argument("--model", default="torch:brainalign.data.sample:SampleNet@0")
    parser.add_argument("--layers", default="layer2,layer4,layer6")
    parser.add_argument("--bootstraps", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("rsa"))
    args = parser.parse_args(argv)
    root = args.root or sample_path("nsd", seed=0, progress=True)
    rois, layers = args.rois.split(","), args.layers.split(",")

    # test images (shared by all subjects), repetitions averaged
    tests = {
        int(s): brainalign.load_dataset("nsd", root=root, subject=int(s), roi="nsdgeneral")
        .average_repetitions()
        .split()[1]
        for s in args.subjects.split(",")
    }
    first = next(iter(tests.values()))
    brain = {
        roi: [compute_rdm(t.select_rois(roi).responses, t.stimulus_ids) for t in tests.values()]
        for roi in rois
    }
    feats = brainalign.get_extractor(args.model).extract(
        first.stimuli,
        ids=first.stimulus_ids,
        layers=layers,
        cache_dir=args.out / "features",
        progress=False,
    )
    model = {layer: compute_rdm(fs.features, fs.stimulus_ids) for layer, fs in feats.items()}
    print(f"{first.n_rows} shared images, {len(tests)} subjects; Spearman(layer RDM, ROI RDM):")
    print(f"{'roi':<8}" + "".join(f"{layer:>9}" for layer in layers) + "   NC low   NC up")
    for roi, rdms in brain.items():
        rho = [sum(compare_rdms(model[lay], r) for r in rdms) / len(rdms) for lay in layers]
        low, up = noise_ceiling(rdms, method="spearman")
        print(f"{roi:<8}" + "".join(f"{v:>9.3f}" for v in rho) + f"{low:>9.3f}{up:>8.3f}")
        best = layers[max(range(len(layers)), key=rho.__getitem__)]
        ci = bootstrap_compare(model[best], rdms, n_bootstraps=args.bootstraps, seed=0)
        cka = linear_cka(
            feats[best].features,
            tests[next(iter(tests))].select_rois(roi).responses,
            feats[best].stimulus_ids,
            first.stimulus_ids,
        )
        print(
            f"  best {best}: rho {ci.value:.3f} "
            f"[{100 * ci.confidence:.0f}% CI {ci.low:.3f}, {ci.high:.3f}], "
            f"linear CKA (subject {next(iter(tests))}) {cka:.3f}"
        )

    args.out.mkdir(parents=True, exist_ok=True)
    figure = args.out / f"rdm_{rois[-1]}_vs_{layers[-1]}.png"
    fig = plot_rdm(brain[rois[-1]][0], title=f"{rois[-1]} (subject {next(iter(tests))})")
    plot_rdm(model[layers[-1]], ax=fig.add_axes((1.05, 0.1, 0.8, 0.8)), title=layers[-1])
    fig.savefig(figure, bbox_inches="tight")
    print(f"RDM figure: {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
