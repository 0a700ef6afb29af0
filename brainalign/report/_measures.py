"""Section of a sweep with ``--measures``: every measure, model, layer and ROI, with its null.

The sweep's ``measures.parquet`` (:mod:`brainalign.runs._sweep_measures`) holds one row
per subject x model x layer x ROI x measure; this section shows one table per measure,
values beside the 95th percentile of the shuffled pairings (the level chance reaches)
and the permutation p. No layer is chosen here: every value is on the test images.
"""

from __future__ import annotations

from brainalign.report import _plots
from brainalign.report._items import Section, table

#: What each measure is, in words, and which way is better.
MEASURE_TEXT = {
    "ridge": "mean held-out r of the ridge encoding model",
    "pls": "mean held-out r of PLS regression (25 components, Brain-Score's readout)",
    "cca": "mean held-out correlation of the top canonical pairs of regularised CCA",
    "rsa": "RDM similarity (Spearman) on the test images",
    "trsa": "RDM similarity after the geo-topological transform (tRSA)",
    "cka": "linear CKA on the test images",
    "svcca": "SVCCA on the test images",
    "pwcca": "PWCCA on the test images",
    "procrustes": "Procrustes shape distance (smaller is closer)",
    "angular": "angular shape distance in radians (smaller is closer)",
}


def measures_section(contents) -> Section | None:
    """Show every measure of a sweep, per model, layer and ROI, with its permutation null."""
    from brainalign.runs import RunDir
    from brainalign.runs._sweep_measures import TABLE

    frame = RunDir(contents.path).read_table(TABLE)
    if frame is None or frame.empty:
        return None
    frame = frame.assign(model=frame["model"].astype(str).map(_plots.short_model))
    section = Section(
        "measures",
        "Other measures",
        "Each layer compared with each ROI by every measure asked for (fitted measures on "
        "the training images, all scored on the test images). 'chance (95 %)' is the 95th "
        "percentile of the measure over shuffled pairings of test images and responses "
        "(the 5th for distances); p is the permutation p of the observed pairing. CI: 95 % "
        "bootstrap interval over test images (none for RDM measures).",
    )
    columns = [
        ("subject", "subject", 0),
        ("model", "model", 0),
        ("layer", "layer", 0),
        ("roi", "ROI", 0),
        ("value", "value", 3),
        ("null_high", "chance (95 %)", 3),
        ("p", "p", 3),
        ("low", "CI low", 3),
        ("high", "CI high", 3),
    ]
    for measure, part in frame.groupby("measure", sort=False):
        caption = f"{measure}: {MEASURE_TEXT.get(measure, measure)}."
        section.items.append(table(part, columns, f"measure-{measure}", caption, collapsed=None))
    return section
