import nibabel as nib
import numpy as np
import pytest

from brainalign import load_dataset
from brainalign.data import BrainData
from brainalign.encoding import split_half_ncsnr
from brainalign.exceptions import DataError


@pytest.mark.parametrize("reps", [2, 3, 4])
def test_split_half_ncsnr_recovers_planted_snr(reps):
    # 3 repeats split into halves of 2 and 1 trials: solved exactly, not as 1.5 + 1.5
    rng = np.random.default_rng(reps)
    n_stim, snr = 3000, np.array([0.0, 0.3, 0.6, 1.0, 2.0])
    signal = rng.standard_normal((n_stim, 5)) * snr
    ids = np.repeat(np.arange(n_stim), reps)
    trials = signal[ids] + rng.standard_normal((ids.size, 5))
    est = split_half_ncsnr(BrainData(trials, ids))
    np.testing.assert_allclose(est[1:], snr[1:], rtol=0.06, atol=0.03)
    assert est[0] < 0.15


def test_split_half_agrees_with_nsd_ncsnr_on_the_sample(nsd_sample):
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        data = load_dataset("nsd", root=nsd_sample, subject=2)
    est = split_half_ncsnr(data)
    truth = np.asarray(nib.load(nsd_sample / "true_noise_ceiling.nii.gz").dataobj)
    signal = truth[tuple(data.space.ijk.T)] > 0
    assert np.corrcoef(est[signal], data.ncsnr[signal])[0, 1] > 0.8
    with_est = data.with_ncsnr(est).average_repetitions().noise_ceiling()
    true_nc = truth[tuple(data.space.ijk.T)]
    assert np.median(np.abs(with_est[signal] - true_nc[signal])) < 8


def test_split_half_needs_repeats():
    with pytest.raises(DataError, match="at least 3 stimuli shown twice"):
        split_half_ncsnr(BrainData(np.zeros((4, 2)), [1, 2, 3, 3]))
