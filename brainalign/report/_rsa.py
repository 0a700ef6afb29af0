"""Report sections for a sweep's RSA table and a decoder's retrieved captions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainalign.report import _plots
from brainalign.report._items import Section, figure, table

#: Retrieved captions shown (the best-ranked caption of the first images).
N_RETRIEVED = 20


def rsa_section(contents) -> Section | None:
    """Show which layer's RDM matches each ROI's RDM best, beside the noise ceiling."""
    rsa = contents.rsa
    if rsa is None or rsa.empty:
        return None
    rsa = rsa.assign(model=rsa["model"].astype(str).map(_plots.short_model))
    rsa = rsa.dropna(subset=["value"])  # a constant RDM (e.g. a dead layer) has no value
    if rsa.empty:
        return None
    from brainalign.compare import choose_rows, selection_column

    on_train = selection_column(rsa, "value_train", "value") == "value_train"
    best = choose_rows(rsa, ["model", "roi"], "value_train", "value")
    columns = [
        ("model", "model", 0),
        ("roi", "ROI", 0),
        ("layer", "best layer", 0),
        ("value", "RDM similarity", 3),
        ("value_low", "CI low", 3),
        ("value_high", "CI high", 3),
        ("nc_lower", "noise ceiling (lower)", 3),
        ("nc_upper", "noise ceiling (upper)", 3),
        ("n_subjects", "subjects", 0),
    ]
    method = str(rsa["comparison"].iloc[0]) if "comparison" in rsa else "comparison"
    chosen = (
        "The best layer of each ROI is the one whose RDM matches the ROI's RDM best on a "
        "subsample of the training images; its similarity on the test images is shown."
        if on_train
        else "The best layer of each ROI is the one with the highest similarity on the test "
        "images themselves (these runs have no training RDMs): an optimistic choice."
    )
    section = Section(
        "rsa",
        "Representational similarity",
        f"Each layer's RDM compared with each ROI's RDM on the test images ({method}, mean "
        f"over subjects), with the noise ceiling across subjects. {chosen} CI: 95 % "
        "bootstrap interval over test images. The noise ceiling bounds what any model "
        "can reach given the disagreement between subjects (lower: each subject against "
        "the others; upper: against all, itself included).",
    )
    section.items.append(table(best, columns, "rsa-table", "Best layer per ROI by RSA"))
    fig = _rsa_heatmap(rsa)
    caption = "RDM similarity of every layer (rows) and ROI (columns)."
    section.items.append(figure(_plots.figure_uri(fig), caption, "rsa-heatmap"))
    return section


def _rsa_heatmap(rsa: pd.DataFrame):
    rows = list(dict.fromkeys(zip(rsa["model"], rsa["layer"], strict=True)))
    rois = list(dict.fromkeys(rsa["roi"]))
    grid = rsa.set_index(["model", "layer", "roi"])["value"]
    values = np.array([[grid.get((m, lay, r), np.nan) for r in rois] for m, lay in rows])
    fig = _plots.new_figure(max(4.0, 0.4 * len(rois) + 2.5), max(2.0, 0.4 * len(rows) + 1.8))
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(rois)), [str(r) for r in rois], rotation=90, fontsize=8)
    labels = [lay if len({m for m, _ in rows}) == 1 else f"{m} {lay}" for m, lay in rows]
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    fig.colorbar(image, ax=ax, label="RDM similarity")
    return fig


def retrieved_captions_section(contents) -> Section | None:
    """Show the best-ranked retrieved caption of each decoded image beside its own caption."""
    frame = contents.retrieved_captions
    if frame is None or frame.empty:
        return None
    first = frame[frame["rank"] == 1].head(N_RETRIEVED)
    columns = [
        ("stimulus_id", "image", 0),
        ("caption", "decoded caption", 0),
        ("similarity", "similarity", 3),
        ("own", "own caption", 0),
        ("true_caption", "seen image's caption", 0),
    ]
    section = Section(
        "retrieved-captions",
        "Captions retrieved from decoded embeddings",
        "The caption of the bank nearest to each decoded embedding (first "
        f"{len(first)} test images), beside a caption of the image that was seen.",
    )
    section.items.append(table(first, columns, "retrieved-captions-table"))
    return section
