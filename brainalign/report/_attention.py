"""Section of a fit with the attention encoder: where each ROI's query looks.

The run (:mod:`brainalign.runs._attention`) holds ``attention.parquet`` (the peak of
each ROI's mean attention map over the held-out stimuli) and, in ``figures/``,
``attention_maps.png`` and one ``attention_<roi>.png`` per ROI (its map over the
held-out stimuli predicted to drive it most).
"""

from __future__ import annotations

from brainalign.report import _plots
from brainalign.report._items import Section, figure, table


def attention_section(contents) -> Section | None:
    """Show each ROI's attention peak, its mean map and its map over stimuli."""
    from brainalign.runs import RunDir
    from brainalign.runs._attention import FIGURE_PREFIX, TABLE
    from brainalign.runs._rundir import clean

    run = RunDir(contents.path)
    frame = run.read_table(TABLE)
    if frame is None or frame.empty:
        return None
    rois = contents.roi_scores
    if rois is not None and {"roi", "mean_r"} <= set(rois.columns):
        frame = frame.merge(rois[["roi", "mean_r"]], on="roi", how="left")
    n_tokens = int(round(1.0 / float(frame["uniform_weight"].iloc[0])))
    intro = (
        "The encoder reads each ROI through one learned query that attends over the "
        f"layer's {n_tokens} patch tokens; a linear head maps the attended token to the "
        "ROI's targets. The maps show the query's attention averaged over the held-out "
        "stimuli: a peak says where in the image the ROI's predicted response comes from; "
        f"a flat map (every token near 1/{n_tokens}, spread near 1) means no location is "
        "preferred, as for a response to the whole image."
    )
    section = Section("attention", "Where each ROI looks (attention encoder)", intro)
    columns = [
        ("roi", "ROI", None),
        ("n_targets", "targets", 0),
        ("mean_r", "mean r (held out)", 3),
        ("peak_row", "peak row", 0),
        ("peak_col", "peak column", 0),
        ("peak_weight", "peak weight", 3),
        ("uniform_weight", "uniform weight", 3),
        ("spread", "spread (1 = uniform)", 3),
    ]
    caption = "Peak of each ROI's mean attention map (rows and columns from the top left)."
    section.items.append(table(frame, columns, "attention-peaks", caption, collapsed=None))
    shown = {p.name: p for p in contents.other_figures if p.name.startswith(FIGURE_PREFIX)}
    grid = shown.pop(f"{FIGURE_PREFIX}maps.png", None)
    if grid is not None:
        caption = "Mean attention map of every ROI on the token grid; + marks the peak."
        section.items.append(figure(_plots.file_uri(grid), caption, "attention-maps"))
    for roi in frame["roi"]:
        path = shown.get(f"{FIGURE_PREFIX}{clean(roi)}.png")
        if path is not None:
            caption = f"{roi}: attention over the held-out stimuli it is predicted to drive most."
            section.items.append(figure(_plots.file_uri(path), caption))
    return section
