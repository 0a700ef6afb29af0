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
    predicted_activation,
    sentence_scores,
    shuffled_baseline,
)
from brainalign.captions._generative import CocaCaptioner
from brainalign.captions._lavca import lavca_captions
from brainalign.captions._run import caption_run, read_run, select_units, write_top_images
from brainalign.captions._text import (
    STOP_WORDS,
    TfidfEmbedder,
    compose_caption,
    extract_keywords,
    keyword_scores,
    model_embedder,
    tokenize,
)

__all__ = [
    "DEFAULT_TAU",
    "STOP_WORDS",
    "CocaCaptioner",
    "EmbeddingBank",
    "NearestCaptioner",
    "TfidfEmbedder",
    "brainscuba_captions",
    "build_bank",
    "caption_run",
    "compose_caption",
    "extract_keywords",
    "keyword_scores",
    "lavca_captions",
    "model_embedder",
    "predicted_activation",
    "project_directions",
    "read_run",
    "roi_direction",
    "score_bank",
    "select_units",
    "sentence_scores",
    "shuffled_baseline",
    "tokenize",
    "top_k",
    "voxel_directions",
    "write_top_images",
]
