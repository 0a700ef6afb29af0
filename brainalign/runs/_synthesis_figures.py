"""Figures of a synthesis run: an image grid per ROI and the selectivity matrix."""

from __future__ import annotations

import textwrap

import numpy as np

from brainalign.runs._align_figures import _save
from brainalign.runs._rundir import RunDir, clean

#: Images per row of a grid.
GRID_COLUMNS = 8
#: Words of each method's images and of its baseline.
METHOD_WORDS = {
    "bank": ("best bank images", "random bank images"),
    "ascent": ("gradient-ascent images", "their starting images (same seeds)"),
    "diffusion": ("guided diffusion samples", "unguided samples (same seeds)"),
}


def grid_figure_name(roi: str) -> str:
    """File name of an ROI's image grid."""
    return f"synthesis_roi-{clean(roi)}.png"


def draw_synthesis_figures(run: RunDir, table, scores, best, encoder) -> dict:
    """Draw every ROI's grid and the selectivity matrix into ``figures/``.

    Parameters
    ----------
    run : RunDir
        The synthesis run.
    table : pandas.DataFrame
        synthesis.parquet.
    scores : pandas.DataFrame
        synthesis_scores.parquet.
    best : dict
        Per ROI the best bank images (``ids``, ``z``, ``images``).
    encoder : RoiEncoder
        The calibrated encoder (unit order, overlaps).

    Returns
    -------
    dict of str -> Path
        Figure paths by name.
    """
    import matplotlib

    matplotlib.use("Agg")
    run.figures.mkdir(parents=True, exist_ok=True)
    paths = {}
    for roi, part in table.groupby("roi", sort=False):
        path = run.figure(grid_figure_name(roi))
        paths[f"grid_{roi}"] = _grid(run, roi, part, best.get(roi), path)
    paths["selectivity_figure"] = _matrix(scores, list(table["roi"].unique()), encoder,
                                          run.figure("synthesis_selectivity.png"))  # fmt: skip
    return paths


def _grid(run, roi, part, best, path):
    """Rows: the images, their baseline, the best bank images; each titled with its z."""
    import matplotlib.pyplot as plt
    from PIL import Image

    method = part["method"].iloc[0]
    made, reference = METHOD_WORDS.get(method, (method, "baseline"))
    rows = [(made, part["file"].tolist(), part["z"].to_numpy())]
    if part["baseline_file"].notna().any():
        rows.append((reference, part["baseline_file"].tolist(), part["baseline_z"].to_numpy()))
    if best is not None and best.get("images") is not None and method != "bank":
        rows.append(("best bank images", list(best["images"]), np.asarray(best["z"])))
    n_cols = min(GRID_COLUMNS, max(len(r[1]) for r in rows))
    fig, axes = plt.subplots(
        len(rows), n_cols, figsize=(1.45 * n_cols + 1.2, 1.75 * len(rows)), squeeze=False
    )
    for r, (label, images, z) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_axis_off()
            if c >= len(images) or images[c] is None:
                continue
            image = images[c]
            if isinstance(image, str):
                image = np.asarray(Image.open(run.path / image).convert("RGB"))
            ax.imshow(image)
            ax.set_title(f"z {z[c]:.1f}", fontsize=9)
        axes[r, 0].text(-0.1, 0.5, textwrap.fill(label, 16), transform=axes[r, 0].transAxes,
                        ha="right", va="center", fontsize=8)  # fmt: skip
    fig.suptitle(
        f"{roi}: predicted activation z (SDs above the bank's mean); "
        f"best bank image z {part['bank_best_z'].iloc[0]:.1f}",
        fontsize=10,
    )
    fig.tight_layout(rect=(0.1, 0, 1, 0.95))
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def _matrix(scores, targets, encoder, path):
    """Median predicted activation (z) of every ROI on each target ROI's images."""
    import matplotlib.pyplot as plt

    from brainalign.maps._style import colormap, style_of

    units = list(targets) + [u for u in encoder.units if u not in targets and u != "nsdgeneral"]
    med = scores.groupby(["roi", "unit"])["z"].median()
    values = np.array([[med.get((t, u), np.nan) for u in units] for t in targets])
    limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    fig, ax = plt.subplots(
        figsize=(max(5.0, 0.32 * len(units) + 3.0), max(3.2, 0.32 * len(targets) + 2.2))
    )
    im = ax.imshow(values, cmap=colormap("activation_z"), vmin=-limit, vmax=limit, aspect="auto")
    for i, t in enumerate(targets):  # outline the ROIs that share voxels with the target
        for j, u in enumerate(units):
            if u == t:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.6))
            elif encoder.overlap[encoder.unit_index(t), encoder.unit_index(u)]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=0.8, ls=":"))
    ax.set_xticks(range(len(units)), units, rotation=90, fontsize=8)
    ax.set_yticks(range(len(targets)), targets, fontsize=8)
    ax.set_xlabel("ROI whose predicted activation is shown")
    ax.set_ylabel("images made for")
    ax.set_title(
        "Selectivity: median z on each ROI's images\n(solid: the target; dotted: ROIs sharing "
        "voxels with it, left out of selectivity)",
        fontsize=9,
    )
    fig.colorbar(im, ax=ax, label=textwrap.fill(style_of("activation_z").label, 24))
    fig.tight_layout()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)
