"""Sections of an encoding run: provenance, ROI table, voxel maps, layer sweep."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from brainalign.report import _plots
from brainalign.report._items import Section, figure, links, pairs, table, varying, with_keys

#: Map statistics drawn when the run has maps but no figures, in display order.
MAP_STATS = ("r", "ncr2", "log10pfdr", "bestlayer", "bestr", "bestmodel", "bestmodelr")
#: run.json keys shown in the provenance block (the rest go under "other").
_KNOWN_KEYS = ("command", "date", "versions", "parameters", "data", "seed", "warnings", "tasks")
#: Keys of a synthesis run's record that its own section shows (or that are too long).
_SECTION_KEYS = ("source", "summary", "calibration", "rois")
#: Figures a sweep draws itself (``brainalign compare``), shown in the sweep section.
SWEEP_FIGURES = {
    "layer_profiles.png": ("Layer profile per ROI.", "sweep-profiles"),
    "model_roi_heatmap.png": (
        "Model × ROI: mean test r of the layer chosen on the training images (inner CV); "
        "cells name the layer.",
        "sweep-heatmap",
    ),
}
#: Most ROIs drawn as layer-profile panels.
MAX_PROFILE_ROIS = 48


def _first(params: dict, *names):
    for name in names:
        if params.get(name) not in (None, "", []):
            return params[name]
    return None


def _from_tables(contents, column):
    values = []
    for frame in (contents.roi_scores, contents.eeg_scores, contents.captions):
        if frame is not None and column in frame.columns:
            values += [v for v in pd.unique(frame[column].astype(str)) if v not in values]
    return values or None


def provenance_section(contents) -> Section | None:
    """Build the header from ``run.json``: what was run, on what data, with which versions.

    Parameters
    ----------
    contents : RunContents
        The run directory.

    Returns
    -------
    Section or None
        ``None`` when the run has no ``run.json``.
    """
    record = contents.record
    if record is None:
        return None
    params = record.get("parameters") or {}
    data = record.get("data") or {}
    source = record.get("source") or {}  # a run made from another run (synthesize)
    summary = {
        "run directory": contents.path.name,
        "command": record.get("command"),
        "date": record.get("date"),
        "dataset": _first(params, "dataset") or data.get("dataset") or source.get("dataset"),
        "subject": _first(params, "subject", "subjects")
        or source.get("subject")
        or _from_tables(contents, "subject"),
        "model": _first(params, "model", "models")
        or source.get("model")
        or _from_tables(contents, "model"),
        "layer": _first(params, "layer", "layers")
        or source.get("layer")
        or _from_tables(contents, "layer"),
        "seed": record.get("seed", params.get("seed")),
    }
    summary.update({k: v for k, v in data.items() if "sha" in k or "hash" in k})
    tasks = record.get("tasks")
    if isinstance(tasks, dict) and tasks:  # a sweep's manifest
        states = pd.Series([str((t or {}).get("status")) for t in tasks.values()])
        summary["tasks"] = ", ".join(f"{n} {state}" for state, n in states.value_counts().items())
    section = Section("provenance", "Run", items=[pairs("Summary", summary)])
    for key, caption in (("versions", "Versions"), ("parameters", "Parameters"), ("data", "Data")):
        if isinstance(record.get(key), dict) and record[key]:
            section.items.append(pairs(caption, record[key]))
    other = {k: v for k, v in record.items() if k not in _KNOWN_KEYS + _SECTION_KEYS}
    if other:
        text = json.dumps(other, indent=2, default=str)
        section.items.append({"kind": "code", "caption": "Other records", "text": text})
    return section


def warnings_section(contents) -> Section | None:
    """List the warnings collected during the run (``run.json``) and failed sweep tasks."""
    record = contents.record or {}
    entries = [str(w) for w in record.get("warnings") or []]
    tasks = record.get("tasks")
    for name, task in (tasks if isinstance(tasks, dict) else {}).items():
        if isinstance(task, dict) and task.get("status") == "failed":
            entries.append(f"Task {name} failed: {task.get('error', 'no error recorded')}")
    if not entries:
        return None
    return Section("warnings", "Warnings", items=[{"kind": "list", "entries": entries}])


def layer_order(record: dict | None, *frames) -> list[str]:
    """Order layers by depth: the run's declared layers, then the others as they appear.

    Parameters
    ----------
    record : dict or None
        ``run.json``.
    *frames : pandas.DataFrame
        Tables with a ``layer`` column.

    Returns
    -------
    list of str
        Layer names.
    """
    params = (record or {}).get("parameters") or {}
    declared = params.get("layers") or []  # not "layer": one fit's layer says nothing of depth
    if isinstance(declared, str):
        declared = declared.split(",")
    if isinstance(declared, dict):  # a sweep: model -> its layers
        declared = [layer for layers in declared.values() for layer in layers]
    order = []
    for layer in map(str, declared):
        order += [] if layer in order else [layer]
    for frame in frames:
        if frame is not None and "layer" in frame.columns:
            if "layer_index" in frame.columns:  # a sweep's depth order
                frame = frame.sort_values("layer_index", kind="stable")
            order += [la for la in pd.unique(frame["layer"].astype(str)) if la not in order]
    return order


def best_layer_rows(frame: pd.DataFrame, keys) -> pd.DataFrame:
    """Keep, per group of ``keys``, the row of the layer chosen on the training images.

    The choice is made on the inner-CV score (:func:`brainalign.compare.choose_rows`),
    so the row's test scores are those of a layer chosen without the test stimuli.
    """
    from brainalign.compare import choose_rows

    return choose_rows(frame, list(keys))


def _in_file_order(rows: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Sort rows by subject, model and ROI, each in the order they first appear in ``frame``."""
    keys = ["subject", "model", "roi"]
    ranks = {k: {v: i for i, v in enumerate(pd.unique(frame[k]))} for k in keys}
    return rows.sort_values(keys, key=lambda col: col.map(ranks[col.name]), kind="stable")


def roi_section(contents) -> Section | None:
    """Build the ROI table: per (subject, model, ROI), the chosen layer's scores; sortable."""
    if contents.roi_scores is None or contents.roi_scores.empty:
        return None
    frame = with_keys(contents.roi_scores)
    several = varying(frame)
    best = _in_file_order(best_layer_rows(frame, ["subject", "model", "roi"]), frame)
    best = _with_frequency(best, contents.layer_selection)
    columns = [(c, c, 0) for c in ("subject", "model") if c in several]
    columns += [("roi", "ROI", 0)]
    if "layer" in several:
        columns += [("layer", "best layer", 0)]
        if "selection_frequency" in best:
            columns += [("selection_frequency", "times best", 2)]
    columns += [("mean_r", "mean r", 3)]
    columns += [(c, t, 3) for c, t in (("mean_r_low", "CI low"), ("mean_r_high", "CI high"))
                if c in best and best[c].notna().any()]  # fmt: skip
    columns += [
        ("median_r", "median r", 3),
        ("mean_ncr2", "mean ncR² (%)", 1),
    ]
    columns += [("n_ncr2", "targets with ncR²", 0)] if "n_ncr2" in best else []
    columns += [
        ("frac_significant", "fraction significant", 2),
        ("n_targets", "targets", 0),
    ]
    return Section(
        "roi-table", "ROI scores", _roi_intro(best, frame, "layer" in several),
        items=[table(best, columns, "roi-scores")],
    )  # fmt: skip


def _with_frequency(best: pd.DataFrame, selection) -> pd.DataFrame:
    """Add ``selection_frequency`` of each row's layer from a sweep's layer_selection."""
    from brainalign.compare import frequency_of

    if selection is None or selection.empty:
        return best
    return best.assign(selection_frequency=frequency_of(best, selection))


def _roi_intro(best, frame, several_layers: bool) -> str:
    """One sentence for each statistic of the ROI table."""
    from brainalign.compare import selection_column

    text = (
        "Held-out scores per ROI: mean r is the mean over the ROI's targets of the "
        "correlation of predicted and observed test responses"
    )
    if "mean_r_low" in best and best["mean_r_low"].notna().any():
        text += ", with its 95 % bootstrap interval over test images (CI low, CI high)"
    text += (
        ". ncR² is r² as a percentage of the noise ceiling (the explainable variance), "
        "averaged over the targets whose ceiling is high enough to normalise by; fraction "
        "significant is the share of targets with a permutation p below 0.05 after "
        "Benjamini-Hochberg FDR correction. Click a column header to sort."
    )
    if several_layers:
        if selection_column(frame) == "mean_r":
            text += (
                " Each row shows the layer with the highest test mean r: these runs "
                "recorded no inner-CV scores, so the choice saw the test images and its "
                "score is optimistic."
            )
        else:
            text += (
                " Each row shows the layer with the highest inner cross-validated R² on "
                "the training images; its scores are test scores the choice never saw."
            )
        if "selection_frequency" in best:
            text += (
                " Times best: the share of bootstrap resamples of the test images in "
                "which that layer has the highest mean r (near 1: a stable ranking; near "
                "1 / number of layers: the layers cannot be told apart)."
            )
    return text


def _map_sort_key(path: Path):
    stat = path.name.split("_stat-")[-1].split("_")[0]
    rank = MAP_STATS.index(stat) if stat in MAP_STATS else len(MAP_STATS)
    return rank, path.name


def _render_maps(contents) -> tuple[list, list]:
    """Draw the run's maps into a temporary folder (the run directory is left alone)."""
    from brainalign.maps import plot_run_maps

    present = {p.name.split("_stat-")[-1][: -len(".nii.gz")] for p in contents.maps}
    stats = [s for s in MAP_STATS if s in present] or sorted(present)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            os.symlink(contents.path.resolve() / "maps", Path(tmp) / "maps")
        except OSError:  # no symbolic links here: copy the maps
            shutil.copytree(contents.path / "maps", Path(tmp) / "maps")
        paths = plot_run_maps(tmp, stats=stats)
        if not paths:
            return [], ["No map figures could be drawn (see the warnings of the report call)."]
        items = [_map_figure(p) for p in sorted(paths, key=_map_sort_key)]
    return items, []


def _map_figure(path: Path) -> dict:
    """Return a map figure captioned in words: what, whose, colour scale, threshold."""
    from brainalign.maps._style import map_caption

    stem = path.name[: -len(".png")]
    return figure(_plots.file_uri(path), f"{map_caption(stem)} File: {path.name}")


def maps_section(contents) -> Section | None:
    """Show the voxel maps: the run's figures, or figures drawn from ``maps/*.nii.gz``."""
    if contents.map_figures:
        items = [_map_figure(p) for p in sorted(contents.map_figures, key=_map_sort_key)]
        notes = []
    elif contents.maps:
        items, notes = _render_maps(contents)
    else:
        return None
    if contents.surface_views:
        entries = [
            (p.name[: -len("_surface.html")], f"{contents.link_base}/figures/{p.name}")
            for p in contents.surface_views
        ]
        caption = "Interactive 3-D surface views (pages in the run's figures folder)"
        items.append(links(caption, entries))
    intro = (
        "Statistic maps of the held-out scores: axial slices (over the subject's anatomy "
        "when the run holds it) and a glass brain per volume map; lateral and medial views "
        "of each hemisphere for surface maps (surface runs, and volume maps projected on "
        "the subject's and fsaverage's surfaces). Each caption names the colour scale and "
        "the voxels shown (significance maps: p(FDR) < 0.05)."
    )
    return Section("maps", "Voxel maps", intro, notes=notes, items=items)


def figures_section(contents) -> Section | None:
    """Show the other figures (``figures/*.png``: not statistic maps, not sweep figures)."""
    from brainalign.runs._attention import FIGURE_PREFIX  # the attention section's own

    shown = [
        p
        for p in contents.other_figures
        if p.name not in SWEEP_FIGURES and not p.name.startswith(FIGURE_PREFIX)
    ]
    if not shown:
        return None
    items = [figure(_plots.file_uri(p), p.name[: -len(".png")]) for p in shown]
    return Section("figures", "Other figures", items=items)


def _sweep_figures(contents) -> dict:
    """Return the sweep's own figures (``brainalign compare`` draws them), by element id."""
    found = {p.name: p for p in contents.other_figures if p.name in SWEEP_FIGURES}
    return {
        fig_id: figure(_plots.file_uri(found[name]), caption, fig_id)
        for name, (caption, fig_id) in SWEEP_FIGURES.items()
        if name in found
    }


def _profiles_figure(frame, layers, rois, notes) -> dict:
    from brainalign.compare import plot_layer_profiles

    drawn = rois[:MAX_PROFILE_ROIS]
    if len(drawn) < len(rois):
        notes.append(f"Layer profiles show the first {len(drawn)} of {len(rois)} ROIs.")
    fig = plot_layer_profiles(frame, rois=drawn, layers=layers)
    return figure(_plots.figure_uri(fig), "Layer profile per ROI (mean r).", "sweep-profiles")


def _heatmap_figure(frame, models, rois) -> dict:
    from brainalign.compare import plot_model_roi_heatmap

    fig = plot_model_roi_heatmap(frame, models=models, rois=rois)
    caption = SWEEP_FIGURES["model_roi_heatmap.png"][0]
    return figure(_plots.figure_uri(fig), caption, "sweep-heatmap")


def sweep_section(contents) -> Section | None:
    """Show layer profiles per ROI and the model x ROI heatmap of a sweep.

    The sweep's own figures are shown when the run has them; the others are drawn.
    """
    if contents.roi_scores is None or contents.roi_scores.empty:
        return None
    frame = with_keys(contents.roi_scores)
    several = varying(frame, ("model", "layer"))
    if not several:
        return None
    rois = list(pd.unique(frame["roi"]))
    section = Section("sweep", "Layers and models")
    n_subjects = frame["subject"].nunique()
    if n_subjects > 1:
        section.intro = f"Scores are averaged over {n_subjects} subjects."
    own = _sweep_figures(contents)
    if "layer" in several:
        layers = layer_order(contents.record, contents.roi_scores)
        item = own.get("sweep-profiles")
        section.items.append(item or _profiles_figure(frame, layers, rois, section.notes))
    models = list(pd.unique(frame["model"]))
    section.items.append(own.get("sweep-heatmap") or _heatmap_figure(frame, models, rois))
    return section
