"""Cross-subject alignment run: a shared space, and what it is worth, in one run directory.

The stimuli every subject saw are split once (seeded): ``n_align`` of them fit the
shared space, the rest are held out from everything and score every evaluation
(``split.parquet``). The run writes:

- ``shared_space.npz``: the space fitted on all subjects (``fit``/``decode
  --shared-space`` read it);
- ``learning_curve.parquet``: each subject held out in turn, the space and a
  shared-space encoder fitted on the others, the held-out subject adapted with ``m``
  alignment stimuli; its held-out r per ROI beside its own within-subject encoder
  (fitted on all its non-held-out stimuli);
- ``identification.parquet``: a decoder trained on the others' shared-space responses,
  applied to the held-out subject through its map, beside its within-subject decoder
  (top-1/top-5/pairwise identification among the held-out stimuli, with chance);
- ``subject_predictivity.parquet``: ridge maps from each subject (and from all others)
  to each subject's voxels, a ceiling beside model scores;
- figures of all three.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import get_logger
from brainalign.exceptions import DataError
from brainalign.runs._common import (
    features_record,
    load_averaged,
    messages,
    now,
    recorded_warnings,
    versions,
)
from brainalign.runs._rundir import RunDir
from brainalign.runs._spec import AlignSpec

logger = get_logger(__name__)

#: Table of the split of the shared stimuli.
SPLIT_TABLE = "split"


def align_subjects(dataset, root, subjects, model, out, **options) -> dict:
    """Fit a shared space over subjects and evaluate it (see :func:`run_align`).

    Parameters
    ----------
    dataset, root : str
        Dataset and folder.
    subjects : sequence of int
        At least 3 subjects.
    model : str
        Model spec of the encoders and decoders.
    out : str or Path
        Run directory.
    **options
        Further :class:`AlignSpec` options (``method``, ``n_components``, ``layer``,
        ``n_align``, ``adapt``, ...).

    Returns
    -------
    dict
        As :func:`run_align`.
    """
    progress = options.pop("progress", True)
    spec = AlignSpec(dataset=dataset, root=root, subjects=subjects, model=model, **options)
    return run_align(spec, out, progress=progress)


def run_align(spec: AlignSpec, out, progress: bool = True, overwrite: bool = False) -> dict:
    """Run one :class:`AlignSpec` and write its run directory.

    Parameters
    ----------
    spec : AlignSpec
        What to align and evaluate.
    out : str or Path
        Run directory.
    progress : bool
        Progress bars.
    overwrite : bool
        Replace a different run that ``out`` holds.

    Returns
    -------
    dict
        ``learning_curve``, ``identification``, ``subject_predictivity`` tables, the
        fitted ``space`` and the ``paths`` written.
    """
    from brainalign.runs._validate import check_plan

    run = RunDir(out)
    run.check_output()
    check_plan(spec.dataset, spec.root, list(spec.subjects), spec.roi, {spec.model: [spec.layer]})
    run.prepare("align", spec.to_json(), overwrite=overwrite)
    clock, began = time.perf_counter(), now()
    with recorded_warnings() as caught:
        data = {
            s: load_averaged(spec.dataset, spec.root, s, spec.roi, progress) for s in spec.subjects
        }
        split = split_shared(data, spec)
        split["sizes"] = adapt_sizes(spec, len(split["order"]))
        align_ids, test_ids = split["align"], split["test"]
        model, feats, fs = _features(spec, list(data.values()), test_ids, run, progress)
        space = _space(spec).fit(data, align_ids)
        paths = {"shared_space": space.save(run.shared_space)}
        curve, ident = [], []
        for held in _progress(spec.subjects, progress, "held-out subjects"):
            part = _hold_out(spec, data, held, split, fs)
            curve.append(part["curve"])
            ident.append(part["identification"])
        curve = pd.concat(curve, ignore_index=True)
        ident = pd.concat(ident, ignore_index=True)
        ceiling = _predictivity_table(data, align_ids, test_ids, spec.alphas)
    run.path.mkdir(parents=True, exist_ok=True)
    paths[SPLIT_TABLE] = run.write_table(SPLIT_TABLE, split["table"])
    paths["learning_curve"] = run.write_table("learning_curve", curve)
    paths["identification"] = run.write_table("identification", ident)
    paths["subject_predictivity"] = run.write_table("subject_predictivity", ceiling)
    from brainalign.runs._align_figures import draw_align_figures

    paths.update(draw_align_figures(run, curve, ident, ceiling))
    paths["run"] = run.record.write(
        {
            "command": "align",
            "date": began,
            "versions": versions(),
            "parameters": spec.to_json(),
            "data": _data_record(spec, data, split),
            "features": features_record(feats),
            "model": model,
            "space": {"method": space.method, "n_components": space.n_components_}
            | {k: v for k, v in space.info_.items() if k != "sigmas"},
            "summary": _summary(curve, ident),
            "seed": spec.seed,
            "warnings": list(dict.fromkeys(messages(caught))),
            "timing": {"started": began, "seconds": round(time.perf_counter() - clock, 3)},
        }
    )
    return {
        "learning_curve": curve,
        "identification": ident,
        "subject_predictivity": ceiling,
        "space": space,
        "paths": paths,
    }


def _space(spec: AlignSpec):
    from brainalign.alignment import SharedSpace

    return SharedSpace(
        method=spec.method,
        n_components=spec.n_components,
        alphas=spec.alphas,
        random_state=spec.seed,
    )


def _progress(items, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(list(items), desc=desc, disable=not enabled, leave=False)


# -- the split ----------------------------------------------------------------------
def split_shared(data: dict, spec: AlignSpec) -> dict:
    """Split the stimuli all subjects saw into alignment and held-out stimuli (seeded).

    Returns
    -------
    dict
        ``align`` and ``test`` (sorted ids), ``order`` (the alignment ids in the order
        a new subject is adapted with: the first ``m`` for ``m`` stimuli) and
        ``table`` (``stimulus_id, role, adapt_rank``).
    """
    from brainalign.alignment import common_ids

    common = common_ids(data)
    n_align = len(common) // 2 if spec.n_align is None else spec.n_align
    if len(common) - n_align < 10 or n_align < spec.n_components:
        raise DataError(
            f"The {len(spec.subjects)} subjects share {len(common)} stimuli: the space needs "
            f"n_align >= n_components ({spec.n_components}) of them and at least 10 held "
            f"out to score on; got n_align = {n_align}."
        )
    order = np.random.default_rng([spec.seed, 11]).permutation(common)
    align, test = order[:n_align], np.sort(order[n_align:])
    rank = np.full(len(common), -1)
    position = pd.Index(common).get_indexer(align)
    rank[position] = np.arange(n_align)
    table = pd.DataFrame(
        {
            "stimulus_id": common,
            "role": np.where(rank >= 0, "align", "test"),
            "adapt_rank": rank,
        }
    )
    return {"align": np.sort(align), "test": test, "order": align, "table": table}


def read_split(run: RunDir) -> dict:
    """Read an alignment run's split: ``align``, ``test`` and ``order`` ids."""
    table = run.read_table(SPLIT_TABLE)
    align = table[table["role"] == "align"].sort_values("adapt_rank")
    return {
        "align": np.sort(align["stimulus_id"].to_numpy()),
        "test": np.sort(table.loc[table["role"] == "test", "stimulus_id"].to_numpy()),
        "order": align["stimulus_id"].to_numpy(),
    }


# -- features -----------------------------------------------------------------------
def _features(spec, data: list, test_ids, run: RunDir, progress: bool):
    """Features of every subject's stimuli (reductions fitted on no held-out stimulus).

    Returns
    -------
    tuple
        The resolved model, the features by layer, and the features of ``spec.layer``
        (layers side by side for ``a+b``).
    """
    from brainalign.runs._fit import extract_ids, stack_features
    from brainalign.runs._sweep import one_store

    ids = np.unique(np.concatenate([d.stimulus_ids for d in data]))
    sets = [{"stimuli": d.stimuli, "ids": d.stimulus_ids} for d in data]
    cache = spec.cache_dir or run.features
    model, feats = extract_ids(
        spec, one_store(sets), ids, np.setdiff1d(ids, test_ids), cache, progress
    )
    parts = [feats[name] for name in spec.layers]
    return model, feats, parts[0] if len(parts) == 1 else stack_features(parts)


def training_ids(data, test_ids) -> np.ndarray:
    """Return a subject's stimuli that are not held out."""
    return np.setdiff1d(data.stimulus_ids, test_ids)


# -- one held-out subject -----------------------------------------------------------
def _hold_out(spec: AlignSpec, data: dict, held, split: dict, fs) -> dict:
    """Learning curve and identification of one held-out subject."""
    from brainalign.alignment import SharedSpaceEncoder, stacked_shared
    from brainalign.alignment._space import rows_of
    from brainalign.encoding import DecodingModel, EncodingModel

    test_ids = split["test"]
    others = {s: d for s, d in data.items() if s != held}
    space = _space(spec).fit(others, split["align"])
    train = {s: training_ids(d, test_ids) for s, d in others.items()}
    x, z, groups = stacked_shared(space, others, train, fs)
    folds = grouped_cv(spec.cv)  # a stimulus's rows (one per subject) stay on one side
    encoder = EncodingModel(alphas=spec.alphas, cv=folds, backend=spec.backend)
    encoder.fit(x, z, groups=groups)
    decoder = DecodingModel(alphas=spec.alphas, cv=folds, backend=spec.backend)
    decoder.fit(z, x, groups=groups)
    target = data[held]
    own = training_ids(target, test_ids)
    y_test = rows_of(target, test_ids)
    f_test, f_own = fs.align(test_ids), fs.align(own)
    within = EncodingModel(alphas=spec.alphas, cv=spec.cv, backend=spec.backend)
    within_r = _r(y_test, within.fit(f_own, rows_of(target, own)).predict(f_test))
    within_dec = DecodingModel(alphas=spec.alphas, cv=spec.cv, backend=spec.backend)
    within_dec.fit(rows_of(target, own).astype(np.float32), f_own)
    ident = [_ident_rows(held, "within-subject", None, within_dec.predict(y_test), f_test)]
    curve, masks = [], roi_masks(target)
    for m in split["sizes"]:
        space.add_subject(held, target, split["order"][:m])
        pred = SharedSpaceEncoder(encoder, space.maps_[held]).predict(f_test)
        curve.append(_curve_rows(held, m, masks, _r(y_test, pred), within_r))
        decoded = decoder.predict(space.transform(held, y_test).astype(np.float32))
        ident.append(_ident_rows(held, "cross-subject", m, decoded, f_test))
    return {"curve": pd.concat(curve, ignore_index=True), "identification": pd.concat(ident)}


def adapt_sizes(spec: AlignSpec, n_align: int) -> list[int]:
    """Return the learning curve's sizes: those asked for that fit, and all alignment ids.

    Sizes below what a map needs (``k`` for orthogonal maps, 3 for ridge) or above
    ``n_align`` are dropped with a warning (recorded in ``run.json``).
    """
    import warnings

    from brainalign.alignment._space import min_adapt

    low = min_adapt(spec.method, spec.n_components)
    dropped = [m for m in spec.adapt if not low <= m <= n_align]
    if dropped:
        warnings.warn(
            f"Learning-curve sizes {dropped} dropped from 'adapt': a {spec.method} map needs "
            f"{low} to n_align = {n_align} alignment stimuli.",
            UserWarning,
            stacklevel=2,
        )
    return sorted({m for m in spec.adapt if low <= m <= n_align} | {n_align})


def _r(y, pred) -> np.ndarray:
    from brainalign.encoding import pearson_r

    return pearson_r(y, pred)


def roi_masks(data) -> dict:
    """Return ``{"all targets": every target, ROI name: its targets}`` (non-empty ROIs)."""
    masks = {"all targets": np.ones(data.n_targets, dtype=bool)}
    for name in data.roi_names():
        mask = data.roi_mask(name)
        if mask.any():
            masks[name] = mask
    return masks


def roi_means(masks: dict, values) -> pd.DataFrame:
    """Mean of a per-target value over each mask of :func:`roi_masks`."""
    values = np.asarray(values)
    return pd.DataFrame(
        [
            {"roi": name, "mean": float(np.nanmean(values[m])), "n_targets": int(m.sum())}
            for name, m in masks.items()
        ]
    )


def _curve_rows(held, m, masks, shared_r, within_r) -> pd.DataFrame:
    shared = roi_means(masks, shared_r)
    within = roi_means(masks, within_r)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = shared["mean"] / within["mean"]
    return pd.DataFrame(
        {
            "held_out": held,
            "n_adapt": m,
            "roi": shared["roi"],
            "mean_r_shared": shared["mean"],
            "mean_r_within": within["mean"],
            "ratio": np.where(within["mean"] > 0, ratio, np.nan),
            "n_targets": shared["n_targets"],
        }
    )


def _ident_rows(held, decoder: str, m, predicted, true) -> pd.DataFrame:
    from brainalign.encoding import identification_scores

    scores = identification_scores(predicted, true)
    return pd.DataFrame(
        [
            {
                "held_out": held,
                "decoder": decoder,
                "n_adapt": np.nan if m is None else m,
                "metric": name,
                "value": value,
                "chance": chance,
                "n_test": len(true),
            }
            for name, (value, chance) in scores.items()
        ]
    )


# -- subject-to-subject ---------------------------------------------------------------
def _predictivity_table(data: dict, align_ids, test_ids, alphas) -> pd.DataFrame:
    """ROI means of the held-out r of each subject predicting another (ridge on align ids)."""
    from brainalign.alignment import subject_predictivity

    result = subject_predictivity(data, align_ids, test_ids, alphas)
    masks = {s: roi_masks(d) for s, d in data.items()}
    parts = []
    for (source, target), r in result.items():
        table = roi_means(masks[target], r)
        table.insert(0, "target", target)
        table.insert(0, "source", str(source))
        parts.append(table.rename(columns={"mean": "mean_r"}))
    return pd.concat(parts, ignore_index=True)


# -- run.json -------------------------------------------------------------------------
def _data_record(spec, data, split) -> dict:
    return {
        "dataset": spec.dataset,
        "root": spec.root,
        "n_targets": {str(s): d.n_targets for s, d in data.items()},
        "n_stimuli": {str(s): d.n_rows for s, d in data.items()},
        "n_shared": int(len(split["table"])),
        "n_align": int(len(split["align"])),
        "n_test": int(len(split["test"])),
    }


def _summary(curve: pd.DataFrame, ident: pd.DataFrame) -> dict:
    """Return the headline numbers, means over held-out subjects.

    Mean r through the shared space and within subject at the largest adaptation
    set; cross- vs within-subject top-1 identification.
    """
    whole = curve[curve["roi"] == "all targets"]
    last = whole[whole["n_adapt"] == whole["n_adapt"].max()]
    top1 = ident[ident["metric"] == "top1"]
    cross = top1[(top1["decoder"] == "cross-subject") & (top1["n_adapt"] == top1["n_adapt"].max())]
    return {
        "n_adapt": int(last["n_adapt"].max()),
        "mean_r_shared": float(last["mean_r_shared"].mean()),
        "mean_r_within": float(last["mean_r_within"].mean()),
        "top1_cross_subject": float(cross["value"].mean()),
        "top1_within_subject": float(top1[top1["decoder"] == "within-subject"]["value"].mean()),
        "top1_chance": float(top1["chance"].mean()),
    }


# -- fit / decode --shared-space ------------------------------------------------------
def open_align_run(spec) -> dict:
    """Open the ``align`` run a fit or decode spec names (``spec.shared_space``).

    Returns
    -------
    dict
        ``spec`` (its :class:`AlignSpec`), ``space`` (the fitted
        :class:`~brainalign.alignment.SharedSpace`) and ``split`` (:func:`read_split`).

    Raises
    ------
    ParameterError
        When the folder is not a finished alignment run of the same dataset.
    """
    from brainalign.alignment import SharedSpace
    from brainalign.exceptions import ParameterError

    run = RunDir(spec.shared_space)
    record = run.record.read_or_none()
    if record is None or record.get("command") != "align" or not run.shared_space.exists():
        raise ParameterError(
            f"Invalid value for 'shared_space': expected a finished align run (run.json "
            f"and shared_space.npz); got {spec.shared_space!r}."
        )
    aligned = AlignSpec.from_json(record["parameters"])
    same_root = str(Path(aligned.root).resolve()) == str(Path(spec.root).resolve())
    if aligned.dataset != spec.dataset or not same_root:
        raise ParameterError(
            f"Invalid value for 'shared_space': the align run is of {aligned.dataset} at "
            f"{aligned.root}, not of {spec.dataset} at {spec.root}."
        )
    if aligned.roi != spec.roi:
        raise ParameterError(
            f"Invalid value for 'roi': the align run's maps are of roi {aligned.roi!r}; got "
            f"{spec.roi!r} (load the same targets as the align run)."
        )
    target = getattr(spec, "target", "image")
    if target != "image":
        raise ParameterError(
            "Invalid value for 'target': decoding through a shared space decodes the "
            f"model's image features ('image'); got {target!r}."
        )
    if getattr(spec, "rois", None) is not None:
        raise ParameterError(
            "Invalid value for 'rois': a decoder through a shared space reads the whole "
            f"space, not ROIs; got {list(spec.rois)}."
        )
    return {"spec": aligned, "space": SharedSpace.load(run.shared_space), "split": read_split(run)}


def _subject_map(space, subject, data, split):
    """Return the subject's map: fitted with the space, or adapted on its alignment stimuli."""
    from brainalign.alignment._space import target_keys

    if subject not in space.maps_:
        space.add_subject(subject, data, np.intersect1d(split["order"], data.stimulus_ids))
    space.maps_[subject].check_targets(target_keys(data), f"Subject {subject}")
    return space.maps_[subject]


def _others_in_space(spec, opened: dict, progress: bool) -> dict:
    """Load the align run's other subjects, checked against their maps."""
    from brainalign.alignment._space import target_keys

    aligned, space = opened["spec"], opened["space"]
    others = {}
    for s in aligned.subjects:
        if s == spec.subject:
            continue
        data = load_averaged(aligned.dataset, aligned.root, s, aligned.roi, progress)
        space.maps_[s].check_targets(target_keys(data), f"Subject {s}")
        others[s] = data
    return others


def _cross_subject_inputs(spec, run: RunDir, progress: bool) -> dict:
    """Load what a cross-subject fit or decode needs: subject, others, features, rows.

    Returns
    -------
    dict
        ``data`` (the subject, its test set the align run's held-out stimuli it saw),
        ``map`` (its :class:`~brainalign.alignment.SubjectMap`), ``model``,
        ``features`` (by layer), ``fs`` (the layers side by side), ``x``, ``z`` and
        ``groups`` (the others' features, shared-space responses and stimulus ids,
        stacked) and ``record`` (``run.json`` fields).
    """
    from brainalign.alignment import stacked_shared

    opened = open_align_run(spec)
    space, split = opened["space"], opened["split"]
    data = load_averaged(spec.dataset, spec.root, spec.subject, spec.roi, progress)
    in_space = spec.subject in space.maps_
    subject_map = _subject_map(space, spec.subject, data, split)
    others = _others_in_space(spec, opened, progress)
    test = np.intersect1d(split["test"], data.stimulus_ids)
    if test.size < 2:
        raise DataError(
            f"Subject {spec.subject} saw {test.size} of the align run's held-out stimuli: "
            "a cross-subject fit or decoder is scored on them and needs at least 2."
        )
    data = data.with_test_ids(test)
    model, features, fs = _features(spec, [data, *others.values()], split["test"], run, progress)
    train = {s: training_ids(d, split["test"]) for s, d in others.items()}
    x, z, groups = stacked_shared(space, others, train, fs)
    seen = len(np.intersect1d(split["order"], data.stimulus_ids))
    record = {
        "run": spec.shared_space,
        "method": space.method,
        "n_components": space.n_components_,
        "trained_on_subjects": sorted(int(s) for s in others),
        "n_training_rows": int(len(x)),
        "subject_map": "fitted with the space (its alignment responses shaped the space)"
        if in_space
        else f"adapted on the alignment stimuli it saw ({seen})",
        "features": "the layers' features side by side, one ridge"
        if len(spec.layers) > 1
        else "one layer, one ridge",
    }
    return {
        "data": data,
        "map": subject_map,
        "model": model,
        "features": features,
        "fs": fs,
        "x": x,
        "z": z,
        "groups": groups,
        "record": {"shared_space": record},
    }


def grouped_cv(n_folds: int):
    """Return folds that keep every stimulus's rows (one per subject) on one side."""
    from sklearn.model_selection import GroupKFold

    return GroupKFold(n_folds)


def cross_subject_fit(spec, run: RunDir, progress: bool = True):
    """Return what ``fit --shared-space`` needs: the subject, features, a cross-subject encoder.

    The encoder is fitted on the align run's other subjects (all their stimuli but the
    held-out ones) in the shared space, its penalties chosen by folds over stimuli, and
    reaches ``spec.subject`` through its map (fitted with the space, or adapted on the
    run's alignment stimuli when the subject was not aligned); the subject's test set
    becomes the run's held-out stimuli.

    Returns
    -------
    tuple
        ``(data, model, features, estimator, record)``: the subject's data with the
        held-out stimuli as its test set, the resolved model, features by layer, the
        :class:`~brainalign.alignment.SharedSpaceEncoder` and the ``run.json`` fields.
    """
    from brainalign.alignment import SharedSpaceEncoder
    from brainalign.encoding import EncodingModel

    got = _cross_subject_inputs(spec, run, progress)
    encoder = EncodingModel(alphas=spec.alphas, cv=grouped_cv(spec.cv), backend=spec.backend)
    encoder.fit(got["x"], got["z"], groups=got["groups"])
    estimator = SharedSpaceEncoder(encoder, got["map"])
    return got["data"], got["model"], got["features"], estimator, got["record"]


def cross_subject_decode(spec, run: RunDir, progress: bool = True) -> dict:
    """Decode one subject with a decoder of the align run's other subjects.

    The decoder maps the others' shared-space responses (all their stimuli but the
    held-out ones) to the model's features; the subject's held-out responses reach it
    through the subject's map. Scored like :func:`~brainalign.encoding.decode_rois`
    (one row set, ROI ``"shared space"``).

    Returns
    -------
    dict
        ``data`` (the subject, held-out stimuli as its test set), ``features`` (the
        decoded layers side by side, over every stimulus used), ``model`` (resolved
        spec), ``result`` (``scores``, ``predictions``, ``test_ids``) and ``record``.
    """
    from brainalign.alignment._space import rows_of
    from brainalign.encoding import DecodingModel, decoding_scores

    got = _cross_subject_inputs(spec, run, progress)
    decoder = DecodingModel(alphas=spec.alphas, cv=grouped_cv(spec.cv), backend=spec.backend)
    decoder.fit(got["z"], got["x"], groups=got["groups"])
    test = got["data"].test_ids
    responses = rows_of(got["data"], test)
    pred = decoder.predict(got["map"].transform(responses).astype(np.float32))
    table = decoding_scores(pred, got["fs"].align(test))
    table.insert(0, "roi", "shared space")
    table["n_targets"] = got["map"].forward.shape[1]
    table["n_test"] = len(test)
    result = {"scores": table, "predictions": {"shared space": pred}, "test_ids": test}
    return {
        "data": got["data"],
        "features": got["fs"],
        "model": got["model"],
        "result": result,
        "record": got["record"],
    }
