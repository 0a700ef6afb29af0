"""Statistic maps on the cortical surface (nilearn ``plot_surf_stat_map``) -> PNG.

Maps are drawn on the dataset's own meshes when a run records them
(``maps/surface.json``: the FreeSurfer ``surf`` files of the data's space), or on
nilearn's bundled fsaverage5 (10,242 vertices per hemisphere, offline) when the vertex
counts match. A mesh whose vertex count differs from the map's is an error that names
both counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from brainalign._utils import atomic_path, warn
from brainalign.data._surface import HEMIS, read_mgh_vector
from brainalign.exceptions import DataError, ParameterError
from brainalign.maps._style import colormap, describe, style_of, threshold_of

#: Surfaces tried in order when a run lists several.
_PREFERRED = ("inflated", "pial", "white", "sphere")
#: Vertices per hemisphere of nilearn's bundled fsaverage5.
FSAVERAGE5_VERTICES = 10242
#: Vertices per hemisphere of FreeSurfer's fsaverage (ico7); its first 10,242 are fsaverage5's.
FSAVERAGE_VERTICES = 163842
#: An icon in the page itself: browsers otherwise request one (nilearn links GitHub's).
_NO_ICON = '<link rel="icon" href="data:," />'


def load_mesh(mesh, hemi: str = "lh"):
    """Read a hemisphere mesh: a FreeSurfer/GIfTI file, ``(coords, faces)`` or a name.

    Parameters
    ----------
    mesh : str, Path or tuple
        A geometry file (``lh.inflated``, ``*.surf.gii``), a ``(coords, faces)`` pair,
        or ``"fsaverage5"`` (nilearn's bundled inflated mesh).
    hemi : {"lh", "rh"}
        Hemisphere, for ``"fsaverage5"``.

    Returns
    -------
    coords : ndarray of shape (n_vertices, 3)
    faces : ndarray of shape (n_faces, 3)
    """
    if isinstance(mesh, tuple):
        coords, faces = mesh
    elif str(mesh) == "fsaverage5":
        from nilearn import datasets, surface

        fs = datasets.fetch_surf_fsaverage("fsaverage5")
        loaded = surface.load_surf_mesh(fs["infl_left" if hemi == "lh" else "infl_right"])
        coords, faces = loaded.coordinates, loaded.faces
    elif str(mesh).endswith(".gii"):
        from nilearn import surface

        loaded = surface.load_surf_mesh(str(mesh))
        coords, faces = loaded.coordinates, loaded.faces
    else:
        import nibabel as nib

        if not Path(mesh).exists():
            from brainalign.exceptions import MissingFileError

            raise MissingFileError(f"Mesh file not found: {mesh}.")
        coords, faces = nib.freesurfer.read_geometry(str(mesh))
    return np.asarray(coords, dtype=np.float64), np.asarray(faces, dtype=np.int64)


def check_mesh(coords, n_values: int, hemi: str = "lh", name: str = "mesh") -> None:
    """Raise a DataError naming both counts when a mesh does not fit a map.

    Parameters
    ----------
    coords : ndarray of shape (n_vertices, 3)
        Mesh vertices.
    n_values : int
        Values of the map (one per vertex).
    hemi : str
        Hemisphere (for the message).
    name : str
        Mesh name (for the message).
    """
    if len(coords) != n_values:
        raise DataError(
            f"Vertex count mismatch: the {hemi} {name} has {len(coords)} vertices but the "
            f"map has {n_values} values."
        )


def plot_surface_map(
    values, meshes, title="", cmap="cold_hot", symmetric=True, threshold=None, label=""
):
    """Draw one value per vertex of both hemispheres (lateral and medial views).

    Parameters
    ----------
    values : dict of str -> array-like
        Per hemisphere (``"lh"``, ``"rh"``) one value per mesh vertex.
    meshes : dict of str -> mesh, or str
        Per hemisphere a mesh accepted by :func:`load_mesh`, or ``"fsaverage5"``.
    title : str
        Figure title.
    cmap : str
        Colour map.
    symmetric : bool
        Colour scale symmetric around 0.
    threshold : float, optional
        Values with a smaller magnitude are not coloured.
    label : str
        Colour-bar label (the statistic and its unit).

    Returns
    -------
    matplotlib.figure.Figure
        Four panels: each hemisphere seen from the side and from the midline.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from nilearn import plotting

    hemis = [h for h in HEMIS if h in values]
    if not hemis:
        raise ParameterError("Invalid value for 'values': expected 'lh' and/or 'rh' arrays.")
    loaded = {}
    for h in hemis:
        mesh = meshes if isinstance(meshes, str) else meshes.get(h)
        if mesh is None:
            raise ParameterError(f"Invalid value for 'meshes': no mesh for hemisphere {h!r}.")
        loaded[h] = load_mesh(mesh, h)
        check_mesh(loaded[h][0], np.asarray(values[h]).size, h, str(mesh))
    vmax = max(float(np.nanmax(np.abs(values[h]))) for h in hemis) or 1.0
    fig, axes = plt.subplots(
        1, 2 * len(hemis), figsize=(4 * len(hemis), 3), subplot_kw={"projection": "3d"}
    )
    for n, h in enumerate(hemis):
        stat = np.nan_to_num(np.asarray(values[h], dtype=np.float64))
        for m, view in enumerate(("lateral", "medial")):
            plotting.plot_surf_stat_map(
                loaded[h],
                stat,
                hemi="left" if h == "lh" else "right",
                view=view,
                cmap=cmap,
                colorbar=n == len(hemis) - 1 and m == 1,
                symmetric_cbar=symmetric,
                vmax=vmax,
                threshold=threshold,
                axes=axes[2 * n + m],
                figure=fig,
            )
    for ax in fig.axes:
        if ax not in axes:  # the colour bar nilearn added
            ax.set_ylabel(label, fontsize=8)
    fig.suptitle(title)
    return fig


def write_surface_view(values, mesh, path, hemi="lh", title="", cmap="cold_hot", symmetric=True):
    """Write an interactive 3-D view of one hemisphere map (nilearn ``view_surf``).

    The page is self-contained (nilearn's bundled niivue viewer, no network): it can
    be rotated, zoomed and opened in any browser.

    Parameters
    ----------
    values : array-like of shape (n_vertices,)
        One value per mesh vertex.
    mesh : str, Path or tuple
        The hemisphere's mesh (see :func:`load_mesh`).
    path : str or Path
        HTML file to write (atomically).
    hemi : {"lh", "rh"}
        Hemisphere (for ``"fsaverage5"``).
    title : str
        Page title.
    cmap : str
        Colour map.
    symmetric : bool
        Colour scale symmetric around 0.

    Returns
    -------
    Path
        The file written.
    """
    from nilearn import plotting

    coords, faces = load_mesh(mesh, hemi)
    stat = np.nan_to_num(np.asarray(values, dtype=np.float64))
    check_mesh(coords, stat.size, hemi, str(mesh))
    view = plotting.view_surf(
        (coords, faces), stat, cmap=cmap, symmetric_cmap=symmetric, title=title, engine="niivue"
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(offline_page(view.get_standalone()), encoding="utf-8")
    return path


def offline_page(html: str) -> str:
    """Make nilearn's standalone niivue page work offline with no console error.

    nilearn 0.14's page links its favicon on GitHub (a request, and an error
    offline) and runs a classic ``<script>`` in the ``<head>`` that looks up the
    canvas before the body exists (``TypeError: Cannot read properties of null``).
    The icon becomes an inline empty one; that script becomes a module, which runs
    once the document is parsed, like the viewer's own script.

    Parameters
    ----------
    html : str
        The page of ``view_surf(...).get_standalone()``.

    Returns
    -------
    str
        The page, with no reference to anything outside it.
    """
    import re

    html = re.sub(r"<link\s+rel=\"icon\"[^>]*>", _NO_ICON, html, flags=re.S)
    if _NO_ICON not in html:
        html = html.replace("<head>", "<head>" + _NO_ICON, 1)
    return re.sub(
        r"<script>(\s*document\.getElementById\(\"gl\"\))", r'<script type="module">\1', html
    )


def plot_run_surface_maps(run_dir, stats=("r", "ncr2"), meshes=None, views=("r",)) -> list[Path]:
    """Draw each surface map (``maps/*_hemi-{L,R}[_space-<s>]_stat-<stat>.mgh``) as a PNG.

    Surface runs write ``*_hemi-L_stat-r.mgh``; volume runs projected on the subject's
    surfaces write ``*_hemi-L_space-fsnative_stat-r.mgh`` (and ``space-fsaverage``).

    Parameters
    ----------
    run_dir : str or Path
        Run directory.
    stats : sequence of str
        Statistics to draw.
    meshes : dict or str, optional
        Meshes to draw on (see :func:`plot_surface_map`); a wrong vertex count is an
        error. Default: the meshes ``maps/surface.json`` lists for the map's space,
        else nilearn's fsaverage5 when the maps have fsaverage5's or fsaverage's
        vertex count (fsaverage's first 10,242 vertices are fsaverage5's); with
        neither, no figure (a warning).

    views : sequence of str
        Statistics also written as interactive 3-D pages, one per hemisphere
        (``figures/<.mgh stem>_surface.html``, see :func:`write_surface_view`); not
        for maps projected on fsaverage (each page embeds its mesh and viewer).

    Returns
    -------
    list of Path
        Files written under ``run_dir/figures``: ``<map stem>_surface.png``,
        ``<map stem>_flat.png`` when the meshes include a flat patch
        (``{lh,rh}.full.flat.patch.3d``) or are fsaverage5, and the interactive pages.
    """
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    record = _surface_record(run_dir)
    written = []
    for stat in stats:
        for left in sorted((run_dir / "maps").glob(f"*_hemi-L_*stat-{stat}.mgh")):
            right = left.with_name(left.name.replace("_hemi-L_", "_hemi-R_"))
            values = {"lh": read_mgh_vector(left)}
            if right.exists():
                values["rh"] = read_mgh_vector(right)
            space = _entity(left.name, "space")
            files = record.get("projections", {}).get(space, {}) if space else record
            use = meshes if meshes is not None else _run_meshes(files, values)
            if use is None:
                continue
            if use == "fsaverage5":
                values = {h: v[:FSAVERAGE5_VERTICES] for h, v in values.items()}
            style, cmap = style_of(stat), colormap(stat)
            signed = style.signed
            stem = left.name.replace("_hemi-L", "")[: -len(".mgh")]
            threshold = threshold_of(stat).value  # vertices without a value stay grey
            options = {"cmap": cmap, "symmetric": signed, "threshold": threshold}
            options["label"] = style.label
            fig = plot_surface_map(values, use, title=describe(f"{stem}_surface"), **options)
            target = run_dir / "figures" / f"{stem}_surface.png"
            with atomic_path(target) as tmp:
                fig.savefig(tmp, dpi=80)
            plt.close(fig)
            written.append(target)
            flat = _flat_inputs(use, files, values)
            if flat is not None:
                from brainalign.maps._flat import plot_flat_map

                fig = plot_flat_map(values, *flat, title=describe(f"{stem}_flat"), **options)
                target = run_dir / "figures" / f"{stem}_flat.png"
                with atomic_path(target) as tmp:
                    fig.savefig(tmp, dpi=80)
                plt.close(fig)
                written.append(target)
            if stat in views and space != "fsaverage":  # pages are large: native space only
                for h, v in values.items():
                    mesh = use if isinstance(use, str) else use[h]
                    name = (left if h == "lh" else right).name[: -len(".mgh")]
                    page = run_dir / "figures" / f"{name}_surface.html"
                    title = describe(name)
                    written.append(write_surface_view(v, mesh, page, h, title, cmap, signed))
    return written


def _flat_inputs(use, record: dict, values: dict):
    """Flat patches and their full meshes for a map, or None when there is no patch."""
    if use == "fsaverage5":
        return "fsaverage5", None
    files = record.get("mesh_files", {})
    patches, surfaces = {}, {}
    for h in values:
        names = files.get(h, {})
        full = next((names[n] for n in ("white", "inflated", "pial") if n in names), None)
        if "flat" not in names or full is None:
            return None
        patches[h], surfaces[h] = names["flat"], full
    return patches, surfaces


def _surface_record(run_dir: Path) -> dict:
    path = run_dir / "maps" / "surface.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _entity(name: str, key: str) -> str | None:
    """Value of a BIDS-like ``key-value`` entity of a file name (or None)."""
    for part in name.split("_"):
        if part.startswith(f"{key}-"):
            return part[len(key) + 1 :]
    return None


def _run_meshes(record: dict, values: dict):
    """Pick the recorded meshes, or fsaverage5 when the counts allow, or None (warned)."""
    files = record.get("mesh_files", {})
    chosen = {}
    for h in values:
        names = files.get(h, {})
        found = next((names[n] for n in _PREFERRED if n in names), None)
        if found is not None:
            chosen[h] = found
    if len(chosen) == len(values):
        return chosen
    if all(
        np.asarray(v).size in (FSAVERAGE5_VERTICES, FSAVERAGE_VERTICES) for v in values.values()
    ):
        return "fsaverage5"
    counts = {h: int(np.asarray(v).size) for h, v in values.items()}
    warn(
        f"No surface figure: no mesh files are recorded for these maps and they have "
        f"{counts} vertices, neither fsaverage5's {FSAVERAGE5_VERTICES} nor fsaverage's "
        f"{FSAVERAGE_VERTICES}; pass 'meshes'."
    )
    return None
