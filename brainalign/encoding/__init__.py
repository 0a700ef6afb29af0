"""Encoding layer: voxelwise ridge over himalaya, held-out scores and statistics."""

from brainalign.encoding._banded import BandedEncodingModel
from brainalign.encoding._model import DEFAULT_ALPHAS, EncodingModel, himalaya_backend
from brainalign.encoding._noise import split_half_ncsnr
from brainalign.encoding._run import fit_subject, roi_table, score_table
from brainalign.encoding._scores import (
    noise_normalized_r2,
    pearson_r,
    permutation_test,
    r2_per_target,
)

__all__ = [
    "DEFAULT_ALPHAS",
    "BandedEncodingModel",
    "EncodingModel",
    "fit_subject",
    "himalaya_backend",
    "noise_normalized_r2",
    "pearson_r",
    "permutation_test",
    "r2_per_target",
    "roi_table",
    "score_table",
    "split_half_ncsnr",
]
