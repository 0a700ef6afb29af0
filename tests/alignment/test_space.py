"""SharedSpace: fit, maps in and out, new subjects, files, errors (synthetic subjects)."""

import numpy as np
import pytest

from brainalign.alignment import SharedSpace, canonical_correlations, polar, subject_predictivity
from brainalign.data import BrainData
from brainalign.exceptions import DataError, ParameterError


def _subjects(n_subjects=4, n=120, k=5, noise=0.3, seed=0, shuffle=True):
    """Subjects with a shared latent seen through their own bases and voxel counts.

    Every subject's rows are in its own order (the space must join them by id).
    """
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, k))
    ids = np.arange(1000, 1000 + n)
    data, bases = {}, {}
    for s in range(1, n_subjects + 1):
        v = 30 + 7 * s
        bases[s] = polar(rng.standard_normal((v, k)))
        x = 2.0 + latent @ bases[s].T * 3.0 + noise * rng.standard_normal((n, v))
        order = rng.permutation(n) if shuffle else np.arange(n)
        data[s] = BrainData(x[order], ids[order], info={"subject": s})
    return latent, ids, data, bases


@pytest.mark.parametrize("method", ["srm", "srm-prob", "procrustes", "ridge"])
def test_space_recovers_the_latent_and_maps_back(method):
    latent, ids, data, _ = _subjects()
    space = SharedSpace(method, n_components=5).fit(data, ids[:80])
    assert space.stimulus_ids_.tolist() == ids[:80].tolist()
    # held-out stimuli: each subject's responses mapped in carry the latent
    test = ids[80:]
    for s, d in data.items():
        rows = np.searchsorted(d.stimulus_ids[np.argsort(d.stimulus_ids)], test)
        x = d.responses[np.argsort(d.stimulus_ids)][rows]
        z = space.transform(s, x)
        assert canonical_correlations(z, latent[80:]).min() > 0.9
        # and back: the reconstruction explains most of the (signal-dominated) variance
        back = space.inverse_transform(s, z)
        resid = ((back - x) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
        assert resid < 0.15


@pytest.mark.parametrize("method", ["srm", "srm-prob", "procrustes", "ridge"])
def test_new_subject_is_adapted_without_refitting_the_others(method):
    latent, ids, data, bases = _subjects(n_subjects=4)
    others = {s: data[s] for s in (1, 2, 3)}
    space = SharedSpace(method, 5).fit(others, ids[:80])
    before = {s: space.maps_[s].forward.copy() for s in others}
    space.add_subject(4, data[4], ids[:40])
    assert space.subjects_ == [1, 2, 3, 4]
    for s in others:
        np.testing.assert_array_equal(space.maps_[s].forward, before[s])
    # subject 4's map lands its held-out responses where subject 1's land
    order = {s: np.argsort(d.stimulus_ids) for s, d in data.items()}
    x1 = data[1].responses[order[1]][80:]
    x4 = data[4].responses[order[4]][80:]
    z1, z4 = space.transform(1, x1), space.transform(4, x4)
    r = [np.corrcoef(z1[:, j], z4[:, j])[0, 1] for j in range(5)]
    assert min(r) > 0.9
    with pytest.raises(DataError, match="not alignment stimuli"):
        space.add_subject(5, data[4], ids[100:])
    need = 3 if method == "ridge" else 5
    with pytest.raises(DataError, match=f"needs at least {need} alignment stimuli"):
        space.add_subject(5, data[4], ids[: need - 1])


def test_save_and_load_give_the_same_maps(tmp_path):
    _, ids, data, _ = _subjects(n_subjects=4)
    three = {s: data[s] for s in (1, 2, 3)}
    space = SharedSpace("ridge", 4, alphas=[1.0, 10.0]).fit(three, ids[:60])
    loaded = SharedSpace.load(space.save(tmp_path / "space.npz"))
    assert loaded.subjects_ == [1, 2, 3] and loaded.method == "ridge"
    assert loaded.alphas == [1.0, 10.0]  # a new subject is fitted as the others were
    x = data[2].responses[:10]
    np.testing.assert_allclose(loaded.transform(2, x), space.transform(2, x), rtol=1e-12)
    z = space.transform(2, x)
    np.testing.assert_allclose(loaded.inverse_transform(2, z), space.inverse_transform(2, z))
    space.add_subject(4, data[4], ids[:30])
    loaded.add_subject(4, data[4], ids[:30])
    x4 = data[4].responses[:10]
    np.testing.assert_allclose(loaded.transform(4, x4), space.transform(4, x4))


def test_text_stimulus_ids_survive_the_file(tmp_path):
    _, ids, data, _ = _subjects(n_subjects=3)
    named = {
        s: BrainData(d.responses, np.array([f"img{i}" for i in d.stimulus_ids], dtype=object))
        for s, d in data.items()
    }
    space = SharedSpace("srm", 3).fit(named)
    loaded = SharedSpace.load(space.save(tmp_path / "space.npz"))
    assert loaded.stimulus_ids_.tolist() == space.stimulus_ids_.tolist()
    loaded.add_subject(9, named[1], space.stimulus_ids_[:10])  # joins the text ids


def test_stimuli_outside_the_alignment_set_change_nothing():
    _, ids, data, _ = _subjects(n_subjects=3)
    space = SharedSpace("srm", 4).fit(data, ids[:60])
    rng = np.random.default_rng(9)
    changed = {}
    for s, d in data.items():  # new responses to every held-out stimulus
        responses = d.responses.copy()
        held = ~np.isin(d.stimulus_ids, ids[:60])
        responses[held] = rng.standard_normal((held.sum(), d.n_targets))
        changed[s] = BrainData(responses, d.stimulus_ids)
    again = SharedSpace("srm", 4).fit(changed, ids[:60])
    for s in data:
        np.testing.assert_array_equal(again.maps_[s].forward, space.maps_[s].forward)
        np.testing.assert_array_equal(again.maps_[s].mean, space.maps_[s].mean)


@pytest.mark.parametrize("method", ["srm", "srm-prob", "procrustes", "ridge"])
def test_the_composed_encoder_is_the_encoder_then_the_map(method):
    from brainalign.alignment import SharedSpaceEncoder
    from brainalign.encoding import EncodingModel

    latent, ids, data, _ = _subjects(n_subjects=3)
    space = SharedSpace(method, 5).fit(data, ids[:80])
    rng = np.random.default_rng(2)
    feats = np.c_[latent, rng.standard_normal((len(ids), 3))].astype(np.float32) * 2 + 1
    order = np.argsort(data[1].stimulus_ids)
    z = space.transform(1, data[1].responses[order][:80])
    encoder = EncodingModel(alphas=[0.1, 10.0]).fit(feats[:80], z.astype(np.float32))
    composed = SharedSpaceEncoder(encoder, space.maps_[3])
    expected = space.inverse_transform(3, encoder.predict(feats[80:]))
    np.testing.assert_allclose(composed.predict(feats[80:]), expected, rtol=1e-4, atol=1e-3)
    assert composed.coef_.shape == (8, data[3].n_targets)
    assert set(composed.best_alphas_) <= {0.1, 10.0}


def test_data_of_other_targets_is_refused():
    _, ids, data, _ = _subjects(n_subjects=3)
    space = SharedSpace("srm", 4).fit(data, ids[:60])
    with pytest.raises(DataError, match=r"'responses' must have shape \(n, 51\)"):
        space.transform(3, data[2].responses)
    with pytest.raises(DataError, match="targets differ"):
        space.maps_[3].check_targets(np.arange(50).astype(str), "Subject 3")


def test_bad_inputs_are_named():
    _, ids, data, _ = _subjects(n_subjects=3)
    with pytest.raises(ParameterError, match="'method'"):
        SharedSpace("cca").fit(data)
    with pytest.raises(ParameterError, match="at least 2 subjects"):
        SharedSpace().fit({1: data[1]})
    with pytest.raises(DataError, match="fewer than n_components=50"):
        SharedSpace("srm", 50).fit(data, ids[:20])
    with pytest.raises(DataError, match="absent from subject 1"):
        SharedSpace("srm", 3).fit(data, np.append(ids[:20], 5))
    with pytest.raises(ParameterError, match="not fitted"):
        SharedSpace().transform(1, data[1].responses)
    space = SharedSpace("srm", 3).fit(data, ids[:30])
    with pytest.raises(ParameterError, match="add_subject"):
        space.transform(9, data[1].responses)


def test_subject_predictivity_tracks_the_shared_signal():
    _, ids, data, _ = _subjects(n_subjects=3, noise=1.0)
    # a subject with no shared signal: pure noise of the same size
    rng = np.random.default_rng(1)
    data[4] = BrainData(rng.standard_normal((120, 40)), ids, info={"subject": 4})
    r = subject_predictivity(data, ids[:80], ids[80:])
    assert set(r) == {(s, t) for t in data for s in [*(u for u in data if u != t), "others"]}
    assert np.mean(r[(2, 1)]) > 0.5 and np.mean(r[("others", 1)]) > np.mean(r[(2, 1)])
    assert abs(np.mean(r[(1, 4)])) < 0.1 and abs(np.mean(r[(4, 1)])) < 0.1
    with pytest.raises(DataError, match="overlap"):
        subject_predictivity(data, ids[:80], ids[70:])
