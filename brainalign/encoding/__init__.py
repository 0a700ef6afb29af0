"""Encoding layer: voxelwise ridge over himalaya, held-out scores and statistics."""

from brainalign.encoding._attention import AttentionEncoder
from brainalign.encoding._banded import BandedEncodingModel
from brainalign.encoding._challenge import challenge_scores
from brainalign.encoding._decoding import (
    DecodingModel,
    caption_retrieval_scores,
    decode_rois,
    decoding_scores,
    retrieve_captions,
)
from brainalign.encoding._identification import (
    cosine_similarity,
    identification_accuracy,
    identification_null,
    identification_rank,
    identification_scores,
    pairwise_identification,
)
from brainalign.encoding._model import DEFAULT_ALPHAS, EncodingModel, himalaya_backend
from brainalign.encoding._noise import split_half_ncsnr
from brainalign.encoding._scores import (
    noise_normalized_r2,
    pearson_r,
    permutation_test,
    r2_per_target,
)
from brainalign.encoding._tables import (
    N_BOOTSTRAPS,
    inner_cv_r2,
    roi_bootstrap_r,
    roi_table,
    score_table,
    voxel_rois,
)
from brainalign.encoding._time_resolved import (
    TimeResolvedEncoding,
    chance_band,
    classify_over_time,
    decode_over_time,
    decoding_peaks,
    identification_chance_level,
    onset_time,
    peak_curve,
    peak_latencies,
    r_chance_level,
    significant_peaks,
    temporal_generalization,
    time_resolved_encoding,
)

__all__ = [
    "AttentionEncoder",
    "BandedEncodingModel",
    "DEFAULT_ALPHAS",
    "DecodingModel",
    "EncodingModel",
    "N_BOOTSTRAPS",
    "TimeResolvedEncoding",
    "caption_retrieval_scores",
    "challenge_scores",
    "chance_band",
    "classify_over_time",
    "cosine_similarity",
    "decode_over_time",
    "decode_rois",
    "decoding_peaks",
    "decoding_scores",
    "himalaya_backend",
    "identification_accuracy",
    "identification_chance_level",
    "identification_null",
    "identification_rank",
    "identification_scores",
    "inner_cv_r2",
    "noise_normalized_r2",
    "onset_time",
    "pairwise_identification",
    "peak_curve",
    "peak_latencies",
    "pearson_r",
    "permutation_test",
    "r2_per_target",
    "r_chance_level",
    "retrieve_captions",
    "roi_bootstrap_r",
    "roi_table",
    "score_table",
    "significant_peaks",
    "split_half_ncsnr",
    "temporal_generalization",
    "time_resolved_encoding",
    "voxel_rois",
]


#: Pipelines that moved to :mod:`brainalign.runs` (served from there, with a warning).
_MOVED = {"fit_subject": "fit_subject", "decode_subject": "decode_subject"}


def __getattr__(name: str):
    from brainalign._utils._moved import moved_attribute

    return moved_attribute(__name__, name, _MOVED, "brainalign.runs")
