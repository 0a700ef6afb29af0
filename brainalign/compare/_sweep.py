"""Sweeps over subjects x models x layers on Dask: resumable, one task per fit."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path, check_option, get_logger, warn, write_json_atomic
from brainalign.compare._rsa_compare import RDM_COMPARISONS
from brainalign.exceptions import ParameterError

logger = get_logger(__name__)

#: Options that change a task's result (a finished task with other values is redone).
_TASK_OPTIONS = ("dataset", "root", "roi", "pooling", "alphas", "cv", "n_permutations", "seed")


def run_sweep(
    dataset,
    root,
    subjects,
    models,
    layers,
    out,
    roi="nsdgeneral",
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
    progress=True,
) -> dict:
    """Fit every (subject, model, layer) and collect the results in one run directory.

    Each fit is one task that writes a complete ``fit`` run directory under
    ``out/tasks/`` (``run.json`` last, so a task is finished exactly when its
    ``run.json`` exists with the same options). Rerunning skips finished tasks; a
    killed sweep loses only the tasks that were running; a failing task is recorded
    with its error in ``out/sweep.json`` and the others go on. Features are
    extracted once per model (all layers in one pass, over the union of the
    subjects' stimuli) and read memory-mapped by every subject's tasks.

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
        Layers of every model, or a dict model spec -> layers.
    out : str or Path
        Run directory.
    roi : str or sequence of str
        Voxels to fit.
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
    progress : bool
        Show a progress bar over tasks.

    Returns
    -------
    dict
        ``roi_scores`` (all tasks), ``failed`` (task -> error), ``paths``.
    """
    plan = _plan(dataset, root, subjects, models, layers, out, locals())
    out = plan["out"]
    if rsa is not None:
        from brainalign.compare._rsa import RDM_METHODS

        check_option("rsa", rsa, [m for m in RDM_METHODS if m != "crossnobis"])
        check_option("rsa_comparison", rsa_comparison, RDM_COMPARISONS)
    plan["options"]["rsa"] = rsa
    cache = Path(cache_dir) if cache_dir else out / "features"
    todo = [t for t in plan["tasks"] if not _finished(t, plan["options"])]
    logger.info(
        "%d of %d tasks already finished; %d to run.",
        len(plan["tasks"]) - len(todo),
        len(plan["tasks"]),
        len(todo),
    )
    status = {t["name"]: {"status": "done"} for t in plan["tasks"] if t not in todo}
    manifest = out / "sweep.json"
    record = {
        "command": "compare",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "parameters": plan["parameters"],
        "tasks": status,
    }
    write_json_atomic(manifest, record)
    if todo:
        with _executor(workers, scheduler) as ex:
            _submit_all(ex, todo, plan, cache, device, backend, status, record, manifest, progress)
    return collect_sweep(out)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("brainalign", "numpy", "scikit-learn", "torch", "dask", "distributed"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _plan(dataset, root, subjects, models, layers, out, options) -> dict:
    subjects = [int(s) for s in _as_list("subjects", subjects)]
    models = _as_list("models", models)
    by_model = (
        layers if isinstance(layers, dict) else {m: _as_list("layers", layers) for m in models}
    )
    missing = [m for m in models if m not in by_model]
    if missing:
        raise ParameterError(f"Invalid value for 'layers': no layers given for models {missing}.")
    if int(options["workers"]) < 0:
        raise ParameterError(
            f"Invalid value for 'workers': expected >= 0; got {options['workers']}."
        )
    out = Path(out)
    params = {k: options[k] for k in _TASK_OPTIONS}
    params["root"] = str(Path(root).resolve())
    params["alphas"] = None if params["alphas"] is None else [float(a) for a in params["alphas"]]
    tasks = [
        {
            "subject": s,
            "model": m,
            "layer": layer,
            "name": task_name(s, m, layer),
            "dir": out / "tasks" / task_name(s, m, layer),
        }
        for m in models
        for layer in by_model[m]
        for s in subjects
    ]
    parameters = {**params, "subjects": subjects, "models": models, "layers": by_model}
    parameters.update(
        rsa=options["rsa"],
        rsa_comparison=options["rsa_comparison"],
        n_bootstraps=int(options["n_bootstraps"]),
    )
    return {"out": out, "tasks": tasks, "options": params, "parameters": parameters}


def task_name(subject, model, layer) -> str:
    """Folder name of one task: ``sub-01_model-<m>_layer-<l>`` plus a short hash."""
    clean = _clean_model(model)
    digest = hashlib.sha256(f"{model}\x1f{layer}".encode()).hexdigest()[:8]
    lay = "".join(c if c.isalnum() else "" for c in layer)
    return f"sub-{int(subject):02d}_model-{clean}_layer-{lay}_{digest}"


def _as_list(name, value) -> list:
    items = value.split(",") if isinstance(value, str) else list(value)
    items = [i.strip() if isinstance(i, str) else i for i in items]
    if not items or any(i == "" for i in items):
        raise ParameterError(
            f"Invalid value for '{name}': expected a non-empty list; got {value!r}."
        )
    return items


def _finished(task, options) -> bool:
    path = task["dir"] / "run.json"
    if not path.exists():
        return False
    if options.get("rsa"):
        from brainalign.compare._sweep_rsa import features_path

        if not features_path(task["dir"].parent.parent, task["name"], options["rsa"]).exists():
            return False
    try:
        done = json.loads(path.read_text())["sweep_task"]
    except (ValueError, KeyError):
        return False
    return done == _task_record(task, options)


def _task_record(task, options) -> dict:
    record = {k: options[k] for k in _TASK_OPTIONS}
    record.update(subject=task["subject"], model=task["model"], layer=task["layer"])
    return json.loads(json.dumps(record, default=str))


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


def _submit_all(ex, todo, plan, cache, device, backend, status, record, manifest, progress):
    from tqdm.auto import tqdm

    options = plan["options"]
    subjects = sorted({t["subject"] for t in todo})
    # a fitted reduction (pca/srp) must see the same images on a resumed sweep: then
    # every planned subject's stimuli count, not only those of the unfinished tasks
    fitted = str(options["pooling"]).startswith(("pca", "srp"))
    for_ids = sorted({t["subject"] for t in plan["tasks"]}) if fitted else subjects
    loads = {s: ex.submit(load_subject, options, s) for s in sorted(set(subjects) | set(for_ids))}
    ids = {s: ex.submit(_stimuli_of, loads[s]) for s in for_ids}
    models = list(dict.fromkeys(t["model"] for t in todo))
    features = {}
    for m in models:
        # a combination "a+b" (banded ridge over both spaces) needs each of its layers
        layers = sorted({part for t in todo if t["model"] == m for part in t["layer"].split("+")})
        features[m] = ex.submit(
            extract_model, m, layers, [ids[s] for s in for_ids], options, cache, device
        )
    futures = {}
    for t in todo:
        fut = ex.submit(fit_task, t, loads[t["subject"]], features[t["model"]], options, backend)
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
        write_json_atomic(manifest, record)
        bar.update()
    bar.close()


def _as_completed(ex, futures):
    if isinstance(ex, _Dask):
        from dask.distributed import as_completed

        return as_completed(futures)
    return futures


def load_subject(options, subject):
    """Load one subject's responses, averaged over repetitions, with a noise ceiling."""
    from brainalign.encoding._run import load_averaged, recorded_warnings

    with recorded_warnings(show=False) as caught:  # shown by the sweep, not the worker
        data = load_averaged(options["dataset"], options["root"], subject, options["roi"])
    return {"data": data, "warnings": [str(w.message) for w in caught]}


def _stimuli_of(loaded):
    data = loaded["data"]
    return {
        "stimuli": data.stimuli,
        "ids": data.stimulus_ids,
        "train": data.split()[0].stimulus_ids,
    }


def extract_model(model, layers, stimulus_sets, options, cache, device) -> dict:
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
    extractor = get_extractor(model, device=device, seed=options["seed"])
    feats = extractor.extract(
        _one_store(stimulus_sets),
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
            folders[layer] = str(fs.save(Path(cache) / "sweep" / task_name(0, model, layer)))
    return {"spec": extractor.spec, "folders": folders}


def _one_store(stimulus_sets):
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
        import hashlib

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


def fit_task(task, loaded, features, options, backend) -> str:
    """Fit one (subject, model, layer) and write its run directory (``run.json`` last).

    Returns
    -------
    dict
        ``dir`` (the task's run directory) and ``warnings`` (messages of the task).
    """
    from brainalign.encoding import BandedEncodingModel, EncodingModel, roi_table, score_table
    from brainalign.encoding._run import recorded_warnings, write_run
    from brainalign.features import FeatureSet

    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.perf_counter()
    data = loaded["data"]
    train, test = data.split()
    parts = [FeatureSet.load(features["folders"][name]) for name in task["layer"].split("+")]
    fs = parts[0] if len(parts) == 1 else _stack(parts)
    with recorded_warnings(show=False) as caught:
        if len(parts) == 1:
            est = EncodingModel(alphas=options["alphas"], cv=options["cv"], backend=backend)
        else:  # a feature-space combination: one penalty per space and voxel
            spaces = [p.features.shape[1] for p in parts]
            est = BandedEncodingModel(
                spaces,
                alphas=options["alphas"],
                cv=options["cv"],
                backend=backend,
                random_state=options["seed"],
            )
        est.fit(fs.align(train.stimulus_ids), train.responses)
        pred = est.predict(fs.align(test.stimulus_ids))
    seed = options["seed"]
    scores = score_table(test, pred, est.best_alphas_, options["n_permutations"], seed)
    spec = features["spec"]
    for name, value in (("layer", task["layer"]), ("model", spec), ("subject", task["subject"])):
        scores.insert(0, name, value)
    rois = roi_table(scores, test)
    if options.get("rsa"):
        from brainalign.compare._sweep_rsa import write_task_rdms

        write_task_rdms(task["dir"].parent.parent, task, test, fs, test.roi_names(), options)
    params = {**options, "subject": task["subject"], "model": task["model"], "layer": task["layer"]}
    notes = [*loaded["warnings"], *(str(w.message) for w in caught)]
    task["dir"].mkdir(parents=True, exist_ok=True)
    paths = write_run(task["dir"], test, scores, rois, est, params, [], spec, task["layer"])
    run = json.loads(paths["run"].read_text())
    run.update(command="compare", warnings=notes, sweep_task=_task_record(task, options))
    run["timing"] = {
        "started": started.isoformat(timespec="milliseconds"),
        "seconds": round(time.perf_counter() - clock, 3),
        "pid": os.getpid(),
    }
    write_json_atomic(paths["run"], run)
    return {"dir": str(task["dir"]), "warnings": notes}


def _stack(parts):
    """Concatenate feature sets (same stimuli) side by side, joined by stimulus id."""
    from brainalign.features import FeatureSet

    ids = parts[0].stimulus_ids
    return FeatureSet(np.hstack([p.align(ids) for p in parts]), ids, {"layers": len(parts)})


def collect_sweep(out) -> dict:
    """Gather the finished tasks of a sweep into its tables and best-layer maps.

    Parameters
    ----------
    out : str or Path
        Sweep run directory.

    Returns
    -------
    dict
        ``roi_scores``, ``scores`` (all finished tasks, sorted), ``failed``
        (task -> error) and ``paths``.
    """
    out = Path(out)
    manifest = json.loads((out / "sweep.json").read_text())
    parameters = manifest["parameters"]
    order = {
        (m, layer): i
        for m in parameters["models"]
        for i, layer in enumerate(parameters["layers"][m])
    }
    done = [n for n, s in manifest["tasks"].items() if s["status"] == "done"]
    failed = {n: s["error"] for n, s in manifest["tasks"].items() if s["status"] == "failed"}
    rois, scores, runs = [], [], {}
    for name in sorted(done):
        folder = out / "tasks" / name
        run = json.loads((folder / "run.json").read_text())["parameters"]
        key = (run["model"], run["layer"])
        rois.append(
            pd.read_parquet(folder / "roi_scores.parquet").assign(
                requested_model=run["model"], layer_index=order.get(key, -1)
            )
        )
        scores.append(
            pd.read_parquet(folder / "scores.parquet").assign(
                requested_model=run["model"], layer_index=order.get(key, -1)
            )
        )
        runs[name] = run
    paths = {}
    if not rois:
        return {
            "roi_scores": pd.DataFrame(),
            "scores": pd.DataFrame(),
            "failed": failed,
            "paths": paths,
        }
    sort = ["subject", "requested_model", "layer_index", "roi"]
    roi_scores = pd.concat(rois, ignore_index=True).sort_values(sort, kind="stable")
    all_scores = pd.concat(scores, ignore_index=True).sort_values(
        ["subject", "requested_model", "layer_index", "target"], kind="stable"
    )
    roi_scores = roi_scores.reset_index(drop=True)
    all_scores = all_scores.reset_index(drop=True)
    for name, table in (("roi_scores", roi_scores), ("scores", all_scores)):
        with atomic_path(out / f"{name}.parquet") as tmp:
            table.to_parquet(tmp, index=False)
        paths[name] = out / f"{name}.parquet"
    paths["best_layers"] = out / "best_layers.parquet"
    with atomic_path(paths["best_layers"]) as tmp:
        best_layers(roi_scores).to_parquet(tmp, index=False)
    paths.update(_best_maps(out, all_scores, parameters, sorted(done)))
    paths.update(_figures(out, roi_scores))
    if parameters.get("rsa"):
        paths["rsa"] = _write_rsa(out, parameters, sorted(done))
    return {"roi_scores": roi_scores, "scores": all_scores, "failed": failed, "paths": paths}


def best_layers(roi_scores: pd.DataFrame, metric: str = "mean_r") -> pd.DataFrame:
    """Best layer per (subject, model, ROI), and the best model per (subject, ROI).

    Parameters
    ----------
    roi_scores : pandas.DataFrame
        Sweep table (``subject, model, layer, roi`` and ``metric``).
    metric : str
        Column to maximise.

    Returns
    -------
    pandas.DataFrame
        ``subject, model, roi, best_layer, best_<metric>, best_model`` where
        ``best_model`` marks the model whose best layer scores highest for the ROI.
    """
    idx = roi_scores.groupby(["subject", "model", "roi"], sort=True)[metric].idxmax()
    best = roi_scores.loc[idx, ["subject", "model", "roi", "layer", metric]]
    best = best.rename(columns={"layer": "best_layer", metric: f"best_{metric}"})
    top = best.groupby(["subject", "roi"])[f"best_{metric}"].transform("max")
    best["best_model"] = best[f"best_{metric}"] == top
    return best.reset_index(drop=True)


def _best_maps(out, scores, parameters, done) -> dict:
    """Best layer of every voxel per subject and model, and best model per subject.

    Maps hold the 1-based layer (or model) number, with a JSON legend beside them,
    and the r of the winner (``stat-bestr``).
    """
    if not {"i", "j", "k"} <= set(scores.columns):
        return {}  # no volume space (e.g. sensors): the tables say it all
    paths = {}
    models = parameters["models"]
    for subject, sub in scores.groupby("subject", sort=True):
        prefix = f"sub-{int(subject):02d}"
        name = next(n for n in done if n.startswith(prefix + "_"))
        ref = next((out / "tasks" / name / "maps").glob("*_stat-r.nii.gz"))
        best_per_model = []
        for model, part in sub.groupby("requested_model", sort=False):
            table = part.pivot_table(index=["i", "j", "k"], columns="layer_index", values="r")
            best_per_model.append(table.max(axis=1).rename(models.index(model)))
            if table.shape[1] < 2:
                continue
            stem = f"{prefix}_model-{_clean_model(model)}"
            layers = table.columns.to_numpy()[table.to_numpy().argmax(1)] + 1.0
            legend = dict(enumerate(parameters["layers"][model], start=1))
            paths.update(
                _winner_maps(
                    out,
                    ref,
                    stem,
                    "bestlayer",
                    table.index,
                    layers,
                    table.max(axis=1).to_numpy(),
                    legend,
                )
            )
        if len(best_per_model) > 1:
            table = pd.concat(best_per_model, axis=1)
            winners = table.columns.to_numpy()[table.to_numpy().argmax(1)] + 1.0
            legend = {i + 1: m for i, m in enumerate(models)}
            paths.update(
                _winner_maps(
                    out,
                    ref,
                    prefix,
                    "bestmodel",
                    table.index,
                    winners,
                    table.max(axis=1).to_numpy(),
                    legend,
                )
            )
    return paths


def _winner_maps(out, ref_path, stem, stat, index, numbers, best_r, legend) -> dict:
    """Write ``<stem>_stat-<stat>.nii.gz`` (winner numbers), its legend and its r map."""
    import nibabel as nib

    ref = nib.load(ref_path)
    ijk = tuple(np.asarray(index.tolist(), dtype=int).T)
    paths = {}
    r_stat = "bestr" if stat == "bestlayer" else "bestmodelr"
    for name, values in ((stat, numbers), (r_stat, best_r)):
        data = np.zeros(ref.shape, np.float32)
        data[ijk] = values
        path = out / "maps" / f"{stem}_stat-{name}.nii.gz"
        with atomic_path(path) as tmp:
            nib.Nifti1Image(data, ref.affine).to_filename(tmp)
        paths[f"{stem}_{name}"] = path
    values = {str(k): v for k, v in legend.items()}
    write_json_atomic(out / "maps" / f"{stem}_stat-{stat}.json", {"values": values})
    return paths


def _clean_model(model: str) -> str:
    return "".join(c if c.isalnum() else "" for c in model.split("@")[0].split(":")[-1])


def _figures(out, roi_scores) -> dict:
    from brainalign.compare._sweep_plots import plot_layer_profiles, plot_model_roi_heatmap

    paths = {
        "layer_profiles": out / "figures" / "layer_profiles.png",
        "model_roi_heatmap": out / "figures" / "model_roi_heatmap.png",
    }
    plot_layer_profiles(roi_scores, path=paths["layer_profiles"])
    plot_model_roi_heatmap(roi_scores, path=paths["model_roi_heatmap"])
    return paths


def _write_rsa(out, parameters, done) -> Path:
    from brainalign.compare._sweep_rsa import rsa_table

    tasks = []
    for name in done:
        run = json.loads((out / "tasks" / name / "run.json").read_text())["parameters"]
        tasks.append({"name": name, **{k: run[k] for k in ("subject", "model", "layer")}})
    table = rsa_table(
        out,
        tasks,
        parameters["rsa"],
        n_bootstraps=parameters["n_bootstraps"],
        comparison=parameters["rsa_comparison"],
        seed=parameters["seed"],
    )
    with atomic_path(out / "rsa.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    return out / "rsa.parquet"
