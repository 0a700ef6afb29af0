"""LaVCa-style captions: top images of a unit -> their captions -> keywords -> a sentence."""

from __future__ import annotations

import numpy as np

from brainalign.captions._banks import DEFAULT_CHUNK, top_k
from brainalign.captions._text import DEFAULT_TEMPLATE, compose_caption, extract_keywords
from brainalign.exceptions import DataError


def lavca_captions(
    directions,
    bank,
    offsets=None,
    top_n=50,
    image_captions=None,
    n_keywords=3,
    keyword_method="enrichment",
    template=DEFAULT_TEMPLATE,
    llm=None,
    relevance=None,
    chunk_size=DEFAULT_CHUNK,
    progress=True,
) -> list[dict]:
    """Caption units by the captions of the bank images they are predicted to prefer.

    Parameters
    ----------
    directions : array-like of shape (n_units, n_dims)
        Unit weights in the bank's feature space (the encoding model's prediction
        of a unit is ``embedding @ direction + offset``).
    bank : EmbeddingBank
        Image bank (with ``captions`` unless ``image_captions`` is given).
    offsets : array-like of shape (n_units,), optional
        Intercepts (do not change the ranking; kept for the predicted scores).
    top_n : int
        Top images per unit.
    image_captions : callable, optional
        ``image_captions(rows) -> list of str``: captions of bank rows (e.g. a
        generative captioner over the images); default: the bank's captions.
    n_keywords : int
        Keywords per unit.
    keyword_method : {"enrichment", "tfidf", "frequency"}
        Keyword scoring against the bank's captions (the background).
    template : str
        Sentence template with a ``{keywords}`` field.
    llm : callable, optional
        ``llm(prompt) -> str`` composing the sentence instead of the template.
    relevance : callable, optional
        ``relevance(unit, words) -> scores`` filtering keywords (e.g. cosine of their
        text embeddings with the unit's direction).
    chunk_size : int
        Bank rows scored at once.
    progress : bool
        Show a progress bar over units.

    Returns
    -------
    list of dict
        Per unit: ``caption``, ``keywords`` (list), ``top_rows`` (bank rows, best
        first) and ``top_scores`` (their predicted activations).
    """
    from tqdm.auto import tqdm

    if image_captions is None:
        if bank.captions is None:
            raise DataError("The bank has no captions; pass an image captioner.")
        background = bank.captions

        def image_captions(rows):
            return [bank.captions[r] for r in rows]

    else:
        background = None
    rows, scores = top_k(bank, directions, top_n, offsets=offsets, chunk_size=chunk_size)
    results = []
    for unit in tqdm(range(len(rows)), desc="LaVCa captions", disable=not progress):
        texts = list(image_captions(rows[unit]))
        rel = None if relevance is None else (lambda words, u=unit: relevance(u, words))
        keywords = extract_keywords(
            texts,
            texts if background is None else background,
            n_keywords=n_keywords,
            method=keyword_method if background is not None else "frequency",
            relevance=rel,
        )
        results.append(
            {
                "caption": compose_caption(keywords, template, llm),
                "keywords": keywords,
                "top_rows": np.asarray(rows[unit]),
                "top_scores": np.asarray(scores[unit]),
            }
        )
    return results
