"""Cross-subject alignment: shared spaces, new subjects, cross-subject encoding and decoding.

Shared spaces by SRM (deterministic, probabilistic), hyperalignment or ridge maps, with
per-subject voxel counts; subject-to-subject prediction as a ceiling.
"""

from brainalign.alignment._evaluate import (
    SharedSpaceEncoder,
    canonical_correlations,
    stacked_shared,
    subject_predictivity,
)
from brainalign.alignment._procrustes import hyperalign, orthogonal_procrustes
from brainalign.alignment._space import METHODS, SharedSpace, SubjectMap, common_ids
from brainalign.alignment._srm import SRM_METHODS, polar, srm

__all__ = [
    "METHODS",
    "SRM_METHODS",
    "SharedSpace",
    "SharedSpaceEncoder",
    "SubjectMap",
    "canonical_correlations",
    "common_ids",
    "hyperalign",
    "orthogonal_procrustes",
    "polar",
    "srm",
    "stacked_shared",
    "subject_predictivity",
]
