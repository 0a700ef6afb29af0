"""Surface fits on the sample recover the same planted ROI -> layer mapping as volume fits."""

import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainalign import get_extractor, load_dataset
from brainalign.cli import main
from brainalign.data import SurfaceProjection
from brainalign.data._surface import read_mgh_vector
from brainalign.data.sample import PLANTED
from brainalign.encoding import EncodingModel, pearson_r
from brainalign.report import write_report

LAYERS = ("layer2", "layer4", "layer6")
MODEL = "torch:brainalign.data.sample:SampleNet@0"


@pytest.fixture(scope="module")
def fits(nsd_sample, ground_truth, tmp_path_factory):
    with pytest.warns(UserWarning, match="Dropped 4 of 1380 vertices"):
        surf = load_dataset("nsd-fsaverage", root=nsd_sample, subject=1, average=True)
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        vol = load_dataset("nsd", root=nsd_sample, subject=1, average=True)
    ext = get_extractor(MODEL, device="cpu")
    feats = ext.extract(
        surf.stimuli,
        ids=surf.stimulus_ids,
        layers=list(LAYERS),
        cache_dir=tmp_path_factory.mktemp("features"),
        progress=False,
    )
    r = {}
    for name, data in (("surface", surf), ("volume", vol)):
        train, test = data.split()
        for layer in LAYERS:
            model = EncodingModel(alphas=np.logspace(0, 5, 11)).fit(
                feats[layer].align(train.stimulus_ids), train.responses
            )
            pred = model.predict(feats[layer].align(test.stimulus_ids))
            r[name, layer] = pearson_r(test.responses, pred)
    return {"surface": surf, "volume": vol, "r": r}


def test_each_layer_group_is_fit_best_by_its_planted_layer_on_the_surface(fits):
    surf, r = fits["surface"], fits["r"]
    for layer in LAYERS:
        mask = surf.roi_mask([roi for roi, (lay, _) in PLANTED.items() if lay == layer])
        means = {name: float(r["surface", name][mask].mean()) for name in LAYERS}
        assert max(means, key=means.get) == layer, (layer, means)


def test_surface_and_volume_scores_agree_vertex_by_voxel(fits, ground_truth):
    surf, vol, r = fits["surface"], fits["volume"], fits["r"]
    index = {tuple(v): n for n, v in enumerate(vol.space.ijk)}
    ijk = {h: np.asarray(v) for h, v in ground_truth["surface"]["vertex_ijk"].items()}
    order = [
        index[tuple(ijk[h][v])] for h, v in zip(surf.space.hemi, surf.space.vertex, strict=True)
    ]
    np.testing.assert_allclose(r["surface", "layer6"], r["volume", "layer6"][order], atol=1e-4)
    ffa = surf.roi_mask("FFA-1")
    assert r["surface", "layer6"][ffa].mean() > 0.3


def test_fit_cli_writes_per_hemisphere_mgh_maps_and_a_surface_figure(nsd_sample, tmp_path):
    out = tmp_path / "run"
    argv = ["fit", "--dataset", "nsd-fsaverage", "--root", str(nsd_sample), "--subject", "1"]
    argv += ["--model", MODEL, "--layer", "layer6", "--roi", "floc-faces,floc-places"]
    argv += ["--permutations", "20", "--out", str(out), "-q"]
    assert main(argv) == 0  # these ROIs hold none of the invalid vertices: no warning
    scores = pd.read_parquet(out / "scores.parquet")
    assert {"hemi", "vertex"} <= set(scores.columns) and "i" not in scores.columns
    stem = "sub-01_model-SampleNet_layer-layer6"
    for hemi, h in (("lh", "L"), ("rh", "R")):
        values = read_mgh_vector(out / "maps" / f"{stem}_hemi-{h}_stat-r.mgh")
        assert values.size == 1380
        part = scores[scores.hemi == hemi]
        np.testing.assert_allclose(values[part.vertex], part.r, rtol=1e-6)
        outside = np.setdiff1d(np.arange(1380), part.vertex)
        assert (values[outside] == 0).all()
    assert not list((out / "maps").glob("*.nii.gz"))
    record = json.loads((out / "maps" / "surface.json").read_text())
    assert record["n_vertices"] == {"lh": 1380, "rh": 1380} and record["mesh"] == "fsaverage"
    assert (out / "figures" / f"{stem}_stat-r_surface.png").stat().st_size > 1000
    weights = np.load(out / f"{stem}_stat-weights.npz")
    assert weights["vertex"].tolist() == scores["vertex"].tolist()


def projected(fits, nsd_sample, layer):
    """Project the volume r map of ``layer`` on fsaverage; values at the surface columns."""
    surf, vol = fits["surface"], fits["volume"]
    volume = vol.to_image(fits["r"]["volume", layer]).get_fdata()
    mask = np.zeros(vol.space.shape, dtype=bool)
    mask[tuple(vol.space.ijk.T)] = True
    maps = SurfaceProjection.from_nsd(nsd_sample, 1, "fsaverage").project(volume, mask=mask)
    return np.array([maps[h][v] for h, v in zip(surf.space.hemi, surf.space.vertex, strict=True)])


def test_volume_maps_projected_on_the_surface_recover_the_planted_layers(fits, nsd_sample):
    surf, r = fits["surface"], fits["r"]
    proj = {layer: projected(fits, nsd_sample, layer) for layer in LAYERS}
    # the projection samples between white and pial (neighbouring voxels mix in), so
    # it is close to, not equal to, the surface run's vertex-by-vertex r
    ok = np.isfinite(proj["layer6"])
    assert ok.mean() > 0.95
    assert np.corrcoef(proj["layer6"][ok], r["surface", "layer6"][ok])[0, 1] > 0.8
    for layer in LAYERS:
        mask = surf.roi_mask([roi for roi, (lay, _) in PLANTED.items() if lay == layer]) & ok
        means = {name: float(proj[name][mask].mean()) for name in LAYERS}
        assert max(means, key=means.get) == layer, (layer, means)


def test_volume_fit_cli_writes_projected_surface_maps(nsd_sample, tmp_path):
    out = tmp_path / "run"
    argv = ["fit", "--dataset", "nsd", "--root", str(nsd_sample), "--subject", "1"]
    argv += ["--model", MODEL, "--layer", "layer6", "--roi", "floc-faces,floc-places"]
    argv += ["--permutations", "20", "--out", str(out), "-q"]
    assert main(argv) == 0
    stem = "sub-01_model-SampleNet_layer-layer6"
    img = nib.load(out / "maps" / f"{stem}_stat-r.nii.gz")
    volume = np.asarray(img.dataobj, dtype=np.float64)
    record = json.loads((out / "maps" / "surface.json").read_text())["projections"]
    assert set(record) == {"fsnative", "fsaverage"}
    assert record["fsnative"]["mesh"] == "subj01" and "layerB2" in record["fsnative"]["source"]
    expected = SurfaceProjection.from_nsd(nsd_sample, 1).project(volume, mask=volume != 0)
    for hemi, h in (("lh", "L"), ("rh", "R")):
        values = read_mgh_vector(out / "maps" / f"{stem}_hemi-{h}_space-fsnative_stat-r.mgh")
        np.testing.assert_allclose(values, np.nan_to_num(expected[hemi]), atol=1e-6)
        assert record["fsnative"]["vertices_with_data"][hemi] == np.isfinite(expected[hemi]).sum()
    # vertices far from the fitted ROIs carry no value
    assert 0 < record["fsnative"]["vertices_with_data"]["lh"] < 1380 / 2
    for space in ("fsnative", "fsaverage"):
        for view in ("surface", "flat"):  # the sample's surf folders hold flat patches
            png = out / "figures" / f"{stem}_space-{space}_stat-r_{view}.png"
            assert png.stat().st_size > 1000
    # interactive pages: native space only, offline (no script fetched), linked by the report
    pages = sorted(p.name for p in (out / "figures").glob("*_surface.html"))
    assert pages == [f"{stem}_hemi-{h}_space-fsnative_stat-r_surface.html" for h in "LR"]
    page = (out / "figures" / pages[0]).read_text()
    assert "<canvas" in page and "<script src=" not in page
    elsewhere = tmp_path / "shared" / "report.html"
    write_report(out, elsewhere)
    hrefs = re.findall(r'<a href="([^"]+_surface\.html)"', elsewhere.read_text())
    assert sorted(Path(h).name for h in hrefs) == pages
    assert all((elsewhere.parent / h).resolve().is_file() for h in hrefs)
