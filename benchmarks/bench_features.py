"""Benchmark: layer extraction overhead, cache speed-up and memory (ViT-B-32, random).

(a) all 12 residual blocks + ln_post + the final embedding in one pass through
    brainalign's extractor, against a bare ``encode_image`` loop over the same batches
    with the same preprocessing (goal: ratio <= 1.10);
(b) the same extraction again, served from the feature cache, against the first run
    (goal: >= 50x faster);
(c) peak RSS of the process, and the size of the cached features.

Usage: python benchmarks/bench_features.py [--n 256] [--batch-size 32] [--device cpu]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def peak_rss_gib() -> float:
    """Peak resident memory of this process (VmHWM), in GiB."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def bare_loop(ext, images, batch_size) -> float:
    """Time ``encode_image`` over the batches, preprocessing included."""
    import torch

    model, prepare = ext.bundle.model, ext.bundle.prepare
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            x = prepare(list(images[i : i + batch_size]))["x"].to(ext.device)
            model.encode_image(x).float().cpu().numpy()
    return time.perf_counter() - start


def main(argv=None) -> int:
    """Run the three measurements and print ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="number of images")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats of (a)")
    args = parser.parse_args(argv)

    import torch

    from brainalign.features import get_extractor

    torch.set_num_threads(torch.get_num_threads())
    images = np.random.default_rng(0).integers(0, 256, (args.n, 224, 224, 3), dtype=np.uint8)
    ext = get_extractor("open_clip:ViT-B-32@random", device=args.device)
    layers = (
        ext.list_layers("visual.transformer.resblocks.?")
        + ext.list_layers("visual.transformer.resblocks.1?")
        + ["visual.ln_post", "embedding"]
    )
    bare_loop(ext, images[: args.batch_size], args.batch_size)  # warm-up
    t_bare, t_layers = [], []
    for _ in range(args.repeats):  # interleaved, best of each: machine noise cancels
        t_bare.append(bare_loop(ext, images, args.batch_size))
        start = time.perf_counter()
        ext.extract(images, layers=layers, batch_size=args.batch_size, progress=False)
        t_layers.append(time.perf_counter() - start)
    t_bare, t_layers = min(t_bare), min(t_layers)
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        first = ext.extract(
            images, layers=layers, batch_size=args.batch_size, cache_dir=cache, progress=False
        )
        t_first = time.perf_counter() - start
        start = time.perf_counter()
        ext.extract(
            images, layers=layers, batch_size=args.batch_size, cache_dir=cache, progress=False
        )
        t_cached = time.perf_counter() - start
        size = sum(fs.features.nbytes for fs in first.values())
    print(
        f"device: {ext.device}, {args.n} images 224 px, batch {args.batch_size}, "
        f"{len(layers)} layers ({len(layers) - 2} blocks + ln_post + embedding)"
    )
    print(
        f"(a) best of {args.repeats}: bare encode_image loop {t_bare:.2f} s; one pass: "
        f"{t_layers:.2f} s; ratio {t_layers / t_bare:.3f} (goal <= 1.10)"
    )
    print(
        f"(b) first run with cache: {t_first:.2f} s; from cache: {t_cached:.3f} s; "
        f"speed-up {t_first / t_cached:.0f}x (goal >= 50x)"
    )
    print(f"(c) peak RSS {peak_rss_gib():.2f} GiB; cached features {size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
