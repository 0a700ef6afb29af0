"""Flat maps: FreeSurfer patch files, the sample's unfolded patches and plot_flat_map."""

import struct

import numpy as np
import pytest

from brainalign.data import _nsd_layout as L
from brainalign.data._surface import find_meshes, read_mgh_vector, read_patch, write_patch
from brainalign.exceptions import DataError, MissingFileError, ParameterError
from brainalign.maps import plot_flat_map

HEMIS = ("lh", "rh")


def _patch_bytes(points, magic=-1):
    """Write a new-format patch by hand: big-endian int32 magic, count, then points."""
    body = b"".join(struct.pack(">ifff", vno, *xyz) for vno, xyz in points)
    return struct.pack(">ii", magic, len(points)) + body


def _signed_areas(xy, faces):
    a, b, c = xy[faces[:, 0]], xy[faces[:, 1]], xy[faces[:, 2]]
    return 0.5 * ((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])


def _sample_files(root, folder):
    surf = root / folder
    return (
        {h: surf / f"{h}.full.flat.patch.3d" for h in HEMIS},
        {h: surf / f"{h}.white" for h in HEMIS},
    )


def test_write_then_read_patch_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    vertices = rng.permutation(500)[:120]
    coords = rng.normal(0, 50, (120, 3)).astype(np.float32)
    border = rng.random(120) < 0.2
    border[vertices == 0] = True  # vertex 0 on the border is stored as -1, the magic value
    path = tmp_path / "lh.full.flat.patch.3d"
    write_patch(path, vertices, coords, border)
    got_vertices, got_coords, got_border = read_patch(path)
    np.testing.assert_array_equal(got_vertices, vertices)
    np.testing.assert_array_equal(got_coords, coords.astype(np.float64))
    np.testing.assert_array_equal(got_border, border)
    assert path.stat().st_size == 8 + 16 * 120
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left

    write_patch(path, [3, 1], [[1.5, -2.0], [0.25, 4.0]])  # 2-D coordinates: z = 0, no border
    got_vertices, got_coords, got_border = read_patch(path)
    assert got_vertices.tolist() == [3, 1] and not got_border.any()
    assert got_coords.tolist() == [[1.5, -2.0, 0.0], [0.25, 4.0, 0.0]]


def test_hand_written_patch_reads_as_the_format_says(tmp_path):
    points = [(5, (1.5, -2.25, 0.0)), (-1, (10.0, 20.0, 0.5)), (-10, (-3.0, 0.125, 7.0))]
    path = tmp_path / "rh.full.flat.patch.3d"
    path.write_bytes(_patch_bytes(points))
    vertices, coords, border = read_patch(path)
    assert vertices.tolist() == [4, 0, 9]  # 1-based in the file, sign = border
    assert border.tolist() == [False, True, True]
    assert coords.tolist() == [[1.5, -2.25, 0.0], [10.0, 20.0, 0.5], [-3.0, 0.125, 7.0]]
    # The writer produces exactly these bytes.
    write_patch(tmp_path / "again", [4, 0, 9], coords, [False, True, True])
    assert (tmp_path / "again").read_bytes() == path.read_bytes()
    # Old format: no magic, the count first, then int32 vertex and int16 x, y, z in 1/100 mm.
    old = struct.pack(">i", 2) + struct.pack(">ihhh", 3, 150, -250, 0)
    old += struct.pack(">ihhh", -7, 1, 2, -3)
    (tmp_path / "old").write_bytes(old)
    vertices, coords, border = read_patch(tmp_path / "old")
    assert vertices.tolist() == [2, 6] and border.tolist() == [False, True]
    np.testing.assert_allclose(coords, [[1.5, -2.5, 0.0], [0.01, 0.02, -0.03]])


def test_truncated_or_garbled_patch_is_a_data_error(tmp_path):
    whole = _patch_bytes([(1, (0.0, 0.0, 0.0)), (2, (1.0, 0.0, 0.0)), (3, (0.0, 1.0, 0.0))])
    path = tmp_path / "lh.full.flat.patch.3d"
    path.write_bytes(whole[:-3])
    truncated = r"lh.full.flat.patch.3d is a truncated .* 3 points, i.e. 56 bytes, but .* has 53"
    with pytest.raises(DataError, match=truncated):
        read_patch(path)
    path.write_bytes(whole + b"\0")
    with pytest.raises(DataError, match=r"garbled .* 56 bytes, but the file has 57"):
        read_patch(path)
    path.write_bytes(whole[:6])
    with pytest.raises(DataError, match=r"truncated .* expected an 8-byte header .* got 6 bytes"):
        read_patch(path)
    path.write_bytes(_patch_bytes([(1, (0.0, 0.0, 0.0))], magic=-5))
    with pytest.raises(DataError, match=r"expected the magic number -1 .* got -5"):
        read_patch(path)
    path.write_bytes(_patch_bytes([(1, (0.0, 0.0, 0.0)), (0, (1.0, 0.0, 0.0))]))
    with pytest.raises(DataError, match=r"non-zero 1-based vertex numbers, got 0 at point 1"):
        read_patch(path)
    path.write_bytes(_patch_bytes([(4, (0.0, 0.0, 0.0)), (-4, (1.0, 0.0, 0.0))]))
    with pytest.raises(DataError, match=r"each vertex once, got 1 repeated"):
        read_patch(path)
    with pytest.raises(MissingFileError, match="Patch file not found"):
        read_patch(tmp_path / "absent")
    with pytest.raises(ParameterError, match=r"'coords': expected \(2, 3\) or \(2, 2\); got \(3, "):
        write_patch(path, [0, 1], np.zeros((3, 3)))
    with pytest.raises(ParameterError, match=r"'vertices': expected each vertex once"):
        write_patch(path, [1, 1], np.zeros((2, 3)))


def test_find_meshes_records_the_flat_patch(nsd_sample):
    for folder in (L.surf_dir(1, "fsaverage"), L.surf_dir(1, "nativesurface")):
        found = find_meshes(nsd_sample / folder)
        for h in HEMIS:
            assert found[h]["flat"] == str(nsd_sample / folder / f"{h}.full.flat.patch.3d")
            assert {"white", "inflated", "sphere", "pial"} <= set(found[h])


@pytest.mark.parametrize("space", ["fsaverage", "nativesurface"])
def test_sample_patch_unfolds_every_vertex_without_folding(nsd_sample, space):
    import nibabel as nib

    surf = nsd_sample / L.surf_dir(1, space)
    for h in HEMIS:
        sphere, faces = nib.freesurfer.read_geometry(str(surf / f"{h}.sphere"))
        vertices, coords, border = read_patch(surf / f"{h}.full.flat.patch.3d")
        assert sorted(vertices) == list(range(len(sphere)))  # every vertex is in the patch
        assert np.all(coords[:, 2] == 0)
        xy = np.empty((len(sphere), 2))
        xy[vertices] = coords[:, :2]
        # Outward triangles stay counter-clockwise: no fold.
        assert (_signed_areas(xy, faces) <= 0).mean() <= 0.01
        edges = np.r_[faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]
        flat_len = np.linalg.norm(xy[edges[:, 0]] - xy[edges[:, 1]], axis=1)
        sphere_len = np.linalg.norm(sphere[edges[:, 0]] - sphere[edges[:, 1]], axis=1)
        assert np.corrcoef(flat_len, sphere_len)[0, 1] > 0.8
        # Border = vertices of the edges only one triangle has (the open midline cut).
        key, counts = np.unique(np.sort(edges, axis=1), axis=0, return_counts=True)
        rim = np.zeros(len(sphere), bool)
        rim[key[counts == 1].ravel()] = True
        assert 0 < rim.sum() < len(sphere) / 4
        np.testing.assert_array_equal(border, rim[vertices])


def _roi_values(root, label=2):
    """Mark the vertices of one ROI (floc-faces label 2: FFA-1) True, others False."""
    return {
        h: read_mgh_vector(root / L.surface_label_file(1, h, "floc-faces", "fsaverage")) == label
        for h in HEMIS
    }


def test_flat_map_colours_the_roi_vertices(nsd_sample):
    import matplotlib
    import matplotlib.pyplot as plt
    import nibabel as nib

    patches, surfaces = _sample_files(nsd_sample, L.surf_dir(1, "fsaverage"))
    roi = _roi_values(nsd_sample)
    values = {h: roi[h].astype(float) for h in HEMIS}
    values["rh"][7] = np.nan
    fig = plot_flat_map(values, patches, surfaces, title="roi", cmap="viridis", symmetric=False)
    assert fig._suptitle.get_text() == "roi" and len(fig.axes) == 3  # 2 panels + colour bar
    fig.set_dpi(300)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float) / 255
    viridis = matplotlib.colormaps["viridis"]
    for ax, h in zip(fig.axes[:2], HEMIS, strict=True):
        assert ax.get_title() == h
        vertices, coords, _ = read_patch(patches[h])
        mesh = ax.collections[0]
        expected = np.nan_to_num(values[h], nan=-1)[vertices]  # NaN: masked (grey)
        np.testing.assert_array_equal(np.ma.filled(mesh.get_array(), -1), expected)
        _, faces = nib.freesurfer.read_geometry(str(surfaces[h]))
        drawn = vertices[mesh._triangulation.triangles]
        assert {tuple(sorted(t)) for t in drawn} == {tuple(sorted(t)) for t in faces}
        # Rendered colour in the middle of triangles all in (out of) the ROI: viridis(1)
        # (viridis(0)); a triangle's colour is interpolated between its own vertices only.
        xy = np.empty((len(roi[h]), 2))
        xy[vertices] = coords[:, :2]
        for inside in (True, False):
            for centre in _roomy_triangle_centres(xy, faces, roi[h] == inside):
                col, row = ax.transData.transform(centre)
                got = pixels[int(round(pixels.shape[0] - row)), int(round(col))]
                np.testing.assert_allclose(got, viridis(float(inside))[:3], atol=0.05)
    plt.close(fig)


def _roomy_triangle_centres(xy, faces, member, n=5):
    """Return the centres of the n member triangles with the largest inscribed circles."""
    keep = faces[member[faces].all(axis=1)]
    sides = np.linalg.norm(xy[keep] - xy[np.roll(keep, 1, axis=1)], axis=2).sum(axis=1)
    inradius = 2 * np.abs(_signed_areas(xy, keep)) / sides
    best = keep[np.argsort(inradius)[::-1][:n]]
    return xy[best].mean(axis=1)


def test_flat_map_wrong_counts_name_both_numbers(nsd_sample):
    patches, surfaces = _sample_files(nsd_sample, L.surf_dir(1, "fsaverage"))
    values = {h: np.zeros(1380) for h in HEMIS}
    with pytest.raises(DataError, match=r"lh lh.white has 1380 vertices but the map has 1379"):
        plot_flat_map({"lh": np.zeros(1379)}, patches, surfaces)
    bad = {"lh": (np.array([0, 1, 5000]), np.zeros((3, 3))), "rh": patches["rh"]}
    with pytest.raises(DataError, match=r"names vertex 5000 but the lh mesh lh.white has 1380"):
        plot_flat_map(values, bad, surfaces)
    with pytest.raises(ParameterError, match=r"'surfaces': expected a mesh for hemisphere 'lh'"):
        plot_flat_map(values, patches)
    swapped = {"lh": (np.array([0, 1]), np.zeros((2, 2))), "rh": patches["rh"]}
    with pytest.raises(DataError, match=r"No triangle of the lh mesh lh.white"):
        plot_flat_map(values, swapped, surfaces)


def test_fsaverage5_flat_offline():
    import matplotlib.pyplot as plt
    from nilearn import datasets

    values = {h: np.linspace(-1, 1, 10242) for h in HEMIS}
    values["lh"][:100] = np.nan
    fig = plot_flat_map(values, "fsaverage5", threshold=0.5)
    flat = datasets.load_fsaverage("fsaverage5")["flat"]
    for ax, part in zip(fig.axes[:2], ("left", "right"), strict=True):
        faces = np.asarray(flat.parts[part].faces)
        mesh = ax.collections[0]
        assert mesh._triangulation.triangles.shape == faces.shape
        used = np.unique(faces)
        expected = values["lh" if part == "left" else "rh"][used]
        expected = np.where(np.abs(expected) < 0.5, np.nan, expected)
        np.testing.assert_array_equal(np.ma.filled(mesh.get_array(), np.nan), expected)
    plt.close(fig)
    with pytest.raises(DataError, match=r"rh fsaverage5 flat mesh has 10242 vertices but .* 1380"):
        plot_flat_map({"rh": np.zeros(1380)}, "fsaverage5")
