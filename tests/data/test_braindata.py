import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from brainalign.data import BrainData, VolumeSpace, noise_ceiling_from_ncsnr
from brainalign.exceptions import DataError, ParameterError


def make_data(seed=0, n_stim=12, reps=3, n_targets=7):
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(100, 100 + n_stim), reps)
    order = rng.permutation(ids.size)
    ids = ids[order]
    responses = rng.standard_normal((ids.size, n_targets)).astype(np.float32)
    session = np.arange(ids.size) % 2 + 1
    mask = np.zeros((4, 3, 2), dtype=bool)
    mask.flat[rng.choice(mask.size, n_targets, replace=False)] = True
    space = VolumeSpace.from_mask(mask, np.diag([2.0, 2.0, 2.0, 1.0]))
    col_meta = pd.DataFrame(
        {
            "floc-faces": ["FFA-1", "FFA-1", "OFA", "", "", "", ""][:n_targets],
            "prf-visualrois": ["", "", "", "V1v", "V1v", "V2d", ""][:n_targets],
            "ncsnr": rng.uniform(0.2, 1.5, n_targets),
        }
    )
    return BrainData(
        responses,
        ids,
        row_meta=pd.DataFrame({"session": session}),
        col_meta=col_meta,
        space=space,
        roi_columns=["floc-faces", "prf-visualrois"],
        test_ids=[100, 101],
    )


def test_average_repetitions_matches_pandas_groupby():
    data = make_data()
    avg = data.average_repetitions()
    frame = pd.DataFrame(data.responses.astype(np.float64))
    frame["id"] = data.stimulus_ids
    expected = frame.groupby("id", sort=False).mean()
    np.testing.assert_array_equal(avg.stimulus_ids, expected.index.to_numpy())
    np.testing.assert_allclose(avg.responses, expected.to_numpy(), rtol=1e-5, atol=1e-6)
    assert (avg.n_trials == 3).all()
    assert "session" not in avg.row_meta  # varies within a stimulus


def test_average_is_weighted_by_trial_counts():
    data = make_data(reps=4)
    half = data._take(rows=np.arange(30))
    twice = half.average_repetitions().average_repetitions()
    once = half.average_repetitions()
    np.testing.assert_allclose(twice.responses, once.responses, rtol=1e-6)
    np.testing.assert_array_equal(twice.n_trials, once.n_trials)


def test_noise_ceiling_uses_algonauts_normalisation_for_mixed_counts():
    ncsnr = np.array([0.0, 0.5, 1.0, 2.0])
    counts = np.array([3] * 6 + [2] * 3 + [1] * 1)
    n3, n2, n1 = 6, 3, 1
    a = (n3 / 3 + n2 / 2 + n1 / 1) / (n3 + n2 + n1)
    expected = 100 * ncsnr**2 / (ncsnr**2 + a)
    np.testing.assert_allclose(noise_ceiling_from_ncsnr(ncsnr, counts), expected)
    np.testing.assert_allclose(
        noise_ceiling_from_ncsnr(ncsnr, 3), 100 * ncsnr**2 / (ncsnr**2 + 1 / 3)
    )
    with pytest.raises(ParameterError, match="n_trials"):
        noise_ceiling_from_ncsnr(ncsnr, 0)


def test_split_by_ids_and_canonical_test_set():
    data = make_data()
    train, test = data.split()
    assert set(test.stimulus_ids) == {100, 101} and test.n_rows == 6
    assert train.n_rows == data.n_rows - 6
    train, test = data.split([105])
    assert set(test.stimulus_ids) == {105}
    with pytest.raises(DataError, match="absent from the data: 999"):
        data.split([105, 999])


def test_zscore_per_session_matches_scipy():
    data = make_data()
    z = data.zscore("session")
    for s in (1, 2):
        rows = data.row_meta["session"].to_numpy() == s
        np.testing.assert_allclose(
            z.responses[rows], stats.zscore(data.responses[rows], axis=0), atol=1e-5
        )
    with pytest.raises(ParameterError, match="'by'.*'sesion'"):
        data.zscore("sesion")


def test_zscore_drops_constant_targets_with_one_warning():
    data = make_data()
    responses = data.responses.copy()
    responses[data.row_meta["session"].to_numpy() == 2, 3] = 5.0
    data = data._take(responses=responses)
    with pytest.warns(UserWarning, match="Dropped 1 of 7 targets"):
        z = data.zscore("session")
    assert z.n_targets == 6 and np.isfinite(z.responses).all()


def test_select_rois_is_a_union_of_labels_and_files():
    data = make_data()
    assert data.select_rois("FFA-1").n_targets == 2
    assert data.select_rois(["FFA-1", "V1v"]).n_targets == 4
    assert data.select_rois("floc-faces").n_targets == 3
    np.testing.assert_array_equal(data.select_rois("V2d").responses, data.responses[:, [5]])
    with pytest.raises(ParameterError, match="Unknown ROI 'FFA1'.*Did you mean FFA-1"):
        data.select_rois("FFA1")


def test_to_image_puts_values_back_on_their_voxels():
    data = make_data()
    values = np.arange(1, data.n_targets + 1, dtype=np.float32)
    img = data.to_image(values)
    assert isinstance(img, nib.Nifti1Image)
    vol = np.asarray(img.dataobj)
    assert vol.shape == (4, 3, 2)
    np.testing.assert_array_equal(vol[tuple(data.space.ijk.T)], values)
    assert vol.sum() == values.sum()  # zeros elsewhere
    sub = data.select_rois("V1v")
    vol = np.asarray(sub.to_image(np.array([7.0, 9.0])).dataobj)
    np.testing.assert_array_equal(vol[tuple(data.space.ijk[[3, 4]].T)], [7.0, 9.0])
    four_d = data.to_image(np.stack([values, -values], 1))
    assert four_d.shape == (4, 3, 2, 2)
    with pytest.raises(ParameterError, match=r"expected \(7,\)"):
        data.to_image(values[:3])


def test_constructor_validates_shapes():
    with pytest.raises(DataError, match="one id per row: expected 3"):
        BrainData(np.zeros((3, 2)), [1, 2])
    with pytest.raises(ParameterError, match="2-D"):
        BrainData(np.zeros(3), [1, 2, 3])
    space = VolumeSpace.from_mask(np.ones((2, 1, 1)), np.eye(4))
    with pytest.raises(DataError, match="describes 2 targets"):
        BrainData(np.zeros((3, 5)), [1, 2, 3], space=space)
    data = BrainData(np.zeros((3, 2), dtype=np.float64), [1, 2, 3])
    assert data.responses.dtype == np.float32
