"""The one encoding fit: used by ``fit`` and by every sweep task.

:func:`fit_one` fits one :class:`RunSpec` on loaded data and features and writes its
run directory: tables, maps, weights, then the post-steps every fit runs (surface
projections and extra scores the dataset offers, figures), and ``run.json`` last, so
a run is complete exactly when its record exists. :func:`fit_subject` is the whole
pipeline for one subject (load -> features -> :func:`fit_one`).
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np

from brainalign._utils import atomic_path, get_logger
from brainalign.exceptions import DataError
from brainalign.runs._common import (
    features_record,
    load_averaged,
    messages,
    now,
    provenance,
    recorded_warnings,
)
from brainalign.runs._rundir import MAP_STATS, RunDir
from brainalign.runs._spec import RunSpec

logger = get_logger(__name__)

#: Statistics projected from volume maps onto surfaces (interpolated penalties mean nothing).
_PROJECTED = tuple(s for s in MAP_STATS if s != "alpha")


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
    figures=True,
    progress=True,
) -> dict:
    """Fit one subject's encoding model for one layer and write the run directory.

    Parameters
    ----------
    dataset : str
        Dataset name with stimulus images (``"nsd"``, ``"things-eeg2"`` ...).
    root : str or Path
        Dataset folder.
    subject : int
        Subject number.
    model : str
        Model spec (see :func:`brainalign.get_extractor`).
    out : str or Path
        Run directory (created).
    layer : str
        Layer to fit (default: the final embedding); ``a+b`` fits a banded ridge
        over both layers' feature spaces (one penalty per space and target).
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
    figures : bool
        Draw the run's figures (maps, surfaces or topomaps).
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        ``scores`` and ``roi_scores`` tables, ``extra_scores`` (the dataset's own
        metrics, e.g. the Algonauts challenge score) and the ``paths`` written.
    """
    spec = RunSpec(
        dataset=dataset,
        root=root,
        subject=subject,
        model=model,
        layer=layer,
        roi=roi,
        pooling=pooling,
        alphas=alphas,
        cv=cv,
        n_permutations=n_permutations,
        device=device,
        backend=backend,
        seed=seed,
        cache_dir=None if cache_dir is None else str(cache_dir),
    )
    return run_fit(spec, out, figures=figures, progress=progress)


def run_fit(
    spec: RunSpec, out, figures: bool = True, progress: bool = True, overwrite: bool = False
) -> dict:
    """Load, extract and fit one :class:`RunSpec`; write its run directory.

    The subject, ROIs, model and layers are checked first (:func:`check_plan`) and
    the run directory after (:meth:`RunDir.prepare`): a bad input fails before any
    data is loaded and leaves nothing behind.

    Parameters
    ----------
    spec : RunSpec
        What to fit.
    out : str or Path
        Run directory.
    figures : bool
        Draw the run's figures.
    progress : bool
        Show progress bars.
    overwrite : bool
        Replace a different run that ``out`` holds (else it is refused).

    Returns
    -------
    dict
        As :func:`fit_subject`.
    """
    from brainalign.runs._validate import check_plan

    run = RunDir(out)
    run.check_output()
    rois = spec.roi
    if spec.queries is not None:  # the attention queries are ROIs of the atlas too
        rois = [*(spec.roi if isinstance(spec.roi, tuple) else ()), *spec.queries]
    check_plan(spec.dataset, spec.root, [spec.subject], rois, {spec.model: [spec.layer]})
    if spec.shared_space is not None:
        from brainalign.runs._align import open_align_run

        open_align_run(spec)  # a bad align run fails before the run directory is made
    run.prepare("fit", spec.to_json(), overwrite=overwrite)
    clock = time.perf_counter()
    estimator, record = None, None
    with recorded_warnings() as caught:  # shown when loading ends (or fails)
        if spec.shared_space is not None:  # encoder of other subjects, through the space
            from brainalign.runs._align import cross_subject_fit

            data, model, features, estimator, record = cross_subject_fit(spec, run, progress)
        else:
            data = load_averaged(spec.dataset, spec.root, spec.subject, spec.roi, progress)
            model, features = extract_layers(spec, data, spec.cache_dir or run.features, progress)
    return fit_one(
        spec,
        data,
        features,
        run,
        model=model,
        notes=messages(caught),
        record=record,
        figures=figures,
        started=clock,
        estimator=estimator,
        progress=progress,
    )


def extract_layers(spec: RunSpec, data, cache_dir, progress: bool = False):
    """Extract the layers of a spec over a subject's stimuli (reductions fitted on training).

    Returns
    -------
    tuple of (str, dict of str -> FeatureSet)
        The resolved model spec and one feature set per layer.
    """
    # reductions see training images only
    fit_ids = data.split()[0].stimulus_ids
    return extract_ids(spec, data.stimuli, data.stimulus_ids, fit_ids, cache_dir, progress)


def extract_ids(spec, stimuli, ids, fit_ids, cache_dir, progress: bool = False):
    """Extract the layers of a spec (model, pooling, seed ...) over stimuli by id.

    Parameters
    ----------
    spec : RunSpec or AlignSpec
        Its ``model, device, seed, preprocess, layers, pooling``.
    stimuli : object
        Stimulus store holding every id.
    ids : array-like
        Stimuli to extract.
    fit_ids : array-like
        Stimuli that fit reductions (``pca``/``srp``): never held-out ones.
    cache_dir : str or Path
        Feature cache.
    progress : bool
        Progress bars.

    Returns
    -------
    tuple of (str, dict of str -> FeatureSet)
        The resolved model spec and one feature set per layer.
    """
    from brainalign.features import get_extractor

    extractor = get_extractor(
        spec.model, device=spec.device, seed=spec.seed, preprocess=spec.preprocess
    )
    feats = extractor.extract(
        stimuli,
        ids=ids,
        layers=list(dict.fromkeys(spec.layers)),
        pooling=spec.pooling,
        cache_dir=cache_dir,
        fit_ids=fit_ids,
        progress=progress,
        seed=spec.seed,
    )
    return extractor.spec, feats


def fit_one(
    spec: RunSpec,
    data,
    features: dict,
    out,
    model: str | None = None,
    command: str = "fit",
    notes=(),
    record=None,
    figures: bool = True,
    show_warnings: bool = True,
    started: float | None = None,
    before_record=None,
    estimator=None,
    progress: bool = False,
) -> dict:
    """Fit one spec on loaded data and features, and write its run directory.

    Parameters
    ----------
    spec : RunSpec
        What is fitted (its ``layer`` may combine layers, ``a+b``).
    data : BrainData
        The subject's responses, one row per stimulus (repetitions averaged).
    features : dict of str -> FeatureSet
        Features of every layer of ``spec.layers`` (joined to the data by stimulus id).
    out : str, Path or RunDir
        Run directory.
    model : str, optional
        The model as resolved by its extractor (default: ``spec.model``).
    command : str
        Verb recorded in ``run.json``.
    notes : sequence of str
        Warnings raised before the fit (loading, features), for ``run.json`` (already
        shown: they are recorded, not shown again).
    record : dict, optional
        Extra fields of ``run.json`` (a sweep task's key).
    figures : bool
        Draw the run's figures.
    show_warnings : bool
        Show the warnings when done (sweep tasks show them in the parent process).
    started : float, optional
        ``time.perf_counter()`` when the run began (for ``timing``).
    before_record : callable, optional
        ``before_record(test, features, train)`` runs after the fit's files are written and
        before ``run.json`` (a sweep task's RDMs), so it is part of the finished run.
    estimator : fitted estimator, optional
        Predicts the subject's targets from the features without being fitted on the
        subject's training stimuli (a cross-subject encoder,
        :class:`~brainalign.alignment.SharedSpaceEncoder`); its runs have no inner
        cross-validated R².
    progress : bool
        Show a progress bar over the attention encoder's training epochs.

    Returns
    -------
    dict
        ``scores``, ``roi_scores``, ``extra_scores`` (list of ExtraScores),
        ``warnings`` and ``paths``.
    """
    run = out if isinstance(out, RunDir) else RunDir(out)
    started = time.perf_counter() if started is None else started
    began = now()
    model = spec.model if model is None else model
    notes = list(notes)
    caught = []
    try:
        with recorded_warnings(show=False) as caught:
            result = _fit_and_write(spec, data, features, run, model, figures, estimator, progress)
            train = result.pop("train")
            if before_record is not None:
                before_record(result["test"], result["features"], train)
            result["paths"]["run"] = run.record.write(
                {
                    **provenance(
                        command, spec.to_json(), result.pop("test"), notes + messages(caught)
                    ),
                    "features": features_record(features),
                    **{e.record_key: e.headline for e in result["extra_scores"]},
                    "timing": {
                        "started": began,
                        "seconds": round(time.perf_counter() - started, 3),
                        "pid": os.getpid(),
                    },
                    **(record or {}),
                }
            )
    finally:
        for w in caught if show_warnings else ():
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    result["warnings"] = list(dict.fromkeys(notes + messages(caught)))
    result.pop("features")
    return result


def _fit_and_write(
    spec, data, features, run: RunDir, model, figures, estimator=None, progress=False
) -> dict:
    from brainalign.encoding import inner_cv_r2, roi_table, score_table

    train, test = data.split()
    est, fs = _estimator(spec, features, train, progress)
    rows = fs.tokens if spec.encoder == "attention" else fs.align
    if estimator is None:
        est.fit(rows(train.stimulus_ids), train.responses)
    else:
        est = estimator
    test_rows = rows(test.stimulus_ids)
    pred = est.predict(test_rows)
    cv_r2 = inner_cv_r2(est, train.responses)
    scores = score_table(test, pred, est.best_alphas_, spec.n_permutations, spec.seed, cv_r2)
    for name, value in (("layer", spec.layer), ("model", model), ("subject", spec.subject)):
        scores.insert(0, name, value)
    names, boot = _roi_bootstrap(test, pred, spec.seed)
    rois = roi_table(scores, test, bootstrap=boot)
    run.path.mkdir(parents=True, exist_ok=True)
    paths = {"scores": run.write_table("scores", scores)}
    paths["roi_scores"] = run.write_table("roi_scores", rois)
    paths["roi_bootstrap"] = run.write_table("roi_bootstrap", _long(names, boot))
    paths.update(_write_maps(spec, run, test, scores, model))
    paths["weights"] = _write_weights(run.weights_path(spec.subject, model, spec.layer), est, test)
    if spec.encoder == "attention":
        from brainalign.runs._attention import write_attention

        paths.update(write_attention(run, spec, model, est, test_rows, test, pred))
    extra = _extra_scores(spec, scores, test)
    for item in extra:
        paths[item.name] = run.write_table(item.name, item.table)
    if figures:
        from brainalign.runs._figures import draw_run_figures

        paths["figures"] = draw_run_figures(run)
        if spec.encoder == "attention":
            from brainalign.runs._attention import draw_attention_figures

            paths["figures"] += draw_attention_figures(
                run, paths["attention_maps"], test, pred, est
            )
    return {
        "scores": scores,
        "roi_scores": rois,
        "extra_scores": extra,
        "paths": paths,
        "test": test,
        "train": train,
        "features": fs,
    }


def _roi_bootstrap(test, pred, seed: int) -> tuple[list, np.ndarray]:
    """ROI mean r on bootstrap resamples of the test stimuli, rows in ``roi_names()`` order.

    The resamples depend only on the seed and the number of test stimuli, so the
    fits of a sweep on one subject share them: a sweep compares layers and models
    on the same resamples (:func:`brainalign.compare.best_layers`).
    """
    from brainalign.encoding import N_BOOTSTRAPS, roi_bootstrap_r

    names = test.roi_names()
    masks = np.array([test.roi_mask(n) for n in names]).reshape(len(names), test.n_targets)
    return names, roi_bootstrap_r(test.responses, pred, masks, N_BOOTSTRAPS, seed)


def _long(names, boot):
    """``roi, resample, mean_r`` rows of a bootstrap array (ROIs x resamples)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "roi": np.repeat(np.asarray(names, dtype=object), boot.shape[1]),
            "resample": np.tile(np.arange(boot.shape[1]), len(names)),
            "mean_r": boot.ravel(),
        }
    )


def _estimator(spec: RunSpec, features: dict, train=None, progress: bool = False):
    """Return the estimator of a spec and its features (several layers side by side for a+b)."""
    from brainalign.encoding import AttentionEncoder, BandedEncodingModel, EncodingModel

    parts = [features[name] for name in spec.layers]
    if spec.encoder == "attention":
        from brainalign.runs._attention import attention_names, query_groups

        params = {} if spec.epochs is None else {"max_epochs": spec.epochs}
        est = AttentionEncoder(
            groups=query_groups(train, attention_names(spec)),
            grid=parts[0].token_grid,
            alphas=spec.alphas,
            cv=spec.cv,
            device=spec.device,
            random_state=spec.seed,
            progress=progress,
            **params,
        )
        return est, parts[0]
    if len(parts) == 1:
        est = EncodingModel(alphas=spec.alphas, cv=spec.cv, backend=spec.backend)
        return est, parts[0]
    est = BandedEncodingModel(
        [p.features.shape[1] for p in parts],
        alphas=spec.alphas,
        cv=spec.cv,
        backend=spec.backend,
        random_state=spec.seed,
    )
    return est, stack_features(parts)


def stack_features(parts):
    """Concatenate feature sets (same stimuli) side by side, joined by stimulus id."""
    from brainalign.features import FeatureSet

    ids = parts[0].stimulus_ids
    return FeatureSet(np.hstack([p.align(ids) for p in parts]), ids, {"layers": len(parts)})


def map_values(scores) -> dict[str, np.ndarray]:
    """Each map statistic per target (float32; no noise ceiling -> 0)."""
    values = {
        "r": scores["r"],
        "r2": scores["r2"],
        "ncr2": scores["ncr2"].fillna(0),
        "alpha": scores["alpha"],
        "log10pfdr": -np.log10(scores["p_fdr"]),
    }
    return {stat: np.asarray(v, dtype=np.float32) for stat, v in values.items()}


def _write_maps(spec, run: RunDir, test, scores, model) -> dict:
    if test.space is None:
        return {}
    projections = _dataset_capability(spec, "surface_projections", spec.subject)
    stem = run.stem(spec.subject, model, spec.layer)
    paths = test.space.write_maps(
        map_values(scores), run.maps, stem, projections=projections or (), projected=_PROJECTED
    )
    if test.space.voxel_grid:  # slices are drawn over the subject's anatomy
        paths.update(write_anatomy(spec, run))
    return paths


def write_anatomy(spec, run: RunDir) -> dict:
    """Copy the subject's anatomy (the dataset's, when it has one) beside the run's maps.

    The maps of a run handed to a colleague are then drawn over the anatomy without
    the dataset (:meth:`RunDir.anatomy_path`). A dataset without anatomy, or data
    without subjects, write nothing (the figures outline the mapped voxels).

    Parameters
    ----------
    spec : RunSpec
        The fit's spec (dataset, root, subject).
    run : RunDir
        The run directory.

    Returns
    -------
    dict
        ``{"anatomy": path}``, or empty.
    """
    import nibabel as nib

    from brainalign.data import get_dataset

    if spec.subject is None:
        return {}
    try:
        image = get_dataset(spec.dataset, spec.root).anatomy(spec.subject)
        if image is None:
            return {}
        image = nib.load(image) if isinstance(image, str | os.PathLike) else image
        data = np.asarray(image.dataobj, dtype=np.float32)
    except (DataError, OSError, nib.filebasedimages.ImageFileError) as exc:
        warnings.warn(f"No anatomy under the maps: {exc}", UserWarning, stacklevel=2)
        return {}
    path = run.anatomy_path(spec.subject)
    with atomic_path(path) as tmp:
        nib.Nifti1Image(np.squeeze(data), image.affine).to_filename(tmp)
    return {"anatomy": path}


def _extra_scores(spec, scores, test) -> list:
    """Return the dataset's own metrics of the fit (e.g. the Algonauts challenge score)."""
    return _dataset_capability(spec, "extra_scores", scores, test) or []


def _dataset_capability(spec, capability: str, *args):
    """Call an optional capability of the spec's dataset, or return None without it.

    A broken capability warns (the fit stands; only its extra output is missing).
    """
    from brainalign.data import get_dataset

    adapter = get_dataset(spec.dataset, spec.root)
    if not adapter.has(capability):
        return None
    try:
        return list(getattr(adapter, capability)(*args))
    except DataError as exc:
        what = "surface maps" if capability == "surface_projections" else "extra scores"
        warnings.warn(f"No {what}: {exc}", UserWarning, stacklevel=3)
        return None


def _write_weights(path: Path, est, test) -> Path:
    columns = {} if test.space is None else test.space.score_columns()
    if hasattr(est, "to_arrays"):  # the attention encoder: its own arrays, no coef
        fitted = est.to_arrays()
    else:
        fitted = {
            "coef": est.coef_,
            "intercept": est.intercept_,
            "mean": est.mean_,
            "scale": est.scale_,
            "best_alphas": est.best_alphas_,
        }
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            **fitted,
            # the columns that locate each target: i, j, k / hemi, vertex / channel, time
            target_columns=np.asarray(list(columns), dtype=str),
            **{c: _plain_array(columns[c]) for c in columns},
        )
    return path


def _plain_array(values) -> np.ndarray:
    """Return an array ``np.load`` reads without pickle (text columns as unicode)."""
    arr = np.asarray(values)
    return arr.astype(str) if arr.dtype == object else arr


def read_weights(run: RunDir) -> dict:
    """Read a fit run's weights: ``coef, intercept, mean, scale`` and ``targets``.

    ``targets`` is the table of the columns that locate each target (``i, j, k``,
    ``hemi, vertex`` or ``channel, time``), empty for data without a space.
    """
    import pandas as pd

    with np.load(run.weights_file(), allow_pickle=False) as npz:
        if "encoder" in npz.files:
            raise DataError(
                f"The fit run {run.path} holds an {npz['encoder']} encoder, not ridge weights "
                "on the layer's features; fit it with --encoder ridge for this command."
            )
        weights = {k: npz[k] for k in ("coef", "intercept", "mean", "scale")}
        names = npz["target_columns"].tolist() if "target_columns" in npz.files else []
        targets = {k: npz[k] for k in names}
        if not targets and "ijk" in npz.files and len(npz["ijk"]):  # older runs
            targets = dict(zip("ijk", npz["ijk"].T, strict=True))
    weights["targets"] = pd.DataFrame(targets)
    return weights
