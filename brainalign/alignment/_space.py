"""A shared space over subjects: one affine map per subject, in and out of it.

:class:`SharedSpace` fits the space from several subjects' responses to the stimuli
they all saw (joined by stimulus id; voxel counts may differ), maps any responses of a
fitted subject into it (:meth:`~SharedSpace.transform`) and back
(:meth:`~SharedSpace.inverse_transform`), and adds a new subject from its responses to
some of those stimuli (:meth:`~SharedSpace.add_subject`) without refitting the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path, check_option, check_positive_int
from brainalign.alignment._procrustes import hyperalign
from brainalign.alignment._srm import polar, srm
from brainalign.exceptions import DataError, ParameterError

#: Ways to fit the space: SRM (deterministic, probabilistic), hyperalignment, ridge maps.
METHODS = ("srm", "srm-prob", "procrustes", "ridge")


@dataclass
class SubjectMap:
    """One subject's affine maps into and out of the shared space.

    Responses ``X`` (stimuli x voxels) are z-scored with ``mean``/``scale`` (fitted on
    the alignment stimuli); ``Z = Xz @ forward + forward_offset`` and
    ``Xz ~ Z @ backward + backward_offset``. Orthogonal methods have
    ``backward = forward.T`` and zero offsets.
    """

    mean: np.ndarray
    scale: np.ndarray
    forward: np.ndarray
    forward_offset: np.ndarray
    backward: np.ndarray
    backward_offset: np.ndarray
    targets: np.ndarray

    @property
    def n_targets(self) -> int:
        """Voxels (or vertices, channels) of the subject."""
        return self.mean.size

    def transform(self, responses) -> np.ndarray:
        """Map responses (stimuli x this subject's targets) into the shared space."""
        x = _check_width(responses, self.n_targets)
        return ((x - self.mean) / self.scale) @ self.forward + self.forward_offset

    def inverse_transform(self, shared) -> np.ndarray:
        """Map shared-space rows back to this subject's targets (original units)."""
        z = _check_width(shared, self.backward.shape[0], "shared")
        return (z @ self.backward + self.backward_offset) * self.scale + self.mean

    def check_targets(self, targets, who: str) -> None:
        """Refuse data whose targets are not the ones the map was fitted on."""
        targets = np.asarray(targets, dtype=str)
        if len(targets) != len(self.targets) or not np.array_equal(targets, self.targets):
            same = np.isin(targets, self.targets).sum()
            raise DataError(
                f"{who}'s targets differ from those its shared-space map was fitted on: "
                f"{len(targets)} targets given, {len(self.targets)} expected, {same} in "
                "common. Load the same ROI (and dataset version) as the alignment run."
            )


def _check_width(a, width: int, name: str = "responses") -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != width:
        raise DataError(f"'{name}' must have shape (n, {width}); got {a.shape}.")
    return a


def target_keys(data) -> np.ndarray:
    """One text key per target of a BrainData (its location columns, else its index)."""
    cols = data.space.score_columns() if data.space is not None else pd.DataFrame()
    if cols.empty:
        return np.arange(data.n_targets).astype(str)
    keys = cols.iloc[:, 0].astype(str).to_numpy(dtype=str)
    for name in cols.columns[1:]:
        keys = np.char.add(np.char.add(keys, ","), cols[name].astype(str).to_numpy(dtype=str))
    return keys


def rows_of(data, ids) -> np.ndarray:
    """Rows of a (repetition-averaged) BrainData for ``ids``, in the order of ``ids``."""
    index = pd.Index(data.stimulus_ids)
    if not index.is_unique:
        raise DataError("Average repetitions first: some stimulus ids occur on several rows.")
    rows = index.get_indexer(np.asarray(ids))
    if (rows < 0).any():
        missing = np.asarray(ids)[rows < 0]
        raise DataError(
            f"{missing.size} stimulus id(s) are absent from subject "
            f"{data.info.get('subject', '?')}'s data: {missing[:5].tolist()}."
        )
    return data.responses[rows].astype(np.float64)


def common_ids(data: dict) -> np.ndarray:
    """Stimulus ids every subject saw (sorted)."""
    sets = [np.unique(d.stimulus_ids) for d in data.values()]
    out = sets[0]
    for ids in sets[1:]:
        out = np.intersect1d(out, ids)
    return out


class SharedSpace:
    """A space shared by subjects, fitted on the stimuli they all saw.

    Parameters
    ----------
    method : {"srm", "srm-prob", "procrustes", "ridge"}
        ``srm``: deterministic shared response model; ``srm-prob``: probabilistic SRM;
        ``procrustes``: hyperalignment (iterated orthogonal Procrustes onto a
        template); ``ridge``: the reference subject's responses in their top
        ``n_components`` principal axes, with ridge maps from and to every subject.
    n_components : int
        Dimensions of the shared space.
    alphas : sequence of float, optional
        Ridge penalties (``ridge``; chosen per dimension by cross-validation).
    n_iter : int
        Iterations of SRM / passes of hyperalignment.
    random_state : int
        Seed of SRM's initial shared response.
    reference : hashable, optional
        ``ridge``: the subject whose space is shared (default: the first).

    Attributes
    ----------
    subjects_ : list
        Subjects, in fitting order.
    stimulus_ids_ : ndarray
        The alignment stimuli (sorted ids all subjects saw).
    shared_response_ : ndarray of shape (n_stimuli, n_components)
        The shared response (template) of those stimuli.
    maps_ : dict of subject -> SubjectMap
        Each subject's maps.
    info_ : dict
        Fitting details (iterations, convergence, noise variances).
    """

    def __init__(
        self, method="srm", n_components=20, alphas=None, n_iter=100, random_state=0, reference=None
    ):
        self.method = method
        self.n_components = n_components
        self.alphas = alphas
        self.n_iter = n_iter
        self.random_state = random_state
        self.reference = reference

    def fit(self, data: dict, stimulus_ids=None) -> SharedSpace:
        """Fit the space.

        Parameters
        ----------
        data : dict of subject -> BrainData
            Each subject's responses, one row per stimulus (repetitions averaged).
        stimulus_ids : array-like, optional
            The alignment stimuli (default: every stimulus all subjects saw); each
            subject must have them all.

        Returns
        -------
        SharedSpace
            ``self``, fitted.
        """
        check_option("method", self.method, METHODS)
        k = check_positive_int("n_components", self.n_components)
        if not isinstance(data, dict) or len(data) < 2:
            raise ParameterError(
                "Invalid value for 'data': expected a dict of at least 2 subjects -> "
                f"BrainData; got {type(data).__name__} of {len(data) if data else 0}."
            )
        ids = common_ids(data) if stimulus_ids is None else np.unique(stimulus_ids)
        if len(ids) < k:
            raise DataError(
                f"The subjects share {len(ids)} stimuli, fewer than n_components={k}: "
                "the shared space needs at least as many shared stimuli as dimensions."
            )
        self.subjects_ = list(data)
        self.stimulus_ids_ = ids
        zs, norms = {}, {}
        for s, d in data.items():
            zs[s], norms[s] = _zscore(rows_of(d, ids))
        fitted = self._fit_method(zs, k)
        self.shared_response_ = fitted.pop("shared")
        maps = fitted.pop("maps")
        self.maps_ = {
            s: SubjectMap(*norms[s], *maps[s], target_keys(data[s])) for s in self.subjects_
        }
        self.info_ = fitted
        return self

    def _fit_method(self, zs: dict, k: int) -> dict:
        arrays = list(zs.values())
        if self.method in ("srm", "srm-prob"):
            kind = "deterministic" if self.method == "srm" else "probabilistic"
            out = srm(arrays, k, kind, n_iter=self.n_iter, random_state=self.random_state)
        elif self.method == "procrustes":
            out = hyperalign(arrays, k, n_iter=min(self.n_iter, 10))  # passes of level 2
        else:
            return self._fit_ridge(zs, k)
        info = {
            name: np.asarray(out[name]).tolist()
            for name in ("n_iter", "converged", "sigmas")
            if name in out
        }
        maps = {s: _orthogonal(w) for s, w in zip(zs, out["bases"], strict=True)}
        return {"shared": out["shared"], "maps": maps, **info}

    def _fit_ridge(self, zs: dict, k: int) -> dict:
        ref = self.subjects_[0] if self.reference is None else self.reference
        if ref not in zs:
            raise ParameterError(
                f"Invalid value for 'reference': expected one of the subjects "
                f"{self.subjects_}; got {ref!r}."
            )
        _, _, vt = np.linalg.svd(zs[ref], full_matrices=False)
        shared = zs[ref] @ vt[:k].T
        maps = {s: self._ridge_maps(x, shared) for s, x in zs.items()}
        return {"shared": shared, "maps": maps, "reference": str(ref)}

    def _ridge_maps(self, x: np.ndarray, shared: np.ndarray) -> tuple:
        forward = _ridge_affine(x, shared, self.alphas)
        backward = _ridge_affine(shared, x, self.alphas)
        return forward + backward

    # -- using the space ----------------------------------------------------------
    @property
    def n_components_(self) -> int:
        """Dimensions of the fitted space."""
        return self.shared_response_.shape[1]

    def _map(self, subject) -> SubjectMap:
        if not hasattr(self, "maps_"):
            raise ParameterError("This SharedSpace is not fitted yet: call fit() first.")
        if subject not in self.maps_:
            raise ParameterError(
                f"Invalid value for 'subject': expected one of the space's subjects "
                f"{list(self.maps_)}; got {subject!r} (a subject outside the space is "
                "added with add_subject())."
            )
        return self.maps_[subject]

    def transform(self, subject, responses) -> np.ndarray:
        """Map a subject's responses (stimuli x its targets) into the shared space."""
        return self._map(subject).transform(responses)

    def inverse_transform(self, subject, shared) -> np.ndarray:
        """Map shared-space rows (stimuli x n_components) to a subject's targets."""
        return self._map(subject).inverse_transform(shared)

    def add_subject(self, subject, data, stimulus_ids=None) -> SharedSpace:
        """Fit a new subject's maps from its responses to some alignment stimuli.

        The other subjects' maps and the shared response stay as they are: the new
        subject is rotated (orthogonal methods) or regressed (``ridge``) onto the
        shared response of those stimuli.

        Parameters
        ----------
        subject : hashable
            Name of the new subject (replaces an earlier map of that name).
        data : BrainData
            Its responses, one row per stimulus.
        stimulus_ids : array-like, optional
            Which alignment stimuli to use (default: all it saw).

        Returns
        -------
        SharedSpace
            ``self``.
        """
        self._map(self.subjects_[0])  # fitted?
        seen = np.intersect1d(self.stimulus_ids_, data.stimulus_ids)
        ids = seen if stimulus_ids is None else np.unique(stimulus_ids)
        outside = np.setdiff1d(ids, self.stimulus_ids_)
        if outside.size:
            raise DataError(
                f"{outside.size} stimulus id(s) are not alignment stimuli of this space "
                f"(their shared response is unknown): {outside[:5].tolist()}."
            )
        need = min_adapt(self.method, self.n_components_)
        if len(ids) < need:
            raise DataError(
                f"Adding subject {subject!r} needs at least {need} alignment stimuli "
                f"('stimulus_ids'; {self.method}: "
                f"{'3 for its cross-validated ridge' if self.method == 'ridge' else 'k'}); "
                f"got {len(ids)}."
            )
        z, norm = _zscore(rows_of(data, ids))
        shared = self.shared_response_[np.searchsorted(self.stimulus_ids_, ids)]
        if self.method == "ridge":
            maps = self._ridge_maps(z, shared)
        else:
            maps = _orthogonal(polar(z.T @ shared))
        if subject not in self.subjects_:
            self.subjects_.append(subject)
        self.maps_[subject] = SubjectMap(*norm, *maps, target_keys(data))
        return self

    # -- files --------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the fitted space to one ``.npz`` file (atomically)."""
        ids = np.asarray(self.stimulus_ids_)
        arrays = {
            "method": np.array(self.method),
            "subjects": np.array([str(s) for s in self.subjects_]),
            "stimulus_ids": ids.astype(str) if ids.dtype == object else ids,
            "shared_response": self.shared_response_,
            "alphas": np.asarray([] if self.alphas is None else self.alphas, dtype=np.float64),
            "n_iter": np.array(self.n_iter),
            "random_state": np.array(self.random_state),
            "reference": np.array("" if self.reference is None else str(self.reference)),
        }
        for s, m in self.maps_.items():
            for name, value in vars(m).items():
                arrays[f"{s}/{name}"] = value
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        return path

    @classmethod
    def load(cls, path) -> SharedSpace:
        """Read a space written by :meth:`save`.

        Subjects come back as integers when every name is one (NSD's 1, 2, ...), else
        as text; text stimulus ids come back as text.
        """
        with np.load(path, allow_pickle=False) as npz:
            alphas = npz["alphas"].tolist() if "alphas" in npz.files else []
            space = cls(
                method=str(npz["method"]),
                n_components=npz["shared_response"].shape[1],
                alphas=alphas or None,
                n_iter=int(npz["n_iter"]) if "n_iter" in npz.files else 100,
                random_state=int(npz["random_state"]) if "random_state" in npz.files else 0,
                reference=str(npz["reference"]) or None if "reference" in npz.files else None,
            )
            names = npz["subjects"].tolist()
            keys = [int(s) for s in names] if all(s.lstrip("-").isdigit() for s in names) else names
            space.subjects_ = keys
            space.stimulus_ids_ = npz["stimulus_ids"]
            space.shared_response_ = npz["shared_response"]
            fields = list(SubjectMap.__dataclass_fields__)
            space.maps_ = {
                key: SubjectMap(**{n: npz[f"{name}/{n}"] for n in fields})
                for key, name in zip(keys, names, strict=True)
            }
        space.info_ = {}
        return space


def min_adapt(method: str, n_components: int) -> int:
    """Return the fewest alignment stimuli a new subject's map can be fitted from.

    Orthogonal maps need ``k`` stimuli (a rank-``k`` cross-product); ridge maps need 3
    (their penalty is chosen by cross-validation over the stimuli).
    """
    return 3 if method == "ridge" else int(n_components)


def _zscore(x: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    mean = x.mean(0)
    scale = x.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    return (x - mean) / scale, (mean, scale)


def _orthogonal(w: np.ndarray) -> tuple:
    k = w.shape[1]
    return w, np.zeros(k), np.ascontiguousarray(w.T), np.zeros(w.shape[0])


def _ridge_affine(x: np.ndarray, y: np.ndarray, alphas) -> tuple[np.ndarray, np.ndarray]:
    """Ridge from ``x`` to ``y`` (penalty per column by CV) as ``y ~ x @ A + a``."""
    from brainalign.encoding import EncodingModel

    cv = min(5, len(x))
    est = EncodingModel(alphas=alphas, cv=cv).fit(x.astype(np.float32), y.astype(np.float32))
    coef = est.coef_.astype(np.float64) / est.scale_[:, None]
    offset = est.intercept_.astype(np.float64) - est.mean_.astype(np.float64) @ coef
    return coef, offset
