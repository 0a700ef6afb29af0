"""Truncated or garbled files raise one-line DataErrors that name the file (issue 18).

Every case writes a valid file in the real layout (a copy of the NSD sample, or a small
file written here), damages it, and checks the message: the file's name, what is
wrong, one line.
"""

from pathlib import Path

import numpy as np
import pytest

from brainalign import load_dataset
from brainalign.data import _nsd_layout as L
from brainalign.exceptions import DataError

BETAS3 = L.betas_file(1, 3, "nii.gz")
HDF5_2 = L.betas_file(1, 2, "hdf5")


def cut(src: Path, dst: Path, keep: float) -> Path:
    """Write the first ``keep`` fraction of ``src`` to ``dst``."""
    data = src.read_bytes()
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def garble(src: Path, dst: Path, start: int, n: int) -> Path:
    """Write ``src`` to ``dst`` with ``n`` bytes from ``start`` overwritten."""
    data = bytearray(src.read_bytes())
    data[start : start + n] = bytes((np.arange(n) * 37 + 11) % 256)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(data))
    return dst


def one_line(excinfo, name: str) -> str:
    """Assert the error is a single line that starts with the file name; return it."""
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(name), message
    assert len(message) < 400
    return message


@pytest.fixture
def damaged(nsd_sample, sample_clone):
    """``damaged(rel, how, *args)``: a sample clone whose file ``rel`` is cut or garbled."""

    def make(rel, how, *args, drop=()):
        root = sample_clone(str(rel), *map(str, drop))
        how(nsd_sample / rel, root / rel, *args)
        return root

    return make


# -- NSD volumes: NIfTI and HDF5 betas, ROI, ncsnr ------------------------------------
def test_truncated_nifti_betas_count_the_volumes_read(damaged):
    root = damaged(BETAS3, cut, 0.55)
    with pytest.raises(DataError) as excinfo:
        load_dataset("nsd", root=root, subject=1, sessions=[3], betas_format="nifti")
    message = one_line(excinfo, "betas_session03.nii.gz is truncated: expected 750 volumes, read")
    read = int(message.split("read ")[1].split()[0])
    assert 0 < read < 750
    assert str(root / BETAS3) in message


def test_garbled_nifti_betas_name_the_file(damaged):
    root = damaged(BETAS3, garble, 3000, 200)
    with pytest.raises(DataError, match="cannot be read: .*decompressing") as excinfo:
        load_dataset("nsd", root=root, subject=1, sessions=[3], betas_format="nifti")
    one_line(excinfo, "betas_session03.nii.gz")


def test_truncated_hdf5_betas_say_expected_and_found_bytes(damaged, nsd_sample):
    root = damaged(HDF5_2, cut, 0.5)
    size = (nsd_sample / HDF5_2).stat().st_size
    with pytest.raises(DataError) as excinfo:
        load_dataset("nsd", root=root, subject=1, sessions=[2], betas_format="hdf5")
    one_line(
        excinfo, f"betas_session02.hdf5 is truncated: expected {size} bytes, found {size // 2}"
    )


def test_garbled_hdf5_betas_name_the_file(damaged):
    root = damaged(HDF5_2, garble, 800, 3200)
    with pytest.raises(DataError, match="cannot be read: bad symbol table") as excinfo:
        load_dataset("nsd", root=root, subject=1, sessions=[2], betas_format="hdf5")
    one_line(excinfo, "betas_session02.hdf5")


@pytest.mark.parametrize(
    ("rel", "how", "args", "says"),
    [
        (L.roi_file(1, "nsdgeneral"), cut, (0.5,), "is truncated: Compressed file ended"),
        (L.ncsnr_file(1), garble, (0, 30), "is not a gzip file"),
        (L.brainmask_file(1), cut, (0.3,), "is truncated"),
    ],
)
def test_damaged_nsd_volumes_name_the_file(damaged, rel, how, args, says):
    root = damaged(rel, how, *args)
    roi = None if "brainmask" in str(rel) else "nsdgeneral"
    with pytest.raises(DataError, match=says) as excinfo:
        load_dataset("nsd", root=root, subject=1, sessions=[1], roi=roi)
    one_line(excinfo, Path(rel).name)


# -- NSD tables: design .mat, stimulus CSV, ctab, stimuli HDF5 --------------------------
def test_truncated_design_mat(damaged):
    root = damaged(L.EXPDESIGN, cut, 0.5)
    with pytest.raises(DataError, match="is truncated") as excinfo:
        load_dataset("nsd", root=root, subject=1, sessions=[1])
    one_line(excinfo, "nsd_expdesign.mat")


def test_empty_and_garbled_stimulus_csv(damaged):
    root = damaged(L.STIM_INFO, garble, 200, 3000)
    with pytest.raises(DataError, match=r"line \d+: no value in column") as excinfo:
        load_dataset("nsd", root=root, subject=1, sessions=[1])
    one_line(excinfo, "nsd_stim_info_merged.csv")
    (root / L.STIM_INFO).write_bytes(b"")
    with pytest.raises(DataError, match="cannot be read: No columns to parse") as excinfo:
        load_dataset("nsd", root=root, subject=1, sessions=[1])
    one_line(excinfo, "nsd_stim_info_merged.csv")


def test_binary_ctab(sample_clone):
    rel = L.ctab_file(1, "nsdgeneral")
    root = sample_clone(str(rel))
    (root / rel).write_bytes(b"0 Unknown\n1 \xff\xfe\x80\n")
    with pytest.raises(DataError, match="cannot be read: 'utf-8' codec") as excinfo:
        load_dataset("nsd", root=root, subject=1, sessions=[1])
    one_line(excinfo, "nsdgeneral.mgz.ctab")


def test_truncated_stimulus_hdf5(damaged):
    from brainalign.data import NSDStimuli

    root = damaged(L.STIMULI_HDF5, cut, 0.5)
    with pytest.raises(DataError, match="is truncated: expected .* bytes, found") as excinfo:
        NSDStimuli.from_root(root).images([0, 1])
    one_line(excinfo, "nsd_stimuli.hdf5")


# -- NSD surfaces: MGH betas and MGZ labels ---------------------------------------------
def test_truncated_mgh_betas_count_the_frames(damaged):
    rel = L.surface_betas_file(1, "lh", 1, "fsaverage")
    root = damaged(rel, cut, 0.6)
    with pytest.raises(DataError) as excinfo:
        load_dataset("nsd", root=root, subject=1, sessions=[1], space="fsaverage")
    one_line(excinfo, "lh.betas_session01.mgh is truncated: expected 750 frames, read")


@pytest.mark.parametrize(
    ("how", "args", "says"), [(cut, (0.5,), "truncated"), (garble, (0, 40), "gzip")]
)
def test_damaged_mgz_labels(damaged, how, args, says):
    rel = L.surface_label_file(1, "lh", "nsdgeneral", "fsaverage")
    root = damaged(rel, how, *args)
    with pytest.raises(DataError, match=says) as excinfo:
        load_dataset("nsd", root=root, subject=1, sessions=[1], space="fsaverage")
    one_line(excinfo, "lh.nsdgeneral.mgz")


# -- generic files: NPY, NPZ, CSV, uncompressed NIfTI ------------------------------------
def test_truncated_npy_counts_the_values(tmp_path):
    np.save(tmp_path / "r.npy", np.ones((20, 30)))
    cut(tmp_path / "r.npy", tmp_path / "r.npy", 0.6)
    with pytest.raises(DataError) as excinfo:
        load_dataset("arrays", responses=tmp_path / "r.npy", stimulus_ids=list(range(20)))
    one_line(excinfo, "r.npy is truncated: expected 600 values, read")


@pytest.mark.parametrize(("how", "args"), [(cut, (0.6,)), (garble, (100, 300))])
def test_damaged_npz(tmp_path, how, args):
    path = tmp_path / "r.npz"
    np.savez(path, responses=np.ones((20, 30)), stimulus_ids=np.arange(20))
    how(path, path, *args)
    with pytest.raises(DataError, match="cannot be read") as excinfo:
        load_dataset("arrays", responses=path)
    one_line(excinfo, "r.npz")


def test_garbled_and_empty_csv(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"stimulus_id,v0\n1,0.5\n2,\xff\xfe\x00\n")
    with pytest.raises(DataError, match="cannot be read") as excinfo:
        load_dataset("arrays", responses=path)
    one_line(excinfo, "r.csv")
    path.write_bytes(b"")
    with pytest.raises(DataError, match="No columns to parse") as excinfo:
        load_dataset("arrays", responses=path)
    one_line(excinfo, "r.csv")


def test_truncated_uncompressed_nifti_runs(tmp_path):
    import nibabel as nib

    bold = np.random.default_rng(0).normal(size=(4, 5, 6, 10)).astype(np.float32)
    nib.Nifti1Image(bold, np.eye(4)).to_filename(tmp_path / "bold.nii")
    cut(tmp_path / "bold.nii", tmp_path / "bold.nii", 0.6)
    nib.Nifti1Image(np.ones((4, 5, 6), np.uint8), np.eye(4)).to_filename(tmp_path / "mask.nii.gz")
    (tmp_path / "attributes.txt").write_text("a 0\n" * 10)
    with pytest.raises(DataError) as excinfo:
        load_dataset("nifti", root=tmp_path, bold="bold.nii", mask="mask.nii.gz")
    one_line(excinfo, "bold.nii is truncated: expected 10 volumes, read 5")


# -- THINGS-EEG2 pickled dicts, FIF, images -----------------------------------------------
def test_truncated_and_garbled_things_eeg2_dict(tmp_path):
    from brainalign.data import load_pickled_dict

    path = tmp_path / "preprocessed_eeg_training.npy"
    record = {
        "preprocessed_eeg_data": np.zeros((5, 2, 3, 4), np.float32),
        "ch_names": ["O1", "Oz", "O2"],
        "times": np.arange(4.0),
    }
    np.save(path, record, allow_pickle=True)
    valid = path.read_bytes()
    cut(path, path, 0.6)
    with pytest.raises(DataError, match="is truncated") as excinfo:
        load_pickled_dict(path)
    one_line(excinfo, path.name)
    path.write_bytes(valid)
    garble(path, path, 200, 40)
    with pytest.raises(DataError, match="cannot be read") as excinfo:
        load_pickled_dict(path)
    one_line(excinfo, path.name)


@pytest.fixture
def fif_files(tmp_path):
    import mne

    info = mne.create_info(["Oz", "O1", "O2"], 100.0, "eeg")
    data = np.random.default_rng(0).normal(size=(8, 3, 50)) * 1e-6
    events = np.c_[np.arange(8) * 100, np.zeros(8, int), np.ones(8, int)]
    epochs = mne.EpochsArray(data, info, events=events, event_id={"x": 1}, verbose="error")
    epochs.save(tmp_path / "sub-epo.fif", verbose="error")
    raw = mne.io.RawArray(np.zeros((3, 500)), info, verbose="error")
    raw.save(tmp_path / "sub_raw.fif", verbose="error")
    return tmp_path / "sub-epo.fif", tmp_path / "sub_raw.fif"


def test_truncated_fif_epochs_and_raw(fif_files, recwarn):
    for path in fif_files:
        cut(path, path, 0.6)
        with pytest.raises(DataError, match="is truncated: Invalid tag") as excinfo:
            load_dataset("mne", root=path)
        one_line(excinfo, path.name)
    assert not [w for w in recwarn if "Invalid tag" in str(w.message)]


def test_garbled_fif_epochs(fif_files):
    path = garble(fif_files[0], fif_files[0], 0, 50)
    with pytest.raises(DataError, match="cannot be read") as excinfo:
        load_dataset("mne", root=path)
    one_line(excinfo, path.name)


def test_truncated_and_garbled_images(tmp_path):
    from PIL import Image

    from brainalign.data._stimuli import read_images

    path = tmp_path / "im.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(path)
    cut(path, path, 0.5)
    with pytest.raises(DataError, match="is truncated") as excinfo:
        read_images(lambda _: path, ["im"], "THINGS image")
    one_line(excinfo, "im.png")
    path.write_bytes(b"garbage" * 20)
    with pytest.raises(DataError, match="cannot be read") as excinfo:
        read_images(lambda _: path, ["im"], "THINGS image")
    one_line(excinfo, "im.png")


# -- the command line: one line on stderr, exit 1 -----------------------------------------
FIT = ["--dataset", "nsd", "--subject", "1", "--layer", "layer6", "-q"]
FIT += ["--model", "torch:brainalign.data.sample:SampleNet@0"]


@pytest.mark.parametrize(
    ("rel", "how", "args", "drop", "says"),
    [
        (BETAS3, cut, (0.55,), (L.betas_file(1, 3, "hdf5"),), "is truncated: expected 750 volumes"),
        (HDF5_2, garble, (800, 3200), (), "cannot be read: bad symbol table"),
    ],
)
def test_cli_prints_one_line_naming_the_file(damaged, tmp_path, capsys, rel, how, args, drop, says):
    from brainalign.cli import main

    root = damaged(rel, how, *args, drop=drop)
    capsys.readouterr()
    assert main(["fit", "--root", str(root), "--out", str(tmp_path / "run"), *FIT]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"brainalign fit: error: {Path(rel).name} {says}")
