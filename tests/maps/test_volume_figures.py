"""Volume map figures: legible colours, labelled colour bars, legends, anatomy."""

import json
import math

import nibabel as nib
import numpy as np
import pytest

from brainalign.maps._figures import plot_run_maps, plot_volume_map
from brainalign.maps._style import colormap, map_caption, style_of, threshold_of

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

SHAPE = (20, 24, 18)
#: Planted blocks of the significance map: the weakest significant value and the largest.
WEAK, STRONG = (4, 5, 7), (13, 5, 7)
#: A head voxel far from the blocks (bright "white matter" of the synthetic T1).
HEAD = (10, 14, 9)
#: Smallest distance from white (RGB, 0-1, Euclidean) of a drawn significant voxel.
MARGIN = 0.2
LAYERS = {"1": "layer2", "2": "layer4", "3": "layer6"}


def _affine():
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = -1.5 * (np.array(SHAPE) - 1)
    return affine


def _rho():
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in SHAPE], indexing="ij"), -1)
    centre = (np.array(SHAPE) - 1) / 2
    return np.sqrt((((grid - centre) / (np.array(SHAPE) / 2 - 1)) ** 2).sum(-1)), grid


def _block(vol, at, value):
    i, j, k = at
    vol[i - 1 : i + 2, j - 1 : j + 2, k - 1 : k + 2] = value


def _save(data, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(np.asarray(data, np.float32), _affine()).to_filename(path)
    return path


@pytest.fixture
def run(tmp_path):
    """Return a run folder with r, significance and best-layer maps and a T1 of subject 1."""
    rho, grid = _rho()
    brain = rho <= 1
    maps = tmp_path / "run" / "maps"
    t1 = np.select([rho <= 0.65, brain, rho <= 1.12], [100.0, 60.0, 25.0], 0.0)
    _save(t1, maps / "sub-01_desc-anat.nii.gz")
    logp = np.zeros(SHAPE)
    _block(logp, WEAK, 1.35)  # just significant (p_FDR just below 0.05)
    _block(logp, STRONG, 8.0)  # the map's maximum: "hot" draws it white
    _save(logp, maps / "sub-01_model-M_layer-l1_stat-log10pfdr.nii.gz")
    r = np.zeros(SHAPE)
    _block(r, WEAK, 0.02)  # near zero: a white-centred diverging map draws it white
    _block(r, STRONG, 0.6)
    _save(r, maps / "sub-01_model-M_layer-l1_stat-r.nii.gz")
    best = np.where(brain, 1 + grid[..., 0] * 3 // SHAPE[0], 0)
    _save(best, maps / "sub-01_model-M_stat-bestlayer.nii.gz")
    (maps / "sub-01_model-M_stat-bestlayer.json").write_text(json.dumps({"values": LAYERS}))
    return tmp_path / "run"


def _world(ijk):
    return (_affine() @ np.array([*ijk, 1.0]))[:3]


def _pixels(display):
    figure = display.frame_axes.figure
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3] / 255.0


def _pixel(display, rgb, ijk):
    """RGB of the figure pixel at a voxel, in the axial view (slices: the nearest cut)."""
    x, y, z = _world(ijk)
    axes = display.axes
    key = "z" if "z" in axes else min(axes, key=lambda cut: abs(cut - z))
    px, py = axes[key].ax.transData.transform((x, y))
    return rgb[int(round(rgb.shape[0] - py)), int(round(px))]


def _whiteness(colour):
    return float(np.linalg.norm(1.0 - np.asarray(colour)[:3]))


# -- (a) significant voxels are never drawn (near-)white ---------------------------------
@pytest.mark.parametrize("stat", ["r", "r2", "bestr", "ncr2", "log10pfdr", "alpha", "nc"])
def test_colour_maps_stay_away_from_white(stat):
    cmap = colormap(stat)
    colours = cmap(np.linspace(0.0, 1.0, 257))
    assert min(_whiteness(c) for c in colours) > MARGIN
    old = matplotlib.colormaps["hot"](np.linspace(0.0, 1.0, 257))
    assert min(_whiteness(c) for c in old) < 0.01  # the check fails the old map


@pytest.mark.parametrize("kind", ["glass", "slices"])
@pytest.mark.parametrize("stat", ["log10pfdr", "r"])
def test_drawn_voxels_contrast_with_the_page(run, kind, stat):
    path = next((run / "maps").glob(f"*_stat-{stat}.nii.gz"))
    display = plot_volume_map(path, kind)
    rgb = _pixels(display)
    for ijk in (WEAK, STRONG):
        colour = _pixel(display, rgb, ijk)
        assert _whiteness(colour) > MARGIN, (ijk, colour)
        assert np.ptp(colour) > 0.1  # a colour, not the grey of the page or anatomy
    matplotlib.pyplot.close("all")


def test_the_old_hot_glass_brain_loses_the_strongest_voxels(run):
    from nilearn import plotting

    path = run / "maps" / "sub-01_model-M_layer-l1_stat-log10pfdr.nii.gz"
    display = plotting.plot_glass_brain(str(path), cmap="hot", threshold=1e-6, colorbar=True)
    colour = _pixel(display, _pixels(display), STRONG)
    assert _whiteness(colour) < MARGIN  # what the test above catches
    matplotlib.pyplot.close("all")


def test_threshold_is_significance_for_p_maps_and_the_mask_otherwise():
    assert threshold_of("log10pfdr").value == pytest.approx(-math.log10(0.05))
    assert "p(FDR) < 0.05" in threshold_of("log10pfdr").text
    assert threshold_of("r").value < 1e-3 and "every voxel" in threshold_of("r").text
    caption = map_caption("sub-01_model-M_layer-l1_stat-log10pfdr_glass")
    assert caption.startswith("Significance, M l1, subject 1 (glass brain).")
    assert "p(FDR) < 0.05" in caption and style_of("log10pfdr").label in caption


def test_voxels_below_the_threshold_are_not_drawn(run):
    path = run / "maps" / "sub-01_model-M_layer-l1_stat-log10pfdr.nii.gz"
    data = np.asarray(nib.load(path).dataobj)
    _block(data, WEAK, 1.0)  # p_FDR = 0.1: not significant
    path = _save(data, run / "maps" / "sub-01_model-M_layer-l2_stat-log10pfdr.nii.gz")
    display = plot_volume_map(path, "glass")
    rgb = _pixels(display)
    assert _whiteness(_pixel(display, rgb, WEAK)) < 0.1 or np.ptp(_pixel(display, rgb, WEAK)) < 0.1
    assert np.ptp(_pixel(display, rgb, STRONG)) > 0.1
    matplotlib.pyplot.close("all")


@pytest.mark.parametrize("kind", ["glass", "slices"])
def test_a_map_without_significant_voxels_says_so(run, kind):
    path = _save(
        np.full(SHAPE, 1.0), run / "maps" / "sub-01_model-M_layer-l2_stat-log10pfdr.nii.gz"
    )
    figure = plot_volume_map(path, kind).frame_axes.figure
    texts = [t.get_text() for t in figure.texts]
    assert any(t.startswith("No voxel shown") and "p(FDR) < 0.05" in t for t in texts)
    matplotlib.pyplot.close("all")


# -- (b) categorical maps: a legend naming the layers, one colour each -----------------
def test_best_layer_map_has_a_legend_with_the_layer_names(run):
    path = run / "maps" / "sub-01_model-M_stat-bestlayer.nii.gz"
    display = plot_volume_map(path, "slices", background=run / "maps" / "sub-01_desc-anat.nii.gz")
    figure = display.frame_axes.figure
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == list(LAYERS.values())
    assert legend.get_title().get_text() == style_of("bestlayer").label
    colours = {tuple(np.round(p.get_facecolor(), 3)) for p in legend.get_patches()}
    assert len(colours) == len(LAYERS)
    assert getattr(display, "_cbar", None) is None  # no continuous colour bar
    rgb = _pixels(display)
    drawn = [_pixel(display, rgb, (x, 12, 9)) for x in (3, 10, 17)]  # x thirds: layers 1-3
    for colour in drawn:  # each third in one of the legend's colours
        assert min(np.abs(colour - np.array(c[:3])).max() for c in colours) < 0.02
    assert len({tuple(np.round(c, 2)) for c in drawn}) == len(LAYERS)
    matplotlib.pyplot.close("all")


def test_best_model_legend_names_the_models(run):
    from brainalign.features import model_label

    models = {"1": "torch:brainalign.data.sample:SampleNet@0", "2": "timm:resnet18"}
    path = run / "maps" / "sub-01_stat-bestmodel.nii.gz"
    best = np.asarray(nib.load(run / "maps" / "sub-01_model-M_stat-bestlayer.nii.gz").dataobj)
    _save(np.minimum(best, 2), path)
    (run / "maps" / "sub-01_stat-bestmodel.json").write_text(json.dumps({"values": models}))
    figure = plot_volume_map(path, "slices").frame_axes.figure
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert texts == [model_label(m) for m in models.values()]
    matplotlib.pyplot.close("all")


def test_run_maps_draw_categorical_maps_as_slices_only(run):
    written = {p.name for p in plot_run_maps(run)}
    assert "sub-01_model-M_stat-bestlayer_slices.png" in written
    assert "sub-01_model-M_stat-bestlayer_glass.png" not in written
    assert "sub-01_model-M_layer-l1_stat-log10pfdr_glass.png" in written
    assert not any("desc-anat" in name for name in written)


# -- (c) colour bars carry the style's label with units --------------------------------
@pytest.mark.parametrize("kind", ["glass", "slices"])
@pytest.mark.parametrize("stat", ["log10pfdr", "r"])
def test_colour_bar_label_is_the_style_label(run, stat, kind):
    path = next((run / "maps").glob(f"*_stat-{stat}.nii.gz"))
    display = plot_volume_map(path, kind)
    assert display._cbar.ax.get_ylabel() == style_of(stat).label
    assert display.frame_axes.figure.texts or display.title  # titled
    matplotlib.pyplot.close("all")


# -- (d) the anatomy is drawn under the slices -------------------------------------------
def test_anatomy_is_drawn_grey_inside_the_head(run):
    path = run / "maps" / "sub-01_model-M_layer-l1_stat-log10pfdr.nii.gz"
    anat = run / "maps" / "sub-01_desc-anat.nii.gz"
    outside = (1, 1, 9)  # a corner of the grid: outside the head
    with_anat = plot_volume_map(path, "slices", background=anat)
    rgb = _pixels(with_anat)
    head = _pixel(with_anat, rgb, HEAD)
    assert np.ptp(head) < 0.02 and 0.15 < head.mean() < 0.9  # grey, not white
    assert _pixel(with_anat, rgb, outside).min() > 0.95  # the page
    bare = plot_volume_map(path, "slices")  # no anatomy: the page shows through
    assert _pixel(bare, _pixels(bare), HEAD).min() > 0.95
    matplotlib.pyplot.close("all")


def test_run_maps_find_the_subjects_anatomy(run):
    from PIL import Image

    (run / "maps" / "sub-01_model-M_stat-bestlayer.nii.gz").unlink()
    plot_run_maps(run, stats=("log10pfdr",))
    image = np.asarray(
        Image.open(run / "figures" / "sub-01_model-M_layer-l1_stat-log10pfdr_slices.png")
    )
    grey = image[..., :3].astype(int)
    is_grey = (np.ptp(grey, axis=-1) < 5) & (grey.mean(-1) > 60) & (grey.mean(-1) < 220)
    assert is_grey.mean() > 0.05  # a good part of the figure is anatomy
    (run / "maps" / "sub-01_desc-anat.nii.gz").unlink()
    plot_run_maps(run, stats=("log10pfdr",))
    image = np.asarray(
        Image.open(run / "figures" / "sub-01_model-M_layer-l1_stat-log10pfdr_slices.png")
    )
    grey = image[..., :3].astype(int)
    is_grey = (np.ptp(grey, axis=-1) < 5) & (grey.mean(-1) > 60) & (grey.mean(-1) < 220)
    assert is_grey.mean() < 0.02
    matplotlib.pyplot.close("all")


def test_mni_template_is_bundled():
    from brainalign.data import DatasetAdapter

    template = DatasetAdapter.mni152_anatomy()
    assert template.shape == (99, 117, 95) and np.asarray(template.dataobj).max() > 0


# -- (e) the sample's T1 reaches a fit run -----------------------------------------------
def test_fit_copies_the_subjects_anatomy_beside_the_maps(nsd_sample, tmp_path):
    from types import SimpleNamespace

    from brainalign.data import _nsd_layout as L
    from brainalign.runs._fit import write_anatomy
    from brainalign.runs._rundir import RunDir

    run = RunDir(tmp_path / "run")
    spec = SimpleNamespace(dataset="nsd", root=nsd_sample, subject=1)
    paths = write_anatomy(spec, run)
    assert paths == {"anatomy": run.maps / "sub-01_desc-anat.nii.gz"}
    copied, t1 = nib.load(paths["anatomy"]), nib.load(nsd_sample / L.t1_file(1))
    np.testing.assert_array_equal(np.asarray(copied.dataobj), np.asarray(t1.dataobj))
    np.testing.assert_array_equal(copied.affine, t1.affine)
    assert run.volume_maps() == []  # not taken for a statistic map
    assert write_anatomy(SimpleNamespace(dataset="nsd", root=nsd_sample, subject=None), run) == {}


def test_a_fit_run_is_drawn_over_the_samples_t1(nsd_sample, tmp_path):
    from PIL import Image

    from brainalign.runs import RunDir, fit_subject

    out = tmp_path / "fit"
    model = "torch:brainalign.data.sample:SampleNet@0"
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        fit_subject("nsd", nsd_sample, 1, model, out, layer="layer4", figures=True,
                    progress=False, n_permutations=20, device="cpu", seed=3)  # fmt: skip
    assert RunDir(out).anatomy_path(1).is_file()
    stem = "sub-01_model-SampleNet_layer-layer4_stat-r"
    image = np.asarray(Image.open(out / "figures" / f"{stem}_slices.png"))[..., :3].astype(int)
    grey = (np.ptp(image, axis=-1) < 5) & (image.mean(-1) > 60) & (image.mean(-1) < 220)
    assert grey.mean() > 0.02  # the anatomy shows around the (cortical) voxels
    matplotlib.pyplot.close("all")


def test_a_sweep_copies_the_anatomy_of_its_subjects_task(run, tmp_path):
    import shutil

    from brainalign.runs._rundir import RunDir
    from brainalign.runs._sweep import _copy_anatomy

    sweep = RunDir(tmp_path / "sweep")
    task = sweep.task("sub-01_model-M_layer-l1")
    task.maps.mkdir(parents=True)
    assert _copy_anatomy(sweep, task, 1) == {}  # no anatomy: nothing copied
    shutil.copyfile(run / "maps" / "sub-01_desc-anat.nii.gz", task.anatomy_path(1))
    assert _copy_anatomy(sweep, task, 1) == {"sub-01_anatomy": sweep.anatomy_path(1)}
    assert sweep.anatomy_path(1).read_bytes() == task.anatomy_path(1).read_bytes()
