"""Surface maps: nilearn plots on the sample's meshes or fsaverage5; vertex-count errors."""

import numpy as np
import pytest

from brainalign.data import _nsd_layout as L
from brainalign.exceptions import DataError
from brainalign.maps import check_mesh, load_mesh, plot_surface_map


def test_sample_mesh_is_read_and_plotted(nsd_sample):
    import matplotlib.pyplot as plt

    surf = nsd_sample / L.surf_dir(1, "fsaverage")
    meshes = {h: surf / f"{h}.inflated" for h in ("lh", "rh")}
    coords, faces = load_mesh(meshes["lh"])
    assert coords.shape == (1380, 3) and faces.max() == 1379
    assert np.unique(faces).size == 1380  # every vertex is on the mesh
    values = {h: np.linspace(-1, 1, 1380) for h in ("lh", "rh")}
    fig = plot_surface_map(values, meshes, title="r")
    assert len(fig.axes) >= 4 and fig._suptitle.get_text() == "r"
    plt.close(fig)


def test_fsaverage5_offline_and_wrong_vertex_count_names_both_counts():
    coords, _ = load_mesh("fsaverage5", "rh")
    assert coords.shape == (10242, 3)
    with pytest.raises(DataError, match=r"rh fsaverage5 has 10242 vertices but the map has 1380"):
        plot_surface_map({"rh": np.zeros(1380)}, "fsaverage5")
    with pytest.raises(DataError, match=r"lh mesh has 3 vertices but the map has 4 values"):
        check_mesh(np.zeros((3, 3)), 4)


def test_fsaverage_maps_without_meshes_are_drawn_on_fsaverage5(tmp_path, monkeypatch):
    # Algonauts-style run: 163,842 values per hemisphere, no mesh files recorded.
    # fsaverage's first 10,242 vertices are fsaverage5's (icosahedral subdivision order).
    import nibabel as nib

    from brainalign.maps import _surface

    values = {"lh": np.arange(163842.0), "rh": -np.arange(163842.0)}
    for hemi, v in values.items():
        path = tmp_path / "maps" / f"sub-01_hemi-{hemi[0].upper()}_stat-ncr2.mgh"
        path.parent.mkdir(exist_ok=True)
        nib.MGHImage(v.astype(np.float32).reshape(-1, 1, 1), np.eye(4)).to_filename(str(path))
    drawn = {}
    real = _surface.plot_surface_map

    def spy(vals, meshes, **kwargs):
        drawn.update(vals=vals, meshes=meshes)
        return real(vals, meshes, **kwargs)

    monkeypatch.setattr(_surface, "plot_surface_map", spy)
    written = _surface.plot_run_surface_maps(tmp_path, stats=("ncr2",))
    assert [p.name for p in written] == [
        "sub-01_stat-ncr2_surface.png",
        "sub-01_stat-ncr2_flat.png",  # nilearn's fsaverage5 flat meshes
    ]
    assert drawn["meshes"] == "fsaverage5"
    for hemi in ("lh", "rh"):
        np.testing.assert_array_equal(drawn["vals"][hemi], values[hemi][:10242])
    # any other count without meshes: a warning and no figure
    for path in (tmp_path / "maps").glob("*.mgh"):
        nib.MGHImage(np.zeros((500, 1, 1), np.float32), np.eye(4)).to_filename(str(path))
    with pytest.warns(UserWarning, match="neither fsaverage5's 10242 nor fsaverage's 163842"):
        assert _surface.plot_run_surface_maps(tmp_path, stats=("ncr2",)) == []


def test_interactive_page_references_nothing_outside_it(tmp_path):
    import re

    from nilearn import plotting

    from brainalign.maps import write_surface_view
    from brainalign.maps._surface import offline_page

    coords, faces = load_mesh("fsaverage5", "lh")
    values = np.linspace(-1, 1, len(coords))
    raw = plotting.view_surf((coords, faces), values, engine="niivue").get_standalone()
    # nilearn's own page links its icon on GitHub and runs a script before the canvas exists
    assert re.search(r'<link rel="icon"[^>]*href="https://', raw, re.S)
    page = write_surface_view(values, "fsaverage5", tmp_path / "view.html", title="r map")
    html = page.read_text()
    assert "r map" in html and offline_page(raw).count('href="data:,"') == 1
    links = re.findall(r'<(?:link|script|img|iframe)[^>]*(?:href|src)="([^"]+)"', html)
    assert links and all(link.startswith("data:") for link in links)
    assert '<script type="module">\n\tdocument.getElementById("gl")' in html
    assert '<script>\n\tdocument.getElementById("gl")' not in html


def test_surface_figures_label_their_colour_bar_and_title_in_words(nsd_sample, tmp_path):
    import matplotlib.pyplot as plt

    from brainalign.maps._style import style_of

    surf = nsd_sample / "nsddata" / "freesurfer" / "subj01" / "surf"
    meshes = {h: surf / f"{h}.inflated" for h in ("lh", "rh")}
    n = {h: len(load_mesh(m)[0]) for h, m in meshes.items()}
    values = {h: np.linspace(0, 50, n[h]) for h in n}
    label = style_of("ncr2").label
    fig = plot_surface_map(values, meshes, title="ncR²", symmetric=False, label=label)
    colourbars = [ax for ax in fig.axes if ax.name != "3d"]
    assert [ax.get_ylabel() for ax in colourbars] == [label]
    plt.close(fig)
