"""Benchmark: brainalign's eigendecomposition ridge CV against himalaya's RidgeCV.

Same data, same folds (K-fold, no shuffle) and alpha grid, all in one run. For each
shape it prints himalaya's time, brainalign's time, their ratio (goal >= 10 at NSD
shape 9000 x 512 x 15000, K = 5, A = 20), and brainalign's time divided by the time
its FLOP count takes at the float32 GEMM rate measured in the same run (goal <= 1.5).

Usage: python benchmarks/bench_ridge_cv.py [--quick] [--skip-himalaya]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

SHAPES = {
    "NSD": (9000, 512, 15000),
    "THINGS-EEG2": (16540, 512, 1700),
    "p > n": (2000, 6000, 3000),
}


def gemm_rate(p: int = 512, t: int = 8000, repeats: int = 20) -> float:
    """Best float32 GEMM rate (FLOP/s) on (p x p) @ (p x t), over ``repeats`` runs."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((p, p), dtype=np.float32)
    b = rng.standard_normal((p, t), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * p * p * t / best


def engine_flops(n: int, p: int, t: int, k: int, a: int) -> float:
    """FLOPs of the large products of the engine (primal or dual form)."""
    n_te = n / k
    if p <= n:  # per alpha: z^T H z (p x p) or the test predictions, the cheaper
        per_fold = 2 * (2 * n_te * p * t) + 2 * p * p * t + a * 2 * min(p, n_te) * p * t
        return 2 * n * p * t + k * per_fold + 4 * p * p * t
    m = n - n_te  # dual: the fold kernels are m x m; per alpha the test predictions
    per_fold = 2 * m * m * t + 2 * n_te * m * t + a * 2 * n_te * m * t
    return k * per_fold + 2 * n * n * t + 2 * n * p * t


def run_shape(name, n, p, t, k, alphas, skip_himalaya, rate):
    """Time both solvers on one shape and print a table row."""
    from himalaya.kernel_ridge import KernelRidgeCV
    from himalaya.ridge import RidgeCV
    from sklearn.model_selection import KFold

    from brainalign.encoding._ridge_cv import ridge_cv_eigh

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p), dtype=np.float32)
    Y = X[:, :64] @ rng.standard_normal((64, t), dtype=np.float32) * 0.1
    Y += rng.standard_normal((n, t), dtype=np.float32)
    folds = list(KFold(k).split(X))
    start = time.perf_counter()
    ours = ridge_cv_eigh(X, Y, alphas, folds, n_targets_batch=5000)
    t_ours = time.perf_counter() - start
    ideal = engine_flops(n, p, t, k, len(alphas)) / rate
    t_ref, agree = float("nan"), float("nan")
    if not skip_himalaya:
        solver = RidgeCV if p <= n else KernelRidgeCV
        kwargs = {} if p <= n else {"warn": False}
        start = time.perf_counter()
        ref = solver(alphas=alphas, cv=folds, fit_intercept=True, **kwargs).fit(X, Y)
        t_ref = time.perf_counter() - start
        agree = np.isclose(ours["best_alphas"], ref.best_alphas_, rtol=1e-5).mean()
    print(
        f"{name:<12} {n:>6} x {p:>5} x {t:>6} | himalaya {t_ref:8.1f} s | brainalign "
        f"{t_ours:7.2f} s | ratio {t_ref / t_ours:6.1f} | time / FLOP-ideal "
        f"{t_ours / ideal:5.2f} | same alpha {agree:.3f}",
        flush=True,
    )


def main(argv=None) -> int:
    """Run every shape."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shapes divided by 4")
    parser.add_argument("--skip-himalaya", action="store_true")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--alphas", type=int, default=20)
    args = parser.parse_args(argv)
    rate = gemm_rate()
    print(
        f"float32 GEMM rate measured (best of 20): {rate / 1e9:.0f} GFLOP/s; K = {args.folds}, "
        f"A = {args.alphas}",
        flush=True,
    )
    alphas = np.logspace(-2, 7, args.alphas)
    for name, (n, p, t) in SHAPES.items():
        if args.quick:
            n, p, t = n // 4, max(p // 4, 8), t // 4
        run_shape(name, n, p, t, args.folds, alphas, args.skip_himalaya, rate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
