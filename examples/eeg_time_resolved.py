r"""Time-resolved EEG analysis: encoding r(t), topomaps at the peaks, decoding over time.

On THINGS-EEG2 (preprocessed release; the embedded sample out of the box, where
SampleNet's layer2 drives occipital channels near 100 ms, layer6 parieto-occipital
ones near 170 ms and layer4 parietal ones near 300 ms): features of a layer -> every
channel at every time point, scored on the 200 test images; topomaps of r at its
peak latencies; the layer's embedding decoded from the channels at each time point,
identifying the seen test image (2-way) against chance. With ``--n170`` (the
eeg-notebooks N170 folder of Muse recordings): face-vs-house classification over time.

    python examples/eeg_time_resolved.py
    python examples/eeg_time_resolved.py --n170 ../shared/data/n170_faces_houses/N170
    python examples/eeg_time_resolved.py --root /data/things-eeg2 \
        --model open_clip:ViT-B-32@laion2b_s34b_b79k --layer embedding
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import brainalign
from brainalign.data.sample import sample_path
from brainalign.encoding import (
    classify_over_time,
    decode_over_time,
    onset_time,
    time_resolved_encoding,
)
from brainalign.maps import plot_time_courses, plot_topomaps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="THINGS-EEG2 root (default: the sample)")
    parser.add_argument("--subject", type=int, default=1)
    parser.add_argument("--model", default="torch:brainalign.data.sample:SampleNet@0")
    parser.add_argument("--layer", default="layer6")
    parser.add_argument("--cv", type=int, default=5, help="folds for alpha selection")
    parser.add_argument("--window", type=int, default=1, help="time points per decoder")
    parser.add_argument("--tmin", type=float, help="first time kept, s (default: all)")
    parser.add_argument("--tmax", type=float, help="last time kept, s (default: all)")
    parser.add_argument("--n170", type=Path, help="eeg-notebooks N170 folder (optional)")
    parser.add_argument("--out", type=Path, default=Path("eeg_time_resolved"))
    args = parser.parse_args(argv)
    root = args.root or sample_path("things-eeg2", seed=0, progress=True)
    args.out.mkdir(parents=True, exist_ok=True)

    data = brainalign.load_dataset(
        "things-eeg2", root=root, subject=args.subject, tmin=args.tmin, tmax=args.tmax
    )
    ids = np.unique(data.stimulus_ids)
    features = brainalign.get_extractor(args.model).extract(
        data.stimuli, ids=ids, layers=[args.layer], cache_dir=args.out / "features", progress=False
    )[args.layer]
    print(f"{data}: {len(ids)} images, layer {args.layer}")

    enc = time_resolved_encoding(data, features, cv=args.cv)
    peaks = enc.peak_latencies(n_peaks=3)  # peaks of the max over channels, as the report
    grid = enc.grid("r")
    for t in peaks:
        k = int(np.argmin(np.abs(enc.space.times - t)))
        best = np.argsort(grid[:, k])[::-1][:3]
        channels = ", ".join(f"{enc.space.ch_names[c]} {grid[c, k]:.2f}" for c in best)
        print(f"encoding r peak at {1000 * t:.0f} ms: {channels}")
    plot_topomaps(enc.r, enc.space, times=peaks).savefig(args.out / "topomaps_r.png")
    plot_time_courses(enc.r, enc.space).savefig(args.out / "r_over_time.png")

    dec = decode_over_time(data, features, window=args.window, cv=args.cv)
    pair = dec[(dec["metric"] == "pairwise") & (dec["scope"] == "time")]
    top = pair.loc[pair["value"].idxmax()]
    epoch = dec[(dec["metric"] == "pairwise") & (dec["scope"] == "epoch")]["value"].iloc[0]
    print(
        f"2-way identification over time: peak {top['value']:.3f} at "
        f"{1000 * top['time']:.0f} ms, whole epoch {epoch:.3f} (chance {top['chance']:.2f}, "
        f"{int(top['n_candidates'])} test images)"
    )
    if args.n170:
        _n170(args.n170)
    print(f"figures: {args.out}")
    return 0


def _n170(folder) -> None:
    """Face vs house over time on a real Muse recording (the N170)."""
    data = brainalign.load_dataset(
        "muse", root=folder, subject=1, event_map={1: "house", 2: "face"}
    )
    scores = classify_over_time(data, cv=5)  # chance band from 200 label permutations
    top = scores.loc[scores["score"].idxmax()]
    above = scores[scores["significant"]]  # above the band: p_fwe <= 0.05 over time
    span = f"{1000 * above['time'].min():.0f}-{1000 * above['time'].max():.0f} ms"
    span += f" (onset {1000 * onset_time(scores):.0f} ms)"
    print(
        f"N170 face vs house ({data.n_rows} trials): peak AUC {top['score']:.3f} at "
        f"{1000 * top['time']:.0f} ms (permutation band up to {top['chance_high']:.3f}, "
        f"family-wise over time); significant: {span if len(above) else 'never'}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
