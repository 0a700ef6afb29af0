"""The alignment variant of the NSD sample: a planted shared latent, mixed per subject."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brainalign import load_dataset
from brainalign.data.sample import PLANTED, SampleConfig
from brainalign.data.sample._nsd import _config_record

SUBJECTS = (1, 2)


@pytest.fixture(scope="module")
def truth(alignment_sample) -> dict:
    return json.loads((alignment_sample / "ground_truth.json").read_text())


@pytest.fixture(scope="module")
def latent(alignment_sample) -> dict:
    with np.load(alignment_sample / "shared_latent.npz") as f:
        return {k: f[k] for k in f.files}


def _load(root, subject, roi="nsdgeneral"):
    """Average one subject's betas; nsdgeneral holds the 4 invalid voxels, dropped."""
    if roi != "nsdgeneral":
        return load_dataset("nsd", root=root, subject=subject, roi=roi).average_repetitions()
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        data = load_dataset("nsd", root=root, subject=subject, roi=roi)
    return data.average_repetitions()


@pytest.fixture(scope="module")
def general(alignment_sample) -> dict:
    """Subjects 1 and 2, nsdgeneral, averaged over repetitions."""
    return {s: _load(alignment_sample, s) for s in SUBJECTS}


def _shared(data):
    """Responses to the shared images, rows in increasing image id."""
    rows = np.flatnonzero(np.isin(data.stimulus_ids, data.test_ids))
    rows = rows[np.argsort(data.stimulus_ids[rows])]
    return data.stimulus_ids[rows], data.responses[rows]


def _latent_at(latent, ids):
    pos = np.searchsorted(latent["nsd_id"], ids)
    np.testing.assert_array_equal(latent["nsd_id"][pos], ids)
    return latent["latent"][pos]


def _r(a, b):
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a**2).sum(0) * (b**2).sum(0))


def test_truth_and_latent_file_describe_the_plan(alignment_sample, truth, latent):
    from scipy.io import loadmat

    layer_rois = [r for r, (layer, _) in PLANTED.items() if layer]
    attribute_sets = {"+".join(a) for _, a in PLANTED.values() if a}
    n_latent = 2 * len(layer_rois) + len(attribute_sets)
    assert truth["shared_latent"] == {
        "file": "shared_latent.npz",
        "n_latent": n_latent,
        "names": latent["names"].tolist(),
        "rank_per_roi": 2,
        "mixing": "subject-specific",
    }
    assert truth["config"]["alignment"] is True
    assert set(latent) == {"nsd_id", "latent", "names"}
    assert latent["nsd_id"].dtype == np.int64 and latent["latent"].dtype == np.float64
    assert latent["names"].dtype.kind == "U" and latent["latent"].shape[1] == n_latent
    names = latent["names"].tolist()
    assert names[:3] == ["V1v:layer2:0", "V1v:layer2:1", "attribute:top"]
    assert len(set(names)) == n_latent and names.count("attribute:face") == 1
    design = loadmat(alignment_sample / "nsddata/experiments/nsd/nsd_expdesign.mat")
    assert design["subjectim"].shape == (4, 750) and design["masterordering"].size == 2250
    np.testing.assert_array_equal(latent["nsd_id"], np.unique(design["subjectim"]) - 1)
    np.testing.assert_allclose(latent["latent"].mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(latent["latent"].std(0), 1)


def test_subjects_have_their_own_voxel_counts(alignment_sample, truth, general):
    import nibabel as nib

    n_invalid = len(truth["invalid_voxels"]["ijk"])
    counts = {s: general[s].n_targets for s in SUBJECTS}
    assert counts == {s: truth["n_voxels_nsdgeneral"][str(s)] - n_invalid for s in SUBJECTS}
    assert len(set(truth["n_voxels_nsdgeneral"].values())) == 4, truth["n_voxels_nsdgeneral"]
    i, j, k = np.array(truth["invalid_voxels"]["ijk"]).T
    for s in SUBJECTS:
        folder = alignment_sample / f"nsddata/ppdata/subj{s:02d}/func1pt8mm/roi"
        nsdgeneral = nib.load(folder / "nsdgeneral.nii.gz").get_fdata() > 0
        assert nsdgeneral[i, j, k].all()  # invalid voxels are never the ones left out
        files = sorted(p for p in folder.glob("*.nii.gz") if p.name != "brainmask.nii.gz")
        assert len(files) == 21
        for path in files:  # a voxel left out of nsdgeneral is unlabelled everywhere
            labelled = nib.load(path).get_fdata() > 0
            assert not (labelled & ~nsdgeneral).any(), path.name


@pytest.mark.parametrize("subject", SUBJECTS)
def test_latent_explains_each_subject(general, latent, subject):
    ids, y = _shared(general[subject])
    x = np.column_stack([np.ones(len(ids)), _latent_at(latent, ids)])
    train = np.arange(len(ids)) % 2 == 0
    coef = np.linalg.lstsq(x[train], y[train], rcond=None)[0]
    r = _r(x[~train] @ coef, y[~train])
    labels = general[subject].col_meta
    for roi, column in (("FFA-1", "floc-faces"), ("V1v", "prf-visualrois")):
        assert r[labels[column] == roi].mean() > 0.5, roi
    assert abs(r[labels["floc-places"] == "RSC"].mean()) < 0.1  # RSC carries no signal


def _same_voxel_r(root, roi, latent=None):
    """Correlation over the shared images of each voxel with itself in subject 2."""
    per_subject = []
    for s in SUBJECTS:
        data = _load(root, s, roi)
        ids, y = _shared(data)
        if latent is not None:  # project out the shared attribute term
            cols = np.char.startswith(latent["names"], "attribute:")
            a = np.column_stack([np.ones(len(ids)), _latent_at(latent, ids)[:, cols]])
            y = y - a @ np.linalg.lstsq(a, y, rcond=None)[0]
        ijk = [tuple(v) for v in data.col_meta[["i", "j", "k"]].to_numpy()]
        per_subject.append(dict(zip(ijk, y.T, strict=True)))
    common = sorted(set(per_subject[0]) & set(per_subject[1]))
    assert len(common) > 100
    a, b = (np.column_stack([p[v] for v in common]) for p in per_subject)
    return _r(a, b)


def test_voxel_tuning_is_subject_specific_only_in_the_alignment_variant(
    alignment_sample, latent, nsd_sample
):
    default = _same_voxel_r(nsd_sample, "prf-visualrois")
    aligned = _same_voxel_r(alignment_sample, "prf-visualrois")
    residual = _same_voxel_r(alignment_sample, "prf-visualrois", latent)
    assert default.mean() > 0.2, default.mean()
    assert aligned.mean() < default.mean() - 0.1, (aligned.mean(), default.mean())
    assert abs(residual.mean()) < 0.1, residual.mean()


def test_default_config_record_is_unchanged(ground_truth, nsd_sample):
    assert "alignment" not in ground_truth["config"]
    assert "shared_latent" not in ground_truth and "n_voxels_nsdgeneral" not in ground_truth
    assert not (nsd_sample / "shared_latent.npz").exists()
    assert _config_record(SampleConfig()) == ground_truth["config"]
    assert _config_record(SampleConfig(alignment=True)) == {
        **ground_truth["config"],
        "alignment": True,
    }


def test_sample_path_and_cli_reuse_the_alignment_sample(alignment_sample, monkeypatch, capsys):
    from brainalign.cli import main
    from brainalign.data.sample import sample_path

    stamp = (alignment_sample / "ground_truth.json").stat().st_mtime_ns
    monkeypatch.setenv("BRAINALIGN_DATA", str(alignment_sample.parent))
    assert sample_path("nsd-alignment", seed=0) == alignment_sample
    assert main(["sample", "nsd-alignment", "--out", str(alignment_sample), "-q"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(alignment_sample)
    assert (alignment_sample / "ground_truth.json").stat().st_mtime_ns == stamp
    argv = ["sample", "nsd-alignment", "--out", str(alignment_sample), "--sessions", "2"]
    assert main(argv) == 2
    assert "fixed size" in capsys.readouterr().err
