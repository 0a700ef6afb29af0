"""Every registered dataset: a DatasetAdapter whose summary matches its data.

Each name of ``list_datasets()`` has a builder below that writes a small dataset
(the samples for nsd*, things-eeg2 and algonauts2023; a few planted files for the
others) and states what ``describe()`` must report; registering a dataset without
adding a builder fails :func:`test_every_registered_dataset_has_a_sample`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainalign import list_datasets
from brainalign.cli import main
from brainalign.data import (
    CAPABILITIES,
    BrainData,
    DatasetAdapter,
    DatasetSummary,
    ExtraScores,
    SubjectSummary,
    get_dataset,
    register_dataset,
)
from brainalign.data._registry import _DATASETS
from brainalign.exceptions import ParameterError


@dataclass
class Planted:
    """What ``describe()`` must report for one subject, and how to load it."""

    facts: dict
    load: dict = field(default_factory=dict)
    rows: int | None = None  # rows load() returns, when not facts["n_trials"]
    dropped: int = 0  # targets load() drops as constant (n_targets counts them)


@dataclass
class Case:
    root: Path
    subjects: dict  # subject -> Planted
    capabilities: frozenset = frozenset()


# -- the builders: one per registered name ------------------------------------------
def _nsd_case(nsd_sample, truth, formats, **load):
    n_sessions = truth["config"]["n_sessions"]
    facts = {"sessions": list(range(1, n_sessions + 1)), "n_trials": 750 * n_sessions}
    facts["formats"] = formats
    dropped = len(truth["invalid_voxels"]["ijk"])
    subjects = {
        s: Planted(facts, {"subject": s, **load}, dropped=dropped) for s in truth["subjects"]
    }
    return Case(nsd_sample, subjects, frozenset({"stimulus_set", "surface_projections"}))


def build_nsd(ctx):
    return _nsd_case(ctx.nsd_sample, ctx.truth, ["nifti", "hdf5"])


def build_nsd_fsaverage(ctx):
    return _nsd_case(ctx.nsd_sample, ctx.truth, ["mgh"])


def build_nsd_nativesurface(ctx):
    return _nsd_case(ctx.nsd_sample, ctx.truth, ["hdf5"])


def build_things_eeg2(ctx):
    config = json.loads((ctx.eeg_sample / "ground_truth.json").read_text())["config"]
    n_train = config["n_train_concepts"] * config["images_per_concept"]
    n_trials = n_train * config["train_repetitions"] + config["n_test"] * config["test_repetitions"]
    facts = {"sessions": [], "n_trials": n_trials, "n_stimuli": n_train + config["n_test"]}
    subjects = {s: Planted(facts, {"subject": s}) for s in range(1, config["n_subjects"] + 1)}
    return Case(ctx.eeg_sample, subjects, frozenset({"stimulus_set"}))


def build_algonauts2023(ctx):
    truth = json.loads((ctx.algonauts_sample / "ground_truth.json").read_text())
    nsd = truth["config"]["nsd"]  # the NSD sample it was prepared from
    n_cortex = len(truth["surface"]["vertex_ijk"]["lh"])
    facts = {"sessions": [], "n_targets": n_cortex - nsd["n_invalid"], "formats": ["npy"]}
    facts["extra"] = {"n_test": nsd["n_shared"], "test_fmri": True, "noise_ceiling": True}
    subjects = {s: Planted(facts, {"subject": s}) for s in truth["config"]["subjects"]}
    return Case(ctx.algonauts_sample, subjects, frozenset({"stimulus_set", "extra_scores"}))


def build_arrays(ctx):
    root = ctx.folder("arrays")
    np.save(root / "responses.npy", np.random.default_rng(0).standard_normal((6, 4)))
    (root / "stimulus_ids.txt").write_text("a\nb\nc\na\nb\nc\n")
    facts = {"n_trials": 6, "n_stimuli": 3, "n_targets": 4, "formats": ["npy"]}
    return Case(root, {"all": Planted(facts, {"stimulus_ids": "stimulus_ids.txt"})})


def build_nifti(ctx):
    import nibabel as nib

    root = ctx.folder("nifti")
    bold = np.random.default_rng(0).standard_normal((2, 2, 1, 10)).astype(np.float32)
    nib.Nifti1Image(bold, np.eye(4)).to_filename(root / "bold.nii.gz")
    nib.Nifti1Image(np.ones((2, 2, 1), np.uint8), np.eye(4)).to_filename(root / "mask.nii.gz")
    labels = ["rest", "a", "b", "rest", "a"] * 2
    (root / "attributes.txt").write_text("".join(f"{x} {k // 5}\n" for k, x in enumerate(labels)))
    facts = {"n_trials": 10, "n_stimuli": 3, "n_targets": 4, "formats": ["nifti"]}
    facts["extra"] = {"runs": 2}
    return Case(root, {"all": Planted(facts)})


def _raw(n_events=6):
    """Three EEG channels, 20 s at 100 Hz, ``n_events`` face/house annotations."""
    import mne

    info = mne.create_info(["Oz", "Pz", "Cz"], 100.0, "eeg")
    data = np.random.default_rng(0).standard_normal((3, 2000)) * 1e-6
    raw = mne.io.RawArray(data, info, verbose="error")
    onsets = 2.0 + 2.5 * np.arange(n_events)
    raw.set_annotations(mne.Annotations(onsets, 0.0, ["face", "house"] * (n_events // 2)))
    return raw


def build_mne(ctx):
    path = ctx.folder("mne") / "rec_raw.fif"
    _raw().save(path, verbose="error")
    facts = {"n_trials": 6, "n_stimuli": 2, "formats": ["FIF"]}
    facts["extra"] = {"events": {"face": 3, "house": 3}}
    return Case(path, {"all": Planted(facts)})


def _brainvision(path: Path, raw) -> Path:
    """Write ``raw`` as BrainVision (.vhdr/.vmrk/.eeg), its annotations as stimuli."""
    stem = path.stem
    data = raw.get_data().T.astype("<f4") * 1e6  # microvolts, multiplexed
    path.with_suffix(".eeg").write_bytes(data.tobytes())
    channels = "".join(f"Ch{k + 1}={c},,1,µV\n" for k, c in enumerate(raw.ch_names))
    path.write_text(
        "Brain Vision Data Exchange Header File Version 1.0\n\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={stem}.eeg\nMarkerFile={stem}.vmrk\nDataFormat=BINARY\n"
        "DataOrientation=MULTIPLEXED\n"
        f"NumberOfChannels={len(raw.ch_names)}\nSamplingInterval={1e6 / raw.info['sfreq']:g}\n\n"
        f"[Binary Infos]\nBinaryFormat=IEEE_FLOAT_32\n\n[Channel Infos]\n{channels}",
        encoding="utf-8",
    )
    codes = {"face": "S  1", "house": "S  2"}
    markers = "".join(
        f"Mk{k + 2}=Stimulus,{codes[a['description']]},{int(a['onset'] * 100) + 1},1,0\n"
        for k, a in enumerate(raw.annotations)
    )
    path.with_suffix(".vmrk").write_text(
        "Brain Vision Data Exchange Marker File, Version 1.0\n\n[Common Infos]\n"
        f"Codepage=UTF-8\nDataFile={stem}.eeg\n\n[Marker Infos]\nMk1=New Segment,,1,1,0\n"
        + markers,
        encoding="utf-8",
    )
    return path


def build_bids_eeg(ctx):
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    root = ctx.folder("bids")
    source = _brainvision(ctx.folder("bids-source") / "rec.vhdr", _raw())
    for subject in ("01", "02"):
        raw = mne.io.read_raw_brainvision(source, verbose="error")
        path = BIDSPath(subject=subject, task="view", root=root, datatype="eeg")
        with mne.utils.use_log_level("error"):
            write_raw_bids(raw, path, verbose=False)
    facts = {"sessions": [], "n_trials": 6, "n_stimuli": 2, "formats": ["vhdr"]}
    facts["extra"] = {"tasks": ["view"], "events": {"Stimulus/S  1": 3, "Stimulus/S  2": 3}}
    load = {"task": "view"}
    return Case(root, {s: Planted(facts, {"subject": s, **load}) for s in (1, 2)})


def _muse_csv(path, markers):
    n = 2560  # 10 s at 256 Hz
    rng = np.random.default_rng(len(markers))
    table = pd.DataFrame(
        rng.standard_normal((n, 5)) * 10, columns=["TP9", "AF7", "AF8", "TP10", "Right AUX"]
    )
    table.insert(0, "timestamps", np.arange(n) / 256.0)
    table["Marker0"] = 0
    for k, code in enumerate(markers):
        table.loc[512 + 400 * k, "Marker0"] = code
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)


def build_muse(ctx):
    root = ctx.folder("muse")
    _muse_csv(root / "subject1/session1/rec_1.csv", [1, 2, 1, 2])
    _muse_csv(root / "subject1/session2/rec_1.csv", [1, 2])
    _muse_csv(root / "subject2/session1/rec_1.csv", [2, 2, 1])
    one = {"sessions": [1, 2], "n_trials": 6, "n_stimuli": 2, "formats": ["Muse CSV"]}
    two = {"sessions": [1], "n_trials": 3, "n_stimuli": 2, "extra": {"files": 1}}
    return Case(
        root,
        {
            1: Planted(one, {"subject": 1, "session": 1}, rows=4),
            2: Planted(two, {"subject": 2, "session": 1}),
        },
    )


BUILDERS = {
    "algonauts2023": build_algonauts2023,
    "arrays": build_arrays,
    "bids-eeg": build_bids_eeg,
    "mne": build_mne,
    "muse": build_muse,
    "nifti": build_nifti,
    "nsd": build_nsd,
    "nsd-fsaverage": build_nsd_fsaverage,
    "nsd-nativesurface": build_nsd_nativesurface,
    "things-eeg2": build_things_eeg2,
}


class _Context:
    """Samples (built lazily, once per session) and a fresh folder per builder."""

    def __init__(self, request, tmp_path):
        self._request, self._tmp = request, tmp_path

    def __getattr__(self, name):
        return self._request.getfixturevalue(name)

    @property
    def truth(self):
        return self._request.getfixturevalue("ground_truth")

    def folder(self, name) -> Path:
        path = self._tmp / name
        path.mkdir()
        return path


@pytest.fixture(scope="session")
def algonauts_sample(nsd_sample, tmp_path_factory):
    from brainalign.data.sample import write_algonauts2023_sample

    out = tmp_path_factory.mktemp("adapter-algonauts") / "challenge"
    return write_algonauts2023_sample(out, seed=0, nsd_root=nsd_sample, subjects=[1])


@pytest.fixture
def case(request, tmp_path):
    return BUILDERS[request.param](_Context(request, tmp_path))


# -- the tests ----------------------------------------------------------------------
def test_every_registered_dataset_has_a_sample():
    assert sorted(BUILDERS) == list_datasets()


@pytest.mark.parametrize("name", list_datasets())
def test_every_registered_dataset_is_an_adapter(name):
    cls = _DATASETS[name]
    assert issubclass(cls, DatasetAdapter) and cls.name == name
    assert cls.modality in ("fmri", "eeg")


@pytest.mark.parametrize(("name", "case"), [(n, n) for n in list_datasets()], indirect=["case"])
def test_describe_matches_the_data(name, case):
    adapter = get_dataset(name, case.root)
    summary = adapter.describe()
    assert isinstance(summary, DatasetSummary)
    assert (summary.dataset, summary.root, summary.modality) == (
        name,
        str(case.root),
        adapter.modality,
    )
    assert adapter.capabilities == case.capabilities
    assert sorted(summary.subjects, key=str) == sorted(case.subjects, key=str)
    for subject, planted in case.subjects.items():
        facts = summary.subjects[subject]
        assert isinstance(facts, SubjectSummary)
        _check_facts(facts, planted.facts)
        _check_load(adapter, facts, planted)
    assert json.loads(json.dumps(summary.to_dict())) == summary.to_dict()


@pytest.mark.parametrize(("name", "case"), [(n, n) for n in list_datasets()], indirect=["case"])
def test_info_prints_the_summary(name, case, capsys):
    assert main(["info", "--dataset", name, "--root", str(case.root)]) == 0
    text = capsys.readouterr().out
    summary = get_dataset(name, case.root).describe()
    assert text.strip() == summary.format()
    assert f"dataset: {name}" in text and f"modality: {summary.modality}" in text
    for subject, facts in summary.subjects.items():
        assert f"subject {subject}: {facts.headline()}" in text
    assert main(["info", "--dataset", name, "--root", str(case.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == summary.to_dict()


def _check_facts(facts: SubjectSummary, planted: dict):
    for key, value in planted.items():
        if key == "extra":
            assert {k: facts.extra[k] for k in value} == value
        else:
            assert getattr(facts, key) == value, key


def _check_load(adapter, facts: SubjectSummary, planted: Planted):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = adapter.load(**planted.load)
    messages = [str(w.message) for w in caught]
    assert all("Dropped" in m for m in messages), messages
    assert data.n_rows == (planted.rows or facts.n_trials)
    if planted.rows is None:  # every trial loaded: every stimulus too
        assert np.unique(data.stimulus_ids).size == facts.n_stimuli
    if facts.n_targets is not None:
        assert data.n_targets == facts.n_targets - planted.dropped
    for name, labels in facts.rois.items():
        if name in data.col_meta and name != "channels":
            counts = data.col_meta[name].value_counts()
            for label, n in labels.items():  # dropped targets are never labelled
                assert n - planted.dropped <= counts.get(label, 0) <= n, (name, label)


# -- capabilities and the registry --------------------------------------------------
def test_the_nsd_summary_holds_the_planted_rois(nsd_sample, ground_truth):
    for name in ("nsd", "nsd-fsaverage"):
        summary = get_dataset(name, nsd_sample).describe(subject=2)
        assert list(summary.subjects) == [2]
        rois = summary.subjects[2].rois
        for roi in ("FFA-1", "PPA", "V1v"):
            found = [labels[roi] for labels in rois.values() if roi in labels]
            assert found == [ground_truth["rois"][roi]["n_voxels"]], (name, roi)
    assert summary.stimuli["shape"] == [73000, 425, 425, 3]
    assert summary.extra == {"space": "fsaverage"}


def test_missing_capabilities_raise_a_clear_error(tmp_path):
    adapter = get_dataset("arrays", tmp_path)
    assert not adapter.has("stimulus_set") and adapter.capabilities == frozenset()
    for capability, args in (
        ("stimulus_set", (1,)),
        ("surface_projections", (1,)),
        ("extra_scores", (None, None)),
    ):
        with pytest.raises(ParameterError, match=f"'arrays' does not provide '{capability}'"):
            getattr(adapter, capability)(*args)
    with pytest.raises(ParameterError, match="'capability'.*'stimulus_set'.*got 'images'"):
        adapter.has("images")
    assert set(CAPABILITIES) == {"stimulus_set", "surface_projections", "extra_scores"}


def test_data_without_subjects_refuse_a_subject(tmp_path):
    with pytest.raises(ParameterError, match="'subject': expected None.*'arrays'.*got 2"):
        get_dataset("arrays", tmp_path).describe(subject=2)


def test_register_dataset_accepts_only_adapters():
    with pytest.raises(ParameterError, match="subclass of brainalign.data.DatasetAdapter"):
        register_dataset("not-an-adapter")(type("Plain", (), {}))

    class NoModality(DatasetAdapter):
        def load(self, **kwargs): ...

        def describe(self, subject=None): ...

    with pytest.raises(ParameterError, match="'modality' of dataset 'no-modality'"):
        register_dataset("no-modality")(NoModality)
    assert not {"not-an-adapter", "no-modality"} & set(list_datasets())


def test_algonauts_offers_the_challenge_score(algonauts_sample):
    from brainalign.data._algonauts_challenge import challenge_scores, headline_scores

    adapter = get_dataset("algonauts2023", algonauts_sample)
    data = adapter.load(subject=1)
    rng = np.random.default_rng(0)
    scores = pd.DataFrame(
        {"r": rng.uniform(-0.2, 0.8, data.n_targets), "nc": data.noise_ceiling()}
    ).assign(hemi=data.col_meta["hemi"].to_numpy())
    (extra,) = adapter.extra_scores(scores, data)
    assert isinstance(extra, ExtraScores)
    assert (extra.name, extra.record_key) == ("challenge_scores", "challenge_score")
    pd.testing.assert_frame_equal(extra.table, challenge_scores(scores, data.col_meta))
    assert extra.headline == headline_scores(extra.table)
    assert extra.text.startswith(f"Algonauts 2023 challenge score: {extra.headline['both']:.1f}")
    bare = BrainData(
        data.responses, data.stimulus_ids, col_meta=data.col_meta.drop(columns="ncsnr")
    )
    assert adapter.extra_scores(scores, bare) == []
    stim = adapter.stimulus_set(1)
    assert len(stim["store"]) == stim["ids"].size == 1000
    assert np.isin(stim["test_ids"], data.test_ids).all() and stim["test_ids"].size == 100
