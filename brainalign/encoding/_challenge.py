"""The Algonauts 2023 challenge score of a fit: overall, per hemisphere and per ROI.

The challenge scores a subject by the median, over the challenge vertices of both
hemispheres, of the noise-normalised accuracy ``100 * max(r, 0)**2 / NC`` (clipped at
100; :func:`brainalign.data.algonauts_score`). The computation lives with the dataset
(:mod:`brainalign.data._algonauts_challenge`, offered by the ``algonauts2023`` adapter as
its ``extra_scores`` capability, which every fit runs); these names are re-exported here
for users who score a table themselves. A run directory is scored by
:func:`brainalign.runs.run_challenge_scores`.
"""

from __future__ import annotations

from brainalign.data._algonauts_challenge import (
    CHALLENGE_FILE,
    HEMI_SCOPES,
    challenge_scores,
    challenge_summary,
    headline_scores,
)

__all__ = [
    "CHALLENGE_FILE",
    "HEMI_SCOPES",
    "challenge_scores",
    "challenge_summary",
    "headline_scores",
]
