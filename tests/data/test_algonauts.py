"""The Algonauts 2023 layout: sample writer, adapter and the challenge metric."""

import numpy as np
import pytest

from brainalign import load_dataset
from brainalign.cli import main
from brainalign.data import algonauts_score
from brainalign.data.sample import write_algonauts2023_sample
from brainalign.exceptions import DataError, ParameterError


@pytest.fixture(scope="module")
def challenge(nsd_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("algonauts") / "challenge"
    return write_algonauts2023_sample(out, seed=0, nsd_root=nsd_sample, subjects=[1])


@pytest.fixture(scope="module")
def subject1(challenge):
    return load_dataset("algonauts2023", root=challenge, subject=1)


def challenge_code(r, nc_fraction):
    """Score as the challenge code does, step by step (A23 tutorial and scoring code)."""
    r, nc = r.copy(), nc_fraction.copy()
    r[r < 0] = 0
    r2 = r**2
    nc[nc == 0] = 1e-14
    acc = np.divide(r2, nc) * 100
    acc[acc > 100] = 100
    return np.median(acc), acc


def test_score_equals_the_challenge_computation():
    rng = np.random.default_rng(0)
    r = rng.uniform(-0.5, 0.9, 500)
    nc = rng.uniform(0, 0.8, 500)
    nc[:20] = 0  # no ceiling: any positive r gives 100
    r[:3] = [0.5, -0.2, 0.0]
    expected, per_vertex = challenge_code(r, nc)
    score, acc = algonauts_score(r, nc * 100, per_target=True)
    assert score == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(acc, per_vertex, rtol=1e-12)
    assert acc[:3].tolist() == [100.0, 0.0, 0.0] and acc.max() == 100
    assert (acc[r < 0] == 0).all()
    with pytest.raises(ParameterError, match=r"\(3,\) and \(2,\)"):
        algonauts_score(np.zeros(3), np.zeros(2))


def test_layout_follows_the_challenge(challenge):
    sub = challenge / "subj01"
    train = sorted(p.name for p in (sub / "training_split/training_images").glob("*.png"))
    assert len(train) == 900 and train[0].startswith("train-0001_nsd-")
    ids = [int(n[-9:-4]) for n in train]
    assert ids == sorted(ids)  # rows in increasing NSD id, as np.unique in A23
    lh = np.load(sub / "training_split/training_fmri/lh_training_fmri.npy")
    mask = np.load(sub / "roi_masks/lh.all-vertices_fsaverage_space.npy")
    assert lh.shape == (900, mask.sum()) and lh.dtype == np.float32 and mask.size == 1380
    faces = np.load(sub / "roi_masks/lh.floc-faces_challenge_space.npy")
    assert faces.shape == (mask.sum(),)
    mapping = np.load(sub / "roi_masks/mapping_floc-faces.npy", allow_pickle=True).item()
    assert mapping == {
        0: "Unknown",
        1: "OFA",
        2: "FFA-1",
        3: "FFA-2",
        4: "mTL-faces",
        5: "aTL-faces",
    }
    assert len(list((sub / "test_split/test_images").glob("test-*_nsd-*.png"))) == 100


def test_adapter_returns_the_nsd_surface_responses(subject1, nsd_sample, ground_truth):
    with pytest.warns(UserWarning, match="Dropped 4 of 1380 vertices"):
        nsd = load_dataset("nsd-fsaverage", root=nsd_sample, subject=1, average=True)
    order = np.argsort(nsd.stimulus_ids)
    mine = subject1.select_stimuli(nsd.stimulus_ids)
    assert subject1.n_rows == 1000 and subject1.test_ids.size == 100
    by_id = np.argsort(mine.stimulus_ids)
    np.testing.assert_allclose(mine.responses[by_id], nsd.responses[order], atol=1e-6)
    assert subject1.space.kind == "surface" and subject1.space.n_vertices == {
        "lh": 1380,
        "rh": 1380,
    }
    test = subject1.split()[1]
    nc_file = np.concatenate(
        [
            np.load(
                f"{subject1.info['root']}/subj01/test_split/noise_ceiling/{h}_noise_ceiling.npy"
            )
            for h in ("lh", "rh")
        ]
    )
    np.testing.assert_allclose(test.noise_ceiling(), 100 * nc_file, rtol=1e-5)
    ffa = subject1.select_rois("FFA-1")
    assert ffa.n_targets == ground_truth["rois"]["FFA-1"]["n_voxels"]
    assert subject1.stimuli.images(test.stimulus_ids[:1])[0].shape == (425, 425, 3)


def test_wrong_vertex_count_and_missing_subject(challenge, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(challenge, root)
    np.save(root / "subj01/training_split/training_fmri/rh_training_fmri.npy", np.zeros((900, 7)))
    with pytest.raises(DataError, match=r"shape \(900, 7\) but 900 image\(s\) and 690"):
        load_dataset("algonauts2023", root=root, subject=1)
    with pytest.raises(DataError, match=r"Subject 3 is not present.*\[1\]"):
        load_dataset("algonauts2023", root=root, subject=3)


def test_sample_cli_refuses_a_real_dataset_folder(tmp_path, capsys):
    (tmp_path / "subj01").mkdir()
    assert main(["sample", "algonauts2023", "--out", str(tmp_path), "-q"]) == 1
    assert "Refusing to write the sample" in capsys.readouterr().err
