"""Section of a ``categories`` run: category structure by layer, and category decoding."""

from __future__ import annotations

from brainalign.report import _plots
from brainalign.report._items import Section, figure, table

#: The profile figure of a ``categories`` run (its section shows every figure of the run).
PROFILE_FIGURE = "category_structure_by_layer.png"


def category_section(contents) -> Section | None:
    """Show every layer's category RDM similarity, the layer RDM and the decoding curve."""
    if contents.rsa is None or contents.rsa.empty:
        return None
    from brainalign.report._timeseries import _labelled, _timed_items

    rsa = contents.rsa.dropna(subset=["value"])  # a constant RDM has no tau_a
    if rsa.empty:
        return None
    n_images = (contents.record.get("data") or {}).get("n_images")
    section = Section(
        "categories",
        "Category structure",
        f"Each layer's RDM over the {n_images or ''} images (1 − Pearson r between "
        "pooled feature patterns) compared with the category RDM (0 within a category, "
        "1 between) by Kendall tau_a; its ceiling with the ties of a two-category RDM is "
        "near 0.5. CI: 95 % bootstrap interval over images. The random-weights model "
        "is the same architecture untrained: structure it shows comes from the "
        "architecture and the images alone. The highest layer is descriptive (chosen "
        "and scored on the same images).",
    )
    rows = rsa.loc[rsa.groupby("model", sort=False)["value"].idxmax()]
    columns = [
        ("model", "model", 0),
        ("layer", "highest layer", 0),
        ("value", "tau_a", 3),
        ("value_low", "CI low", 3),
        ("value_high", "CI high", 3),
    ]
    section.items.append(table(rows, columns, "category-best", "Highest layer per model"))
    by_layer = rsa.pivot_table(index="layer", columns="model", values="value", sort=False)
    by_layer = by_layer.reset_index().rename_axis(columns=None)
    models = [m for m in by_layer.columns if m != "layer"]
    layer_columns = [("layer", "layer", 0)] + [(m, _plots.short_model(m), 3) for m in models]
    section.items.append(table(by_layer, layer_columns, "category-layers", "tau_a by layer"))
    for path in contents.other_figures:
        if path.name == PROFILE_FIGURE:
            caption = "Category RDM similarity by layer, input to output, per model."
            section.items.append(figure(_plots.file_uri(path), caption, "category-profile"))
        elif path.name.startswith("rdm_"):
            layer = rows["layer"].iloc[0]  # the model's (the baseline comes second)
            caption = f"RDM of the model's highest layer ({layer}), images in file order."
            section.items.append(figure(_plots.file_uri(path), caption, "category-rdm"))
    if contents.decoding is not None and not contents.decoding.empty:
        eeg = (contents.record.get("data") or {}).get("eeg") or {}
        section.notes.append(
            f"Recording: {eeg.get('n_trials', '?')} single trials of {eeg.get('dataset', '?')}, "
            "decoded by shrinkage LDA (5-fold, ROC AUC); the band is the 95th percentile of "
            "the highest AUC over time when the trial labels are shuffled (family-wise over "
            "time). The recording logs each trial's category, not its image, so the model "
            "and the brain meet at the category level."
        )
        caption = (
            "Category decoding peak: the time point of the highest AUC among those above "
            "the family-wise band (95th percentile of the highest AUC over time under "
            "label shuffles); '–' where no time point is above it."
        )
        section.items += _timed_items(_labelled(contents.decoding), None, caption)
    return section
