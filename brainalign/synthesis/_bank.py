"""Bank search: the natural images a fitted encoder predicts to drive an ROI most."""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_positive_int
from brainalign.exceptions import DataError
from brainalign.synthesis._result import Synthesis


class BankSearch:
    """Rank a bank's cached embeddings by an ROI's predicted activation; keep the top.

    The bank (an :class:`~brainalign.captions.EmbeddingBank`, memory-mapped) is
    read in chunks, so its size is bounded by disk, not memory.

    Parameters
    ----------
    bank : EmbeddingBank
        Embeddings in the encoder's feature space.
    images : callable, optional
        ``images(ids) -> iterable of uint8 (H, W, 3)`` (e.g. a stimulus store's
        ``images``): the pixels of the chosen images; None keeps ids only.
    chunk_size : int
        Bank rows scored at once.
    """

    method = "bank"

    def __init__(self, bank, images=None, chunk_size=65536):
        self.bank = bank
        self.images = images
        self.chunk_size = check_positive_int("chunk_size", chunk_size)

    def generate(self, encoder, roi, n, seed=0, progress=False) -> Synthesis:
        """Return the ``n`` bank images with the highest predicted activation of ``roi``.

        Parameters
        ----------
        encoder : RoiEncoder
            The fitted encoder.
        roi : str
            Target ROI.
        n : int
            Images kept.
        seed : int
            Seed of the baseline (``n`` random bank images).
        progress : bool
            Unused (a search is one pass).

        Returns
        -------
        Synthesis
            Best first; ties by bank row.
        """
        from brainalign.captions import top_k

        n = min(check_positive_int("n", n), len(self.bank))
        col = encoder.unit_index(roi)
        if self.bank.embeddings.shape[1] != encoder.directions.shape[1]:
            raise DataError(
                f"The bank has {self.bank.embeddings.shape[1]} dimensions; the encoder's "
                f"features {encoder.directions.shape[1]}."
            )
        rows, _ = top_k(
            self.bank,
            encoder.directions[col],
            n,
            offsets=encoder.offsets[col],
            chunk_size=self.chunk_size,
        )
        rows = rows[0]
        random_rows = np.sort(np.random.default_rng(seed).choice(len(self.bank), n, replace=False))
        ids = self.bank.ids[rows]
        images = None
        if self.images is not None:
            images = np.stack([np.asarray(im, np.uint8) for im in self.images(ids)])
        return Synthesis(
            method=self.method,
            target=roi,
            units=list(encoder.units),
            images=images,
            activations=encoder.predict_features(self.bank.embeddings[rows]),
            ids=[str(i) for i in ids],
            seeds=[None] * len(rows),
            baseline=encoder.predict_features(self.bank.embeddings[random_rows]),
            info={"bank_size": len(self.bank)},
        )

    def search(self, encoder, k):
        """Top ``k`` rows of every unit at once: ``(rows, activations)`` of shape (n_units, k)."""
        from brainalign.captions import top_k

        return top_k(self.bank, encoder.directions, k, encoder.offsets, self.chunk_size)
