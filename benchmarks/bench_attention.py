"""Benchmark: the attention encoder's training time and memory per subject at NSD scale.

One subject at NSD scale on the CPU: ``--train`` training and ``--test`` held-out
images, ``--grid`` x ``--grid`` patch tokens of ``--channels`` channels (default 16 x
16 x 256), ``--voxels`` voxels in ``--rois`` ROIs. Tokens are Gaussian; each ROI's
voxels answer to the token at one random location (a planted receptive field) through
rank-``--rank`` weights (an ROI's voxels share a few feature directions) plus noise of
the signal's variance (the best possible r is 0.71), so the benchmark also says what
the encoder recovers. With full-rank weights (``--rank`` = channels) no ``d_model``
below the channel count can hold an ROI's signal: at 256 channels and d_model 64 the
encoder finds every location and reaches r = 0.35 = sqrt(64 / 256 / 2). Printed per method:
training time (the attention encoder: per epoch and in all, the ridge refit of the
heads included), the peak resident memory of the process during the fit (sampled
every 50 ms) and the mean held-out r over voxels. The reference measured in the same
run is :class:`EncodingModel` (ridge, 21 penalties, 5 folds) on the mean-pooled
tokens, the pooled-feature encoder the attention encoder replaces.

Usage: python benchmarks/bench_attention.py [--train 9000] [--test 1000] [--grid 16]
       [--channels 256] [--voxels 15000] [--rois 20] [--epochs 15] [--d-model 64] [--rank 16]
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np


class PeakMemory:
    """Sample the process's resident memory in a thread; ``peak`` in bytes."""

    def __init__(self, interval=0.05):
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self.peak = 0

    def __enter__(self):
        self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def planted(n, grid, channels, voxels, rois, rank, seed=0):
    """Gaussian tokens and voxels driven by one token per ROI (rank-``rank`` weights)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, grid * grid, channels), dtype=np.float32)
    groups = np.repeat(np.arange(rois), -(-voxels // rois))[:voxels]
    where = rng.choice(grid * grid, rois, replace=False)
    Y = np.empty((n, voxels), np.float32)
    for g in range(rois):
        cols = np.flatnonzero(groups == g)
        basis = rng.standard_normal((channels, rank), dtype=np.float32) / np.sqrt(channels)
        w = basis @ rng.standard_normal((rank, cols.size), dtype=np.float32) / np.sqrt(rank)
        Y[:, cols] = X[:, where[g]] @ w
    Y += rng.standard_normal(Y.shape, dtype=np.float32)
    return X, Y, groups.astype(str)


def main(argv=None) -> int:
    """Run the benchmark and print its table."""
    from brainalign.encoding import AttentionEncoder, EncodingModel, pearson_r

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=9000)
    p.add_argument("--test", type=int, default=1000)
    p.add_argument("--grid", type=int, default=16)
    p.add_argument("--channels", type=int, default=256)
    p.add_argument("--voxels", type=int, default=15000)
    p.add_argument("--rois", type=int, default=20)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--rank", type=int, default=16)
    args = p.parse_args(argv)
    X, Y, groups = planted(args.train + args.test, args.grid, args.channels, args.voxels,
                           args.rois, args.rank)  # fmt: skip
    tr, te = slice(0, args.train), slice(args.train, None)
    gb = X.nbytes / 2**30
    print(
        f"{args.train} + {args.test} images x {args.grid}x{args.grid} tokens x "
        f"{args.channels} channels ({gb:.2f} GiB of tokens), {args.voxels} voxels in "
        f"{args.rois} ROIs (rank-{args.rank} weights, best r 0.71); attention: d_model "
        f"{args.d_model}, {args.epochs} epochs, CPU"
    )
    rows = []
    with PeakMemory() as mem:
        start = time.perf_counter()
        ridge = EncodingModel().fit(X[tr].mean(1), Y[tr])
        seconds = time.perf_counter() - start
    r = pearson_r(Y[te], ridge.predict(X[te].mean(1))).mean()
    rows.append(("ridge on mean-pooled tokens (reference)", seconds, None, mem.peak, r))
    est = AttentionEncoder(groups=groups, d_model=args.d_model, max_epochs=args.epochs,
                           patience=args.epochs, device="cpu", progress=True)  # fmt: skip
    with PeakMemory() as mem:
        start = time.perf_counter()
        est.fit(X[tr], Y[tr])
        seconds = time.perf_counter() - start
    r = pearson_r(Y[te], est.predict(X[te])).mean()
    per_epoch = seconds / len(est.history_)
    rows.append(("attention encoder (heads refit by ridge)", seconds, per_epoch, mem.peak, r))
    print(f"{'method':42s} {'fit s':>8s} {'s/epoch':>8s} {'peak RSS GiB':>13s} {'mean r':>7s}")
    for name, secs, epoch, peak, r in rows:
        epoch_text = "" if epoch is None else f"{epoch:.2f}"
        print(f"{name:42s} {secs:8.1f} {epoch_text:>8s} {peak / 2**30:13.2f} {r:7.3f}")
    print(f"ratio (attention / ridge fit time): {rows[1][1] / rows[0][1]:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
