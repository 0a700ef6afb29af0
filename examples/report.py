r"""Fit one subject and write its voxel selectivity report: one self-contained HTML file.

The report shows what the run directory holds: provenance and warnings, the
sortable ROI table, the voxel maps (and, for other runs, layer profiles, captions,
decoding and EEG r(t)). Figures are embedded, so the file opens offline and can be
mailed to a colleague. Runs on the embedded sample out of the box; for a real NSD
download pass its root and model:

    python examples/report.py
    python examples/report.py --root /data/nsd \
        --model open_clip:ViT-B-32@laion2b_s34b_b79k --layer embedding
"""

from __future__ import annotations

import argparse
from pathlib import Path

from brainalign.data.sample import sample_path
from brainalign.report import write_report
from brainalign.runs import fit_subject


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="NSD root (default: the embedded sample)")
    parser.add_argument("--subject", type=int, default=1)
    parser.add_argument("--model", default="torch:brainalign.data.sample:SampleNet@0")
    parser.add_argument("--layer", default="layer6")
    parser.add_argument("--out", type=Path, default=Path("run_report"))
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
        )  # figures included
    path = write_report(args.out)
    print(f"report ({path.stat().st_size / 1e6:.1f} MB, open it in a browser): {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
