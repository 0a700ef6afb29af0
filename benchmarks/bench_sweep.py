"""Benchmark: sweep throughput with 1 and 2 local Dask workers (goal >= 1.7x on 2 cores).

The embedded NSD sample (2 subjects) x SampleNet layers 2/4/6: six fit-dominated
tasks (5-fold alpha selection and a permutation test per task). The feature cache is
warmed first, so both timed sweeps read the same cached features and spend their
time in the tasks. Each worker is a single-threaded process, so the ratio is the
speed-up Dask gives on this machine's cores.

Usage: python benchmarks/bench_sweep.py [--permutations 500] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

MODEL = "torch:brainalign.data.sample:SampleNet@0"
LAYERS = ["layer2", "layer4", "layer6"]


def sweep(root, out, cache, workers, permutations):
    """Run one sweep; return its wall time in seconds."""
    from brainalign.compare import run_sweep

    start = time.perf_counter()
    result = run_sweep(
        "nsd",
        root,
        [1, 2],
        [MODEL],
        LAYERS,
        out,
        n_permutations=permutations,
        workers=workers,
        cache_dir=cache,
        progress=False,
    )
    seconds = time.perf_counter() - start
    if result["failed"]:
        raise SystemExit(f"tasks failed: {result['failed']}")
    return seconds


def main(argv=None) -> int:
    """Build the sample, warm the cache, time 1 and 2 workers, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permutations", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # the sample's planted "no data" voxels

    from brainalign.data.sample import write_nsd_sample

    work = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    try:
        root = write_nsd_sample(work / "nsd", seed=0)
        cache = work / "cache"
        sweep(root, work / "warm", cache, 0, 1)
        times = {1: [], 2: []}
        for r in range(args.repeats):
            for workers in (1, 2):
                out = work / f"w{workers}_{r}"
                times[workers].append(sweep(root, out, cache, workers, args.permutations))
        one, two = min(times[1]), min(times[2])
        print(f"cores: {os.cpu_count()}, tasks: 6 (2 subjects x 3 layers)")
        print(f"1 worker : {one:7.1f} s ({6 / one:.3f} tasks/s)")
        print(f"2 workers: {two:7.1f} s ({6 / two:.3f} tasks/s)")
        print(f"throughput ratio 2 vs 1 workers: {one / two:.2f}x (goal >= 1.7)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
