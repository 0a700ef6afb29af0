import nibabel as nib
import numpy as np
import pytest

from brainalign import load_dataset
from brainalign.data import BrainData, noise_ceiling_from_ncsnr
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


def _layout(name, rng, signal_var):
    """Trials of an NSD-like (500 images x 3) or THINGS-EEG2-like layout, per target."""
    if name == "nsd":  # ceiling for 3-trial averages
        counts, n_avg = np.full(500, 3), 3
    else:  # 16540 training images x 4, 200 test images x 80; ceiling for the test
        counts, n_avg = np.r_[np.full(16540, 4), np.full(200, 80)], 80
    ids = np.repeat(np.arange(counts.size), counts)
    signal = rng.standard_normal((counts.size, signal_var.size), dtype=np.float32)
    trials = (signal * np.sqrt(signal_var).astype(np.float32))[ids]
    trials += rng.standard_normal(trials.shape, dtype=np.float32)
    return BrainData(trials, ids), n_avg


@pytest.mark.parametrize("layout", ["nsd", "things-eeg2"])
def test_noise_ceiling_is_unbiased_without_signal_and_recovers_planted_signal(layout):
    rng = np.random.default_rng(7)
    n_avg = 3 if layout == "nsd" else 80
    true_nc = np.repeat([0.0, 10.0, 30.0, 60.0, 90.0], [300, 60, 60, 60, 60])
    signal_var = true_nc / (100 - true_nc) / n_avg  # NC = s / (s + 1/n), noise variance 1
    data, n_avg = _layout(layout, rng, signal_var)
    nc = noise_ceiling_from_ncsnr(split_half_ncsnr(data), n_avg)
    noise = true_nc == 0
    assert abs(nc[noise].mean()) < 2  # no positive floor for pure noise
    assert (nc[noise] < 0).mean() > 0.3  # because it is not clipped ...
    assert np.clip(nc[noise], 0, None).mean() > 2  # ... which would give the floor
    for level in (10.0, 30.0, 60.0, 90.0):
        got = nc[true_nc == level]
        assert abs(got.mean() - level) < 3.5, (level, got.mean())
        assert np.median(np.abs(got - level)) < 9
    assert nc.max() <= 100


def test_signed_ncsnr_gives_the_tangent_of_the_nsd_formula():
    nc = noise_ceiling_from_ncsnr([-0.5, 0.0, 0.5, 2.0], 3)
    np.testing.assert_allclose(nc, [-75.0, 0.0, 100 * 0.25 / (0.25 + 1 / 3), 100 * 4 / (4 + 1 / 3)])
    data = BrainData(np.zeros((3, 2)), [1, 2, 3]).with_ncsnr([-0.1, 0.2])  # signed is finite
    assert data.noise_ceiling(n_trials=1)[0] == pytest.approx(-1.0)


def test_split_half_handles_mixed_repeat_counts_and_noise_levels():
    # 2-repeat and 6-repeat stimuli with different noise: each group has its own noise
    rng = np.random.default_rng(3)
    snr = np.array([0.0, 0.5, 1.0])
    counts = np.r_[np.full(4000, 2), np.full(600, 6)]
    ids = np.repeat(np.arange(counts.size), counts)
    noise_sd = np.where(np.repeat(counts, counts) == 6, 1.5, 1.0)[:, None]
    signal = rng.standard_normal((counts.size, 3)) * snr
    trials = signal[ids] + rng.standard_normal((ids.size, 3)) * noise_sd
    est = split_half_ncsnr(BrainData(trials, ids))
    pooled = np.sqrt((4000 * 1.0 + 600 * 5 * 1.5**2) / (4000 + 600 * 5))  # noise sd
    np.testing.assert_allclose(est[1:], snr[1:] / pooled, rtol=0.1)
    assert abs(est[0]) < 0.25  # signed: about 0 +- 0.1
    with pytest.raises(DataError, match="shown the same number of times"):
        split_half_ncsnr(BrainData(np.zeros((9, 2)), [1, 1, 2, 2, 2, 3, 3, 3, 3]))
