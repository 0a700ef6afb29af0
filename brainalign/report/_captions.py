"""Sections of what ROIs are selective for: captions with scores, top-image thumbnails."""

from __future__ import annotations

import pandas as pd

from brainalign.captions._evaluate import INFORMATIVE_P
from brainalign.report import _plots
from brainalign.report._items import Section, fmt_value, table, varying, with_keys

#: Voxel captions listed (the best-scoring ones).
MAX_VOXEL_CAPTIONS = 50
#: Thumbnails shown per ROI.
MAX_THUMBNAILS = 12


def _caption_frame(captions: pd.DataFrame) -> pd.DataFrame:
    frame = with_keys(captions)
    if "keywords" in frame.columns:
        frame["keywords"] = [fmt_value(k) for k in frame["keywords"]]
    if "score" in frame.columns and "shuffled_score" in frame.columns:
        frame["margin"] = frame["score"].astype(float) - frame["shuffled_score"].astype(float)
    if "unit_kind" not in frame.columns:
        frame["unit_kind"] = "roi"
    frame["informative"] = _verdicts(frame)
    return frame


def _verdicts(frame: pd.DataFrame) -> list:
    """Apply the informative rule: the margin's permutation p-value below INFORMATIVE_P.

    Tables written before the calibrated baseline have no p-value: their captions
    are "not tested" (a margin above zero alone is no evidence).
    """
    if "p_value" not in frame.columns:
        return ["not tested"] * len(frame)
    p = pd.to_numeric(frame["p_value"], errors="coerce")
    return ["not tested" if pd.isna(v) else "yes" if v < INFORMATIVE_P else "no" for v in p]


def _caption_columns(frame: pd.DataFrame, unit_label: str) -> list:
    columns = [(c, c, 0) for c in varying(frame)]
    return columns + [
        ("unit", unit_label, 0),
        ("method", "method", 0),
        ("caption", "caption", 0),
        ("keywords", "keywords", 0),
        ("score", "score", 3),
        ("shuffled_score", "shuffled baseline", 3),
        ("margin", "score − baseline", 3),
        ("p_value", "p-value", 3),
        ("informative", "informative", 0),
    ]


def captions_section(contents) -> Section | None:
    """Tabulate ROI captions (and the best voxel captions) with score and shuffled baseline."""
    if contents.captions is None or contents.captions.empty:
        return None
    frame = _caption_frame(contents.captions)
    kind = frame["unit_kind"].astype(str)
    rois, voxels = frame[kind != "voxel"], frame[kind == "voxel"]
    section = Section(
        "captions",
        "Captions",
        "What each unit is selective for, in words. Score: the caption's sentence score on "
        "the held-out images. Shuffled baseline: the mean score on the unit of a fixed pool "
        "of random training-image captions (the same pool for every unit; what a random "
        "caption scores). A caption is informative when its margin over the baseline is "
        "significant: its permutation p-value (the unit's responses permuted over the test "
        f"images) is below {INFORMATIVE_P} (per caption, not corrected across captions).",
    )
    if "p_value" not in frame.columns:
        section.notes.append(
            "These captions have no p-value (written before the calibrated baseline, "
            "their shuffled baseline averages the other captioned units' captions): none is "
            "called informative; caption the run again to test them."
        )
    if len(rois):
        columns = _caption_columns(rois, "ROI")
        section.items.append(table(rois, columns, "roi-captions", "ROI captions"))
    if len(voxels):
        if "score" in voxels.columns:
            voxels = voxels.sort_values("score", ascending=False, kind="stable")
        shown = voxels.head(MAX_VOXEL_CAPTIONS)
        caption = f"Voxel captions ({len(shown)} of {len(voxels)}, best scores first)"
        columns = _caption_columns(voxels, "voxel")
        section.items.append(table(shown, columns, "voxel-captions", caption))
    return section


def _roi_caption_text(captions: pd.DataFrame | None, roi: str) -> str:
    if captions is None or captions.empty:
        return ""
    frame = _caption_frame(captions)
    rows = frame[(frame["unit"].astype(str) == roi) & (frame["unit_kind"].astype(str) != "voxel")]
    if rows.empty:
        return ""
    row = rows.iloc[0]
    text = str(row["caption"])
    if "score" in rows.columns:
        text += f" (score {fmt_value(row['score'])}"
        if "shuffled_score" in rows.columns:
            text += f", shuffled baseline {fmt_value(row['shuffled_score'])}"
        if "p_value" in rows.columns:
            text += f", p {fmt_value(row['p_value'])}, informative: {row['informative']}"
        text += ")"
    return text


def top_images_section(contents) -> Section | None:
    """Show thumbnails of the top predicted images per ROI, beside the ROI's caption."""
    if not contents.top_images:
        return None
    section = Section(
        "top-images",
        "Top images per ROI",
        "The images the encoding model predicts to drive each ROI most, best first.",
    )
    for roi, paths in contents.top_images.items():
        images = []
        for path in paths[:MAX_THUMBNAILS]:
            try:
                images.append({"uri": _plots.thumbnail_uri(path), "alt": f"{roi}: {path.name}"})
            except OSError as exc:  # missing or not an image: say so, keep the others
                section.notes.append(f"Skipped {path.name} for {roi}: {exc}")
        if len(paths) > MAX_THUMBNAILS:
            section.notes.append(f"{roi}: showing {MAX_THUMBNAILS} of {len(paths)} images.")
        text = _roi_caption_text(contents.captions, roi)
        section.items.append({"kind": "gallery", "title": roi, "text": text, "images": images})
    return section
