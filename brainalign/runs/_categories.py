"""Category structure of a model's layers, beside a recording's category decoding.

For image sets whose sub-folders are categories (``faces/``, ``houses/``) and
recordings that log the category of each trial, not the image (eeg-notebooks' N170):

- model side: every layer's RDM (correlation distance) over the images against the
  category model RDM (Kendall tau_a, 95 % bootstrap interval over images), for the
  model and for the same architecture with random weights (``rsa.parquet``,
  ``figures/category_structure_by_layer.png``, the best layer's RDM);
- brain side: cross-validated decoding of the category from single trials at every
  time point, with a permutation band family-wise over time (``decoding.parquet``).

The recording has no image identity, so the two sides meet at the category level:
which layers carry the face/house distinction, and when the brain does.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign.exceptions import DataError
from brainalign.runs._common import features_record, messages, now, recorded_warnings, versions
from brainalign.runs._rundir import RunDir, clean

#: The ROI name of the category comparison in ``rsa.parquet``.
CATEGORY_ROI = "category RDM"


def category_rdm(stimulus_ids):
    """Return the model RDM of categories: 1 between categories, 0 within.

    Parameters
    ----------
    stimulus_ids : array-like of str
        ``<category>/<name>`` ids (an image folder's sub-folders).

    Returns
    -------
    RDM
    """
    from brainalign.compare import RDM

    ids = np.asarray(stimulus_ids).astype(str)
    flat = [i for i in ids if "/" not in i]
    if flat:
        raise DataError(
            f"Category RSA needs the images in sub-folders named by category; "
            f"{len(flat)} are not (e.g. {flat[0]!r})."
        )
    category = np.array([i.split("/")[0] for i in ids])
    names, counts = np.unique(category, return_counts=True)
    if names.size < 2 or counts.min() < 2:
        raise DataError(
            f"Category RSA needs at least 2 sub-folders (categories) of at least 2 images; "
            f"got {dict(zip(names.tolist(), counts.tolist(), strict=True))}."
        )
    different = category[:, None] != category[None, :]
    return RDM(different[np.triu_indices(ids.size, 1)].astype(float), ids, "category")


def layer_category_table(features: dict, model: str, n_bootstraps: int = 1000, seed: int = 0):
    """Compare every layer's RDM with the category RDM (tau_a, bootstrap CI).

    Parameters
    ----------
    features : dict of str -> FeatureSet
        Layer features of one model, in depth order.
    model : str
        The model's resolved spec (the table's ``model``).
    n_bootstraps : int
        Bootstrap samples over images.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        ``model, layer, depth, roi, value, value_low, value_high, comparison``.
    """
    from brainalign.compare import bootstrap_compare, compute_rdm

    rows = []
    for depth, (layer, fs) in enumerate(features.items()):
        rdm = compute_rdm(fs.features, fs.stimulus_ids)
        result = bootstrap_compare(
            category_rdm(fs.stimulus_ids), rdm, "tau_a", n_bootstraps=n_bootstraps, seed=seed
        )
        rows.append(
            {
                "model": model,
                "layer": layer,
                "depth": depth,
                "roi": CATEGORY_ROI,
                "value": result.value,
                "value_low": result.low,
                "value_high": result.high,
                "comparison": "tau_a",
            }
        )
    return pd.DataFrame(rows)


def category_decoding_table(data, n_permutations: int = 1000, seed: int = 0):
    """Decode the trial category over time (shrinkage LDA, ROC AUC, permutation band).

    Parameters
    ----------
    data : BrainData
        Single-trial sensor data whose stimulus ids are the categories.
    n_permutations : int
        Label shuffles of the null.
    seed : int
        Seed of the folds and shuffles.

    Returns
    -------
    pandas.DataFrame
        ``roi, metric, time, value, chance, chance_high, p_fwe, significant``, the
        decoding table of a run.
    """
    from brainalign.encoding import classify_over_time

    classes = sorted({str(i) for i in data.stimulus_ids})
    table = classify_over_time(
        data, classifier="lda", cv=5, n_permutations=n_permutations, random_state=seed
    )
    return pd.DataFrame(
        {
            "model": "",
            "roi": "all channels",
            "metric": f"{' vs '.join(classes)} AUC",
            "time": table["time"],
            "value": table["score"],
            "chance": 0.5,
            "chance_high": table["chance_high"],
            "p_fwe": table["p_fwe"],
            "significant": table["significant"],
        }
    )


def _profile_figure(table: pd.DataFrame, path: Path) -> Path:
    """Draw tau_a against layer depth, one line per model, with its bootstrap band."""
    from matplotlib.figure import Figure

    from brainalign.features import model_label

    layers = list(dict.fromkeys(table["layer"]))
    fig = Figure(figsize=(max(6.0, 0.55 * len(layers) + 2), 4.0), layout="constrained")
    ax = fig.add_subplot()
    for model, rows in table.groupby("model", sort=False):
        x = rows["depth"].to_numpy()
        ax.fill_between(x, rows["value_low"], rows["value_high"], alpha=0.2, linewidth=0)
        ax.plot(x, rows["value"], marker="o", label=model_label(model))
    ax.set_xticks(range(len(layers)), layers, rotation=45, ha="right")
    ax.set_xlabel("layer (input to output)")
    ax.set_ylabel("category RDM similarity (Kendall tau_a)")
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.set_title("Category structure by layer (band: 95 % bootstrap CI)")
    ax.legend(loc="best", frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def category_run(
    images,
    model: str,
    layers,
    out,
    baseline: bool = True,
    eeg: dict | None = None,
    n_bootstraps: int = 1000,
    n_permutations: int = 1000,
    preprocess: str | None = None,
    device: str = "auto",
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Write a run: category structure by layer, and a recording's category decoding.

    Parameters
    ----------
    images : str or Path
        Folder whose sub-folders are categories (``faces/``, ``houses/``).
    model : str
        Model spec (e.g. ``timm:tf_efficientnet_lite0@/path/ckpt.pth``).
    layers : sequence of str
        Layers, input to output.
    out : str or Path
        Run directory.
    baseline : bool
        Also score the same architecture with random weights (``@random``, with the
        same preprocessing); not for ``torch:`` models or a model that is random.
    eeg : dict, optional
        ``load_dataset`` arguments of single-trial sensor data whose stimulus ids are
        the categories (``{"dataset": "muse", "root": ..., "subject": 1,
        "event_map": {1: "house", 2: "face"}}``).
    n_bootstraps, n_permutations : int
        Bootstrap samples over images; label shuffles of the decoding null.
    preprocess : str, optional
        Override of the model's image preprocessing.
    device : str
        Torch device.
    seed : int
        Seed of random weights, bootstrap, folds and shuffles.
    overwrite : bool
        Replace what ``out`` holds.
    progress : bool
        Progress bars.

    Returns
    -------
    dict
        ``rsa`` and ``decoding`` tables (``decoding`` None without ``eeg``) and the
        ``paths`` written.
    """
    from brainalign._utils import check_positive_int
    from brainalign.compare import compute_rdm, plot_rdm
    from brainalign.features import ModelSpec, Preprocess, get_extractor

    layers = list(layers)
    n_bootstraps = check_positive_int("n_bootstraps", n_bootstraps)
    n_permutations = check_positive_int("n_permutations", n_permutations)
    preprocess = Preprocess.check_override(preprocess)
    parameters = {
        "images": str(Path(images).resolve()),
        "model": model,
        "layers": layers,
        "baseline": bool(baseline),
        "eeg": eeg,  # (run.json and the resume check write it as JSON)
        "n_bootstraps": int(n_bootstraps),
        "n_permutations": int(n_permutations),
        "preprocess": preprocess,
        "device": device,
        "seed": int(seed),
    }
    run = RunDir(out)
    run.prepare("categories", parameters, overwrite=overwrite)
    run.path.mkdir(parents=True, exist_ok=True)
    clock, began = time.perf_counter(), now()
    parsed = ModelSpec.parse(model)
    random = parsed.with_weights("random").text
    # a torch: factory takes its own argument, not a weights tag; a random model is its baseline
    has_baseline = baseline and parsed.family != "torch" and random != parsed.text
    specs = [model] + ([random] if has_baseline else [])
    tables, records, paths = [], {}, {}
    with recorded_warnings() as caught:
        for spec in specs:
            extractor = get_extractor(spec, device=device, seed=seed, preprocess=preprocess)
            feats = extractor.extract(
                str(images), layers=layers, cache_dir=run.features, progress=progress, seed=seed
            )
            tables.append(layer_category_table(feats, extractor.spec, n_bootstraps, seed))
            records[extractor.spec] = features_record(feats)
            if spec == model:
                best = tables[0].loc[tables[0]["value"].idxmax(), "layer"]
                rdm = compute_rdm(feats[best].features, feats[best].stimulus_ids)
                paths["rdm"] = run.figure(f"rdm_{clean(best)}.png")
                paths["rdm"].parent.mkdir(parents=True, exist_ok=True)
                plot_rdm(rdm, title=f"RDM of {best} (correlation distance)", path=paths["rdm"])
        rsa = pd.concat(tables, ignore_index=True)
        paths["rsa"] = run.write_table("rsa", rsa)
        paths["profile"] = _profile_figure(rsa, run.figure("category_structure_by_layer.png"))
        decoding, data_info = None, None
        if eeg is not None:
            from brainalign.data import load_dataset

            options = {k: v for k, v in eeg.items() if k != "dataset"}
            data = load_dataset(eeg["dataset"], **options)
            decoding = category_decoding_table(data, n_permutations, seed)
            paths["decoding"] = run.write_table("decoding", decoding)
            data_info = {"dataset": eeg.get("dataset"), "n_trials": data.n_rows}
    paths["run"] = run.record.write(
        {
            "command": "categories",
            "date": began,
            "versions": versions(),
            "parameters": parameters,
            "data": {"images": parameters["images"], "n_images": int(rdm.stimulus_ids.size)}
            | ({"eeg": data_info} if data_info else {}),
            "features": records,
            "seed": int(seed),
            "warnings": list(dict.fromkeys(messages(caught))),
            "timing": {"started": began, "seconds": round(time.perf_counter() - clock, 3)},
        }
    )
    return {"rsa": rsa, "decoding": decoding, "paths": paths}
