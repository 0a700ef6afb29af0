"""Banded ridge: several feature spaces, one penalty per space and target."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from brainalign.encoding._model import _check_alphas, himalaya_backend
from brainalign.exceptions import ParameterError


class BandedEncodingModel(RegressorMixin, BaseEstimator):
    """Encoding model over several feature spaces (banded ridge, himalaya).

    Each space gets its own penalty per target (himalaya ``BandedRidgeCV``, random
    search over the simplex of space weights), and the explained variance can be
    split between spaces (:meth:`score_split`, himalaya ``r2_score_split``), e.g. a
    vision layer vs a caption-language layer.

    Parameters
    ----------
    spaces : sequence of int
        Number of columns of each feature space in ``X`` (in order).
    alphas : sequence of float, optional
        Positive global penalties searched with every space weighting.
    n_iter : int
        Random-search iterations over the space weights.
    cv : int or splitter
        Folds for hyperparameter selection.
    backend : {"numpy", "torch", "torch_cuda"}
        himalaya backend during ``fit``.
    random_state : int
        Seed of the random search.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features, n_targets)
        Weights on the standardised features.
    deltas_ : ndarray of shape (n_spaces, n_targets)
        Log weights of the spaces per target.
    best_alphas_ : ndarray of shape (n_targets,)
        Chosen global penalties.
    cv_scores_ : ndarray of shape (n_targets,)
        Cross-validated score of the chosen penalties (negative mean squared error,
        averaged over folds; the best of the random search's iterations).
    """

    def __init__(self, spaces, alphas=None, n_iter=20, cv=5, backend="numpy", random_state=0):
        self.spaces = spaces
        self.alphas = alphas
        self.n_iter = n_iter
        self.cv = cv
        self.backend = backend
        self.random_state = random_state

    def _blocks(self, X):
        """Split the columns of ``X`` into the feature spaces."""
        bounds = np.cumsum([0] + list(self.spaces_))
        return [X[:, a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def fit(self, X, y):
        """Fit on the concatenated feature spaces ``X`` and responses ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, sum(spaces))
            Feature spaces side by side.
        y : array-like of shape (n_samples, n_targets)
            Responses.

        Returns
        -------
        self
            The fitted model.
        """
        from himalaya.ridge import BandedRidgeCV
        from sklearn.utils.validation import validate_data

        X, y = validate_data(self, X, y, multi_output=True, dtype=[np.float32, np.float64])
        self.spaces_ = [int(s) for s in self.spaces]
        if any(s < 1 for s in self.spaces_) or sum(self.spaces_) != X.shape[1]:
            raise ParameterError(
                f"Invalid value for 'spaces': sizes {self.spaces_} must be >= 1 and add up "
                f"to the {X.shape[1]} feature columns."
            )
        X = X.astype(np.float32, copy=False)
        Y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        self.mean_ = X.mean(0)
        sd = X.std(0)
        self.scale_ = np.where(sd > 0, sd, 1.0).astype(np.float32)
        self.intercept_ = Y.mean(0)
        Xs = (X - self.mean_) / self.scale_
        params = {
            "n_iter": int(self.n_iter),
            "alphas": _check_alphas(self.alphas),
            "progress_bar": False,
        }
        with himalaya_backend(self.backend) as backend:
            model = BandedRidgeCV(
                groups="input",
                solver_params=params,
                cv=self.cv,
                random_state=self.random_state,
                fit_intercept=False,
            )
            model.fit(self._blocks(Xs), Y - self.intercept_)
            self.coef_ = np.asarray(backend.to_numpy(model.coef_), dtype=np.float32)
            self.deltas_ = np.asarray(backend.to_numpy(model.deltas_), dtype=np.float64)
            self.best_alphas_ = np.asarray(backend.to_numpy(model.best_alphas_), dtype=np.float64)
            scores = np.asarray(backend.to_numpy(model.cv_scores_), dtype=np.float64)
            self.cv_scores_ = scores.reshape(-1, Y.shape[1]).max(0)  # the chosen iteration's
        return self

    def predict(self, X, split: bool = False):
        """Predict responses, optionally split by feature space.

        Parameters
        ----------
        X : array-like of shape (n_samples, sum(spaces))
            Feature spaces side by side.
        split : bool
            Return one prediction per space (their sum, plus the intercept, is the
            full prediction).

        Returns
        -------
        ndarray of shape (n_samples, n_targets) or (n_spaces, n_samples, n_targets)
            Predictions.
        """
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        Xs = (X.astype(np.float32, copy=False) - self.mean_) / self.scale_
        parts = np.stack(
            [x @ w.T for x, w in zip(self._blocks(Xs), self._blocks(self.coef_.T), strict=True)]
        )
        if split:
            return parts
        return (parts.sum(0) + self.intercept_).astype(X.dtype, copy=False)

    def score_split(self, X, y) -> np.ndarray:
        """Split the held-out R² of each target between the feature spaces.

        Parameters
        ----------
        X : array-like of shape (n_samples, sum(spaces))
            Held-out features.
        y : array-like of shape (n_samples, n_targets)
            Held-out responses.

        Returns
        -------
        ndarray of shape (n_spaces, n_targets)
            Variance explained by each space; per target the parts sum to the R² of
            the prediction centred on the test mean.
        """
        from himalaya.scoring import r2_score_split

        Y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        parts = self.predict(X, split=True)
        # himalaya splits R² of zero-mean data: both sides are centred on the test
        # set, so the parts sum to the R² of the prediction with the test mean.
        centred = parts - parts.mean(axis=1, keepdims=True)
        with himalaya_backend("numpy"):  # numpy in, numpy out, whatever is active
            return np.asarray(r2_score_split(Y - Y.mean(0), centred))
