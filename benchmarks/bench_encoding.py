"""Benchmark: EncodingModel against calling himalaya's RidgeCV directly.

Same data, same alphas and folds. ``EncodingModel(solver="ridge")`` runs himalaya's
solver inside the estimator, so its ratio to the direct call is the estimator's
overhead (goal <= 1.10); the default solver (brainalign's engine) is timed too.
Peak memory of each fit is the traced numpy allocations (tracemalloc), at a shape like
NSD's (4,000 stimuli x 512 features x 10,000 voxels).

Usage: python benchmarks/bench_encoding.py [--n 4000] [--p 512] [--t 10000]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np


def timed(func):
    """Run ``func`` once; return (seconds, peak traced MiB)."""
    tracemalloc.start()
    start = time.perf_counter()
    func()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def main(argv=None) -> int:
    """Generate planted data, fit both ways, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--p", type=int, default=512)
    parser.add_argument("--t", type=int, default=10000)
    parser.add_argument("--alphas", type=int, default=10)
    parser.add_argument("--cv", type=int, default=5)
    args = parser.parse_args(argv)

    from himalaya.ridge import RidgeCV

    from brainalign.encoding import EncodingModel

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.p), dtype=np.float32)
    Y = X @ rng.standard_normal((args.p, args.t), dtype=np.float32) * 0.05
    Y += rng.standard_normal(Y.shape, dtype=np.float32)
    alphas = np.logspace(0, 5, args.alphas)
    Xs = (X - X.mean(0)) / X.std(0)

    def direct():
        RidgeCV(alphas=alphas, cv=args.cv, fit_intercept=True).fit(Xs, Y)

    def wrapped():
        EncodingModel(alphas=alphas, cv=args.cv, solver="ridge").fit(X, Y)

    def engine():
        EncodingModel(alphas=alphas, cv=args.cv).fit(X, Y)

    t_ref, m_ref = timed(direct)
    t_ours, m_ours = timed(wrapped)
    t_eng, m_eng = timed(engine)
    data = (X.nbytes + Y.nbytes) / 2**20
    print(
        f"shape {args.n} x {args.p} features x {args.t} targets, {args.alphas} alphas, "
        f"{args.cv} folds; data {data:.0f} MiB"
    )
    print(f"himalaya RidgeCV directly: {t_ref:.1f} s, peak {m_ref:.0f} MiB")
    print(f"EncodingModel(solver='ridge'): {t_ours:.1f} s, peak {m_ours:.0f} MiB")
    print(
        f"  overhead ratio: time {t_ours / t_ref:.3f} (goal <= 1.10), "
        f"peak memory {m_ours / m_ref:.2f}"
    )
    print(
        f"EncodingModel() (engine):      {t_eng:.1f} s, peak {m_eng:.0f} MiB; "
        f"{t_ref / t_eng:.1f}x faster than himalaya"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
