"""Flat maps: statistic maps drawn on FreeSurfer flat patches (or nilearn's fsaverage5).

A flat patch (``lh.full.flat.patch.3d``, read by :func:`brainalign.data._surface.read_patch`)
gives the 2-D position of a subset of a hemisphere's vertices. The triangles of the
hemisphere's full mesh whose three vertices are all in the patch are drawn there with
``matplotlib.tri``, coloured by one value per vertex; vertices without a value (NaN, or
below ``threshold``) are grey. nilearn's bundled fsaverage5 flat meshes (10,242 vertices
per hemisphere, offline) carry their own triangles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainalign.data._surface import HEMIS, read_patch
from brainalign.exceptions import DataError, ParameterError
from brainalign.maps._surface import check_mesh, load_mesh

#: Colour of vertices without a value.
_GREY = "0.75"


def plot_flat_map(
    values,
    patches,
    surfaces=None,
    title="",
    cmap="cold_hot",
    symmetric=True,
    threshold=None,
    label="",
):
    """Draw one value per vertex of both hemispheres on their flat patches.

    Parameters
    ----------
    values : dict of str -> array-like
        Per hemisphere (``"lh"``, ``"rh"``) one value per vertex of the full mesh; NaN
        marks vertices without a value (grey).
    patches : dict of str -> str, Path or tuple, or "fsaverage5"
        Per hemisphere a FreeSurfer flat patch file (``lh.full.flat.patch.3d``) or a
        ``(vertices, coords)`` pair (0-based vertex indices and their x, y, ...), or
        ``"fsaverage5"``: nilearn's bundled fsaverage5 flat meshes (their own
        triangles; ``surfaces`` is then not used).
    surfaces : dict of str -> mesh, or str, optional
        Per hemisphere the full mesh whose triangles are drawn: a FreeSurfer geometry
        file (``lh.white``), a ``(coords, faces)`` pair, or anything
        :func:`brainalign.maps.load_mesh` reads. Required unless ``patches`` is
        ``"fsaverage5"``.
    title : str
        Figure title.
    cmap : str or matplotlib.colors.Colormap
        Colour map (matplotlib's or nilearn's, such as ``"cold_hot"``).
    symmetric : bool
        Colour scale symmetric around 0.
    threshold : float, optional
        Values with a smaller magnitude are not coloured (grey).
    label : str
        Colour-bar label (the statistic and its unit).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per hemisphere (left hemisphere on the left) and one colour bar.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hemis = [h for h in HEMIS if h in values]
    if not hemis:
        raise ParameterError("Invalid value for 'values': expected 'lh' and/or 'rh' arrays.")
    drawn = {h: _flat_hemisphere(values[h], patches, surfaces, h, threshold) for h in hemis}
    vmin, vmax = _colour_range([stat for _, stat in drawn.values()], symmetric)
    colours = _colour_map(cmap)
    fig, axes = plt.subplots(1, len(hemis), figsize=(5 * len(hemis), 4.5), squeeze=False)
    for ax, h in zip(axes[0], hemis, strict=True):
        mesh = ax.tripcolor(
            *drawn[h], shading="gouraud", cmap=colours, vmin=vmin, vmax=vmax, rasterized=True
        )
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(h)
    fig.colorbar(mesh, ax=list(axes[0]), shrink=0.7, label=label)
    fig.suptitle(title)
    return fig


def _flat_hemisphere(values, patches, surfaces, hemi, threshold):
    """Triangulation of one hemisphere's patch and the value of each of its points."""
    from matplotlib.tri import Triangulation

    if isinstance(patches, str) and patches == "fsaverage5":
        vertices, xy, faces, coords, name = _fsaverage5_flat(hemi)
    else:
        vertices, xy, faces, coords, name = _patch_on_mesh(patches, surfaces, hemi)
    stat = np.asarray(values, dtype=np.float64).ravel()
    check_mesh(coords, stat.size, hemi, name)
    stat = stat[vertices]
    if threshold is not None:
        stat = np.where(np.abs(stat) < threshold, np.nan, stat)
    return Triangulation(xy[:, 0], xy[:, 1], faces), stat


def _fsaverage5_flat(hemi):
    """Vertices, 2-D positions, triangles and full coordinates of fsaverage5's flat mesh."""
    from nilearn import datasets

    part = datasets.load_fsaverage("fsaverage5")["flat"].parts["left" if hemi == "lh" else "right"]
    coords, faces = np.asarray(part.coordinates), np.asarray(part.faces, dtype=np.int64)
    vertices = np.unique(faces)  # the medial wall is in no triangle
    local = np.full(len(coords), -1, dtype=np.int64)
    local[vertices] = np.arange(vertices.size)
    return vertices, coords[vertices, :2], local[faces], coords, "fsaverage5 flat mesh"


def _patch_on_mesh(patches, surfaces, hemi):
    """Return a patch's vertices, x, y, the mesh triangles inside it and the mesh coords."""
    if isinstance(patches, str) or hemi not in patches:
        raise ParameterError(
            f"Invalid value for 'patches': expected 'fsaverage5' or a patch per hemisphere "
            f"including {hemi!r}; got {patches!r}."
        )
    mesh = surfaces if isinstance(surfaces, str) else (surfaces or {}).get(hemi)
    if mesh is None:
        raise ParameterError(
            f"Invalid value for 'surfaces': expected a mesh for hemisphere {hemi!r} (such as "
            f"{hemi}.white) to take the triangles from; got {surfaces!r}."
        )
    coords, faces = load_mesh(mesh, hemi)
    vertices, xy, label = _read_flat(patches[hemi])
    if vertices.size and (vertices.min() < 0 or vertices.max() >= len(coords)):
        raise DataError(
            f"The {hemi} patch {label} names vertex {vertices.max()} but the {hemi} mesh "
            f"{_label(mesh)} has {len(coords)} vertices (0..{len(coords) - 1})."
        )
    local = np.full(len(coords), -1, dtype=np.int64)
    local[vertices] = np.arange(vertices.size)
    inside = local[faces]
    inside = inside[(inside >= 0).all(axis=1)]
    if not len(inside):
        raise DataError(
            f"No triangle of the {hemi} mesh {_label(mesh)} has its 3 vertices in the patch "
            f"{label} ({vertices.size} vertices); is it the same hemisphere and subject?"
        )
    return vertices, xy, inside, coords, _label(mesh)


def _read_flat(patch):
    """0-based vertices and x, y of a patch file or a ``(vertices, coords)`` pair."""
    if isinstance(patch, tuple):
        vertices, coords = (np.asarray(a) for a in patch)
        label = "(given arrays)"
    else:
        vertices, coords, _ = read_patch(patch)
        label = str(patch)
    vertices = vertices.astype(np.int64).ravel()
    if coords.ndim != 2 or coords.shape[0] != vertices.size or coords.shape[1] < 2:
        raise DataError(
            f"The patch {label} must give x, y for each of its {vertices.size} vertices; got "
            f"coordinates of shape {coords.shape}."
        )
    return vertices, np.asarray(coords[:, :2], dtype=np.float64), label


def _label(mesh) -> str:
    """Short name of a mesh for messages."""
    return "(given arrays)" if isinstance(mesh, tuple) else Path(str(mesh)).name


def _colour_range(stats, symmetric: bool) -> tuple[float, float]:
    """Colour limits over every drawn value (NaN ignored)."""
    finite = np.concatenate([s[np.isfinite(s)] for s in stats])
    if not finite.size:
        return (-1.0, 1.0) if symmetric else (0.0, 1.0)
    if symmetric:
        vmax = float(np.abs(finite).max()) or 1.0
        return -vmax, vmax
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def _colour_map(cmap):
    """Return the colour map (nilearn's registered too), grey for missing values."""
    import matplotlib
    from nilearn.plotting import cm  # noqa: F401  (registers cold_hot and the like)

    if isinstance(cmap, str):
        if cmap not in matplotlib.colormaps:
            raise ParameterError(
                f"Invalid value for 'cmap': expected a matplotlib or nilearn colour map name; "
                f"got {cmap!r}."
            )
        cmap = matplotlib.colormaps[cmap]
    return cmap.with_extremes(bad=_GREY)
