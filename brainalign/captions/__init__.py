"""Captions of voxel and ROI selectivity (BrainSCUBA- and LaVCa-style), with scores."""

from brainalign.captions._banks import EmbeddingBank, build_bank, score_bank, top_k
from brainalign.captions._brainscuba import (
    DEFAULT_TAU,
    NearestCaptioner,
    brainscuba_captions,
    project_directions,
)
from brainalign.captions._directions import roi_direction, voxel_directions
from brainalign.captions._evaluate import (
    INFORMATIVE_P,
    baseline_pool,
    caption_permutation_test,
    predicted_activation,
    sentence_scores,
    shuffled_baseline,
)
from brainalign.captions._generative import CocaCaptioner
from brainalign.captions._lavca import lavca_captions
from brainalign.captions._text import (
    STOP_WORDS,
    TfidfEmbedder,
    compose_caption,
    extract_keywords,
    keyword_scores,
    model_embedder,
    tokenize,
)
from brainalign.captions._units import (
    CONTRACT_COLUMNS,
    METHODS,
    THUMBNAIL_PX,
    Units,
    run_brainscuba,
    run_lavca,
    score_captions,
    select_units,
)

__all__ = [
    "CONTRACT_COLUMNS",
    "CocaCaptioner",
    "DEFAULT_TAU",
    "EmbeddingBank",
    "INFORMATIVE_P",
    "METHODS",
    "NearestCaptioner",
    "STOP_WORDS",
    "THUMBNAIL_PX",
    "TfidfEmbedder",
    "Units",
    "baseline_pool",
    "brainscuba_captions",
    "build_bank",
    "caption_permutation_test",
    "compose_caption",
    "extract_keywords",
    "keyword_scores",
    "lavca_captions",
    "model_embedder",
    "predicted_activation",
    "project_directions",
    "roi_direction",
    "run_brainscuba",
    "run_lavca",
    "score_bank",
    "score_captions",
    "select_units",
    "sentence_scores",
    "shuffled_baseline",
    "tokenize",
    "top_k",
    "voxel_directions",
]


#: Pipelines that moved to :mod:`brainalign.runs` (served from there, with a warning).
_MOVED = {
    "caption_run": "caption_run",
    "write_top_images": "write_top_images",
    "read_run": "read_fit_run",
}


def __getattr__(name: str):
    from brainalign._utils._moved import moved_attribute

    return moved_attribute(__name__, name, _MOVED, "brainalign.runs")
