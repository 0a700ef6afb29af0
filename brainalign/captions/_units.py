"""Caption units: directions of an encoding model's ROIs and voxels, captions, scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from brainalign.captions._banks import top_k
from brainalign.captions._brainscuba import NearestCaptioner, brainscuba_captions
from brainalign.captions._directions import roi_direction, unit_rows, voxel_directions
from brainalign.captions._evaluate import predicted_activation, sentence_scores, shuffled_baseline
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


def select_units(test, weights, scores=None, rois=None, n_voxels=0, roi_method="mean"):
    """Directions and test responses of the ROIs (and best voxels) to caption.

    Parameters
    ----------
    test : BrainData
        Held-out responses (repetitions averaged), columns as in the weights.
    weights : dict
        ``coef``, ``intercept``, ``mean``, ``scale`` of the encoding model.
    scores : pandas.DataFrame, optional
        The run's scores (picks the best voxels by ``r``).
    rois : sequence of str, optional
        ROIs (default: every ROI label of the data but ``nsdgeneral``).
    n_voxels : int
        Best-predicted voxels captioned individually (0: none).
    roi_method : {"mean", "pca"}
        ROI direction for BrainSCUBA (the first principal direction for ``pca``).

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
        r = np.zeros(test.n_targets) if scores is None else scores["r"].to_numpy()
        for target in np.argsort(-r, kind="stable")[: int(n_voxels)]:
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


def score_captions(units, found, bank, test, text_space, text_model, n_shuffles, device, seed=0):
    """Score each unit's caption on the test images, beside a shuffled baseline."""
    captions = [f["caption"] for f in found]
    if text_model is None:
        corpus = list(bank.captions or []) + [
            c for caps in test.stimuli.captions(test.stimulus_ids) for c in caps
        ]
        embed, metric = TfidfEmbedder(corpus + captions), "sentence_spearman_tfidf"
    else:
        embed, metric = model_embedder(text_model, device=device), "sentence_spearman"
    image_emb = _test_caption_embeddings(test, embed)
    matrix = sentence_scores(embed(captions), image_emb, units.responses)
    table = pd.DataFrame(
        {
            "caption": captions,
            "keywords": [", ".join(f["keywords"]) for f in found],
            "score": np.diag(matrix),
            "shuffled_score": shuffled_baseline(matrix, n_shuffles, seed),
            "metric": metric,
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
        table["shuffled_predicted_activation"] = shuffled_baseline(pred, n_shuffles, seed)
    table["top_ids"] = [", ".join(map(str, bank.ids[f["top_rows"][:10]])) for f in found]
    return table
