"""Best layers chosen on training data: no optimism on fresh data, honest stability."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from brainalign.compare import best_layers, choose_rows, layer_selection_frequency
from brainalign.encoding import EncodingModel, inner_cv_r2, pearson_r, roi_bootstrap_r

N_LAYERS, N_VOXELS, N_TRAIN, N_TEST = 8, 400, 1500, 200


def _layers(rng, n, latent, gains):
    """Each layer sees the latent through its own noise (``gains``: signal per layer)."""
    return [g * latent + rng.standard_normal(latent.shape) for g in gains]


@pytest.fixture(scope="module")
def equal_layers():
    """Eight equally good layers; a test set and a fresh test set of the same size."""
    rng = np.random.default_rng(0)
    n = N_TRAIN + 2 * N_TEST
    latent = rng.standard_normal((n, 10))
    weights = rng.standard_normal((10, N_VOXELS)) / np.sqrt(10)
    y = latent @ weights + 3.0 * rng.standard_normal((n, N_VOXELS))
    layers = _layers(rng, n, latent, [1.0] * N_LAYERS)
    train, test, fresh = np.split(np.arange(n), [N_TRAIN, N_TRAIN + N_TEST])
    cv, r_test, r_fresh, preds = [], [], [], []
    for x in layers:
        est = EncodingModel(alphas=np.logspace(-1, 5, 13), cv=5).fit(x[train], y[train])
        cv.append(inner_cv_r2(est, y[train]))
        preds.append(est.predict(x[test]))
        r_test.append(pearson_r(y[test], preds[-1]))
        r_fresh.append(pearson_r(y[fresh], est.predict(x[fresh])))
    return {
        "cv": np.array(cv),
        "test": np.array(r_test),
        "fresh": np.array(r_fresh),
        "y_test": y[test],
        "preds": preds,
    }


def test_voxel_choice_on_inner_cv_is_not_optimistic_on_fresh_data(equal_layers):
    cv, test, fresh = equal_layers["cv"], equal_layers["test"], equal_layers["fresh"]
    voxels = np.arange(N_VOXELS)
    honest = cv.argmax(0)  # what the best-layer maps now choose on
    gap = test[honest, voxels].mean() - fresh[honest, voxels].mean()
    assert abs(gap) < 0.01
    on_test = test.argmax(0)  # the old choice: the maximum of the test scores
    optimism = test[on_test, voxels].mean() - fresh[on_test, voxels].mean()
    assert optimism > 0.03  # the simulation can tell the two apart


def test_inner_cv_r2_equals_scikit_learn_folds():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((240, 12)).astype(np.float32)
    y = x @ rng.standard_normal((12, 6)) + 2 * rng.standard_normal((240, 6)) + 5.0
    est = EncodingModel(alphas=np.logspace(-1, 4, 11), cv=4).fit(x, y)
    xs = (x - x.mean(0)) / x.std(0)
    mse = np.zeros(6)
    for tr, te in KFold(4).split(xs):
        for t in range(6):
            pred = Ridge(alpha=est.best_alphas_[t]).fit(xs[tr], y[tr, t]).predict(xs[te])
            mse[t] += ((y[te, t] - pred) ** 2).mean() / 4
    np.testing.assert_allclose(inner_cv_r2(est, y), 1 - mse / y.var(0), atol=2e-4)


def test_bootstrap_equals_correlations_on_resampled_rows():
    rng = np.random.default_rng(2)
    y, pred = rng.standard_normal((30, 5)), rng.standard_normal((30, 5))
    pred[:, 4] = 1.0  # a constant prediction: r counts 0, as in pearson_r
    masks = np.array([[1, 1, 0, 0, 1], [0, 0, 1, 1, 0]], bool)
    boot = roi_bootstrap_r(y, pred, masks, n_bootstraps=7, seed=3)
    counts = np.random.default_rng(3).multinomial(30, np.full(30, 1 / 30), size=7)
    for b in range(7):
        rows = np.repeat(np.arange(30), counts[b])
        r = [pearsonr(y[rows, t], pred[rows, t])[0] for t in range(4)] + [0.0]
        np.testing.assert_allclose(boot[:, b], [np.mean(np.array(r)[m]) for m in masks])


def _table(r_test, cv, boot, layers):
    rows, boots = [], []
    for i, layer in enumerate(layers):
        rows.append(
            {"subject": 1, "model": "m", "layer": layer, "roi": "A", "mean_r": r_test[i]}
            | {"mean_r_low": r_test[i] - 0.05, "mean_r_high": r_test[i] + 0.05}
            | {"mean_cv_r2": cv[i]}
        )
        boots.append(
            pd.DataFrame({"resample": np.arange(boot.shape[1]), "mean_r": boot[i]}).assign(
                subject=1, model="m", layer=layer, roi="A"
            )
        )
    return pd.DataFrame(rows), pd.concat(boots, ignore_index=True)


def test_selection_frequency_spreads_over_equal_layers_and_not_a_planted_one(equal_layers):
    layers = [f"layer{i}" for i in range(N_LAYERS)]
    mask = np.ones((1, N_VOXELS), bool)
    boot = np.concatenate(
        [
            roi_bootstrap_r(equal_layers["y_test"], p, mask, 200, seed=0)
            for p in equal_layers["preds"]
        ]
    )
    roi, table = _table(equal_layers["test"].mean(1), equal_layers["cv"].mean(1), boot, layers)
    best = best_layers(roi, bootstrap=table)
    assert best.loc[0, "selected_on"] == "inner CV (train)"
    assert best.loc[0, "best_layer"] == layers[int(np.argmax(equal_layers["cv"].mean(1)))]
    freq = layer_selection_frequency(table)
    assert np.isclose(freq["frequency"].sum(), 1.0)
    assert freq["frequency"].max() < 0.6  # equal layers: no layer wins most resamples
    planted = boot.copy()
    planted[3] += 0.05  # layer3 better than the others by more than the noise
    roi, table = _table(planted.mean(1), np.eye(N_LAYERS)[3], planted, layers)
    best = best_layers(roi, bootstrap=table)
    assert best.loc[0, "best_layer"] == "layer3"
    assert best.loc[0, "selection_frequency"] > 0.95


def test_choice_falls_back_to_the_test_score_and_says_so():
    roi = pd.DataFrame(
        {
            "subject": 1,
            "model": ["m", "m", "n"],
            "layer": ["a", "b", "a"],
            "roi": "V1",
            "mean_r": [0.2, 0.3, 0.25],
        }
    )
    best = best_layers(roi)
    assert best["selected_on"].eq("test (optimistic)").all()
    assert best.set_index("model").loc["m", "best_layer"] == "b"
    assert best.set_index("model")["best_model"].to_dict() == {"m": True, "n": False}
    # with inner-CV scores the choice follows them, not the test score
    chosen = choose_rows(roi.assign(mean_cv_r2=[0.1, 0.05, 0.0]), ["model", "roi"])
    assert chosen.set_index("model").loc["m", "layer"] == "a"
