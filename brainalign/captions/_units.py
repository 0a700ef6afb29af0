"""Caption units: directions of an encoding model's ROIs and voxels, captions, scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from brainalign.captions._banks import top_k
from brainalign.captions._brainscuba import NearestCaptioner, brainscuba_captions
from brainalign.captions._directions import roi_direction, unit_rows, voxel_directions
from brainalign.captions._evaluate import (
    N_PERMUTATIONS,
    baseline_pool,
    caption_permutation_test,
    predicted_activation,
)
from brainalign.captions._lavca import lavca_captions
from brainalign.captions._text import TfidfEmbedder, model_embedder, tokenize
from brainalign.exceptions import DataError, ParameterError

METHODS = ("lavca", "brainscuba")
#: Columns of captions.parquet fixed by the design (extra columns follow).
CONTRACT_COLUMNS = (
    "subject",
    "model",
    "layer",
    "unit",
    "unit_kind",
    "method",
    "caption",
    "keywords",
    "score",
    "shuffled_score",
)
#: ROIs not captioned by default (the whole visual cortex mask).
_SKIP_ROIS = ("nsdgeneral",)
#: Side of the top-image thumbnails, in pixels.
THUMBNAIL_PX = 128


@dataclass
class Units:
    """Units to caption: names, kinds, directions, offsets and measured test responses."""

    names: list
    kinds: list
    directions: np.ndarray  # (n_units, n_features) ranking weights (mean predicted activation)
    unit_directions: np.ndarray  # (n_units, n_features) BrainSCUBA directions (unit-norm mean)
    offsets: np.ndarray  # (n_units,)
    responses: np.ndarray  # (n_test, n_units)


def select_units(test, weights, scores=None, rois=None, n_voxels=0, roi_method="mean",
                 train_scores=None):  # fmt: skip
    """Directions and test responses of the ROIs (and best voxels) to caption.

    The best voxels are chosen on training data only, so that their captions can
    be scored on the test images without selection bias: by the inner
    cross-validated R² of the training images (``cv_r2`` of the run's scores) when
    the run has it, else by ``train_scores``.

    Parameters
    ----------
    test : BrainData
        Held-out responses (repetitions averaged), columns as in the weights.
    weights : dict
        ``coef``, ``intercept``, ``mean``, ``scale`` of the encoding model.
    scores : pandas.DataFrame, optional
        The run's per-target scores (its ``cv_r2`` column ranks the voxels; the
        test ``r`` is never used).
    rois : sequence of str, optional
        ROIs (default: every ROI label of the data but ``nsdgeneral``).
    n_voxels : int
        Best voxels captioned individually (0: none).
    roi_method : {"mean", "pca"}
        ROI direction for BrainSCUBA (the first principal direction for ``pca``).
    train_scores : array-like of shape (n_targets,), optional
        A training-data score per target, used when ``scores`` has no ``cv_r2``
        (``caption_run`` passes the in-sample r of the training images).

    Returns
    -------
    Units
        The units.
    """
    dirs = voxel_directions(weights["coef"], weights["scale"])
    offsets = weights["intercept"] - dirs @ weights["mean"]
    available = test.roi_names()
    if rois is None:
        rois = [r for r in available if r not in _SKIP_ROIS]
    else:
        unknown = [r for r in rois if r not in available]
        if unknown:
            raise ParameterError(
                f"Invalid value for 'rois': unknown ROI(s) {unknown}; available: {available}."
            )
    names, kinds, rank_dirs, unit_dirs, offs, resp = [], [], [], [], [], []
    for roi in rois:
        mask = test.roi_mask(roi)
        if not mask.any():
            continue
        names.append(roi)
        kinds.append("roi")
        rank_dirs.append(dirs[mask].mean(0))
        d = roi_direction(dirs[mask], roi_method)
        unit_dirs.append(d if d.ndim == 1 else d[0])
        offs.append(offsets[mask].mean())
        resp.append(test.responses[:, mask].mean(1))
    if n_voxels:
        rank = voxel_selection_scores(scores, train_scores, test.n_targets)
        for target in np.argsort(-rank, kind="stable")[: int(n_voxels)]:
            names.append(f"voxel-{int(target)}")
            kinds.append("voxel")
            rank_dirs.append(dirs[target])
            unit_dirs.append(unit_rows(dirs[target]))
            offs.append(offsets[target])
            resp.append(test.responses[:, target])
    if not names:
        raise DataError("No unit to caption: the ROIs have no voxels and n_voxels is 0.")
    return Units(
        names, kinds, np.array(rank_dirs), np.array(unit_dirs), np.array(offs), np.array(resp).T
    )


def voxel_selection_scores(scores=None, train_scores=None, n_targets=None) -> np.ndarray:
    """Training-data score of each target that ranks the voxels to caption.

    Parameters
    ----------
    scores : pandas.DataFrame, optional
        The run's per-target scores; its ``cv_r2`` (inner-CV R² of the training
        images) is used when it has a finite value.
    train_scores : array-like of shape (n_targets,), optional
        Fallback training-data score per target.
    n_targets : int, optional
        Expected number of targets.

    Returns
    -------
    numpy.ndarray of shape (n_targets,)
        Scores, higher is better (NaN ranks last).
    """
    values = None
    if scores is not None and "cv_r2" in scores.columns:
        cv = scores["cv_r2"].to_numpy(dtype=np.float64)
        values = cv if np.isfinite(cv).any() else None
    if values is None and train_scores is not None:
        values = np.asarray(train_scores, dtype=np.float64)
    if values is None:
        raise DataError(
            "Captioning voxels needs a training-data score per target to pick them: the "
            "run's scores have no cv_r2 and no training score was given."
        )
    if n_targets is not None and values.size != n_targets:
        raise DataError(f"Got {values.size} voxel scores for {n_targets} targets.")
    return np.where(np.isfinite(values), values, -np.inf)


def run_lavca(units, bank, top_n, n_keywords, keyword_method, template, llm, text_space,
              image_captions, chunk_size, progress):  # fmt: skip
    """LaVCa captions of the units: keywords of their top bank images' captions."""
    relevance = None
    if text_space is not None:

        def relevance(unit, words):
            emb = text_space([f"a photo of {w}" for w in words])
            return unit_rows(emb) @ unit_rows(units.unit_directions[unit])

    return lavca_captions(
        units.directions,
        bank,
        offsets=units.offsets,
        top_n=top_n,
        image_captions=image_captions,
        n_keywords=n_keywords,
        keyword_method=keyword_method,
        template=template,
        llm=llm,
        relevance=relevance,
        chunk_size=chunk_size,
        progress=progress,
    )


def run_brainscuba(units, bank, top_n, captioner, tau, n_keywords, chunk_size):
    """BrainSCUBA captions of the units: directions projected onto the bank, captioned."""
    captioner = NearestCaptioner.from_bank(bank) if captioner is None else captioner
    _, captions = brainscuba_captions(units.unit_directions, bank, captioner, tau, chunk_size)
    rows, scores = top_k(bank, units.directions, top_n, units.offsets, chunk_size)
    found = []
    for unit, caption in enumerate(captions):
        keywords = list(dict.fromkeys(tokenize(caption)))[:n_keywords]
        found.append(
            {
                "caption": caption,
                "keywords": keywords,
                "top_rows": rows[unit],
                "top_scores": scores[unit],
            }  # fmt: skip
        )
    return found


def _test_caption_embeddings(test, embed):
    """Mean sentence embedding of each test image's captions."""
    per_image = test.stimuli.captions(test.stimulus_ids)
    if not any(per_image):
        raise DataError("The test images have no captions; the sentence score needs them.")
    flat = [c for caps in per_image for c in caps]
    emb = unit_rows(embed(flat))
    out = np.zeros((len(per_image), emb.shape[1]))
    start = 0
    for i, caps in enumerate(per_image):
        if caps:
            out[i] = emb[start : start + len(caps)].mean(0)
        start += len(caps)
    return out


def score_captions(units, found, bank, test, text_space, text_model, n_shuffles, device, seed=0,
                   pool=None, n_permutations=N_PERMUTATIONS):  # fmt: skip
    """Score each unit's caption on the test images, beside a fixed random-caption baseline.

    ``score`` is LaVCa's sentence score of the unit's caption; ``shuffled_score``
    the mean score of a fixed pool of random captions (``pool``, or ``n_shuffles``
    captions drawn from the bank's with ``seed``) on the unit, the same whichever
    other units are captioned; ``p_value`` the permutation p-value of ``score -
    shuffled_score`` (see :func:`caption_permutation_test`): a caption is
    informative when it is below :data:`INFORMATIVE_P`.
    """
    captions = [f["caption"] for f in found]
    if pool is None:
        pool = baseline_pool(bank.captions or [], n_shuffles, seed)
    if text_model is None:
        corpus = list(bank.captions or []) + [
            c for caps in test.stimuli.captions(test.stimulus_ids) for c in caps
        ]
        embed, metric = TfidfEmbedder(corpus + list(pool)), "sentence_spearman_tfidf"
    else:
        embed, metric = model_embedder(text_model, device=device), "sentence_spearman"
    image_emb = _test_caption_embeddings(test, embed)
    tested = caption_permutation_test(
        embed(captions), embed(list(pool)), image_emb, units.responses, n_permutations, seed
    )
    table = pd.DataFrame(
        {
            "caption": captions,
            "keywords": [", ".join(f["keywords"]) for f in found],
            "score": tested["score"],
            "shuffled_score": tested["baseline"],
            "metric": metric,
            "shuffled_p95": tested["baseline_p95"],
            "p_value": tested["p_value"],
            "n_pool": len(pool),
        }
    )
    table["predicted_activation"] = np.nan
    table["shuffled_predicted_activation"] = np.nan
    if text_space is not None:
        norm = float(np.mean([np.linalg.norm(b, axis=1).mean() for _, b in bank.chunks()]))
        pred = predicted_activation(
            text_space(captions), units.directions, units.offsets, norm=norm
        )
        table["predicted_activation"] = np.diag(pred)
        pooled = predicted_activation(
            text_space(list(pool)), units.directions, units.offsets, norm=norm
        )
        table["shuffled_predicted_activation"] = pooled.mean(0)
    table["top_ids"] = [", ".join(map(str, bank.ids[f["top_rows"][:10]])) for f in found]
    return table
