"""Topological RSA (Lin & Kriegeskorte): the geo-topological transform of an RDM.

The transform keeps the local geometry of a representation and discards what is
far: dissimilarities at or below a lower threshold become 0 (treated as the same
point), those at or above an upper threshold become 1 (simply "far"), and those
between are mapped linearly. The thresholds are quantiles of the RDM's own
dissimilarities by default, so the transform is the same for RDMs of different
scales. The transformed RDM is an RDM: every comparison, noise ceiling and bootstrap
of :mod:`brainalign.compare` applies to it unchanged.
"""

from __future__ import annotations

import numpy as np

from brainalign.compare._rsa import RDM
from brainalign.exceptions import ParameterError


def geotopological(rdm: RDM, lower=0.0, upper=1.0, *, quantiles=True) -> RDM:
    """Return the geo-topological transform of an RDM.

    ``f(d) = 0`` for ``d <= l``, ``(d - l) / (u - l)`` for ``l < d < u`` and ``1`` for
    ``d >= u``; with an infinite ``u`` the values above ``l`` are kept as ``d - l``
    (no upper threshold). ``(lower, upper) = (0, inf)`` with ``quantiles=False`` is
    the identity (tRSA equals RSA); quantiles ``(0, 1)`` map the RDM affinely onto
    [0, 1], which no correlation-based comparison sees.

    Parameters
    ----------
    rdm : RDM
        The RDM.
    lower, upper : float
        Thresholds ``l < u``: quantiles of the RDM's dissimilarities (0..1) with
        ``quantiles=True``, else dissimilarity values (``upper`` may be ``inf``).
    quantiles : bool
        Read the thresholds as quantiles.

    Returns
    -------
    RDM
        The transformed RDM over the same stimuli (``method`` records the
        transform).
    """
    if not isinstance(rdm, RDM):
        raise ParameterError(f"Invalid value for 'rdm': expected an RDM; got {type(rdm).__name__}.")
    lower, upper = float(lower), float(upper)
    if quantiles and not 0.0 <= lower < upper <= 1.0:
        raise ParameterError(
            f"Invalid value for 'lower'/'upper': expected quantiles 0 <= lower < upper <= 1; "
            f"got {lower!r}, {upper!r}."
        )
    if not quantiles and not (np.isfinite(lower) and lower < upper):
        raise ParameterError(
            f"Invalid value for 'lower'/'upper': expected a finite lower below upper; got "
            f"{lower!r}, {upper!r}."
        )
    d = rdm.dissimilarities
    lo, hi = np.quantile(d, [lower, upper]) if quantiles else (lower, upper)
    if np.isfinite(hi) and hi <= lo:  # all dissimilarities equal between the quantiles
        values = (d > lo).astype(np.float64)
    elif np.isfinite(hi):
        values = (np.clip(d, lo, hi) - lo) / (hi - lo)
    else:
        values = np.clip(d, lo, None) - lo
    method = f"{rdm.method}+gt({lower:g},{upper:g}{',q' if quantiles else ''})"
    return RDM(values, rdm.stimulus_ids, method)
