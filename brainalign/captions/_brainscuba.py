"""BrainSCUBA-style projection of directions onto a bank, and captioners of embeddings."""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_positive_int
from brainalign.captions._banks import DEFAULT_CHUNK
from brainalign.captions._directions import unit_rows
from brainalign.exceptions import DataError, ParameterError

#: BrainSCUBA's softmax temperature (inverse): weights are softmax(TAU * cosine).
DEFAULT_TAU = 150.0


def project_directions(directions, bank, tau=DEFAULT_TAU, chunk_size=DEFAULT_CHUNK):
    """Project directions onto the manifold of a bank's embeddings (BrainSCUBA).

    With ``p_i = softmax_i(tau * cos(w, e_i))`` over the bank, the projection's
    direction is the ``p``-weighted mean of the unit-norm embeddings (renormalised),
    and its norm the ``p``-weighted mean of the embedding norms: directions and norms
    are averaged separately, so the result looks like a natural-image embedding.
    The softmax is accumulated chunk by chunk with a running maximum, so a large
    memory-mapped bank is never held in memory.

    Parameters
    ----------
    directions : array-like of shape (n_units, n_dims) or (n_dims,)
        Preferred directions (voxel or ROI).
    bank : EmbeddingBank
        Image embeddings (the natural-image manifold).
    tau : float
        Inverse temperature (BrainSCUBA: 150 for unit-norm CLIP embeddings).
    chunk_size : int
        Bank rows read at once.

    Returns
    -------
    numpy.ndarray of shape (n_units, n_dims)
        Projected embeddings.
    """
    if not np.isfinite(tau) or tau <= 0:
        raise ParameterError(f"Invalid value for 'tau': expected a positive number; got {tau!r}.")
    w = unit_rows(np.atleast_2d(np.asarray(directions, dtype=np.float64)))
    if w.shape[1] != bank.embeddings.shape[1]:
        raise DataError(
            f"directions have {w.shape[1]} dimensions but the bank has {bank.embeddings.shape[1]}."
        )
    peak = np.full(len(w), -np.inf)
    total = np.zeros(len(w))
    mean_dir = np.zeros_like(w)
    mean_norm = np.zeros(len(w))
    for _, block in bank.chunks(chunk_size):
        norms = np.linalg.norm(block, axis=1)
        units = block / np.where(norms > 0, norms, 1.0)[:, None]
        logits = tau * (w @ units.T)  # (n_units, n_chunk)
        new_peak = np.maximum(peak, logits.max(1))
        rescale = np.exp(peak - new_peak)
        p = np.exp(logits - new_peak[:, None])
        total = total * rescale + p.sum(1)
        mean_dir = mean_dir * rescale[:, None] + p @ units
        mean_norm = mean_norm * rescale + p @ norms
        peak = new_peak
    return unit_rows(mean_dir) * (mean_norm / total)[:, None]


class NearestCaptioner:
    """Caption an embedding by the nearest captions of a bank in the same space.

    The bank can hold text embeddings of captions (a joint image-text space such as
    CLIP's), or image embeddings paired with their images' captions (any space).

    Parameters
    ----------
    embeddings : array-like of shape (n_captions, n_dims)
        Bank embeddings.
    captions : sequence of str
        One caption per row.
    k : int
        Captions joined per embedding (the nearest first; "; "-separated).
    """

    def __init__(self, embeddings, captions, k=1):
        self.embeddings = np.asarray(embeddings, dtype=np.float64)
        self.captions = [str(c) for c in captions]
        self.k = check_positive_int("k", k)
        if len(self.captions) != len(self.embeddings):
            raise DataError(
                f"Got {len(self.captions)} captions for {len(self.embeddings)} embeddings."
            )

    @classmethod
    def from_bank(cls, bank, k=1) -> NearestCaptioner:
        """Build from an :class:`EmbeddingBank` with captions."""
        if bank.captions is None:
            raise DataError("The bank has no captions to retrieve.")
        return cls(bank.embeddings, bank.captions, k=k)

    def __call__(self, embeddings) -> list[str]:
        """Caption each embedding (rows of an array of shape (n, n_dims))."""
        from brainalign.encoding import retrieve_captions

        found = retrieve_captions(np.atleast_2d(embeddings), self.embeddings, self.captions, self.k)
        return found.groupby("row", sort=True)["caption"].agg("; ".join).tolist()


def brainscuba_captions(directions, bank, captioner, tau=DEFAULT_TAU, chunk_size=DEFAULT_CHUNK):
    """Project directions onto a bank and caption the projections.

    Parameters
    ----------
    directions : array-like of shape (n_units, n_dims)
        Preferred directions.
    bank : EmbeddingBank
        Natural-image embeddings.
    captioner : callable
        ``captioner(embeddings) -> list of str`` (e.g. :class:`NearestCaptioner`,
        or any generative model conditioned on an embedding).
    tau : float
        Softmax inverse temperature.
    chunk_size : int
        Bank rows read at once.

    Returns
    -------
    projected : numpy.ndarray of shape (n_units, n_dims)
        Projected embeddings.
    captions : list of str
        One caption per unit.
    """
    projected = project_directions(directions, bank, tau=tau, chunk_size=chunk_size)
    captions = [str(c) for c in captioner(projected)]
    if len(captions) != len(projected):
        raise DataError(f"The captioner returned {len(captions)} captions for {len(projected)}.")
    return projected, captions
