"""AttentionEncoder: one learned query per ROI cross-attends over a model's patch tokens.

The transformer brain encoder of Adeli, Sun & Kriegeskorte (NeurIPS 2025) reads each
ROI from the frozen patch tokens of a vision model through a learned query; where
the query attends says where in the image the ROI looks. This estimator keeps the
decoder to what that needs (token projection with positions, one cross-attention,
per-ROI linear heads to that ROI's targets only), trains it with AdamW and early
stopping on a validation split of the training stimuli, and then refits each ROI's
head by the package's cross-validated ridge on the ROI's attended token (with
uniform attention: a ridge on a learned projection of the mean-pooled tokens).
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from brainalign._utils import check_positive_int
from brainalign.exceptions import DataError, ParameterError

#: The targets of no labelled ROI form one group of this name.
UNLABELLED = "unlabelled"
#: Fitted array attributes saved by :meth:`AttentionEncoder.to_arrays`.
_FITTED = (
    "group_index_",
    "token_mean_",
    "token_scale_",
    "y_mean_",
    "y_scale_",
    "head_mean_",
    "head_scale_",
    "coef_",
    "intercept_",
    "best_alphas_",
    "cv_scores_",
)


class AttentionEncoder(RegressorMixin, BaseEstimator):
    """Encoding model with one query per ROI attending over patch tokens.

    Tokens are standardised per channel (training statistics over stimuli and
    positions), projected to ``d_model`` and given a learned position embedding.
    Each target group (ROI) has a learned query; one multi-head cross-attention
    turns it into the group's attended token, and a linear head maps that token to
    the group's targets only. Training minimises the mean squared error of the
    standardised targets with AdamW, keeps the epoch with the lowest error on a
    validation split of the training stimuli and stops after ``patience`` epochs
    without improvement. With ``refit_heads`` (default) each group's head is then
    refitted on all training stimuli by :class:`EncodingModel` (one ridge penalty
    per target chosen by K-fold cross-validation). With uniform attention the
    encoder is a ridge on a learned ``d_model``-dimensional projection of the
    mean-pooled tokens.

    Parameters
    ----------
    groups : array-like of shape (n_targets,), optional
        ROI (group) of each target; one query per distinct value. None: one group.
    grid : tuple of (int, int), optional
        Token grid ``(rows, columns)`` for :meth:`attention_maps` (default: square,
        or one row when the token count is not a square).
    d_model : int
        Width of the attended tokens.
    n_heads : int
        Attention heads (must divide ``d_model``).
    lr : float
        AdamW learning rate (3e-3 breaks the symmetry of the initially uniform
        attention in about half the epochs 1e-3 needs, on 16 x 16 tokens).
    weight_decay : float
        AdamW weight decay.
    max_epochs : int
        Upper bound on training epochs.
    patience : int
        Epochs without a lower validation error before stopping.
    batch_size : int
        Stimuli per optimisation step.
    validation : float
        Share of the training stimuli held out for early stopping (0 < v < 1).
    refit_heads : bool
        Refit each group's head by cross-validated ridge after training.
    alphas : sequence of float, optional
        Ridge penalties of the head refit (default: :data:`DEFAULT_ALPHAS`).
    cv : int
        Folds of the head refit.
    device : str
        Torch device (``"auto"``: CUDA when available).
    random_state : int
        Seed of the initialisation, the validation split and the batch order.
    progress : bool
        Show a progress bar over epochs.

    Attributes
    ----------
    groups_ : ndarray of shape (n_groups,)
        Group names (sorted), in query order.
    group_index_ : ndarray of shape (n_targets,)
        Query of each target.
    grid_ : tuple of (int, int)
        Token grid.
    coef_ : ndarray of shape (d_model, n_targets)
        Head weights on the standardised attended token of each target's group.
    intercept_ : ndarray of shape (n_targets,)
        Head intercepts.
    best_alphas_ : ndarray of shape (n_targets,)
        Ridge penalty of each head (NaN without ``refit_heads``).
    cv_scores_ : ndarray of shape (n_targets,)
        Negative mean squared error on the validation split (stimuli the network
        never trained on): of heads refit by ridge on the other training stimuli, or
        of the trained heads without ``refit_heads``. :func:`inner_cv_r2` turns it
        into an R² comparable in meaning with the ridge's inner CV (one split, not K
        folds).
    history_ : list of dict
        ``epoch, train_loss, val_loss`` of every epoch.
    best_epoch_ : int
        Epoch whose weights are kept.
    """

    def __init__(
        self,
        groups=None,
        grid=None,
        d_model=64,
        n_heads=4,
        lr=3e-3,
        weight_decay=1e-2,
        max_epochs=100,
        patience=10,
        batch_size=64,
        validation=0.15,
        refit_heads=True,
        alphas=None,
        cv=5,
        device="auto",
        random_state=0,
        progress=False,
    ):
        self.groups = groups
        self.grid = grid
        self.d_model = d_model
        self.n_heads = n_heads
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.validation = validation
        self.refit_heads = refit_heads
        self.alphas = alphas
        self.cv = cv
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # -- fitting -------------------------------------------------------------------
    def fit(self, X, y):
        """Train on token features ``X`` and responses ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_tokens, n_channels)
            Token features (finite), e.g. :meth:`FeatureSet.tokens`.
        y : array-like of shape (n_samples, n_targets)
            Responses (finite).

        Returns
        -------
        self
            The fitted encoder.
        """
        import torch

        from brainalign.features import resolve_device

        X = _check_tokens(X)
        Y = _check_responses(y, len(X))
        self._check_params(X, Y)
        self.n_features_in_ = X.shape[1] * X.shape[2]
        self.grid_ = _grid(self.grid, X.shape[1])
        self.groups_, self.group_index_ = _groups(self.groups, Y.shape[1])
        self.device_ = resolve_device(self.device)
        self.token_mean_, scale = _channel_stats(X)
        self.token_scale_ = np.where(scale > 0, scale, 1.0).astype(np.float32)
        self.y_mean_ = Y.mean(0, dtype=np.float64).astype(np.float32)
        y_scale = Y.std(0, dtype=np.float64)
        self.y_scale_ = np.where(y_scale > 0, y_scale, 1.0).astype(np.float32)
        Ys = (Y - self.y_mean_) / self.y_scale_
        rng = np.random.default_rng(self.random_state)
        order = rng.permutation(len(X))
        n_val = int(round(self.validation * len(X)))
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        torch.manual_seed(self.random_state)
        net = _network(X.shape[1], X.shape[2], len(self.groups_), self.group_index_, self)
        net.to(self.device_)
        best = self._train(net, X, Ys, train, val, rng)
        net.load_state_dict(best)
        self.network_ = net.eval()
        self._fit_heads(X, Y, Ys, train, val)
        return self

    def _check_params(self, X, Y) -> None:
        for name in ("d_model", "n_heads", "max_epochs", "patience", "batch_size", "cv"):
            check_positive_int(name, getattr(self, name))
        if self.d_model % self.n_heads:
            raise ParameterError(
                f"Invalid value for 'n_heads': expected a divisor of d_model={self.d_model}; "
                f"got {self.n_heads}."
            )
        n_val = round(self.validation * len(X)) if 0 < self.validation < 1 else 0
        if n_val < 2 or len(X) - n_val < max(2 * self.cv, 2):
            raise ParameterError(
                "Invalid value for 'validation': expected a share in (0, 1) that holds out at "
                f"least 2 of the {len(X)} training stimuli and leaves at least "
                f"{max(2 * self.cv, 2)} (2 x cv) to train on; got {self.validation!r}."
            )
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0 or (name == "lr" and value == 0):
                raise ParameterError(
                    f"Invalid value for {name!r}: expected a finite positive number; got {value!r}."
                )

    def _train(self, net, X, Ys, train, val, rng) -> dict:
        """Optimise with early stopping; return the state of the best epoch."""
        import torch
        from tqdm.auto import tqdm

        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best, best_loss, waited = None, np.inf, 0
        self.history_ = []
        bar = tqdm(range(self.max_epochs), desc="attention encoder", unit="epoch",
                   disable=not self.progress, leave=False)  # fmt: skip
        for epoch in bar:
            net.train()
            losses = []
            for rows in _batches(rng.permutation(train), self.batch_size):
                xb, yb = self._tensors(X, Ys, rows)
                loss = torch.mean((net(xb)[0] - yb) ** 2)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()) * len(rows))
            val_loss = float(self._val_error(net, X, Ys, val).mean())
            self.history_.append(
                {"epoch": epoch, "train_loss": sum(losses) / len(train), "val_loss": val_loss}
            )
            bar.set_postfix(val=f"{val_loss:.4f}")
            if val_loss < best_loss - 1e-6:
                best, best_loss, waited = copy.deepcopy(net.state_dict()), val_loss, 0
                self.best_epoch_ = epoch
            else:
                waited += 1
                if waited >= self.patience:
                    break
        bar.close()
        if best is None:
            raise DataError(
                "The attention encoder's validation error was not finite after the first "
                f"epoch (learning rate {self.lr!r}); lower 'lr' or check the responses' scale."
            )
        return best

    def _tensors(self, X, Ys, rows):
        import torch

        xb = (np.asarray(X[rows], dtype=np.float32) - self.token_mean_) / self.token_scale_
        xb = torch.from_numpy(xb).to(self.device_)
        yb = None if Ys is None else torch.from_numpy(Ys[rows].astype(np.float32))
        return xb, None if yb is None else yb.to(self.device_)

    def _val_error(self, net, X, Ys, val) -> np.ndarray:
        """Mean squared error of each standardised target on the validation stimuli."""
        pred = self._forward(net, X, val, keep="pred")
        return ((pred - Ys[val]) ** 2).mean(0)

    def _forward(self, net, X, rows, keep: str) -> np.ndarray:
        """Run the network in batches; keep ``pred``, ``token`` or ``attention``."""
        import torch

        net.eval()
        out = []
        with torch.no_grad():
            for part in _batches(rows, max(self.batch_size, 256)):
                pred, token, attn = net(self._tensors(X, None, part)[0])
                out.append({"pred": pred, "token": token, "attention": attn}[keep].cpu().numpy())
        return np.concatenate(out)

    def _fit_heads(self, X, Y, Ys, train, val) -> None:
        """Set ``coef_`` etc.: ridge refit per group, or the trained heads.

        ``cv_scores_`` is the error on the validation split, which the network never
        trained on: of heads refit on the other training stimuli (then refit on all of
        them for ``coef_``), or of the trained heads.
        """
        from brainalign.encoding._model import EncodingModel

        n_groups, d = len(self.groups_), self.d_model
        self.head_mean_ = np.zeros((n_groups, d), np.float32)
        self.head_scale_ = np.ones((n_groups, d), np.float32)
        if not self.refit_heads:
            coef, bias = self.network_.head_weights()
            self.coef_ = (coef * self.y_scale_).astype(np.float32)
            self.intercept_ = (bias * self.y_scale_ + self.y_mean_).astype(np.float32)
            self.best_alphas_ = np.full(Y.shape[1], np.nan)
            self.cv_scores_ = -self._val_error(self.network_, X, Ys, val) * self.y_scale_**2
            return
        tokens = self.attended_tokens(X)
        self.coef_ = np.zeros((d, Y.shape[1]), np.float32)
        self.intercept_ = np.zeros(Y.shape[1], np.float32)
        self.best_alphas_ = np.zeros(Y.shape[1])
        self.cv_scores_ = np.zeros(Y.shape[1])
        for g in range(n_groups):
            cols = np.flatnonzero(self.group_index_ == g)
            held = EncodingModel(alphas=self.alphas, cv=self.cv)
            held.fit(tokens[train, g], Y[np.ix_(train, cols)])
            err = (held.predict(tokens[val, g]) - Y[np.ix_(val, cols)]) ** 2
            self.cv_scores_[cols] = -err.mean(0)
            head = EncodingModel(alphas=self.alphas, cv=self.cv).fit(tokens[:, g], Y[:, cols])
            self.head_mean_[g], self.head_scale_[g] = head.mean_, head.scale_
            self.coef_[:, cols], self.intercept_[cols] = head.coef_, head.intercept_
            self.best_alphas_[cols] = head.best_alphas_

    # -- reading out ---------------------------------------------------------------
    def attended_tokens(self, X) -> np.ndarray:
        """Return each group's attended token per stimulus.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_tokens, n_channels)
            Token features.

        Returns
        -------
        ndarray of shape (n_samples, n_groups, d_model)
            The cross-attention output of every query.
        """
        X = self._check_X(X)
        return self._forward(self.network_, X, np.arange(len(X)), keep="token")

    def attention_maps(self, X) -> np.ndarray:
        """Return where each group's query attends, per stimulus, on the token grid.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_tokens, n_channels)
            Token features.

        Returns
        -------
        ndarray of shape (n_samples, n_groups, rows, columns)
            Attention weights (averaged over heads; each map sums to 1).
        """
        X = self._check_X(X)
        maps = self._forward(self.network_, X, np.arange(len(X)), keep="attention")
        return maps.reshape(len(X), len(self.groups_), *self.grid_)

    def predict(self, X):
        """Predict responses of new stimuli.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_tokens, n_channels)
            Token features.

        Returns
        -------
        ndarray of shape (n_samples, n_targets), float32
            Predictions.
        """
        tokens = self.attended_tokens(X)
        tokens = (tokens - self.head_mean_) / self.head_scale_
        pred = np.empty((len(tokens), self.coef_.shape[1]), np.float32)
        for g in range(len(self.groups_)):
            cols = np.flatnonzero(self.group_index_ == g)
            pred[:, cols] = tokens[:, g] @ self.coef_[:, cols] + self.intercept_[cols]
        return pred

    # -- saving --------------------------------------------------------------------
    def to_arrays(self) -> dict:
        """Return the fitted encoder as plain arrays (for ``np.savez``, no pickle).

        Returns
        -------
        dict of str -> ndarray
            ``encoder`` ("attention"), ``params`` (JSON), the network's tensors
            (``net.<name>``) and the fitted attributes.
        """
        import json

        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "network_")
        params = {k: v for k, v in self.get_params().items() if k not in ("groups", "alphas")}
        params["grid"] = list(self.grid_)
        if self.alphas is not None:
            params["alphas"] = [float(a) for a in np.ravel(self.alphas)]
        arrays = {
            "encoder": np.asarray("attention"),
            "params": np.asarray(json.dumps(params)),
            "n_tokens": np.asarray(self.n_features_in_ // len(self.token_mean_)),
            "groups": self.groups_.astype(str),
        }
        for name in _FITTED:
            arrays[name] = np.asarray(getattr(self, name))
        for key, value in self.network_.state_dict().items():
            arrays[f"net.{key}"] = value.detach().cpu().numpy()
        return arrays

    @classmethod
    def from_arrays(cls, arrays, device="cpu") -> AttentionEncoder:
        """Rebuild a fitted encoder from :meth:`to_arrays` (e.g. an opened ``.npz``).

        Parameters
        ----------
        arrays : mapping of str -> ndarray
            The arrays.
        device : str
            Torch device of the network.

        Returns
        -------
        AttentionEncoder
            The fitted encoder.
        """
        import json

        import torch

        if "encoder" not in arrays or str(arrays["encoder"]) != "attention":
            raise DataError("These arrays do not hold an attention encoder (no 'encoder' key).")
        params = json.loads(str(arrays["params"]))
        est = cls(**{**params, "device": device})
        for name in _FITTED:
            setattr(est, name, np.asarray(arrays[name]))
        est.groups_ = np.asarray(arrays["groups"]).astype(str)
        est.grid_ = tuple(int(v) for v in params["grid"])
        est.n_features_in_ = int(arrays["n_tokens"]) * len(est.token_mean_)
        from brainalign.features import resolve_device

        est.device_ = resolve_device(device)
        net = _network(
            int(arrays["n_tokens"]), len(est.token_mean_), len(est.groups_), est.group_index_, est
        )
        state = {k[4:]: torch.from_numpy(np.asarray(arrays[k])) for k in arrays if k[:4] == "net."}
        net.load_state_dict(state)
        est.network_ = net.to(est.device_).eval()
        return est

    def _check_X(self, X) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "network_")
        X = _check_tokens(X)
        if X.shape[1] * X.shape[2] != self.n_features_in_ or X.shape[2] != len(self.token_mean_):
            raise DataError(
                f"X has tokens of shape {X.shape[1:]}; the encoder was fitted on "
                f"({self.n_features_in_ // len(self.token_mean_)}, {len(self.token_mean_)})."
            )
        return X


def _network(n_tokens, n_channels, n_groups, group_index, params):
    """Build the torch module: token projection, positions, queries, attention, heads."""
    import torch
    from torch import nn

    order = np.argsort(group_index, kind="stable")
    sizes = np.bincount(group_index, minlength=n_groups).tolist()

    class _Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            d = params.d_model
            self.proj = nn.Linear(n_channels, d)
            self.position = nn.Parameter(torch.randn(n_tokens, d))
            self.queries = nn.Parameter(0.02 * torch.randn(n_groups, d))
            self.attention = nn.MultiheadAttention(d, params.n_heads, batch_first=True)
            self.head = nn.Parameter(torch.randn(d, len(group_index)) / d**0.5)
            self.bias = nn.Parameter(torch.zeros(len(group_index)))
            self.register_buffer("order", torch.as_tensor(order))
            self.register_buffer("inverse", torch.as_tensor(np.argsort(order)))

        def forward(self, x):
            keys = self.proj(x) + self.position
            q = self.queries.expand(x.shape[0], -1, -1)
            token, attn = self.attention(q, keys, keys, need_weights=True)
            heads = self.head[:, self.order].split(sizes, dim=1)
            pred = torch.cat([token[:, g] @ w for g, w in enumerate(heads)], dim=1)
            return pred[:, self.inverse] + self.bias, token, attn

        def head_weights(self):
            return self.head.detach().cpu().numpy(), self.bias.detach().cpu().numpy()

    return _Decoder()


def _batches(rows, size):
    return [rows[i : i + size] for i in range(0, len(rows), size)]


#: Stimuli per chunk when token features are checked and summarised (bounds the memory).
_CHUNK = 512


def _check_tokens(X) -> np.ndarray:
    """Return ``X`` as float32 tokens, checked chunk by chunk (float32 input is not copied)."""
    X = np.asanyarray(X)
    if X.ndim != 3 or min(X.shape) < 1:
        raise DataError(
            "Invalid shape for 'X': expected token features (n_samples, n_tokens, "
            f"n_channels), e.g. pooling='tokens'; got {X.shape}."
        )
    finite = np.issubdtype(X.dtype, np.number) and all(
        np.isfinite(X[i : i + _CHUNK]).all() for i in range(0, len(X), _CHUNK)
    )
    if not finite:
        raise DataError("Invalid value for 'X': token features must be finite numbers.")
    return X if X.dtype == np.float32 else X.astype(np.float32)


def _channel_stats(X) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD of each channel over stimuli and tokens, in float64, chunk by chunk."""
    total = np.zeros(X.shape[2])
    squares = np.zeros(X.shape[2])
    for i in range(0, len(X), _CHUNK):
        part = np.asarray(X[i : i + _CHUNK], dtype=np.float64)
        total += part.sum((0, 1))
        squares += np.square(part).sum((0, 1))
    count = X.shape[0] * X.shape[1]
    mean = total / count
    sd = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean.astype(np.float32), sd.astype(np.float32)


def _check_responses(y, n: int) -> np.ndarray:
    Y = np.asarray(y, dtype=np.float32)
    Y = Y.reshape(len(Y), -1) if Y.ndim == 1 else Y
    if Y.ndim != 2 or len(Y) != n:
        raise DataError(
            f"Invalid shape for 'y': expected ({n}, n_targets), one row per stimulus of X; "
            f"got {np.shape(y)}."
        )
    if not np.isfinite(Y).all():
        raise DataError("Invalid value for 'y': responses must be finite (no NaN or inf).")
    return Y


def _grid(grid, n_tokens: int) -> tuple[int, int]:
    if grid is None:
        side = int(round(n_tokens**0.5))
        return (side, side) if side * side == n_tokens else (1, n_tokens)
    rows, cols = (int(v) for v in grid)
    if rows * cols != n_tokens:
        raise ParameterError(
            f"Invalid value for 'grid': expected rows x columns = {n_tokens} tokens; "
            f"got {tuple(grid)}."
        )
    return rows, cols


def _groups(groups, n_targets: int):
    """Group names (sorted) and each target's group index."""
    if groups is None:
        return np.array(["all"]), np.zeros(n_targets, dtype=np.int64)
    labels = np.asarray(groups).astype(str)
    if labels.shape != (n_targets,):
        raise ParameterError(
            f"Invalid value for 'groups': expected one label per target ({n_targets}); "
            f"got shape {labels.shape}."
        )
    names, index = np.unique(labels, return_inverse=True)
    return names, index.astype(np.int64)
