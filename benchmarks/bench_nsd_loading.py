"""Benchmark: load one NSD subject at realistic size, time and peak memory.

Writes (once, into a cache folder) an NSD-layout subject: 40 sessions x 750 trials,
an 81 x 104 x 83 volume (subj01's func1pt8mm grid), an nsdgeneral-sized mask of about
15,000 voxels, HDF5 betas with NSD's chunking (750, 1, 1, 1). Only the mask's
bounding box is written (unwritten HDF5 chunks take no disk), which is all any masked
reader touches.

Each loader runs in a fresh process and reports wall time and peak RSS; the script
prints them divided by the size of the final masked float32 matrix (goal for
brainalign: peak RSS / matrix <= 1.5), against a reference measured in the same run:
the usual notebook loader (read each session whole with h5py, transpose, mask).

Usage: python benchmarks/bench_nsd_loading.py [--sessions 40] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GRID = (81, 104, 83)
TRIALS = 750


def build(root: Path, n_sessions: int, n_voxels: int = 15000, seed: int = 0) -> Path:
    """Write the NSD-layout subject under ``root`` (skipped when already complete)."""
    import h5py
    import nibabel as nib

    from brainalign.data import _nsd_layout as L
    from brainalign.data.sample._nsd import (
        SampleConfig,
        _affine,
        _write_design,
        _write_stim_info,
        plan_design,
    )

    done = root / "bench.json"
    if done.exists() and json.loads(done.read_text()) == {"sessions": n_sessions}:
        return root
    cfg = SampleConfig(seed=seed, n_subjects=1, n_sessions=n_sessions, n_shared=1000)
    design = plan_design(cfg)
    _write_design(root, cfg, design)
    _write_stim_info(root, cfg, design)
    mask = _blob_mask(n_voxels)
    affine = _affine(GRID)
    roi = np.where(mask, 1.0, 0.0).astype(np.float32)
    nib.Nifti1Image(roi, affine).to_filename(_mkdir(root / L.roi_file(1, "nsdgeneral")))
    _mkdir(root / L.ctab_file(1, "nsdgeneral")).write_text("0 Unknown\n1 nsdgeneral\n")
    (i0, j0, k0), (i1, j1, k1) = np.argwhere(mask).min(0), np.argwhere(mask).max(0) + 1
    rng = np.random.default_rng(seed)
    for s in range(1, n_sessions + 1):
        path = _mkdir(root / L.betas_file(1, s, "hdf5"))
        with h5py.File(path, "w") as f:
            ds = f.create_dataset(
                "betas", shape=(TRIALS,) + GRID[::-1], dtype=np.int16, chunks=(TRIALS, 1, 1, 1)
            )
            box = (TRIALS, k1 - k0, j1 - j0, i1 - i0)
            ds[:, k0:k1, j0:j1, i0:i1] = rng.integers(-3000, 3000, box, dtype=np.int16)
        print(f"  wrote session {s}/{n_sessions}", end="\r", file=sys.stderr)
    done.write_text(json.dumps({"sessions": n_sessions}))
    return root


def _mkdir(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _blob_mask(n_voxels: int) -> np.ndarray:
    """Return a posterior ellipsoidal shell of about ``n_voxels`` voxels."""
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in GRID], indexing="ij"), -1)
    centre = np.array([40, 25, 35])
    dist = np.sqrt((((grid - centre) / np.array([22, 16, 18])) ** 2).sum(-1))
    order = np.sort(dist[dist <= 1])[::-1]
    cut = order[min(n_voxels, order.size) - 1]
    return (dist <= 1) & (dist >= cut)


LOADERS = {
    "brainalign": """
import brainalign
data = brainalign.load_dataset("nsd", root=ROOT, subject=1, zscore=True)
shape = data.responses.shape
""",
    "reference": """
import h5py, nibabel as nib, numpy as np
from pathlib import Path
root = Path(ROOT)
roi = root / "nsddata/ppdata/subj01/func1pt8mm/roi/nsdgeneral.nii.gz"
mask = np.asarray(nib.load(roi).dataobj) > 0
files = sorted((root / "nsddata_betas/ppdata/subj01/func1pt8mm/"
                "betas_fithrf_GLMdenoise_RR").glob("betas_session*.hdf5"))[:N_REF]
blocks = []
for path in files:
    with h5py.File(path, "r") as f:
        vol = f["betas"][...]                      # whole session (750, Z, Y, X)
    x = vol.transpose(0, 3, 2, 1)[:, mask].astype(np.float32) / 300
    blocks.append((x - x.mean(0)) / x.std(0))
responses = np.concatenate(blocks)
shape = responses.shape
""",
}

# Peak RSS from VmHWM: unlike ru_maxrss, it starts afresh at exec (ru_maxrss keeps
# the high-water mark of the forked parent).
_PEAK = """
def peak_rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
"""

_RUNNER = (
    _PEAK
    + """
import json, sys, time
ROOT = sys.argv[1]
start = time.perf_counter()
{code}
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "peak_rss": peak_rss(), "shape": list(shape)}}))
"""
)

_BASELINE = (
    _PEAK
    + """
import json
import brainalign, h5py, nibabel, numpy, pandas, scipy.io
print(json.dumps({"peak_rss": peak_rss()}))
"""
)


def run(code: str, root: Path, n_ref: int) -> dict:
    """Run a loader in a fresh interpreter and return its measurements."""
    code = code.replace("N_REF", str(n_ref))
    out = subprocess.run(
        [sys.executable, "-c", _RUNNER.format(code=code), str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    """Build the data if needed, run both loaders, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument(
        "--reference-sessions",
        type=int,
        default=2,
        help="sessions the (slow) reference loader reads; times are compared per session",
    )
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "ba_bench_nsd")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    root = build(args.cache, args.sessions)
    print(f"data: {root} (ready in {time.perf_counter() - t0:.0f} s)")
    base = json.loads(
        subprocess.run(
            [sys.executable, "-c", _BASELINE], capture_output=True, text=True, check=True
        ).stdout
    )["peak_rss"]
    n_ref = min(args.reference_sessions, args.sessions)
    results = {name: run(code, root, n_ref) for name, code in LOADERS.items()}
    print(f"interpreter + imports baseline RSS: {base / 2**30:.2f} GiB")
    print(f"{'loader':<12}{'sessions':>9}{'s/session':>11}{'peak GiB':>10}{'peak/matrix':>13}")
    for name, r in results.items():
        n_sessions = r["shape"][0] // TRIALS
        r["per_session"] = r["seconds"] / n_sessions
        r["ratio"] = r["peak_rss"] / (r["shape"][0] * r["shape"][1] * 4)
        print(
            f"{name:<12}{n_sessions:>9}{r['per_session']:>11.2f}"
            f"{r['peak_rss'] / 2**30:>10.2f}{r['ratio']:>13.2f}"
        )
    ours, ref = results["brainalign"], results["reference"]
    shape = ours["shape"]
    gib = shape[0] * shape[1] * 4 / 2**30
    print(f"final matrix: {shape[0]} x {shape[1]} float32 = {gib:.2f} GiB")
    print(
        f"brainalign / reference: time per session {ours['per_session'] / ref['per_session']:.3f},"
        f" peak RSS per matrix byte {ours['ratio'] / ref['ratio']:.2f}"
    )
    goal = ours["ratio"] <= 1.5
    print(f"goal peak RSS / matrix <= 1.5: {'met' if goal else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
