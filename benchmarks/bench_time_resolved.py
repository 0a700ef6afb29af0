"""Benchmark: time-resolved encoding at THINGS-EEG2 shape, against references.

Shape: 16,540 training images + 200 test images (repetitions averaged), 17 channels x
100 time points (1,700 targets), 512 features. Times brainalign's
``time_resolved_encoding`` (one exact K-fold ridge over all channel x time targets,
one alpha per target) and its peak memory (tracemalloc, numpy buffers included),
then, in the same run and on the same data:

* ``sklearn``: the usual per-time-point loop, ``RidgeCV(alpha_per_target=True)``
  (efficient leave-one-out) on the 17 channels of each time point; with ``--quick``
  only 10 time points are timed and the total is extrapolated x10 (printed as such);
* ``himalaya``: ``EncodingModel(solver="ridge")`` (himalaya's ``RidgeCV``, same folds
  and alphas as brainalign, all targets at once).

Usage: python benchmarks/bench_time_resolved.py [--quick] [--skip-himalaya]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

N_TRAIN, N_TEST, N_FEATURES, N_CHANNELS, N_TIMES = 16540, 200, 512, 17, 100


def make_data(seed: int = 0):
    """Synthetic averaged EEG in a SensorSpace, and a FeatureSet of 512 features."""
    from brainalign.data import sensor_data
    from brainalign.data.sample import THINGS_EEG2_CHANNELS
    from brainalign.features import FeatureSet

    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_TEST
    X = rng.standard_normal((n, N_FEATURES), dtype=np.float32)
    times = np.round(-0.2 + np.arange(N_TIMES) / 100, 6)
    course = np.exp(-0.5 * ((times - 0.15) / 0.05) ** 2).astype(np.float32)
    w = rng.standard_normal((N_FEATURES, N_CHANNELS), dtype=np.float32) / np.sqrt(N_FEATURES)
    signal = (X @ w)[:, :, None] * course
    eeg = signal + rng.standard_normal((n, N_CHANNELS, N_TIMES), dtype=np.float32)
    ids = np.array([f"img{k:05d}" for k in range(n)])
    data = sensor_data(
        eeg, ids, THINGS_EEG2_CHANNELS, times, test_ids=ids[N_TRAIN:], montage="standard_1005"
    )
    return data, FeatureSet(X, ids), X, eeg


def bench_brainalign(data, features):
    """Time and peak memory of time_resolved_encoding."""
    from brainalign.encoding import time_resolved_encoding

    tracemalloc.start()
    start = time.perf_counter()
    result = time_resolved_encoding(data, features)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak, result


def bench_sklearn(X, eeg, n_times):
    """Per-time-point RidgeCV loop (the common script); time for ``n_times`` points."""
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler

    from brainalign.encoding import DEFAULT_ALPHAS

    Xs = StandardScaler().fit(X[:N_TRAIN]).transform(X)
    tracemalloc.start()
    start = time.perf_counter()
    r = []
    for t in range(n_times):
        Y = eeg[:, :, t]
        model = RidgeCV(alphas=DEFAULT_ALPHAS, alpha_per_target=True).fit(Xs[:N_TRAIN], Y[:N_TRAIN])
        pred = model.predict(Xs[N_TRAIN:])
        r.append([np.corrcoef(pred[:, c], Y[N_TRAIN:, c])[0, 1] for c in range(N_CHANNELS)])
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak, np.array(r).T


def bench_himalaya(data, features):
    """Time himalaya's RidgeCV (EncodingModel(solver="ridge")), same folds and alphas."""
    from brainalign.encoding import EncodingModel

    train, test = data.split()
    X, Xt = features.align(train.stimulus_ids), features.align(test.stimulus_ids)
    tracemalloc.start()
    start = time.perf_counter()
    est = EncodingModel(solver="ridge").fit(X, train.responses)
    est.predict(Xt)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak


def main(argv=None) -> int:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time 10 sklearn time points x10")
    parser.add_argument("--skip-himalaya", action="store_true")
    args = parser.parse_args(argv)
    data, features, X, eeg = make_data()
    mib = 2.0**20
    print(
        f"shape: {N_TRAIN} train + {N_TEST} test images, {N_FEATURES} features, "
        f"{N_CHANNELS} channels x {N_TIMES} times = {N_CHANNELS * N_TIMES} targets"
    )
    t_ba, m_ba, result = bench_brainalign(data, features)
    print(f"brainalign time_resolved_encoding: {t_ba:8.2f} s, peak {m_ba / mib:8.1f} MiB")
    n_times = 10 if args.quick else N_TIMES
    t_sk, m_sk, r_sk = bench_sklearn(X, eeg, n_times)
    scale = N_TIMES / n_times
    note = f" (timed {n_times} time points, x{scale:g})" if scale != 1 else ""
    print(
        f"sklearn RidgeCV per time point:    {t_sk * scale:8.2f} s, peak {m_sk / mib:8.1f} MiB"
        f"{note}; ratio {t_sk * scale / t_ba:.1f}x"
    )
    agree = np.abs(result.grid("r")[:, :n_times] - r_sk).max()
    print(f"  max |r difference| vs brainalign on the timed points: {agree:.3f}")
    if not args.skip_himalaya:
        t_hi, m_hi = bench_himalaya(data, features)
        print(
            f"himalaya RidgeCV (same folds):     {t_hi:8.2f} s, peak {m_hi / mib:8.1f} MiB; "
            f"ratio {t_hi / t_ba:.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
