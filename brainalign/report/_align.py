"""Section of an ``align`` run (cross-subject alignment), and the shared space of a fit.

An ``align`` run (:mod:`brainalign.runs._align`) holds ``learning_curve.parquet``,
``identification.parquet``, ``subject_predictivity.parquet`` and a figure of each; its
section shows them with the headline numbers of ``run.json`` (``summary``). A fit run
made with ``fit --shared-space`` gets one sentence in its provenance block.
"""

from __future__ import annotations

import pandas as pd

from brainalign.exceptions import DataError
from brainalign.report import _plots, _sections
from brainalign.report._items import Section, figure, fmt_value, pairs, table

#: Tables of an ``align`` run and the columns its section needs.
TABLES = {
    "learning_curve": ("held_out", "n_adapt", "roi", "mean_r_shared", "mean_r_within", "ratio"),
    "identification": ("held_out", "decoder", "n_adapt", "metric", "value", "chance"),
    "subject_predictivity": ("source", "target", "roi", "mean_r"),
}
#: The ROI row of every target the run loaded.
WHOLE = "all targets"
#: Display names of the ways a shared space is fitted.
METHOD_NAMES = {
    "srm": "SRM",
    "srm-prob": "probabilistic SRM",
    "procrustes": "hyperalignment (Procrustes)",
    "ridge": "ridge maps",
}
#: The run's figures, in page order: file name -> (caption, element id).
FIGURES = {
    "learning_curve.png": (
        "Learning curve (all targets): each held-out subject's mean r on the held-out "
        "stimuli through the shared space, by the number m of alignment stimuli its map "
        "is fitted on (log scale), beside its own encoder fitted on all its non-held-out "
        "stimuli (dashed).",
        "align-curve",
    ),
    "identification.png": (
        "Top-1 identification among the held-out stimuli: the decoder of the other "
        "subjects reaching the held-out subject through its map, by m, beside the "
        "subject's own decoder (dashed) and chance (dotted).",
        "align-identification",
    ),
    "subject_predictivity.png": (
        "Subject-to-subject prediction: held-out mean r (all targets) of each subject "
        "predicted from another subject's voxels, or from all the others together.",
        "align-predictivity",
    ),
}


def read_align_tables(path) -> dict:
    """Read the tables of an ``align`` run (``None`` for those it lacks).

    Raises
    ------
    DataError
        If a table lacks the columns its part of the section needs.
    """
    from brainalign.runs import RunDir

    run, found = RunDir(path), {}
    for name, required in TABLES.items():
        frame = run.read_table(name)
        missing = [c for c in required if frame is not None and c not in frame.columns]
        if missing:
            raise DataError(
                f"Table {run.table(name)} lacks the columns {missing} "
                f"(it has {list(frame.columns)})."
            )
        found[name] = None if frame is None or frame.empty else frame
    return found


def align_section(contents) -> Section | None:
    """Show what the shared space is worth: learning curve, identification, ceiling."""
    tables = read_align_tables(contents.path)
    figures = {p.name: p for p in contents.other_figures if p.name in FIGURES}
    if not figures and all(t is None for t in tables.values()):
        return None
    record = contents.record
    section = Section("alignment", "Cross-subject alignment", _intro(record))
    section.notes += _space_notes(record.get("space") or {})
    if record.get("summary"):
        section.items.append(_headline(record["summary"]))
    parts = (  # each figure beside its table
        ("learning_curve.png", "learning_curve", _curve_table),
        ("identification.png", "identification", _identification_table),
        ("subject_predictivity.png", "subject_predictivity", _ceiling_table),
    )
    for name, table_name, build in parts:
        if name in figures:
            caption, fig_id = FIGURES[name]
            section.items.append(figure(_plots.file_uri(figures[name]), caption, fig_id))
        if tables[table_name] is not None:
            section.items.append(build(tables[table_name]))
    if tables["learning_curve"] is not None:
        section.items.append(_roi_table(tables["learning_curve"]))
    return section


def method_name(method) -> str:
    """Return the display name of a shared-space method."""
    return METHOD_NAMES.get(method, str(method))


def _subjects(values) -> str:
    return ", ".join(map(str, values or ())) or "?"


def _intro(record: dict) -> str:
    """Say what was fitted on what, and how to read the learning curve."""
    params, data = record.get("parameters") or {}, record.get("data") or {}
    space = record.get("space") or {}
    k = space.get("n_components", params.get("n_components", "?"))
    return (
        f"A shared space of k = {k} dimensions was fitted by "
        f"{method_name(space.get('method', params.get('method')))} over subjects "
        f"{_subjects(params.get('subjects'))}, from n_align = {data.get('n_align', '?')} of "
        f"the {data.get('n_shared', '?')} stimuli they all saw. The other n_test = "
        f"{data.get('n_test', '?')} are held out: no space, map, encoder or decoder was "
        "fitted on them, and every score here is on them. Each subject in turn is held "
        "out: the space, and an encoder from the model's features "
        f"({params.get('model', '?')}, {params.get('layer', '?')}) into it, are fitted on "
        "the other subjects, and the held-out subject is reached through a map fitted on "
        "m of the alignment stimuli. The learning curve sets its mean r beside that of its "
        "own encoder, fitted on all its stimuli but the held-out ones: a ratio near 1 "
        "means m shared stimuli of a new subject do as well as all its own data."
    )


def _space_notes(space: dict) -> list[str]:
    if space.get("converged") is False:
        return [
            f"The {method_name(space.get('method'))} fit stopped after its "
            f"{space.get('n_iter', '?')} iterations before meeting its tolerance."
        ]
    return []


def _headline(summary: dict) -> dict:
    """Return the headline numbers (means over held-out subjects) as a key-value list."""
    m = summary.get("n_adapt", "?")
    entries = {
        f"mean r through the shared space (m = {m})": summary.get("mean_r_shared"),
        "mean r of the subject's own encoder": summary.get("mean_r_within"),
        f"top-1 identification, cross-subject (m = {m})": summary.get("top1_cross_subject"),
        "top-1 identification, within-subject": summary.get("top1_within_subject"),
        "top-1 chance": summary.get("top1_chance"),
    }
    shown = {k: fmt_value(v, 3) for k, v in entries.items() if v is not None}
    return pairs("Headline (means over held-out subjects, all targets)", shown)


def _by_m(frame: pd.DataFrame, values: str, prefix: str) -> tuple[pd.DataFrame, list]:
    """Spread ``values`` over one column per adaptation size ``m``, a row per subject."""
    wide = frame.pivot(index="held_out", columns="n_adapt", values=values)
    sizes = [int(m) for m in wide.columns]
    wide.columns = [f"m{m}" for m in sizes]
    return wide, [(f"m{m}", f"{prefix}m = {m}") for m in sizes]


def _curve_table(curve: pd.DataFrame) -> dict:
    """Held-out subject x m: mean r through the shared space over the own encoder's."""
    whole = curve[curve["roi"] == WHOLE]
    wide, sizes = _by_m(whole, "ratio", "")
    wide["own"] = whole.groupby("held_out")["mean_r_within"].first()
    columns = [("held_out", "held-out subject", 0), ("own", "own encoder r", 3)]
    columns += [(c, label, 2) for c, label in sizes]
    caption = (
        "Learning curve, all targets: mean r through the shared space / mean r of the "
        "subject's own encoder, by alignment stimuli m ('–' where the own encoder's "
        "mean r is not positive)"
    )
    return table(wide.reset_index(), columns, "align-curve-table", caption)


def _identification_table(ident: pd.DataFrame) -> dict:
    """Held-out subject: top-1 identification cross-subject by m, within-subject, chance."""
    top1 = ident[ident["metric"] == "top1"]
    cross = top1[top1["decoder"] == "cross-subject"]
    wide, sizes = _by_m(cross, "value", "cross-subject, ")
    within = top1[top1["decoder"] == "within-subject"].set_index("held_out")
    wide["within"] = within["value"]
    wide["chance"] = top1.groupby("held_out")["chance"].first()
    if "n_test" in top1:
        wide["n_test"] = top1.groupby("held_out")["n_test"].first()
    columns = [("held_out", "held-out subject", 0)] + [(c, label, 3) for c, label in sizes]
    columns += [("within", "within-subject", 3), ("chance", "chance", 3)]
    columns += [("n_test", "held-out stimuli", 0)]
    caption = (
        "Top-1 identification: the share of held-out stimuli whose features, decoded from "
        "the held-out subject's responses, are most similar (cosine) to their own among "
        "all held-out stimuli; cross-subject: the decoder of the other subjects, through "
        "the subject's map fitted on m alignment stimuli; within-subject: the subject's "
        "own decoder"
    )
    return table(wide.reset_index(), columns, "align-identification-table", caption)


def _source_key(source: str):
    return (source == "others", len(source), source)  # subjects in number order, then others


def _ceiling_table(ceiling: pd.DataFrame) -> dict:
    """Source x target: held-out mean r of the target's voxels predicted from the source's."""
    whole = ceiling[ceiling["roi"] == WHOLE].astype({"source": str})
    wide = whole.pivot(index="source", columns="target", values="mean_r")
    wide = wide.loc[sorted(wide.index, key=_source_key)]
    targets = list(wide.columns)
    wide.columns = [f"t{t}" for t in targets]
    wide.index = [f"subject {s}" if s != "others" else "all others" for s in wide.index]
    columns = [("source", "predicted from", 0)]
    columns += [(f"t{t}", f"subject {t}", 3) for t in targets]
    caption = (
        "Subject-to-subject prediction, all targets: held-out mean r of each subject's "
        "voxels (columns) predicted from another subject's voxels, or all the others' "
        "together (rows), by ridge maps fitted on the alignment stimuli; how much of a "
        "subject's responses another brain predicts, beside model scores"
    )
    frame = wide.rename_axis("source").reset_index()
    return table(frame, columns, "align-predictivity-table", caption)


def _roi_table(curve: pd.DataFrame) -> dict:
    """Per ROI at the largest m: shared, own and ratio, means over held-out subjects."""
    m = int(curve["n_adapt"].max())
    last = curve[curve["n_adapt"] == m]
    grouped = last.groupby("roi", sort=False)
    rows = grouped[["mean_r_shared", "mean_r_within"]].mean()
    rows["ratio"] = grouped["ratio"].agg(lambda r: r.mean(skipna=False))
    if "n_targets" in last:
        rows["n_targets"] = grouped["n_targets"].mean()
    columns = [
        ("roi", "ROI", 0),
        ("mean_r_shared", "mean r, shared space", 3),
        ("mean_r_within", "mean r, own encoder", 3),
        ("ratio", "ratio", 2),
        ("n_targets", "targets (mean per subject)", 0),
    ]
    caption = (
        f"Per ROI at m = {m}, means over the {last['held_out'].nunique()} held-out "
        "subjects (ratio: mean of each subject's ratio; '–' where a subject's own "
        "encoder has no positive mean r)"
    )
    return table(rows.reset_index(), columns, "align-roi-table", caption, collapsed=None)


# -- fit --shared-space ---------------------------------------------------------------
def shared_space_sentence(record: dict | None) -> str | None:
    """Say which subjects and space a ``--shared-space`` encoder or decoder was trained through.

    ``fit --shared-space`` records ``shared_space`` (``run, method, n_components,
    trained_on_subjects, subject_map``); a run that only names the align run in its
    parameters gets the sentence without the details.
    """
    record = record or {}
    params = record.get("parameters") or {}
    shared = record.get("shared_space")
    if not isinstance(shared, dict):
        shared = {"run": params["shared_space"]} if params.get("shared_space") else {}
    if not shared:
        return None
    what = "decoder" if record.get("command") == "decode" else "encoder"
    subjects = shared.get("trained_on_subjects")
    text = f"Cross-subject {'decoding' if what == 'decoder' else 'fit'}: the {what} was trained "
    text += (
        f"on subjects {_subjects(subjects)}" if subjects else "on the align run's other subjects"
    )
    text += f" through the shared space of {shared.get('run', '?')}"
    if shared.get("method"):
        text += f" ({method_name(shared['method'])}, k = {shared.get('n_components', '?')})"
    subject = params.get("subject")
    text += (
        f", reached {'the subject' if subject is None else f'subject {subject}'} through its map"
    )
    if shared.get("subject_map"):
        text += f", {shared['subject_map']},"
    return text + " and was scored on that run's held-out stimuli."


def provenance_section(contents) -> Section | None:
    """Build the provenance block, with the shared space of a ``fit --shared-space`` run."""
    section = _sections.provenance_section(contents)
    sentence = shared_space_sentence(contents.record)
    if section is not None and sentence:
        section.notes.append(sentence)
    return section
