"""Sweeps over subjects x models x layers on Dask: scheduling and resume only.

Every (subject, model, layer) is one task, fitted by :func:`~brainalign.runs.fit_one`
(the fit of ``brainalign fit``) into a complete run directory under ``RUN/tasks/``
(``run.json`` last, so a task is finished exactly when its record exists with the same
options). Rerunning skips finished tasks; a killed sweep loses only the tasks that were
running; a failing task is recorded with its error in ``RUN/sweep.json`` and the others
go on. Features are extracted once per model (all layers in one pass, over the union of
the subjects' stimuli) and read memory-mapped by every subject's tasks.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path, get_logger, warn, write_json_atomic
from brainalign.exceptions import DataError
from brainalign.runs._common import messages, now, recorded_warnings, versions
from brainalign.runs._rundir import RunDir
from brainalign.runs._spec import SweepSpec

logger = get_logger(__name__)


def run_sweep(
    dataset,
    root,
    subjects,
    models,
    layers,
    out,
    roi="auto",
    pooling="auto",
    alphas=None,
    cv=5,
    n_permutations=200,
    rsa=None,
    rsa_comparison="spearman",
    n_bootstraps=0,
    workers=0,
    scheduler=None,
    device="auto",
    backend="numpy",
    seed=0,
    cache_dir=None,
    figures=True,
    progress=True,
) -> dict:
    """Fit every (subject, model, layer) and collect the results in one run directory.

    Parameters
    ----------
    dataset : str
        Dataset name (``"nsd"``).
    root : str or Path
        Dataset folder.
    subjects : sequence of int
        Subjects.
    models : sequence of str
        Model specs.
    layers : sequence of str or mapping
        Layers of every model, or a dict model spec -> layers; ``a+b`` fits a banded
        ridge over both layers.
    out : str or Path
        Run directory.
    roi : "auto", str or sequence of str
        Targets to fit (``"auto"``: nsdgeneral for fMRI, every channel for EEG).
    pooling : str
        Feature pooling.
    alphas : sequence of float, optional
        Ridge penalties.
    cv : int
        Folds for alpha selection.
    n_permutations : int
        Permutations per target for p values.
    rsa : {None, "correlation", "euclidean", "sqeuclidean"}
        Also compare each layer's RDM with each ROI's RDM on the test images (this
        dissimilarity); writes ``rsa.parquet`` with a noise ceiling across subjects.
    rsa_comparison : str
        RDM comparison (``spearman``, ``tau_a``, ``pearson``... see ``RDM_COMPARISONS``).
    n_bootstraps : int
        Bootstrap samples over stimuli for RSA confidence intervals (0: none).
    workers : int
        0: run the tasks one after the other in this process; N >= 1: a Dask
        ``LocalCluster`` of N single-threaded worker processes.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); overrides
        ``workers``.
    device, backend : str
        Torch device for features; where the ridge runs.
    seed : int
        Seed of random weights, reductions and permutations.
    cache_dir : str or Path, optional
        Feature cache (default ``out/features``).
    figures : bool
        Draw each task's figures (as ``fit`` does) and the sweep's.
    progress : bool
        Show a progress bar over tasks.

    Returns
    -------
    dict
        ``roi_scores``, ``scores`` (all tasks), ``failed`` (task -> error), ``paths``.
    """
    spec = SweepSpec(
        dataset=dataset,
        root=root,
        subjects=subjects,
        models=models,
        layers=layers,
        roi=roi,
        pooling=pooling,
        alphas=alphas,
        cv=cv,
        n_permutations=n_permutations,
        rsa=rsa,
        rsa_comparison=rsa_comparison,
        n_bootstraps=n_bootstraps,
        workers=workers,
        scheduler=scheduler,
        device=device,
        backend=backend,
        seed=seed,
        cache_dir=None if cache_dir is None else str(cache_dir),
    )
    return sweep(spec, out, figures=figures, progress=progress)


def sweep(
    spec: SweepSpec, out, figures: bool = True, progress: bool = True, overwrite: bool = False
) -> dict:
    """Run (or resume) a :class:`SweepSpec` into a run directory.

    Parameters
    ----------
    spec : SweepSpec
        The sweep.
    out : str, Path or RunDir
        Run directory.
    figures : bool
        Draw the tasks' and the sweep's figures.
    progress : bool
        Show a progress bar over tasks.
    overwrite : bool
        Replace a different run that ``out`` holds (a sweep differing only in its
        subjects, models or layers resumes: finished tasks are kept).

    Returns
    -------
    dict
        As :func:`run_sweep`.
    """
    from brainalign.runs._validate import check_plan

    run = out if isinstance(out, RunDir) else RunDir(out)
    run.check_output()
    check_plan(spec.dataset, spec.root, list(spec.subjects), spec.roi, dict(spec.layers))
    extendable = ("subjects", "models", "layers", "measures")
    run.prepare("compare", spec.to_json(), overwrite, extendable=extendable)
    tasks = [_task(run, t) for t in spec.tasks()]
    todo = [t for t in tasks if not _finished(run, t, spec)]
    logger.info(
        "%d of %d tasks already finished; %d to run.", len(tasks) - len(todo), len(tasks), len(todo)
    )
    status = {t["name"]: {"status": "done"} for t in tasks if t not in todo}
    record = {
        "command": "compare",
        "date": now(),
        "versions": versions(),
        "parameters": spec.to_json(),
        "tasks": status,
    }
    run.manifest.write(record)
    if todo:
        cache = Path(spec.cache_dir) if spec.cache_dir else run.features
        with _executor(spec.workers, spec.scheduler) as ex:
            _submit_all(ex, todo, tasks, spec, run, cache, status, record, figures, progress)
    return collect_sweep(run.path, figures=figures)


def _task(run: RunDir, spec) -> dict:
    name = run.task_name(spec.subject, spec.model, spec.layer)
    return {"spec": spec, "name": name, "dir": str(run.task(name).path)}


def _finished(run: RunDir, task, spec: SweepSpec) -> bool:
    task_run = run.task(task["name"])
    if not task_run.record.exists():
        return False
    if spec.rsa and not run.rdm_path(task["name"], spec.rsa).exists():
        return False
    if spec.measures:
        table = task_run.read_table("measures", columns=["measure"])
        if table is None or not set(spec.measures) <= set(table["measure"]):
            return False
    try:
        done = task_run.record.read().get("sweep_task")
    except DataError:  # an unreadable record: redo the task
        return False
    return done == task["spec"].result_key()


class _Serial:
    """The executor of ``workers=0``: runs each call at once, in this process."""

    def submit(self, fn, *args, **kwargs):
        from concurrent.futures import Future

        def resolve(a):  # upstream results, as Dask passes them (failures propagate)
            if isinstance(a, Future):
                return a.result()
            return [resolve(x) for x in a] if isinstance(a, list) else a

        future = Future()
        try:
            future.set_result(fn(*[resolve(a) for a in args], **kwargs))
        except Exception as exc:  # noqa: BLE001 - reported per task
            future.set_exception(exc)
        return future

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Dask:
    """A Dask client on a LocalCluster or on a running scheduler."""

    def __init__(self, workers, scheduler):
        self.workers, self.scheduler = workers, scheduler

    def __enter__(self):
        from dask.distributed import Client, LocalCluster

        if not logger.isEnabledFor(logging.DEBUG):  # Dask's own INFO lines only with -v
            logging.getLogger("distributed").setLevel(logging.WARNING)
        if self.scheduler:
            self.cluster = None
            self.client = Client(self.scheduler)
        else:
            self.cluster = LocalCluster(
                n_workers=int(self.workers),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            self.client = Client(self.cluster)
        logger.info("Dask: %s", self.client)
        return self

    def submit(self, fn, *args, **kwargs):
        return self.client.submit(fn, *args, pure=False, **kwargs)

    def __exit__(self, *exc):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False


def _executor(workers, scheduler):
    return _Dask(workers, scheduler) if scheduler or int(workers) > 0 else _Serial()


def _submit_all(ex, todo, tasks, spec, run, cache, status, record, figures, progress):
    from tqdm.auto import tqdm

    from brainalign.features import Pooling

    subjects = sorted({t["spec"].subject for t in todo})
    # a fitted reduction (pca/srp) must see the same images on a resumed sweep: then
    # every planned subject's stimuli count, not only those of the unfinished tasks
    fitted = Pooling.parse(spec.pooling).fitted
    for_ids = sorted({t["spec"].subject for t in tasks}) if fitted else subjects
    options = spec.to_json()
    loads = {s: ex.submit(load_subject, options, s) for s in sorted(set(subjects) | set(for_ids))}
    ids = {s: ex.submit(_stimuli_of, loads[s]) for s in for_ids}
    features = {}
    for m in dict.fromkeys(t["spec"].model for t in todo):
        # a combination "a+b" (banded ridge over both spaces) needs each of its layers
        layers = sorted({p for t in todo if t["spec"].model == m for p in t["spec"].layers})
        features[m] = ex.submit(
            extract_model, m, layers, [ids[s] for s in for_ids], options, str(cache)
        )
    futures = {}
    for t in todo:
        fut = ex.submit(
            fit_task,
            t,
            loads[t["spec"].subject],
            features[t["spec"].model],
            str(run.path),
            spec.rsa,
            figures,
            spec.measures,
        )
        futures[fut] = t
    bar = tqdm(total=len(futures), desc="sweep tasks", unit="task", disable=not progress)
    shown = set()
    for fut in _as_completed(ex, list(futures)):
        t = futures[fut]
        exc = fut.exception()
        if exc is None:
            status[t["name"]] = {"status": "done"}
            for note in fut.result()["warnings"]:  # shown once each, here, not on the workers
                if note not in shown:
                    shown.add(note)
                    warn(f"{note} (sweep task {t['name']})")
        else:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            status[t["name"]] = {
                "status": "failed",
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": text,
            }
            logger.error("Task %s failed: %s: %s", t["name"], type(exc).__name__, exc)
        run.manifest.write(record)
        bar.update()
    bar.close()


def _as_completed(ex, futures):
    if isinstance(ex, _Dask):
        from dask.distributed import as_completed

        return as_completed(futures)
    return futures


def load_subject(options: dict, subject: int) -> dict:
    """Load one subject's responses, averaged over repetitions, with a noise ceiling."""
    from brainalign.runs._common import load_averaged

    with recorded_warnings(show=False) as caught:  # shown by the sweep, not the worker
        data = load_averaged(options["dataset"], options["root"], subject, options["roi"])
    return {"data": data, "warnings": messages(caught)}


def _stimuli_of(loaded):
    data = loaded["data"]
    return {
        "stimuli": data.stimuli,
        "ids": data.stimulus_ids,
        "train": data.split()[0].stimulus_ids,
    }


def extract_model(model, layers, stimulus_sets, options, cache) -> dict:
    """Extract the layers of one model over the union of all subjects' stimuli.

    Returns
    -------
    dict
        ``{"spec": resolved spec, "folders": {layer: FeatureSet folder}}``.
    """
    from brainalign.features import get_extractor

    ids = np.unique(np.concatenate([s["ids"] for s in stimulus_sets]))
    # reductions (pca/srp) see only images that are in no subject's test set
    test = np.unique(np.concatenate([np.setdiff1d(s["ids"], s["train"]) for s in stimulus_sets]))
    train = np.unique(np.concatenate([s["train"] for s in stimulus_sets]))
    fit_ids = np.setdiff1d(train, test)
    extractor = get_extractor(
        model, device=options["device"], seed=options["seed"], preprocess=options.get("preprocess")
    )
    feats = extractor.extract(
        one_store(stimulus_sets),
        ids=ids,
        layers=list(layers),
        pooling=options["pooling"],
        cache_dir=cache,
        fit_ids=fit_ids,
        progress=False,
        seed=options["seed"],
    )
    folders = {}
    for layer, fs in feats.items():
        if isinstance(fs.features, np.memmap):  # already on disk in the cache
            folders[layer] = str(Path(fs.features.filename).parent)
        else:
            name = RunDir.task_name(0, model, layer)
            folders[layer] = str(fs.save(Path(cache) / "sweep" / name))
    return {"spec": extractor.spec, "folders": folders}


def one_store(stimulus_sets):
    """Return the subjects' image store, or one reading each id from a subject that has it.

    NSD keeps every image in one file (one store for all subjects, and the same cache
    key as a single-subject fit); datasets with per-subject image folders (Algonauts)
    get a merged store.
    """
    stores = [s["stimuli"] for s in stimulus_sets]
    fingerprints = {_fingerprint(store) for store in stores}
    if len(fingerprints) == 1:
        return stores[0]
    return _MergedStores(stores, [s["ids"] for s in stimulus_sets])


def _fingerprint(store) -> str:
    return store.fingerprint() if hasattr(store, "fingerprint") else repr(store)


class _MergedStores:
    """Images by id from several subjects' stores (the first store holding each id)."""

    def __init__(self, stores, ids):
        self.stores = stores
        self.owner = {}
        for k, subject_ids in enumerate(ids):
            for i in np.asarray(subject_ids).tolist():
                self.owner.setdefault(i, k)

    def fingerprint(self) -> str:
        parts = "\x1f".join(sorted(_fingerprint(s) for s in self.stores))
        return "merged:" + hashlib.sha256(parts.encode()).hexdigest()

    def images(self, ids) -> list:
        ids = np.asarray(ids)
        owners = np.array([self.owner[i] for i in ids.tolist()])
        out = [None] * len(ids)
        for k in np.unique(owners):
            rows = np.flatnonzero(owners == k)
            for row, image in zip(rows, self.stores[k].images(ids[rows]), strict=True):
                out[row] = image
        return out


def fit_task(task, loaded, features, out, rsa=None, figures=True, measures=None) -> dict:
    """Fit one sweep task with :func:`~brainalign.runs.fit_one` (``run.json`` last).

    Returns
    -------
    dict
        ``dir`` (the task's run directory) and ``warnings`` (messages of the task).
    """
    from brainalign.features import FeatureSet
    from brainalign.runs._fit import fit_one

    clock = time.perf_counter()
    spec = task["spec"]
    layers = {name: FeatureSet.load(features["folders"][name]) for name in spec.layers}
    run = RunDir(out)
    steps = [] if rsa is None else [_rdm_step(run, task["name"], rsa)]
    if measures:
        steps.append(_measures_step(run.task(task["name"]), spec, features["spec"], measures))
    result = fit_one(
        spec,
        loaded["data"],
        layers,
        run.task(task["name"]),
        model=features["spec"],
        command="compare",
        notes=loaded["warnings"],
        record={"sweep_task": spec.result_key()},
        figures=figures,
        show_warnings=False,
        started=clock,
        before_record=_steps(steps) if steps else None,
    )
    return {"dir": task["dir"], "warnings": result["warnings"]}


def _steps(steps):
    """One ``before_record`` running each step in turn."""

    def step(test, features, train):
        for one in steps:
            one(test, features, train)

    return step


def _measures_step(task_run: RunDir, spec, model, measures):
    """Return the step writing a task's other measures before its record."""
    from brainalign.runs._sweep_measures import write_task_measures

    def step(test, features, train):
        write_task_measures(task_run, spec, model, test, features, train, measures)

    return step


def _rdm_step(run: RunDir, name: str, rsa: str):
    """Return the step writing a task's RDMs (``rsa`` dissimilarity) before its record."""
    from brainalign.runs._sweep_rsa import write_task_rdms

    def step(test, features, train):
        write_task_rdms(run, name, test, features, rsa, train=train)

    return step


def collect_sweep(out, figures: bool = True) -> dict:
    """Gather the finished tasks of a sweep into its tables and best-layer maps.

    Parameters
    ----------
    out : str or Path
        Sweep run directory.
    figures : bool
        Draw the layer profiles and the model x ROI heatmap.

    Returns
    -------
    dict
        ``roi_scores``, ``scores`` (all finished tasks, sorted), ``failed``
        (task -> error) and ``paths``.
    """
    from brainalign.compare import best_layers, layer_selection_frequency

    run = RunDir(out)
    manifest = run.manifest.read()
    parameters = manifest["parameters"]
    order = {
        (m, layer): i
        for m in parameters["models"]
        for i, layer in enumerate(parameters["layers"][m])
    }
    done = sorted(n for n, s in manifest["tasks"].items() if s["status"] == "done")
    failed = {n: s["error"] for n, s in manifest["tasks"].items() if s["status"] == "failed"}
    rois, scores, boots = [], [], []
    for name in done:
        task = run.task(name)
        params = task.record.read()["parameters"]
        extra = {
            "requested_model": params["model"],
            "layer_index": order.get((params["model"], params["layer"]), -1),
        }
        rois.append(task.read_table("roi_scores").assign(**extra))
        scores.append(task.read_table("scores").assign(**extra))
        boot = task.read_table("roi_bootstrap")
        if boot is not None:
            keys = rois[-1][["subject", "model", "layer"]].iloc[:1].to_dict("records")
            boots.append(boot.assign(**(keys[0] if keys else {})))
    if not rois:
        return {
            "roi_scores": pd.DataFrame(),
            "scores": pd.DataFrame(),
            "failed": failed,
            "paths": {},
        }
    sort = ["subject", "requested_model", "layer_index"]
    roi_scores = pd.concat(rois, ignore_index=True).sort_values([*sort, "roi"], kind="stable")
    all_scores = pd.concat(scores, ignore_index=True).sort_values([*sort, "target"], kind="stable")
    roi_scores = roi_scores.reset_index(drop=True)
    all_scores = all_scores.reset_index(drop=True)
    paths = {
        name: run.write_table(name, t)
        for name, t in (("roi_scores", roi_scores), ("scores", all_scores))
    }
    boot = pd.concat(boots, ignore_index=True) if len(boots) == len(done) else None
    if boot is not None and len(boot):
        table = layer_selection_frequency(boot)
        paths["layer_selection"] = run.write_table("layer_selection", table)
    paths["best_layers"] = run.write_table("best_layers", best_layers(roi_scores, bootstrap=boot))
    paths.update(_best_maps(run, all_scores, parameters, done))
    if figures:
        paths.update(_figures(run, roi_scores))
    if parameters.get("rsa"):
        from brainalign.runs._sweep_rsa import write_rsa_table

        paths["rsa"] = write_rsa_table(run, parameters, done)
    if parameters.get("measures"):
        from brainalign.runs._sweep_measures import collect_measures

        paths["measures"] = collect_measures(run, done)
    return {"roi_scores": roi_scores, "scores": all_scores, "failed": failed, "paths": paths}


def _best_maps(run: RunDir, scores, parameters, done) -> dict:
    """Best layer of every voxel per subject and model, and best model per subject.

    Each voxel's layer (and model) is chosen on its inner-CV R² on the training
    images (``cv_r2``); the maps hold the 1-based layer (or model) number, with a
    JSON legend beside them, and the *test* r of the chosen layer (``stat-bestr``):
    the choice never saw the test stimuli, so that r is not inflated by it.
    """
    if not {"i", "j", "k"} <= set(scores.columns):
        return {}  # no volume space (e.g. sensors): the tables say it all
    select = "cv_r2" if "cv_r2" in scores and scores["cv_r2"].notna().any() else "r"
    if select == "r":
        warn(
            "The sweep's fits recorded no inner-CV scores: best-layer maps are chosen on "
            "the test r (optimistic)."
        )
    paths = {}
    models = parameters["models"]
    for subject, sub in scores.groupby("subject", sort=True):
        prefix = f"sub-{int(subject):02d}"
        name = next(n for n in done if n.startswith(prefix + "_"))
        ref = run.task(name).volume_maps("r")[0]
        paths.update(_copy_anatomy(run, run.task(name), int(subject)))
        winners_per_model = []
        for model, part in sub.groupby("requested_model", sort=False):
            chosen = _chosen(part, "layer_index", select)
            winners_per_model.append(chosen.assign(model_index=models.index(model)))
            if part["layer_index"].nunique() < 2:
                continue
            legend = dict(enumerate(parameters["layers"][model], start=1))
            stem = f"{prefix}_model-{clean_model(model)}"
            paths.update(_winner_maps(run, ref, stem, "bestlayer", chosen, "layer_index", legend))
        if len(winners_per_model) > 1:
            chosen = _chosen(pd.concat(winners_per_model), "model_index", select)
            legend = {i + 1: m for i, m in enumerate(models)}
            paths.update(_winner_maps(run, ref, prefix, "bestmodel", chosen, "model_index", legend))
    return paths


def _copy_anatomy(run: RunDir, task: RunDir, subject: int) -> dict:
    """Copy a task's anatomy of the subject beside the sweep's best-layer maps."""
    import shutil

    source = task.anatomy_path(subject)
    if not source.is_file():
        return {}
    target = run.anatomy_path(subject)
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return {f"sub-{subject:02d}_anatomy": target}


def _chosen(part, candidate: str, select: str):
    """Per voxel (``i, j, k``), the row of the ``candidate`` with the highest ``select``."""
    ranked = part.assign(_score=part[select].astype(float).fillna(-np.inf))
    ranked = ranked.sort_values(["_score", candidate], ascending=[False, True], kind="stable")
    return (
        ranked.drop_duplicates(["i", "j", "k"]).sort_values(["i", "j", "k"]).drop(columns="_score")
    )


def _winner_maps(run: RunDir, ref_path, stem, stat, chosen, candidate, legend) -> dict:
    """Write ``<stem>_stat-<stat>.nii.gz`` (winner numbers), its legend and its test r map."""
    import nibabel as nib

    ref = nib.load(ref_path)
    ijk = tuple(chosen[["i", "j", "k"]].to_numpy(dtype=int).T)
    paths = {}
    r_stat = "bestr" if stat == "bestlayer" else "bestmodelr"
    numbers = chosen[candidate].to_numpy(dtype=float) + 1.0
    for name, values in ((stat, numbers), (r_stat, chosen["r"].to_numpy(dtype=float))):
        data = np.zeros(ref.shape, np.float32)
        data[ijk] = values
        path = run.named_map(stem, name)
        with atomic_path(path) as tmp:
            nib.Nifti1Image(data, ref.affine).to_filename(tmp)
        paths[f"{stem}_{name}"] = path
    values = {str(k): v for k, v in legend.items()}
    write_json_atomic(run.maps_json(stem, stat), {"values": values})
    return paths


def clean_model(model: str) -> str:
    """File-name form of a model spec (as in map and task names)."""
    from brainalign.runs._rundir import _model_short

    return _model_short(model)


def _figures(run: RunDir, roi_scores) -> dict:
    from brainalign.compare import plot_layer_profiles, plot_model_roi_heatmap

    paths = {
        "layer_profiles": run.figure("layer_profiles.png"),
        "model_roi_heatmap": run.figure("model_roi_heatmap.png"),
    }
    plot_layer_profiles(roi_scores, path=paths["layer_profiles"])
    plot_model_roi_heatmap(roi_scores, path=paths["model_roi_heatmap"])
    return paths
