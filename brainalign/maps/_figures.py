"""Figures of a run's statistic maps: slices over anatomy and a glass brain per map (nilearn).

Each statistic is drawn with its style (:mod:`brainalign.maps._style`): a colour map
legible on white, a colour bar labelled with its units, a title in words and a
threshold said in the caption (:func:`map_caption`). Maps of numbered choices (best
layer, best model) are drawn with one colour per choice and a legend naming the
choices (read from the map's JSON legend). Slices are drawn over the subject's
anatomy when the run's maps folder holds one (``maps/sub-XX_desc-anat.nii.gz``, which
a fit copies there), else over the outline of the map's voxels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from brainalign._utils import atomic_path, warn
from brainalign.maps._style import colormap, describe, entities, map_caption, style_of, threshold_of

__all__ = ["map_caption", "plot_run_maps", "plot_volume_map"]

#: Statistics drawn by default, in this order (those a run lacks are skipped).
DEFAULT_STATS = ("r", "ncr2", "log10pfdr", "bestlayer", "bestr", "bestmodel", "bestmodelr")
#: Figure kinds of a volume map.
KINDS = ("slices", "glass")
#: How the anatomy file of a subject ends, in a run's maps folder.
_ANATOMY_SUFFIX = "_desc-anat.nii.gz"


def plot_run_maps(run_dir, stats=DEFAULT_STATS) -> list[Path]:
    """Draw stat-map slices and a glass brain for each map of a run directory.

    Parameters
    ----------
    run_dir : str or Path
        Run directory holding ``maps/*_stat-<stat>.nii.gz`` (and, optionally, the
        anatomy of each subject, ``maps/sub-XX_desc-anat.nii.gz``).
    stats : sequence of str
        Statistics to draw.

    Returns
    -------
    list of Path
        PNG files written under ``run_dir/figures`` (empty when matplotlib is
        unavailable, with a warning). Maps of numbered choices (best layer or model)
        get slices only: a projection of choice numbers has no meaning.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # plotting is optional: say so, do not crash
        warn(f"No figures: {exc}.")
        return []
    run_dir = Path(run_dir)
    written = []
    for stat in stats:
        for path in sorted((run_dir / "maps").glob(f"*_stat-{stat}.nii.gz")):
            stem = path.name[: -len(".nii.gz")]
            background = anatomy_of(run_dir / "maps", stem)
            kinds = ("slices",) if style_of(stat).kind == "categorical" else KINDS
            for kind in kinds:
                target = run_dir / "figures" / f"{stem}_{kind}.png"
                display = plot_volume_map(path, kind, background=background)
                with atomic_path(target) as tmp:
                    display.frame_axes.figure.savefig(tmp, dpi=80)
                plt.close(display.frame_axes.figure)
                written.append(target)
    return written


def anatomy_of(maps_dir, stem: str) -> Path | None:
    """Return the anatomy file of a map's subject in a maps folder, or None.

    Parameters
    ----------
    maps_dir : str or Path
        A run's ``maps`` folder.
    stem : str
        The map's stem (``sub-01_model-M_layer-L_stat-r``).

    Returns
    -------
    Path or None
        ``sub-01_desc-anat.nii.gz`` when it exists (the only one, for maps without a
        subject entity).
    """
    found = sorted(Path(maps_dir).glob(f"*{_ANATOMY_SUFFIX}"))
    subject = entities(stem).get("sub")
    if subject is not None:
        found = [p for p in found if entities(p.name[: -len(".nii.gz")]).get("sub") == subject]
    return found[0] if len(found) == 1 else None


def plot_volume_map(path, kind: str = "slices", background=None, figure=None):
    """Draw one statistic map as axial slices or a glass brain, in its style.

    Parameters
    ----------
    path : str or Path
        ``<stem>_stat-<stat>.nii.gz`` (a ``<stem>_stat-<stat>.json`` legend beside
        it names the values of categorical maps).
    kind : {"slices", "glass"}
        Axial slices over the background, or a glass brain.
    background : str or Path or nibabel image, optional
        Anatomy under the slices (same space as the map). Without one, the
        outline of the map's voxels is drawn.
    figure : matplotlib.figure.Figure, optional
        Figure to draw in (a new 10 x 3 inch one by default).

    Returns
    -------
    nilearn.plotting.displays.BaseSlicer
        The display; ``display.frame_axes.figure`` is the figure.
    """
    import matplotlib.pyplot as plt
    import nibabel as nib

    from brainalign._utils import check_option

    check_option("kind", kind, KINDS)
    path = Path(path)
    stem = path.name[: -len(".nii.gz")]
    stat = entities(stem).get("stat", "")
    img = nib.load(path)
    data = np.nan_to_num(np.asarray(img.dataobj, dtype=np.float32))
    style, threshold = style_of(stat), threshold_of(stat)
    if style.kind == "categorical":
        legend = _legend(path, stat, data)
        options = _categorical_options(stat, len(legend))
    else:
        legend = None
        data, options = _scaled_options(stat, data, threshold.value)
    shown = nib.Nifti1Image(data, img.affine)
    empty = not (np.abs(data) > threshold.value).any()
    figure = figure or plt.figure(figsize=(10, 3))
    if legend is not None:  # room for the legend on the right
        options["axes"] = figure.add_axes((0.0, 0.0, 0.82, 1.0))
    title = describe(f"{stem}_{kind}")
    overlay = None if empty else shown
    if kind == "slices":
        display = _slices(shown, overlay, background, figure, title, threshold.value, options)
    else:
        display = _glass(overlay, figure, title, threshold.value, options)
    if empty:  # nothing to colour: say so instead of a colour bar
        figure.text(0.5, 0.04, f"No voxel shown (shown: {threshold.text}).", ha="center")
    elif legend is None:
        _label_colorbar(display, style.label)
    else:
        _add_legend(figure, options["cmap"], legend, style.label)
    return display


def _scaled_options(stat: str, data, threshold: float):
    """Return the data and colour range of a diverging or sequential map."""
    style = style_of(stat)
    if style.kind == "sequential":
        data = np.where(data > 0, data, 0).astype(np.float32)
    top = float(np.abs(data).max(initial=0.0))
    if style.kind == "sequential":
        low = threshold if threshold > 1e-3 else 0.0
        vmax = max(top, low + 1.0) if low else (top or 1.0)  # a range even when empty
        options = {"vmin": low, "vmax": vmax, "symmetric_cbar": False}
    else:
        vmax = top or 1.0
        options = {"vmin": -vmax, "vmax": vmax, "symmetric_cbar": True}
    return data, {**options, "cmap": colormap(stat)}


def _categorical_options(stat: str, n: int) -> dict:
    """Return the colour range of a map of choices numbered 1..n: one colour each."""
    cmap = colormap(stat, n)
    return {
        "vmin": 0.5,
        "vmax": n + 0.5,
        "symmetric_cbar": False,
        "cmap": cmap,
        "resampling_interpolation": "nearest",
        "colorbar": False,
    }


def _legend(path: Path, stat: str, data) -> dict[int, str]:
    """Return the names of a categorical map's values (its JSON legend, else numbers)."""
    sidecar = path.with_name(path.name[: -len(".nii.gz")] + ".json")
    n = max(1, int(round(float(data.max(initial=0.0)))))
    names = {k: str(k) for k in range(1, n + 1)}
    if sidecar.exists():
        values = json.loads(sidecar.read_text()).get("values", {})
        names = {int(k): str(v) for k, v in values.items()}
    if stat == "bestmodel":
        from brainalign.features import model_label

        names = {k: model_label(v) for k, v in names.items()}
    return dict(sorted(names.items()))


def _slices(img, overlay, background, figure, title, threshold, options):
    """Draw axial slices: the anatomy (or the outline of ``img``'s voxels), then the overlay."""
    from nilearn import plotting

    options = dict(options)
    colorbar = options.pop("colorbar", True)
    interpolation = options.pop("resampling_interpolation", "continuous")
    options.pop("symmetric_cbar", None)
    axes = options.pop("axes", None)
    common = {"display_mode": "z", "cut_coords": _cuts(img), "figure": figure, "axes": axes}
    if background is None:
        display = plotting.plot_img(
            img,
            title=title,
            colorbar=False,
            draw_cross=False,
            black_bg=False,
            threshold=None,
            vmin=0,
            vmax=1,
            cmap=_blank_cmap(),
            **common,
        )
        _outline(display, img)
    else:
        bg, vmin, vmax = _background_range(background)
        display = plotting.plot_img(
            bg,
            title=title,
            colorbar=False,
            draw_cross=False,
            black_bg=False,
            vmin=vmin,
            vmax=vmax,
            cmap="gray",
            threshold=vmax * 1e-6,  # outside the head (0) stays the page
            **common,
        )
    if overlay is None:
        return display
    display.add_overlay(
        overlay,
        threshold=threshold,
        colorbar=colorbar,
        resampling_interpolation=interpolation,
        **options,
    )
    return display


#: Grey levels of the anatomy's lowest non-zero and highest intensities (1 = white):
#: the head is drawn in mid greys, never white, and outside it stays the page.
_ANATOMY_GREYS = (0.25, 0.8)


def _background_range(background):
    """Return the anatomy image and the colour range mapping it onto :data:`_ANATOMY_GREYS`."""
    from nilearn.image import load_img

    bg = load_img(background)
    data = np.nan_to_num(np.asarray(bg.dataobj, dtype=np.float32))
    inside = data[data > 0]
    top = float(np.percentile(inside, 99.5)) if inside.size else 1.0
    low, high = _ANATOMY_GREYS
    span = top / (high - low)
    vmin = -low * span
    return bg, vmin, vmin + span


def _blank_cmap():
    """Return a colour map that draws nothing (the slices' frame without anatomy)."""
    from matplotlib.colors import ListedColormap

    return ListedColormap([(1.0, 1.0, 1.0, 0.0)])


def _outline(display, img) -> None:
    """Outline the map's non-zero voxels (the brain, when no anatomy is known)."""
    import nibabel as nib

    data = np.asarray(img.dataobj) != 0
    if data.any():
        outline = nib.Nifti1Image(data.astype(np.float32), img.affine)
        display.add_contours(outline, levels=[0.5], colors="0.4", linewidths=0.8)


def _cuts(img, n: int = 6) -> list[float]:
    """World z of ``n`` axial slices spread over the map's non-zero voxels."""
    data = np.asarray(img.dataobj)
    k = np.nonzero(data.any(axis=(0, 1)))[0]
    if k.size == 0:
        k = np.arange(data.shape[2])
    picks = np.unique(np.linspace(k.min(), k.max(), n + 2)[1:-1].round().astype(int))
    return [float((img.affine @ np.array([0, 0, z, 1.0]))[2]) for z in picks]


def _glass(img, figure, title, threshold, options):
    """Draw a glass brain of ``img`` (signed values kept; None: the brain alone)."""
    from nilearn import plotting

    kwargs = {"colorbar": True, **options}
    if img is None:
        kwargs = {"colorbar": False, "axes": options.get("axes")}
    return plotting.plot_glass_brain(
        img,
        figure=figure,
        title=title,
        threshold=threshold,
        plot_abs=False,
        alpha=1.0,
        black_bg=False,
        **kwargs,
    )


def _label_colorbar(display, label: str) -> None:
    """Label the colour bar of a nilearn display (its units)."""
    cbar = getattr(display, "_cbar", None)
    if cbar is not None:  # tick labels sit left of nilearn's bar: the label goes left of them
        cbar.set_label(label, fontsize=8)
        cbar.ax.yaxis.set_label_position("left")


def _add_legend(figure, cmap, names: dict[int, str], title: str) -> None:
    """Add the legend of a categorical map: one named patch per value."""
    from matplotlib.patches import Patch

    handles = [Patch(color=cmap(i), label=name) for i, name in enumerate(names.values())]
    figure.legend(
        handles=handles,
        title=title,
        loc="center right",
        fontsize=7,
        title_fontsize=8,
        frameon=False,
    )
