"""Exact K-fold ridge with one alpha per target, re-associated to p x p products.

himalaya's ``RidgeCV`` forms ``X_test M_alpha Y_train`` for every fold and alpha:
cost ~ n_test n_train n_targets per alpha and fold. The same selection only needs,
per fold, the eigendecomposition ``G = V diag(s) V^T`` of the training Gram matrix
and p x p products:

    z_a = (s + a)^-1 * V^T X_tr^T y_tr          (the weights, in the eigenbasis)
    SSE_a = |y_te|^2 - 2 c^T z_a + |X_te V z_a|^2,  c = (X_te V)^T y_te

with ``|X_te V z|^2 = z^T H z`` (``H = (X_te V)^T (X_te V)``, p x p) when p is smaller
than the test fold, else from the test predictions (n_test x p per alpha).

The dual form (p > n) is the same with the fold kernel ``X_tr X_tr^T`` in place of
``G`` and ``K_te,tr V`` in place of ``X_te V``. Scores are himalaya's: negative mean
squared error per fold, averaged over folds, a ``1e-10 log(alpha)`` slope breaking
ties toward larger alphas, one alpha per target.
"""

from __future__ import annotations

import numpy as np

from brainalign.exceptions import ParameterError


class _Ops:
    """The few array operations the solver needs, for numpy or torch."""

    def __init__(self, backend: str):
        self.torch = backend.startswith("torch")
        if self.torch:
            import torch

            self.lib = torch
            self.device = "cuda" if backend == "torch_cuda" else "cpu"
            self.f32, self.f64 = torch.float32, torch.float64
        else:
            self.lib = np
            self.f32, self.f64 = np.float32, np.float64

    def asarray(self, a, dtype):
        if self.torch:
            return self.lib.as_tensor(
                np.asarray(a) if not self.lib.is_tensor(a) else a, device=self.device
            ).to(dtype)
        return np.asarray(a, dtype=dtype)

    def eigh(self, g):
        s, v = self.lib.linalg.eigh(g)
        return self.lib.clip(s, 0, None) if not self.torch else s.clamp(min=0), v

    def numpy(self, a):
        return a.detach().cpu().numpy() if self.torch else np.asarray(a)


def ridge_cv_eigh(
    X,
    Y,
    alphas,
    folds,
    fit_intercept=True,
    n_targets_batch=None,
    backend="numpy",
    alpha_per_target=True,
):
    """Select one alpha per target by K-fold CV and refit, with eigendecompositions.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Features (float32 is used for the large products).
    Y : ndarray of shape (n_samples, n_targets)
        Targets.
    alphas : ndarray of shape (n_alphas,)
        Positive penalties.
    folds : list of (train, test) index arrays
        Cross-validation folds.
    fit_intercept : bool
        Centre X and Y on each training fold (and on all data for the refit).
    n_targets_batch : int, optional
        Targets per chunk (bounds memory); default: all.
    backend : {"numpy", "torch", "torch_cuda"}
        Where to compute.
    alpha_per_target : bool
        One alpha per target (default), or the one alpha with the best CV score
        averaged over all targets (then all targets form one chunk).

    Returns
    -------
    dict
        ``best_alphas`` (n_targets,), ``cv_scores`` (n_targets,; negative MSE of the
        best alpha, averaged over folds), ``coef`` (n_features, n_targets),
        ``intercept`` (n_targets,), ``dual`` (whether the kernel form was used).
    """
    ops = _Ops(backend)
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or (alphas <= 0).any():
        raise ParameterError(f"Invalid value for 'alphas': expected positive values; got {alphas}.")
    n, p = X.shape
    dual = p > n
    Xd = ops.asarray(X, ops.f64)
    X32 = ops.asarray(X, ops.f32)
    folds = [(np.asarray(tr), np.asarray(te)) for tr, te in folds]
    if dual:
        pre = [_dual_basis(ops, Xd, tr, te, fit_intercept) for tr, te in folds]
        full = _dual_basis(ops, Xd, np.arange(n), None, fit_intercept)
    else:  # training Grams as X^T X minus the test fold's (float64), one pass over X
        gram, total = Xd.T @ Xd, Xd.sum(0)
        pre = [_primal_basis(ops, Xd, X32, gram, total, te, fit_intercept) for _, te in folds]
        full = _primal_basis(ops, Xd, X32, gram, total, np.array([], int), fit_intercept)
    t = Y.shape[1]
    step = t if n_targets_batch is None or not alpha_per_target else int(n_targets_batch)
    out = {
        "best_alphas": np.empty(t),
        "cv_scores": np.empty(t),
        "coef": np.empty((p, t), np.float32),
        "intercept": np.empty(t, np.float32),
    }
    log_slope = 1e-10 * np.log(alphas)
    for start in range(0, t, step):
        cols = slice(start, min(start + step, t))
        Yc = ops.asarray(Y[:, cols], ops.f32)
        XtY = None if dual else X32.T @ Yc
        scores = np.zeros((len(alphas), Yc.shape[1]))
        for (tr, te), basis in zip(folds, pre, strict=True):
            scores += _fold_scores(ops, X32, Yc, XtY, tr, te, basis, alphas, fit_intercept)
        scores = scores / len(folds) + log_slope[:, None]
        best = scores.argmax(0) if alpha_per_target else np.full(t, scores.mean(1).argmax())
        out["best_alphas"][cols] = alphas[best]
        out["cv_scores"][cols] = scores[best, np.arange(scores.shape[1])]
        coef, intercept = _refit(ops, X32, Yc, XtY, full, alphas[best], fit_intercept)
        out["coef"][:, cols] = coef
        out["intercept"][cols] = intercept
    out["dual"] = dual
    return out


def _primal_basis(ops, Xd, X32, gram, total, te, fit_intercept) -> dict:
    """Eigenbasis (float64) of a training fold's centred Gram matrix.

    ``G_tr = X^T X - X_te^T X_te - n_tr mu mu^T``; the test fold's projection onto
    the basis (and its Gram ``H``) are float32.
    """
    n_tr = Xd.shape[0] - len(te)
    xte = Xd[te]
    g = gram - xte.T @ xte
    mu = (total - xte.sum(0)) / n_tr if fit_intercept else total * 0
    if fit_intercept:
        g = g - n_tr * (mu[:, None] * mu[None, :])
    s, v = ops.eigh(g)
    basis = {"s": s, "V": v, "mu": mu}
    if len(te):
        u = (X32[te] - _as32(ops, mu)) @ _as32(ops, v)
        basis["U32"], basis["H"] = u, u.T @ u
    return basis


def _dual_basis(ops, Xd, tr, te, fit_intercept) -> dict:
    """Eigenbasis (float64) of a training fold's centred linear kernel."""
    Xtr = Xd[tr]
    mu = Xtr.mean(0) if fit_intercept else Xtr[0] * 0
    Xtr = Xtr - mu
    s, v = ops.eigh(Xtr @ Xtr.T)
    basis = {"s": s, "V": v, "mu": mu, "Xtr": Xtr}
    if te is not None:
        u = ((Xd[te] - mu) @ Xtr.T) @ v
        basis["U32"], basis["H"] = _as32(ops, u), None  # scored from predictions
    return basis


def _as32(ops, a):
    return a.to(ops.f32) if ops.torch else a.astype(np.float32)


def _fold_scores(ops, X32, Yc, XtY, tr, te, basis, alphas, fit_intercept) -> np.ndarray:
    """Negative MSE of every alpha on one fold, for a chunk of targets."""
    yte = Yc[te]  # the training rows are never copied in the primal form
    n_tr = Yc.shape[0] - len(te)
    nu = (Yc.sum(0) - yte.sum(0)) / n_tr if fit_intercept else yte[0] * 0
    v32 = _as32(ops, basis["V"])
    if XtY is None:  # dual: Q = V^T (Y_tr - nu)
        q = v32.T @ (Yc[tr] - nu)
    else:  # primal: X_tr^T Y_tr from X^T Y minus the test fold, then centred
        b = XtY - X32[te].T @ yte
        if fit_intercept:
            b = b - len(tr) * _as32(ops, basis["mu"])[:, None] * nu[None, :]
        q = v32.T @ b
    resid = yte - nu
    c = basis["U32"].T @ resid
    yy = (resid * resid).sum(0)
    h32 = basis["H"]
    inv = 1.0 / (ops.numpy(basis["s"])[None, :] + alphas[:, None])  # (n_alphas, p)
    inv32 = ops.asarray(inv, ops.f32)
    cross = inv32 @ (q * c)  # c.z for every alpha in one product: (n_alphas, t)
    # |pred|^2 per target: from H (r x r) when the basis is smaller than the test
    # fold, else from the test predictions themselves (the dual form's case).
    direct = len(te) < q.shape[0]
    left = basis["U32"] if direct else h32
    z = q * inv32[0][:, None]  # buffers reused over alphas (no page faults per alpha)
    prod = left @ z
    out = np.empty((len(alphas), Yc.shape[1]))
    for k in range(len(alphas)):
        if ops.torch:
            z = q * inv32[k][:, None]
            prod = left @ z
        else:
            np.multiply(q, inv32[k][:, None], out=z)
            np.matmul(left, z, out=prod)
        # direct: |U z|^2 from the test predictions; else z.Hz
        quad = ops.lib.einsum("ij,ij->j", prod, prod if direct else z)
        out[k] = -ops.numpy(yy - 2 * cross[k] + quad).astype(np.float64) / len(te)
    return out


def _refit(ops, X32, Yc, XtY, full, best_alphas, fit_intercept):
    """Weights on all data with each target's alpha (one eigenbasis, all alphas)."""
    nu = Yc.mean(0) if fit_intercept else Yc[0] * 0
    v, s, mu = full["V"], full["s"], full["mu"]
    a = ops.asarray(best_alphas, ops.f64)
    if XtY is None:  # dual: D = V ((V^T Yc) / (s + a)), W = X_c^T D
        q = v.T @ ops.asarray(ops.numpy(Yc - nu), ops.f64)
        coef = full["Xtr"].T @ (v @ (q / (s[:, None] + a[None, :])))
    else:
        b = ops.asarray(ops.numpy(XtY), ops.f64)
        if fit_intercept:
            b = b - X32.shape[0] * mu[:, None] * ops.asarray(ops.numpy(nu), ops.f64)[None, :]
        coef = v @ ((v.T @ b) / (s[:, None] + a[None, :]))
    coef = ops.numpy(coef)
    intercept = ops.numpy(nu).astype(np.float64) - ops.numpy(mu) @ coef
    return coef.astype(np.float32), intercept.astype(np.float32)
