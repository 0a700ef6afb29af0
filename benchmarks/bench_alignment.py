"""Benchmark: brainalign's SRM against fastsrm's, at an NSD-like shape.

Eight subjects' responses to the stimuli they all saw (NSD: the shared images) are
fitted by deterministic and probabilistic SRM with the same seed and iterations, by
``brainalign.alignment.srm`` and by ``fastsrm.srm.detsrm`` / ``probsrm`` (the same
updates; fastsrm needs equal voxel counts, so the comparison uses them), then
hyperalignment; the deterministic results are checked to agree. Also times adding a
new subject (one Procrustes map) and the subject-to-subject ridge maps of one pair.

Usage: python benchmarks/bench_alignment.py [--subjects 8] [--n 1000] [--voxels 15000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def timed(func):
    """Run ``func`` once; return (seconds, result)."""
    start = time.perf_counter()
    out = func()
    return time.perf_counter() - start, out


def planted(n_subjects, n, voxels, k, seed=0):
    """Subjects seeing one latent through random orthonormal bases, plus noise."""
    from brainalign.alignment import polar

    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, k))
    return [
        latent @ polar(rng.standard_normal((voxels, k))).T + rng.standard_normal((n, voxels))
        for _ in range(n_subjects)
    ]


def main(argv=None) -> int:
    """Fit each way and print times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--n", type=int, default=1000, help="shared stimuli")
    parser.add_argument("--voxels", type=int, default=15000)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--iter", type=int, default=20)
    args = parser.parse_args(argv)
    from brainalign.alignment import hyperalign, orthogonal_procrustes, srm

    data = planted(args.subjects, args.n, args.voxels, args.k)
    print(
        f"{args.subjects} subjects x {args.n} stimuli x {args.voxels} voxels, k = {args.k}, "
        f"{args.iter} iterations"
    )
    rows = []
    for method, ref_name in (("deterministic", "detsrm"), ("probabilistic", "probsrm")):
        ours_s, ours = timed(
            lambda m=method: srm(data, args.k, m, n_iter=args.iter, tol=0.0, random_state=0)
        )
        try:
            import fastsrm.srm as reference
        except ImportError:
            rows.append((f"SRM {method}", ours_s, None))
            continue
        fit = getattr(reference, ref_name)
        transposed = [x.T for x in data]
        ref_s, ref = timed(
            lambda f=fit, t=transposed: f(t, args.k, n_iter=args.iter, random_state=0)
        )
        if method == "deterministic":
            gap = np.abs(ours["shared"] - ref[1].T).max()
            print(f"  deterministic SRM: max |shared - fastsrm| = {gap:.1e}")
        rows.append((f"SRM {method}", ours_s, ref_s))
    hyper_s, _ = timed(lambda: hyperalign(data, args.k, n_iter=2))
    rows.append(("hyperalignment (3 levels)", hyper_s, None))
    shared = srm(data[:-1], args.k, n_iter=5)["shared"]
    adapt_s, _ = timed(lambda: orthogonal_procrustes(data[-1], shared))
    rows.append(("new subject map (Procrustes)", adapt_s, None))
    print(f"{'step':<30} {'brainalign':>11} {'fastsrm':>9} {'ratio':>7}")
    for name, ours_s, ref_s in rows:
        ref = f"{ref_s:8.2f}s" if ref_s is not None else f"{'-':>9}"
        ratio = f"{ref_s / ours_s:6.2f}x" if ref_s is not None else f"{'-':>7}"
        print(f"{name:<30} {ours_s:10.2f}s {ref} {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
