"""Load one NSD subject, summarise its ROIs and write a noise-ceiling map.

Runs on the embedded sample out of the box; for a real NSD download pass its root:

    python examples/nsd_data_tour.py                    # builds/uses the sample
    python examples/nsd_data_tour.py --root /data/nsd   # a real NSD download
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import brainalign
from brainalign.data.sample import sample_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="NSD root (default: the embedded sample)")
    parser.add_argument("--subject", type=int, default=1)
    parser.add_argument("--sessions", help="comma-separated sessions (default: all)")
    parser.add_argument("--out", type=Path, default=Path("nsd_tour"))
    args = parser.parse_args(argv)
    root = args.root or sample_path("nsd", seed=0, progress=True)
    sessions = [int(s) for s in args.sessions.split(",")] if args.sessions else None

    data = brainalign.load_dataset("nsd", root=root, subject=args.subject, sessions=sessions)
    avg = data.average_repetitions()
    train, test = avg.split()  # the shared1000 images are the test set
    print(f"{data}: {avg.n_rows} images ({train.n_rows} train / {test.n_rows} test)")

    nc = test.noise_ceiling()
    print(f"{'roi':<12}{'voxels':>8}{'median NC %':>13}")
    for roi in ("V1v", "hV4", "FFA-1", "PPA", "VWFA-1", "RSC"):
        if roi in avg.roi_names():
            in_roi = avg.roi_mask(roi)
            print(f"{roi:<12}{int(in_roi.sum()):>8}{np.median(nc[in_roi]):>13.1f}")

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"sub-{args.subject:02d}_stat-nc.nii.gz"
    test.to_image(nc).to_filename(path)
    print(f"noise-ceiling map: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
