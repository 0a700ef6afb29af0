"""One subject, one layer: dataset -> features (cached) -> encoding -> run directory."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path, get_logger, write_json_atomic
from brainalign.encoding._challenge import CHALLENGE_FILE, write_challenge_scores
from brainalign.encoding._model import EncodingModel
from brainalign.encoding._noise import split_half_ncsnr
from brainalign.encoding._scores import (
    noise_normalized_r2,
    pearson_r,
    permutation_test,
    r2_per_target,
)
from brainalign.exceptions import DataError, ParameterError

logger = get_logger(__name__)

#: Statistics written as NIfTI maps.
MAP_STATS = ("r", "r2", "ncr2", "alpha", "log10pfdr")
#: ROI label columns consulted last when naming a voxel's ROI (they are coarse).
_COARSE = ("streams", "nsdgeneral", "all-vertices")


def fit_subject(
    dataset,
    root,
    subject,
    model,
    out,
    layer="embedding",
    roi="auto",
    pooling="auto",
    alphas=None,
    cv=5,
    n_permutations=1000,
    device="auto",
    backend="numpy",
    seed=0,
    cache_dir=None,
    progress=True,
) -> dict:
    """Fit one subject's encoding model for one layer and write the run directory.

    Parameters
    ----------
    dataset : str
        Dataset name with stimulus images (``"nsd"``).
    root : str or Path
        Dataset folder.
    subject : int
        Subject number.
    model : str
        Model spec (see :func:`brainalign.get_extractor`).
    out : str or Path
        Run directory (created).
    layer : str
        Layer to fit (default: the final embedding).
    roi : str, sequence of str or None
        Targets to fit: ROI names for fMRI, channel names for EEG. ``"auto"``:
        ``nsdgeneral`` for fMRI, every channel for EEG (sensor datasets, whose
        scores gain ``channel`` and ``time`` columns).
    pooling : str
        Feature pooling.
    alphas : sequence of float, optional
        Ridge penalty grid.
    cv : int
        Folds for alpha selection.
    n_permutations : int
        Permutations of the test set per target.
    device, backend : str
        Torch device for features; himalaya backend for the fit.
    seed : int
        Seed of random weights, reductions and permutations.
    cache_dir : str or Path, optional
        Feature cache (default: ``<out>/features``).
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        ``scores`` and ``roi_scores`` tables, and the paths written.
    """
    from brainalign.features import get_extractor

    check_fit_inputs(layer, n_permutations)
    roi = _default_roi(dataset, root, roi)
    out = Path(out)
    params = {
        "dataset": dataset,
        "root": str(root),
        "subject": subject,
        "model": model,
        "layer": layer,
        "roi": roi,
        "pooling": pooling,
        "alphas": None if alphas is None else list(map(float, alphas)),
        "cv": cv,
        "n_permutations": n_permutations,
        "device": device,
        "backend": backend,
        "seed": seed,
    }
    with recorded_warnings() as caught:
        data = load_averaged(dataset, root, subject, roi, progress)
        train, test = data.split()
        extractor = get_extractor(model, device=device, seed=seed)
        feats = extractor.extract(
            data.stimuli,
            ids=data.stimulus_ids,
            layers=[layer],
            pooling=pooling,
            cache_dir=cache_dir or out / "features",
            fit_ids=train.stimulus_ids,  # reductions see training images only
            progress=progress,
            seed=seed,
        )[layer]
        est = EncodingModel(alphas=alphas, cv=cv, backend=backend)
        est.fit(feats.align(train.stimulus_ids), train.responses)
        pred = est.predict(feats.align(test.stimulus_ids))
    scores = score_table(test, pred, est.best_alphas_, n_permutations, seed)
    scores.insert(0, "layer", layer)
    scores.insert(0, "model", extractor.spec)
    scores.insert(0, "subject", subject)
    rois = roi_table(scores, test)
    paths = write_run(out, test, scores, rois, est, params, caught, extractor.spec, layer)
    result = {"scores": scores, "roi_scores": rois, "paths": paths}
    challenge = write_challenge_scores(out, scores, test)  # algonauts2023 only, else None
    if challenge is not None:
        result["challenge_scores"] = challenge
        paths["challenge_scores"] = out / CHALLENGE_FILE
    return result


@contextlib.contextmanager
def recorded_warnings(show: bool = True):
    """Record the warnings of a block (for ``run.json``), then show them to the user.

    Parameters
    ----------
    show : bool
        Re-emit the recorded warnings when the block ends (also when it raises);
        ``False`` for code whose warnings are shown elsewhere (sweep tasks).

    Yields
    ------
    list of warnings.WarningMessage
        Filled while the block runs.
    """
    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
    finally:
        for w in caught if show else ():
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def load_averaged(dataset, root, subject, roi, progress=False):
    """Load a subject, give it a noise ceiling and average its repetitions.

    Datasets that ship no ncsnr get a split-half estimate from their repetitions;
    when that is impossible a warning says so and the run has no noise ceiling.

    Parameters
    ----------
    dataset : str
        Dataset name.
    root : str or Path
        Dataset folder.
    subject : int
        Subject number.
    roi : str, sequence of str or None
        Targets to load.
    progress : bool
        Show progress bars while loading.

    Returns
    -------
    BrainData
        One row per stimulus.
    """
    from brainalign.data import load_dataset

    data = load_dataset(dataset, root=root, subject=subject, roi=roi, progress=progress)
    if data.ncsnr is None:  # no ncsnr shipped: estimate it from repetitions
        try:
            data = data.with_ncsnr(split_half_ncsnr(data))
        except DataError as exc:
            warnings.warn(f"No noise ceiling: {exc}", UserWarning, stacklevel=2)
    return data.average_repetitions()


def score_table(test, pred, alphas, n_permutations, seed) -> pd.DataFrame:
    """Per-target held-out scores of one fit.

    Parameters
    ----------
    test : BrainData
        Held-out responses (averaged repetitions).
    pred : ndarray of shape (n_test, n_targets)
        Predictions.
    alphas : ndarray of shape (n_targets,)
        Chosen penalties.
    n_permutations : int
        Permutations for the p values.
    seed : int
        Permutation seed.

    Returns
    -------
    pandas.DataFrame
        ``target, roi, i, j, k, r, r2, nc, ncr2, alpha, p, p_fdr`` (EEG:
        ``channel, time`` in place of ``i, j, k``; surfaces: ``hemi, vertex``).
    """
    r = pearson_r(test.responses, pred)
    nc = test.noise_ceiling()
    nc = np.full(test.n_targets, np.nan) if nc is None else nc
    p, p_fdr = permutation_test(test.responses, pred, n_permutations=n_permutations, seed=seed)
    table = pd.DataFrame({"target": np.arange(test.n_targets), "roi": voxel_rois(test)})
    kind = getattr(test.space, "kind", None)
    if kind == "volume":
        for axis, name in enumerate("ijk"):
            table[name] = test.space.ijk[:, axis]
    elif kind == "sensors":  # EEG: channel x time targets
        table["channel"] = test.space.column_channels.astype(str)
        table["time"] = test.space.column_times
    elif kind == "surface":  # cortical vertices
        table["hemi"] = test.space.hemi
        table["vertex"] = test.space.vertex
    table["r"] = r
    table["r2"] = r2_per_target(test.responses, pred)
    table["nc"] = nc
    table["ncr2"] = noise_normalized_r2(r, nc)
    table["alpha"] = alphas
    table["p"] = p
    table["p_fdr"] = p_fdr
    return table


def voxel_rois(data) -> list[str]:
    """Name each target by its most specific ROI label (``""`` when unlabelled)."""
    columns = [c for c in data.roi_columns if c not in _COARSE]
    columns += [c for c in _COARSE if c in data.roi_columns]
    names = np.full(data.n_targets, "", dtype=object)
    for col in columns:
        values = data.col_meta[col].astype(str).to_numpy()
        names = np.where((names == "") & (values != ""), values, names)
    return names.tolist()


def roi_table(scores: pd.DataFrame, data, alpha: float = 0.05) -> pd.DataFrame:
    """Summarise scores per ROI (every label and ROI file of the data).

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`score_table` (plus subject, model, layer).
    data : BrainData
        The scored data (for ROI membership).
    alpha : float
        FDR level for ``frac_significant``.

    Returns
    -------
    pandas.DataFrame
        ``subject, model, layer, roi, mean_r, median_r, mean_ncr2, frac_significant,
        n_targets``.
    """
    rows = []
    for name in data.roi_names():
        mask = data.roi_mask(name)
        if not mask.any():
            continue
        part = scores[mask]
        rows.append(
            {
                "subject": part["subject"].iloc[0],
                "model": part["model"].iloc[0],
                "layer": part["layer"].iloc[0],
                "roi": name,
                "mean_r": part["r"].mean(),
                "median_r": part["r"].median(),
                "mean_ncr2": part["ncr2"].mean(),
                "frac_significant": float((part["p_fdr"] < alpha).mean()),
                "n_targets": int(mask.sum()),
            }
        )
    return pd.DataFrame(rows)


def map_name(subject, model_spec: str, layer: str, stat: str) -> str:
    """BIDS-like file name of a statistic map."""

    def clean(text):
        return "".join(c if c.isalnum() else "" for c in str(text))

    model = clean(model_spec.split("@")[0].split(":")[-1])
    return f"sub-{int(subject):02d}_model-{model}_layer-{clean(layer)}_stat-{stat}.nii.gz"


def write_run(out: Path, test, scores, rois, est, params, caught, model_spec, layer) -> dict:
    """Write tables, maps, weights and ``run.json`` atomically."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in (("scores", scores), ("roi_scores", rois)):
        with atomic_path(out / f"{name}.parquet") as tmp:
            table.to_parquet(tmp, index=False)
        paths[name] = out / f"{name}.parquet"
    volume = getattr(test.space, "kind", None) == "volume"
    values = _map_values(scores)
    if volume:
        for stat in MAP_STATS:
            path = out / "maps" / map_name(params["subject"], model_spec, layer, stat)
            with atomic_path(path) as tmp:
                test.to_image(values[stat]).to_filename(tmp)
            paths[f"map_{stat}"] = path
        projections = _surface_projections(params)
        if projections:
            stem = map_name(params["subject"], model_spec, layer, "{stat}")[: -len(".nii.gz")]
            paths.update(_write_projected_maps(out, test, values, projections, stem))
    if getattr(test.space, "kind", None) == "surface":
        paths.update(_write_surface_maps(out, test, values, params["subject"], model_spec, layer))
    stem = map_name(params["subject"], model_spec, layer, "weights")[: -len(".nii.gz")]
    weights = out / f"{stem}.npz"
    with atomic_path(weights) as tmp:
        np.savez(
            tmp,
            coef=est.coef_,
            intercept=est.intercept_,
            mean=est.mean_,
            scale=est.scale_,
            best_alphas=est.best_alphas_,
            ijk=test.space.ijk if volume else np.empty((0, 3)),
            **_sensor_columns(test),
            **_surface_columns(test),
        )
    paths["weights"] = weights
    paths["run"] = write_json_atomic(out / "run.json", provenance(params, caught, test))
    return paths


def _sensor_columns(data) -> dict:
    """Channel and time of each target, for the weights file of an EEG run."""
    if getattr(data.space, "kind", None) != "sensors":
        return {}
    return {"channel": data.space.column_channels.astype(str), "time": data.space.column_times}


def _surface_columns(data) -> dict:
    """Hemisphere and vertex of each target, for the weights file of a surface run."""
    if getattr(data.space, "kind", None) != "surface":
        return {}
    return {"hemi": data.space.hemi.astype(str), "vertex": data.space.vertex}


def _map_values(scores) -> dict[str, np.ndarray]:
    """Return each map statistic per target (float32; no noise ceiling -> 0)."""
    values = {
        "r": scores["r"],
        "r2": scores["r2"],
        "ncr2": scores["ncr2"].fillna(0),
        "alpha": scores["alpha"],
        "log10pfdr": -np.log10(scores["p_fdr"]),
    }
    return {stat: np.asarray(v, dtype=np.float32) for stat, v in values.items()}


def _hemi_name(stem: str, stat: str, hemi: str, space: str | None = None) -> str:
    """``<stem>_hemi-L[_space-<space>]_stat-<stat>.mgh`` from a ``..._stat-{stat}`` stem."""
    entities = f"_hemi-{hemi[0].upper()}" + (f"_space-{space}" if space else "")
    return stem.replace("_stat-{stat}", f"{entities}_stat-{stat}") + ".mgh"


def _write_surface_maps(out: Path, test, values, subject, model_spec, layer) -> dict:
    """One ``.mgh`` per statistic and hemisphere, plus ``maps/surface.json`` (the meshes)."""
    stem = map_name(subject, model_spec, layer, "{stat}")[: -len(".nii.gz")]
    paths = {}
    for stat in MAP_STATS:
        for hemi, img in test.space.to_image(values[stat]).items():
            path = out / "maps" / _hemi_name(stem, stat, hemi)
            with atomic_path(path) as tmp:
                img.to_filename(str(tmp))
            paths[f"map_{stat}_{hemi}"] = path
    record = {
        "mesh": test.space.mesh,
        "n_vertices": test.space.n_vertices,
        "mesh_files": test.space.mesh_files,
    }
    paths["surface"] = write_json_atomic(out / "maps" / "surface.json", record)
    return paths


def _surface_projections(params) -> list:
    """Volume -> surface projections the run's dataset offers for its subject (or none)."""
    if not params.get("dataset") or params.get("root") in (None, "None"):
        return []
    from brainalign.data import get_dataset

    adapter = get_dataset(params["dataset"], params["root"])
    find = getattr(adapter, "surface_projections", None)
    try:
        return list(find(int(params["subject"]))) if find else []
    except DataError as exc:  # the fit stands; only its surface maps are missing
        warnings.warn(f"No surface maps: {exc}", UserWarning, stacklevel=2)
        return []


def _write_projected_maps(out: Path, test, values, projections, stem: str) -> dict:
    """Project each volume map on the subject's surfaces: ``*_hemi-L_space-<s>_stat-*.mgh``.

    Vertices without a voxel of the run within reach get 0, as vertices without data
    in surface runs; ``maps/surface.json`` records each projection and its meshes.
    """
    import nibabel as nib

    mask = np.zeros(test.space.shape, dtype=bool)
    mask[tuple(test.space.ijk.T)] = True
    stats = [s for s in MAP_STATS if s != "alpha"]  # interpolated penalties mean nothing
    stack = np.stack([test.to_image(values[s]).get_fdata(dtype=np.float32) for s in stats], -1)
    paths, records = {}, {}
    for proj in projections:
        projected = proj.project(stack, mask=mask)
        for hemi, maps in projected.items():
            for k, stat in enumerate(stats):
                data = np.nan_to_num(maps[:, k]).astype(np.float32).reshape(-1, 1, 1)
                path = out / "maps" / _hemi_name(stem, stat, hemi, proj.name)
                with atomic_path(path) as tmp:
                    nib.MGHImage(data, np.eye(4)).to_filename(str(tmp))
                paths[f"map_{stat}_{hemi}_{proj.name}"] = path
        covered = {h: int(np.isfinite(m[:, 0]).sum()) for h, m in projected.items()}
        records[proj.name] = {**proj.record(), "vertices_with_data": covered}
    paths["surface"] = write_json_atomic(out / "maps" / "surface.json", {"projections": records})
    return paths


def _default_roi(dataset, root, roi):
    """Resolve ``roi="auto"``: every channel for EEG datasets, nsdgeneral otherwise."""
    if roi == "auto" or (not isinstance(roi, str) and roi is not None and list(roi) == ["auto"]):
        from brainalign.data import get_dataset

        eeg = getattr(get_dataset(dataset, root), "modality", None) == "eeg"
        return None if eeg else "nsdgeneral"
    return roi


def provenance(params: dict, caught, data, command: str = "fit") -> dict:
    """Build the ``run.json`` record: versions, parameters, data identity, warnings."""
    from importlib.metadata import PackageNotFoundError, version

    libs = {}
    for name in (
        "brainalign",
        "numpy",
        "scipy",
        "scikit-learn",
        "himalaya",
        "torch",
        "nibabel",
        "pandas",
        "open_clip_torch",
        "transformers",
    ):
        try:
            libs[name] = version(name)
        except PackageNotFoundError:
            libs[name] = None
    fingerprint = hashlib.sha256(np.ascontiguousarray(data.responses).tobytes()).hexdigest()
    return {
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": libs,
        "parameters": json.loads(json.dumps(params, default=str)),
        "data": {
            "dataset": data.info.get("dataset"),
            "root": data.info.get("root"),
            "sessions": data.info.get("sessions"),
            "n_test": data.n_rows,
            "n_targets": data.n_targets,
            "test_responses_sha256": fingerprint,
        },
        "seed": params.get("seed"),
        "warnings": [str(w.message) for w in caught],
    }


def check_fit_inputs(layer, n_permutations) -> None:
    """Validate scalar options before any data is read."""
    if not isinstance(layer, str) or not layer:
        raise ParameterError(f"Invalid value for 'layer': expected a layer name; got {layer!r}.")
    if int(n_permutations) < 1:
        raise ParameterError(
            f"Invalid value for 'n_permutations': expected >= 1; got {n_permutations!r}."
        )
