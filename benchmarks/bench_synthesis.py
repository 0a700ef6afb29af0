"""Benchmark: bank search over 100k images x every ROI, and gradient-ascent images per minute.

1. Bank search: a memory-mapped bank of ``--bank`` images x 512 features (an
   :class:`EmbeddingBank` on disk, as ``brainalign synthesize --bank`` reads it) is
   ranked for ``--rois`` ROI directions at once (top 16 each) by
   :meth:`BankSearch.search`, against the reference measured in the same run: the
   whole score matrix in memory, then ``np.argsort`` per ROI. The two must agree.
2. Gradient ascent on the CPU: images per minute through SampleNet (the sample's
   model) and a random-initialised timm ResNet-18 (``layer4``, 224 px), ``--steps``
   steps, batches of 8, with ROI directions drawn at random (speed does not depend
   on the weights).

Usage: python benchmarks/bench_synthesis.py [--bank 100000] [--rois 20] [--steps 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def timed(func):
    """Run ``func`` once; return (seconds, result)."""
    start = time.perf_counter()
    out = func()
    return time.perf_counter() - start, out


def bank_rows(n_bank, n_rois, dims=512, k=16):
    """Time the chunked bank search against the in-memory brute force; check they agree."""
    from brainalign.captions import EmbeddingBank
    from brainalign.synthesis import BankSearch, RoiEncoder

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        feats = rng.standard_normal((n_bank, dims), dtype=np.float32)
        bank = EmbeddingBank.load(EmbeddingBank(feats, np.arange(n_bank)).save(Path(tmp)))
        del feats
        units = [f"roi{i}" for i in range(n_rois)]
        enc = RoiEncoder(None, ["x"], {"x": "auto"}, rng.standard_normal((n_rois, dims)),
                         rng.standard_normal(n_rois), units)  # fmt: skip
        search = BankSearch(bank)
        ours_s, (rows, _) = timed(lambda: search.search(enc, k))

        def brute():
            act = np.asarray(bank.embeddings, np.float64) @ enc.directions.T + enc.offsets
            return np.argsort(-act, axis=0, kind="stable")[:k].T

        ref_s, ref = timed(brute)
        same = bool(np.array_equal(rows, ref))
    return [
        ("bank search, chunked (memory-mapped)", ours_s, same),
        ("reference: full score matrix + argsort", ref_s, same),
    ]


def ascent_rate(spec, layer, size, steps, n_images=8):
    """Images per minute of gradient ascent through a model's layer (random directions)."""
    import torch

    from brainalign.features import get_extractor
    from brainalign.synthesis import GradientAscent, RoiEncoder

    torch.manual_seed(0)
    extractor = get_extractor(spec, device="cpu")
    probe = np.zeros((2, size, size, 3), np.uint8)
    dims = extractor.extract(probe, layers=[layer], progress=False)[layer].features.shape[1]
    rng = np.random.default_rng(1)
    enc = RoiEncoder(extractor, [layer], {layer: "auto"}, rng.standard_normal((4, dims)),
                     np.zeros(4), ["A", "B", "C", "D"])  # fmt: skip
    ascent = GradientAscent(steps=steps, size=size, batch_size=n_images)
    seconds, result = timed(lambda: ascent.generate(enc, "A", n_images, seed=0))
    return 60.0 * n_images / seconds, seconds, float(result.target_activation.mean())


def main(argv=None) -> int:
    """Run both parts and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=int, default=100_000, help="bank images")
    parser.add_argument("--rois", type=int, default=20)
    parser.add_argument("--steps", type=int, default=64, help="ascent steps")
    args = parser.parse_args(argv)
    import torch

    print(f"torch threads: {torch.get_num_threads()}")
    print(f"\n## Bank search: {args.bank} images x 512 features x {args.rois} ROIs, top 16\n")
    print("| search | time | same top 16 |\n| --- | --- | --- |")
    rows = bank_rows(args.bank, args.rois)
    for name, seconds, same in rows:
        print(f"| {name} | {seconds:.3f} s | {same} |")
    print(f"\nratio: {rows[1][1] / rows[0][1]:.2f}x (reference / chunked)")
    print(f"\n## Gradient ascent on the CPU: {args.steps} steps, batches of 8\n")
    print("| model (layer, image side) | images / min | time for 8 images |\n| --- | --- | --- |")
    for spec, layer, size in (
        ("torch:brainalign.data.sample:SampleNet@0", "layer6", 224),
        ("timm:resnet18@random", "layer4", 224),
    ):
        rate, seconds, _ = ascent_rate(spec, layer, size, args.steps)
        print(f"| {spec} ({layer}, {size} px) | {rate:.1f} | {seconds:.1f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
