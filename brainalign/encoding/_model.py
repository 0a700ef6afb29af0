"""EncodingModel: features -> every target, ridge with per-target alphas over himalaya."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from brainalign._utils import check_option
from brainalign.exceptions import ParameterError

#: Default ridge penalty grid (log-spaced; one alpha is chosen per target).
DEFAULT_ALPHAS = tuple(np.logspace(-2, 8, 21))
#: Solver names. ``eigh`` (the default through ``auto``) is brainalign's exact K-fold
#: engine (primal or dual form by shape); ``ridge`` and ``kernel`` call himalaya's
#: ``RidgeCV`` and ``KernelRidgeCV``.
SOLVERS = ("auto", "eigh", "ridge", "kernel")
BACKENDS = ("numpy", "torch", "torch_cuda")


@contextlib.contextmanager
def himalaya_backend(name: str):
    """Use a himalaya backend inside the block and restore the previous one after.

    Parameters
    ----------
    name : {"numpy", "torch", "torch_cuda"}
        Backend.

    Yields
    ------
    module
        The backend module.
    """
    from himalaya.backend import get_backend, set_backend

    check_option("backend", name, BACKENDS)
    previous = get_backend().name
    try:
        yield set_backend(name, on_error="raise")
    finally:
        set_backend(previous)


class EncodingModel(RegressorMixin, BaseEstimator):
    """Voxelwise encoding model: standardised features -> every target by ridge.

    A scikit-learn estimator: one alpha per target chosen by K-fold cross-validation
    on the training data, then a refit on all of it. The default solver (``eigh``)
    makes himalaya's ``RidgeCV`` selection (same folds, same scores, same alphas)
    from one eigendecomposition per fold and p x p products, an order of magnitude
    fewer operations; himalaya's ``RidgeCV`` / ``KernelRidgeCV`` remain available by
    name. Feature standardisation is fitted on the training data only.

    Parameters
    ----------
    alphas : sequence of float, optional
        Positive ridge penalties (default: 21 values from 1e-2 to 1e8).
    cv : int, cross-validation splitter or iterable of (train, test) indices
        Folds for alpha selection, e.g. ``GroupKFold`` with ``fit(..., groups=session)``
        so repeats of an image never straddle folds.
    solver : {"auto", "eigh", "ridge", "kernel"}
        ``auto``/``eigh``: brainalign's engine (dual form when features outnumber
        samples); ``ridge``/``kernel``: himalaya's ``RidgeCV``/``KernelRidgeCV``.
    standardize : bool
        Z-score features with statistics of the training data.
    fit_intercept : bool
        Fit an intercept per target.
    backend : {"numpy", "torch", "torch_cuda"}
        himalaya backend used during ``fit`` (restored afterwards).
    n_targets_batch : int, optional
        Targets solved at once (bounds memory).
    alpha_per_target : bool
        One alpha per target (default), or one alpha for all targets (the best
        cross-validated score averaged over targets).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features, n_targets)
        Weights on the standardised features (himalaya's orientation).
    intercept_ : ndarray of shape (n_targets,)
        Intercepts.
    best_alphas_ : ndarray of shape (n_targets,)
        Chosen alpha per target.
    cv_scores_ : ndarray of shape (n_targets,)
        Cross-validated score of the chosen alpha (himalaya's: negative mean squared
        error, averaged over folds).
    solver_ : str
        ``"eigh"``, ``"ridge"`` or ``"kernel"``.
    """

    def __init__(
        self,
        alphas=None,
        cv=5,
        solver="auto",
        standardize=True,
        fit_intercept=True,
        backend="numpy",
        n_targets_batch=None,
        alpha_per_target=True,
    ):
        self.alphas = alphas
        self.cv = cv
        self.solver = solver
        self.standardize = standardize
        self.fit_intercept = fit_intercept
        self.backend = backend
        self.n_targets_batch = n_targets_batch
        self.alpha_per_target = alpha_per_target

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # one model serves every target
        return tags

    def fit(self, X, y, groups=None):
        """Fit on training features ``X`` and responses ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features (finite).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Responses.
        groups : array-like of shape (n_samples,), optional
            Group labels for a group splitter in ``cv`` (e.g. session of each row).

        Returns
        -------
        self
            The fitted model.
        """
        from sklearn.utils.validation import validate_data

        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=[np.float32, np.float64]
        )
        X = X.astype(np.float32, copy=False)
        self._y_1d = y.ndim == 1
        Y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        alphas = _check_alphas(self.alphas)
        check_option("solver", self.solver, SOLVERS)
        self.mean_ = X.mean(0) if self.standardize else np.zeros(X.shape[1], np.float32)
        scale = X.std(0) if self.standardize else np.ones(X.shape[1], np.float32)
        self.scale_ = np.where(scale > 0, scale, 1.0).astype(np.float32)
        Xs = (X - self.mean_) / self.scale_
        n, p = Xs.shape
        self.solver_ = "eigh" if self.solver == "auto" else self.solver
        cv = self.cv
        if hasattr(cv, "split"):  # a splitter: resolve the folds here (with groups)
            cv = list(cv.split(Xs, Y, groups))
        if self.solver_ == "eigh":
            return self._fit_eigh(Xs, Y, alphas, cv)
        with himalaya_backend(self.backend) as backend, warnings.catch_warnings():
            # the solver was chosen above (or named by the user): no advice needed
            warnings.filterwarnings("ignore", message="Solving (kernel )?ridge is slower")
            model = self._himalaya(alphas, cv).fit(Xs, Y)
            coef = model.coef_ if self.solver_ == "ridge" else model.get_primal_coef()
            to_np = backend.to_numpy
            self.coef_ = np.asarray(to_np(coef), dtype=np.float32)
            self.best_alphas_ = np.asarray(to_np(model.best_alphas_), dtype=np.float64)
            self.cv_scores_ = np.asarray(to_np(model.cv_scores_), dtype=np.float64).ravel()
            intercept = getattr(model, "intercept_", None)
            self.intercept_ = (
                np.zeros(Y.shape[1], np.float32)
                if intercept is None
                else np.asarray(to_np(intercept), dtype=np.float32).ravel()
            )
        return self

    def _fit_eigh(self, Xs, Y, alphas, cv):
        from sklearn.model_selection import KFold

        from brainalign.encoding._ridge_cv import ridge_cv_eigh

        folds = list(KFold(cv).split(Xs)) if isinstance(cv, int) else list(cv)
        check_option("backend", self.backend, BACKENDS)
        out = ridge_cv_eigh(
            Xs,
            Y,
            alphas,
            folds,
            fit_intercept=self.fit_intercept,
            n_targets_batch=self.n_targets_batch,
            backend=self.backend,
            alpha_per_target=bool(self.alpha_per_target),
        )
        self.coef_, self.intercept_ = out["coef"], out["intercept"]
        self.best_alphas_, self.cv_scores_ = out["best_alphas"], out["cv_scores"]
        return self

    def _himalaya(self, alphas, cv):
        from himalaya.kernel_ridge import KernelRidgeCV
        from himalaya.ridge import RidgeCV

        params = {"local_alpha": bool(self.alpha_per_target)}
        if self.n_targets_batch is not None:
            params["n_targets_batch"] = self.n_targets_batch
        if self.solver_ == "ridge":
            return RidgeCV(
                alphas=alphas, cv=cv, fit_intercept=self.fit_intercept, solver_params=params
            )
        return KernelRidgeCV(
            alphas=alphas,
            kernel="linear",
            cv=cv,
            fit_intercept=self.fit_intercept,
            solver_params=params,
            warn=False,
        )

    def predict(self, X):
        """Predict responses of new stimuli.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        ndarray of shape (n_samples, n_targets) or (n_samples,)
            Predictions (1-D when fitted on a 1-D ``y``), computed in float32 and
            returned in the dtype of ``X``.
        """
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        Xs = (X.astype(np.float32, copy=False) - self.mean_) / self.scale_
        pred = (Xs @ self.coef_ + self.intercept_).astype(X.dtype, copy=False)  # keeps X's dtype
        return pred.ravel() if self._y_1d else pred


def _check_alphas(alphas) -> np.ndarray:
    alphas = np.asarray(DEFAULT_ALPHAS if alphas is None else alphas, dtype=np.float64).ravel()
    if alphas.size == 0 or not np.all(np.isfinite(alphas)) or (alphas <= 0).any():
        raise ParameterError(
            f"Invalid value for 'alphas': expected positive finite penalties; got "
            f"{alphas.tolist()[:8]}."
        )
    return alphas
