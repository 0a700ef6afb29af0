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
