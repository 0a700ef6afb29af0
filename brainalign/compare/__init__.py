"""Comparisons of representations: RSA, CKA, CCA, shape metrics and PLS predictivity.

RSA: RDMs, comparisons, noise ceiling, bootstrap and the geo-topological transform
(tRSA); CKA: linear, standard and debiased; CCA: regularised and held out, SVCCA,
PWCCA; generalized shape metrics (Procrustes, angular, partial whitening); PLS
regression predictivity (Brain-Score's convention).
"""

from brainalign.compare._best import (
    best_layers,
    choose_rows,
    frequency_of,
    layer_selection_frequency,
    selection_column,
)
from brainalign.compare._cca import canonical_correlations, cca_score, pwcca, svcca
from brainalign.compare._cka import CKA_FORMS, linear_cka
from brainalign.compare._measures import MEASURES, MeasureResult, score_measure
from brainalign.compare._pls import pls_predictivity
from brainalign.compare._rsa import RDM, RDM_METHODS, compute_rdm
from brainalign.compare._rsa_compare import RDM_COMPARISONS, compare_rdms
from brainalign.compare._rsa_plots import plot_rdm
from brainalign.compare._rsa_stats import (
    BootstrapResult,
    NoiseCeiling,
    bootstrap_compare,
    noise_ceiling,
)
from brainalign.compare._shape import SHAPE_DISTANCES, normalised_shape, shape_distance
from brainalign.compare._sweep_plots import plot_layer_profiles, plot_model_roi_heatmap
from brainalign.compare._sweep_rsa import rsa_table
from brainalign.compare._trsa import geotopological

__all__ = [
    "BootstrapResult",
    "CKA_FORMS",
    "MEASURES",
    "MeasureResult",
    "NoiseCeiling",
    "RDM",
    "RDM_COMPARISONS",
    "RDM_METHODS",
    "SHAPE_DISTANCES",
    "best_layers",
    "bootstrap_compare",
    "canonical_correlations",
    "cca_score",
    "choose_rows",
    "compare_rdms",
    "compute_rdm",
    "frequency_of",
    "geotopological",
    "layer_selection_frequency",
    "linear_cka",
    "noise_ceiling",
    "normalised_shape",
    "plot_layer_profiles",
    "plot_model_roi_heatmap",
    "plot_rdm",
    "pls_predictivity",
    "pwcca",
    "rsa_table",
    "score_measure",
    "selection_column",
    "shape_distance",
    "svcca",
]


#: Pipelines that moved to :mod:`brainalign.runs` (served from there, with a warning).
_MOVED = {"run_sweep": "run_sweep", "collect_sweep": "collect_sweep"}


def __getattr__(name: str):
    from brainalign._utils._moved import moved_attribute

    return moved_attribute(__name__, name, _MOVED, "brainalign.runs")
