"""Section of a ``synthesize`` run: image grids per ROI, scores, the selectivity matrix.

A synthesis run (:mod:`brainalign.runs._synthesis`) holds ``synthesis.parquet`` (one
row per image), ``synthesis_scores.parquet``, ``images/<roi>/`` and, in ``figures/``,
one grid per ROI (the images, their baseline, the best bank images) and
``synthesis_selectivity.png``.
"""

from __future__ import annotations

from brainalign.exceptions import DataError
from brainalign.report import _plots
from brainalign.report._items import Section, figure, pairs, table

#: Columns of synthesis.parquet the section needs.
COLUMNS = ("roi", "method", "rank", "z", "baseline_z", "bank_best_z", "above_bank", "selectivity")
#: How each method made its images, and what its baseline is.
METHOD_TEXT = {
    "bank": (
        "the bank images the encoder predicts to drive the ROI most (a ranking of the "
        "bank's cached features)",
        "random bank images",
    ),
    "ascent": (
        "gradient ascent in image space through the feature extractor and the encoder "
        "(Fourier parameterisation, decorrelated colours, randomly shifted, zoomed and "
        "rotated views at every step)",
        "the starting images of the same seeds",
    ),
    "diffusion": (
        "a diffusion model steered at every denoising step by the gradient of the "
        "encoder's prediction on the step's clean-image estimate (BrainDiVE)",
        "the same seeds sampled without guidance",
    ),
}


def synthesis_section(contents) -> Section | None:
    """Show the images made for each ROI and how far they drive it beyond natural images."""
    from brainalign.runs import RunDir
    from brainalign.runs._synthesis import TABLE
    from brainalign.runs._synthesis_figures import grid_figure_name

    frame = RunDir(contents.path).read_table(TABLE)
    if frame is None or frame.empty:
        return None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"Table {RunDir(contents.path).table(TABLE)} lacks the columns {missing} "
            f"(it has {list(frame.columns)})."
        )
    record = contents.record or {}
    method = str(frame["method"].iloc[0])
    made, baseline = METHOD_TEXT.get(method, (method, "the baseline"))
    section = Section("synthesis", "Images predicted to drive each ROI", _intro(record, made))
    source = record.get("source") or {}
    if source:
        section.items.append(pairs("Encoder", source))
    section.items.append(_summary_table(frame, baseline))
    figures = {p.name: p for p in contents.other_figures}
    for roi in frame["roi"].unique():
        name = grid_figure_name(roi)
        if name in figures:
            caption = (
                f"{roi}: {made.split(' (')[0]} (top row, best first), {baseline} (middle) "
                "and the best natural images of the bank (bottom), each titled with its "
                "predicted activation z."
            )
            section.items.append(figure(_plots.file_uri(figures[name]), caption, f"synth-{roi}"))
    if "synthesis_selectivity.png" in figures:
        section.items.append(
            figure(
                _plots.file_uri(figures["synthesis_selectivity.png"]),
                "Selectivity matrix: the median predicted activation z of every ROI (columns) "
                "on the images made for each target ROI (rows). A selective result is dark "
                "red on its own cell (solid outline) and pale elsewhere; ROIs that share "
                "voxels with the target (dotted) are left out of its selectivity.",
                "synth-selectivity",
            )
        )
    return section


def _intro(record: dict, made: str) -> str:
    params = record.get("parameters") or {}
    bank = record.get("bank") or {}
    n_bank = bank.get("n_images", "?")
    which = "the subject's training images" if not bank.get("path") else str(bank["path"])
    return (
        f"Images for each ROI of the fit run {params.get('run', '?')}: {made}. Every image "
        "is scored as a natural image is (uint8 pixels, the model's own preprocessing, its "
        "features, the fitted encoder). z is the ROI's predicted mean activation in standard "
        f"deviations above its mean over the bank ({n_bank} images: {which}); selectivity "
        "is the target's z minus the mean z of the ROIs that share no voxel with it. These "
        "are the encoder's predictions, not measured responses: they show what the model of "
        "the ROI prefers, and need an experiment to confirm."
    )


def _summary_table(frame, baseline: str) -> dict:
    """One row per ROI: medians over its images, the baseline and the best bank image."""
    grouped = frame.groupby("roi", sort=False)
    summary = grouped.agg(
        n=("z", "size"),
        median_z=("z", "median"),
        max_z=("z", "max"),
        baseline_z=("baseline_z", "median"),
        bank_best_z=("bank_best_z", "first"),
        above=("above_bank", "mean"),
        selectivity=("selectivity", "median"),
    ).reset_index()
    summary["above"] = 100.0 * summary["above"]
    columns = [
        ("roi", "ROI", 0),
        ("n", "images", 0),
        ("median_z", "median z", 2),
        ("max_z", "best z", 2),
        ("baseline_z", "baseline median z", 2),
        ("bank_best_z", "best bank image z", 2),
        ("above", "% above best bank image", 0),
        ("selectivity", "median selectivity", 2),
    ]
    caption = (
        f"Predicted activation z of the images per ROI, beside the baseline ({baseline}) "
        "and the best natural image of the bank"
    )
    return table(summary, columns, "synthesis-summary", caption, collapsed=None)
