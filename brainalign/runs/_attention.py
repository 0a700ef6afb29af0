"""Fit runs with ``encoder="attention"``: queries per ROI, attention maps, their figures.

A fit run with the attention encoder (:class:`~brainalign.encoding.AttentionEncoder`)
writes the tables and maps of every fit, and also:

- ``attention.parquet``: per query (ROI), its targets, the peak of its mean
  attention map over the held-out stimuli (row, column, weight), the weight a
  uniform map would give, and the spread (entropy / log of the token count: 1 is
  uniform);
- ``attention/<stem>_attention.npz``: ``groups``, ``grid``, ``stimulus_ids`` (held
  out), ``maps`` (n_test, n_groups, rows, columns; float16) and ``mean``;
- the encoder itself (``<stem>_stat-weights.npz`` with ``encoder = "attention"``);
- ``figures/attention_maps.png`` (every ROI's mean map) and
  ``figures/attention_<roi>.png`` (the map over the held-out stimuli that the encoder
  predicts to drive the ROI most).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainalign._utils import atomic_path
from brainalign.exceptions import DataError, ParameterError

#: Table of the queries' attention peaks.
TABLE = "attention"
#: Held-out stimuli drawn under each ROI's attention map.
N_SHOWN = 4
#: Prefix of the attention figures (the report's attention section shows them).
FIGURE_PREFIX = "attention_"
#: The one query of a fit without named ROIs or queries.
ALL_TARGETS = "all targets"


def query_groups(data, names) -> np.ndarray:
    """Return the query (ROI) of each target: one query per ROI label.

    Each name is an ROI label (``"FFA-1"``) or an ROI file (``"floc-faces"``: one query
    per label it holds). A target in several ROIs belongs to the first one named;
    targets in none form the group ``"unlabelled"``. No names: one query for every
    target (``"all targets"``).

    Parameters
    ----------
    data : BrainData
        The responses (their ROI columns).
    names : sequence of str
        ROI labels or files, in priority order.

    Returns
    -------
    ndarray of shape (n_targets,), dtype object
        Query name of each target.
    """
    from brainalign.encoding._attention import UNLABELLED

    groups = np.full(data.n_targets, UNLABELLED if names else ALL_TARGETS, dtype=object)
    free = np.ones(data.n_targets, dtype=bool)
    for name in names:
        if name in data.roi_columns:
            labels = np.asarray(data.col_meta[name].astype(str))
            parts = [(v, labels == v) for v in dict.fromkeys(labels) if v]
        else:
            parts = [(name, data.roi_mask(name))]
        for label, mask in parts:
            groups[mask & free] = label
            free &= ~mask
    return groups


def attention_names(spec) -> list[str]:
    """Return the ROI names whose labels become queries: ``spec.queries``, else the ROIs.

    With ``roi="auto"`` or None and no ``queries`` there are none: one query serves
    every target (an atlas's files would make arbitrary queries, e.g. 180 HCP parcels
    before the visual ROIs).
    """
    if spec.queries is not None:
        return list(spec.queries)
    return list(spec.roi) if isinstance(spec.roi, tuple) else []


def write_attention(run, spec, model, est, tokens, test, pred) -> dict:
    """Write the attention table, maps and figures of a fitted attention encoder.

    Parameters
    ----------
    run : RunDir
        The run directory.
    spec : RunSpec
        The fit's spec.
    model : str
        Resolved model spec.
    est : AttentionEncoder
        The fitted encoder.
    tokens : ndarray of shape (n_test, n_tokens, n_channels)
        Token features of the held-out stimuli.
    test : BrainData
        Held-out responses (stimulus ids, stimuli).
    pred : ndarray of shape (n_test, n_targets)
        The encoder's predictions.

    Returns
    -------
    dict
        Paths written: ``attention`` (table), ``attention_maps`` (npz).
    """
    maps = est.attention_maps(tokens)
    mean = maps.mean(0)
    path = run.path / "attention" / f"{run.stem(spec.subject, model, spec.layer)}_attention.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            groups=est.groups_.astype(str),
            grid=np.asarray(est.grid_),
            stimulus_ids=np.asarray(test.stimulus_ids),
            maps=maps.astype(np.float16),
            mean=mean.astype(np.float32),
        )
    table = peak_table(est, mean, pred)
    return {"attention": run.write_table(TABLE, table), "attention_maps": path}


def peak_table(est, mean: np.ndarray, pred: np.ndarray):
    """``roi, n_targets, peak_row, peak_col, peak_weight, uniform_weight, spread`` per query."""
    import pandas as pd

    n_tokens = mean[0].size
    rows = []
    for g, name in enumerate(est.groups_):
        flat = mean[g].ravel()
        peak = int(flat.argmax())
        entropy = -np.sum(flat * np.log(np.clip(flat, 1e-12, None)))
        rows.append(
            {
                "roi": str(name),
                "n_targets": int((est.group_index_ == g).sum()),
                "peak_row": peak // mean.shape[2],
                "peak_col": peak % mean.shape[2],
                "peak_weight": float(flat[peak]),
                "uniform_weight": 1.0 / n_tokens,
                "spread": float(entropy / np.log(n_tokens)) if n_tokens > 1 else 1.0,
            }
        )
    return pd.DataFrame(rows)


def draw_attention_figures(run, maps_path, test, pred, est) -> list[Path]:
    """Draw every ROI's mean map and, per ROI, its map over its top held-out stimuli.

    Parameters
    ----------
    run : RunDir
        The run directory.
    maps_path : Path
        The ``attention/*.npz`` of :func:`write_attention`.
    test : BrainData
        Held-out data whose ``stimuli`` give the images (none: no overlays).
    pred : ndarray of shape (n_test, n_targets)
        Predictions, to pick each ROI's top stimuli.
    est : AttentionEncoder
        The fitted encoder (its groups).

    Returns
    -------
    list of Path
        Figures written.
    """
    from brainalign.maps import plot_attention_grid, plot_attention_overlays
    from brainalign.runs._rundir import clean

    with np.load(maps_path, allow_pickle=False) as npz:
        maps, mean, groups = npz["maps"].astype(np.float32), npz["mean"], npz["groups"]
    paths = [plot_attention_grid(mean, groups, run.figure(f"{FIGURE_PREFIX}maps.png"))]
    source = _images(test)
    if source is None:
        return paths
    for g, name in enumerate(groups):
        cols = np.flatnonzero(est.group_index_ == g)
        top = np.argsort(-pred[:, cols].mean(1), kind="stable")[:N_SHOWN]
        images = source.load(top)
        out = run.figure(f"{FIGURE_PREFIX}{clean(name)}.png")
        ids = [str(i) for i in np.asarray(test.stimulus_ids)[top]]
        paths.append(plot_attention_overlays(images, maps[top, g], mean[g], name, ids, out))
    return paths


def _images(test):
    """Return the held-out images, or None (with a warning) when the data has none."""
    import warnings

    from brainalign.features import image_source

    if test.stimuli is None:
        return None
    try:
        return image_source(test.stimuli, np.asarray(test.stimulus_ids))
    except (DataError, ParameterError, TypeError) as exc:
        warnings.warn(f"No attention maps over stimuli: {exc}", UserWarning, stacklevel=3)
        return None


def load_attention_encoder(run, device="cpu"):
    """Return the fitted attention encoder of a ``--encoder attention`` fit run.

    Parameters
    ----------
    run : str, Path or RunDir
        The fit run directory.
    device : str
        Torch device of the network.

    Returns
    -------
    AttentionEncoder
        The encoder (predicts from the layer's tokens, :meth:`FeatureSet.tokens`).

    Raises
    ------
    DataError
        If the run's weights are ridge weights.
    """
    from brainalign.encoding import AttentionEncoder
    from brainalign.runs._rundir import RunDir

    run = run if isinstance(run, RunDir) else RunDir(run)
    with np.load(run.weights_file(), allow_pickle=False) as npz:
        if "encoder" not in npz.files:
            raise DataError(
                f"The fit run {run.path} holds ridge weights, not an attention encoder "
                "(fit it with --encoder attention)."
            )
        return AttentionEncoder.from_arrays({k: npz[k] for k in npz.files}, device=device)


def compare_encoders(baseline, other):
    """Compare two fit runs of one subject ROI by ROI, on the same bootstrap resamples.

    Each fit writes the ROI mean r on bootstrap resamples of its held-out stimuli
    (``roi_bootstrap.parquet``); the resamples depend only on the seed and the number
    of held-out stimuli, so two fits of the same subject, held-out set and seed (a
    ridge and an attention encoder, two layers) are compared pairwise.

    Parameters
    ----------
    baseline, other : str, Path or RunDir
        Fit run directories (e.g. ``--encoder ridge`` and ``--encoder attention``).

    Returns
    -------
    pandas.DataFrame
        Per ROI both runs: ``roi, mean_r_baseline, mean_r_other, difference``, its
        95 % bootstrap interval ``difference_low, difference_high`` and ``p`` (share of
        resamples where ``other`` is not above ``baseline``, one-sided).

    Raises
    ------
    DataError
        If the runs were scored on different held-out responses or seeds (their
        resamples would not pair).
    """
    import pandas as pd

    from brainalign.runs._rundir import RunDir

    runs = [r if isinstance(r, RunDir) else RunDir(r) for r in (baseline, other)]
    records = [r.record.read() for r in runs]
    keys = [
        ((rec.get("data") or {}).get("test_responses_sha256"), rec.get("seed")) for rec in records
    ]
    if keys[0] != keys[1] or keys[0][0] is None:
        raise DataError(
            f"Runs {runs[0].path} and {runs[1].path} were not scored on the same held-out "
            f"responses with the same seed (test sha256 and seed: {keys[0]} vs {keys[1]}); "
            "their bootstrap resamples do not pair."
        )
    boots = [_table(r, "roi_bootstrap") for r in runs]
    means = [_table(r, "roi_scores")[["roi", "mean_r"]] for r in runs]
    wide = [b.pivot(index="resample", columns="roi", values="mean_r") for b in boots]
    rows = []
    for roi in [n for n in means[0]["roi"] if n in set(means[1]["roi"])]:
        diff = (wide[1][roi] - wide[0][roi]).to_numpy()
        a, b = (float(m.loc[m["roi"] == roi, "mean_r"].iloc[0]) for m in means)
        rows.append(
            {
                "roi": roi,
                "mean_r_baseline": a,
                "mean_r_other": b,
                "difference": b - a,
                "difference_low": float(np.quantile(diff, 0.025)),
                "difference_high": float(np.quantile(diff, 0.975)),
                "p": float((np.sum(diff <= 0) + 1) / (len(diff) + 1)),
            }
        )
    return pd.DataFrame(rows)


def _table(run, name: str):
    table = run.read_table(name)
    if table is None:
        raise DataError(f"Run {run.path} has no {name}.parquet: it is not a finished fit run.")
    return table
