"""Words of captions: tokens, keywords against a background, template sentences, embedders."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from brainalign._utils import check_option, check_positive_int
from brainalign.exceptions import DataError, ParameterError

#: A small English stop-word list (function words and caption fillers). Numbers,
#: colours and positions ("two", "red", "left", "top") are kept: they can be what a
#: unit is selective for.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be been before being
    below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into
    is it its itself just me more most my myself no nor not of off on once only or other
    our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves
    image images photo photos picture pictures view shown showing show shows there's
    near next sitting standing looking something side
    """.split()
)

#: Keyword scoring methods (see :func:`extract_keywords`).
KEYWORD_METHODS = ("enrichment", "tfidf", "frequency")
#: Default sentence template; ``{keywords}`` is the keywords joined as a list.
DEFAULT_TEMPLATE = "images of {keywords}"

_TOKEN = re.compile(r"[a-z][a-z'-]*")


def lemma(word: str) -> str:
    """Reduce an English plural to its singular with a few suffix rules.

    Parameters
    ----------
    word : str
        Lower-case word.

    Returns
    -------
    str
        ``"houses" -> "house"``, ``"buses" -> "bus"``, ``"berries" -> "berry"``;
        other words unchanged.
    """
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Content words of a text: lower-cased, singular, stop words removed.

    Parameters
    ----------
    text : str
        A caption.

    Returns
    -------
    list of str
        The words, in order (repeats kept).
    """
    words = (lemma(w.strip("'-")) for w in _TOKEN.findall(str(text).lower()))
    return [w for w in words if len(w) > 1 and w not in STOP_WORDS]


def _document_frequency(captions) -> tuple[Counter, int]:
    counts = Counter()
    for text in captions:
        counts.update(set(tokenize(text)))
    return counts, len(captions)


def keyword_scores(captions, background, method: str = "enrichment") -> dict[str, float]:
    """Score every word of ``captions`` against background captions.

    Parameters
    ----------
    captions : sequence of str
        Captions of the unit's top images.
    background : sequence of str
        Captions of the whole bank (the background frequencies).
    method : {"enrichment", "tfidf", "frequency"}
        ``enrichment``: ``p * log(p / q)`` where ``p`` and ``q`` are the fractions of
        top and background captions holding the word (a word as common in the top
        images as everywhere scores 0); ``tfidf``: ``p * log(n / (1 + df))`` over the
        background; ``frequency``: ``p``.

    Returns
    -------
    dict of str -> float
        Score per word, best first.
    """
    check_option("method", method, KEYWORD_METHODS)
    if len(captions) == 0:
        raise DataError("No captions to extract keywords from (the top images have none).")
    top, n_top = _document_frequency(captions)
    bg, n_bg = _document_frequency(background) if len(background) else (Counter(), 0)
    scores = {}
    for word, count in top.items():
        p = count / n_top
        if method == "frequency":
            scores[word] = p
        elif method == "tfidf":
            scores[word] = p * np.log((n_bg + 1) / (1 + bg[word]))
        else:  # smoothed background fraction; never below the word's top count
            q = (bg[word] + 1) / (n_bg + 2)
            scores[word] = p * np.log(p / q)
    return dict(sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])))


def extract_keywords(
    captions, background, n_keywords=3, method="enrichment", relevance=None
) -> list[str]:
    """Keywords of the captions of a unit's top images.

    Parameters
    ----------
    captions : sequence of str
        Captions of the top images.
    background : sequence of str
        Captions of the bank (background frequencies).
    n_keywords : int
        Keywords returned (at most; only words with a positive score).
    method : {"enrichment", "tfidf", "frequency"}
        See :func:`keyword_scores`.
    relevance : callable, optional
        ``relevance(words) -> array of shape (n_words,)``, e.g. the cosine of each
        word's text embedding with the unit's direction. Candidates (three times
        ``n_keywords``) with a relevance below their median are dropped.

    Returns
    -------
    list of str
        Keywords, best first.
    """
    n_keywords = check_positive_int("n_keywords", n_keywords)
    scores = keyword_scores(captions, background, method)
    words = [w for w, s in scores.items() if s > 0][: 3 * n_keywords]
    if relevance is not None and len(words) > 1:
        rel = np.asarray(relevance(words), dtype=float)
        if rel.shape != (len(words),):
            raise DataError(f"relevance returned shape {rel.shape} for {len(words)} words.")
        words = [w for w, r in zip(words, rel, strict=True) if r >= np.median(rel)]
    return words[:n_keywords]


def compose_caption(keywords, template: str = DEFAULT_TEMPLATE, llm=None) -> str:
    """Compose a sentence from keywords: a template, or an LLM callable.

    Parameters
    ----------
    keywords : sequence of str
        Keywords, best first.
    template : str
        Format string with a ``{keywords}`` field (``"a, b and c"``).
    llm : callable, optional
        ``llm(prompt) -> str`` (e.g. a wrapped transformers text-generation
        pipeline); gets a prompt asking for one sentence that uses the keywords.

    Returns
    -------
    str
        The caption (``""`` when there is no keyword).
    """
    keywords = [str(k) for k in keywords]
    if "{keywords}" not in template:
        raise ParameterError(
            f"Invalid value for 'template': expected a '{{keywords}}' field; got {template!r}."
        )
    if not keywords:
        return ""
    if llm is not None:
        prompt = (
            "Write one short sentence describing images that contain: "
            + ", ".join(keywords)
            + ". Sentence:"
        )
        return str(llm(prompt)).strip()
    joined = keywords[0] if len(keywords) == 1 else ", ".join(keywords[:-1])
    if len(keywords) > 1:
        joined += f" and {keywords[-1]}"
    return template.format(keywords=joined)


class TfidfEmbedder:
    """Bag-of-words TF-IDF sentence embeddings (the offline default text model).

    Parameters
    ----------
    corpus : sequence of str
        Texts that fix the vocabulary and document frequencies (e.g. the bank's
        captions).
    """

    def __init__(self, corpus):
        counts, n = _document_frequency(list(corpus))
        if not counts:
            raise DataError("TfidfEmbedder needs a corpus with at least one content word.")
        self.vocabulary_ = {w: i for i, w in enumerate(sorted(counts))}
        self.idf_ = np.array(
            [np.log((n + 1) / (counts[w] + 1)) + 1.0 for w in sorted(counts)], dtype=np.float32
        )

    def __call__(self, texts) -> np.ndarray:
        """Embed texts as unit-norm TF-IDF vectors of shape (n_texts, n_words)."""
        out = np.zeros((len(texts), len(self.vocabulary_)), dtype=np.float32)
        for row, text in enumerate(texts):
            for word, count in Counter(tokenize(text)).items():
                col = self.vocabulary_.get(word)
                if col is not None:
                    out[row, col] = count * self.idf_[col]
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norm > 0, norm, 1.0)


def model_embedder(spec, device=None, seed: int = 0, cache_dir=None, progress=False):
    """Sentence embeddings of a text model spec (e.g. ``hf:<MiniLM folder>``).

    Parameters
    ----------
    spec : str or ModelSpec
        Model spec with a text tower (see :class:`brainalign.features.ModelSpec`).
    device : str, optional
        Torch device.
    seed : int
        Seed of random weights.
    cache_dir : str or Path, optional
        Feature cache.
    progress : bool
        Show progress bars.

    Returns
    -------
    callable
        ``embed(texts) -> ndarray of shape (n_texts, n_dims)``.
    """
    from brainalign.features import get_extractor

    extractor = get_extractor(spec, device=device, tower="text", seed=seed)

    def embed(texts) -> np.ndarray:
        texts = [str(t) for t in texts]
        feats = extractor.extract(
            texts, layers=["embedding"], cache_dir=cache_dir, progress=progress
        )
        return np.asarray(feats["embedding"].features, dtype=np.float32)

    embed.spec = extractor.spec
    return embed
