"""Benchmark: sweep throughput with 1 and 2 local Dask workers (goal >= 1.7x on 2 cores).

The embedded NSD sample (2 subjects) x the 7 layers of SampleNet: 14 fit-dominated
tasks (10-fold alpha selection, one eigendecomposition per fold, and a 1,000-sample
permutation test per task, as `fit` does by default). The feature cache is warmed
first, so both timed sweeps read the same cached features and spend their time in the
tasks. Each worker is a single-threaded process (Dask sets one BLAS thread per worker),
so the ratio is the speed-up Dask gives on this machine's cores. Two ratios are
printed: the whole sweep (with the cluster start, the loads, the feature step and the
collection, which do not scale with workers on this sample), and the task phase (first
task start to last task end, from each task's run.json).

Usage: python benchmarks/bench_sweep.py [--permutations 1000] [--cv 10] [--repeats 1]
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
LAYERS = ["layer1", "layer2", "layer3", "layer4", "layer5", "layer6", "embedding"]


def sweep(root, out, cache, workers, permutations, cv=5):
    """Run one sweep; return its wall time in seconds."""
    from brainalign.runs import run_sweep

    start = time.perf_counter()
    result = run_sweep(
        "nsd",
        root,
        [1, 2],
        [MODEL],
        LAYERS,
        out,
        n_permutations=permutations,
        cv=cv,
        workers=workers,
        cache_dir=cache,
        progress=False,
    )
    seconds = time.perf_counter() - start
    if result["failed"]:
        raise SystemExit(f"tasks failed: {result['failed']}")
    return seconds


def task_phase(out) -> float:
    """Seconds from the first task's start to the last task's end (from run.json)."""
    import datetime
    import json

    spans = []
    for path in Path(out).glob("tasks/*/run.json"):
        timing = json.loads(path.read_text())["timing"]
        start = datetime.datetime.fromisoformat(timing["started"]).timestamp()
        spans.append((start, start + timing["seconds"]))
    return max(e for _, e in spans) - min(s for s, _ in spans)


def main(argv=None) -> int:
    """Build the sample, warm the cache, time 1 and 2 workers, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--cv", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # the sample's planted "no data" voxels

    from brainalign.data.sample import write_nsd_sample

    work = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    try:
        root = write_nsd_sample(work / "nsd", seed=0)
        cache = work / "cache"
        sweep(root, work / "warm", cache, 0, 1)
        times, phases = {1: [], 2: []}, {1: [], 2: []}
        for r in range(args.repeats):
            for workers in (1, 2):
                out = work / f"w{workers}_{r}"
                times[workers].append(sweep(root, out, cache, workers, args.permutations, args.cv))
                phases[workers].append(task_phase(out))
        one, two = min(times[1]), min(times[2])
        fit_one, fit_two = min(phases[1]), min(phases[2])
        n = 2 * len(LAYERS)
        print(f"cores: {os.cpu_count()}, tasks: {n} (2 subjects x {len(LAYERS)} layers)")
        print(f"1 worker : whole sweep {one:6.1f} s, task phase {fit_one:6.1f} s")
        print(f"2 workers: whole sweep {two:6.1f} s, task phase {fit_two:6.1f} s")
        print(f"whole-sweep throughput ratio 2 vs 1 workers: {one / two:.2f}x")
        print(f"task-phase throughput ratio 2 vs 1 workers: {fit_one / fit_two:.2f}x (goal >= 1.7)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
