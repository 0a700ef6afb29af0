"""Caption a fit run directory: units -> captions with scores -> captions.parquet, top images."""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path, check_option, check_positive_int, get_logger
from brainalign.captions._banks import DEFAULT_CHUNK, EmbeddingBank, build_bank, top_k
from brainalign.captions._brainscuba import DEFAULT_TAU, NearestCaptioner, brainscuba_captions
from brainalign.captions._directions import roi_direction, unit_rows, voxel_directions
from brainalign.captions._evaluate import predicted_activation, sentence_scores, shuffled_baseline
from brainalign.captions._lavca import lavca_captions
from brainalign.captions._text import DEFAULT_TEMPLATE, TfidfEmbedder, model_embedder, tokenize
from brainalign.exceptions import DataError, ParameterError

logger = get_logger(__name__)

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


def read_run(run_dir) -> dict:
    """Read a fit run's parameters and weights.

    Parameters
    ----------
    run_dir : str or Path
        Run directory written by :func:`brainalign.encoding.fit_subject`.

    Returns
    -------
    dict
        ``params`` (run.json parameters), ``model`` (the spec as fitted),
        ``weights`` (dict of arrays: coef, intercept, mean, scale, ijk) and
        ``scores`` (scores.parquet, or None).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").exists():
        raise ParameterError(
            f"Invalid value for 'run_dir': expected a fit run directory with run.json; "
            f"got {str(run_dir)!r}."
        )
    record = json.loads((run_dir / "run.json").read_text())
    params = record.get("parameters", {})
    missing = [k for k in ("dataset", "root", "subject", "model", "layer") if k not in params]
    if missing or record.get("command", "fit") != "fit":
        raise DataError(f"{run_dir / 'run.json'} is not a fit run (missing {missing}).")
    found = sorted(run_dir.glob("sub-*_stat-weights.npz"))
    if len(found) != 1:
        raise DataError(f"Expected one *_stat-weights.npz in {run_dir}; found {len(found)}.")
    with np.load(found[0]) as npz:
        weights = {k: npz[k] for k in ("coef", "intercept", "mean", "scale", "ijk")}
    scores = run_dir / "scores.parquet"
    return {
        "params": params,
        "weights": weights,
        "scores": pd.read_parquet(scores) if scores.exists() else None,
    }


def _load_test_data(params, progress):
    from brainalign.data import load_dataset

    data = load_dataset(
        params["dataset"],
        root=params["root"],
        subject=params["subject"],
        roi=params.get("roi", "nsdgeneral"),
        progress=progress,
    )
    return data.average_repetitions().split()


def _check_targets(test, weights) -> None:
    n = weights["coef"].shape[1]
    if test.n_targets != n:
        raise DataError(f"The run's weights have {n} targets but the data has {test.n_targets}.")
    ijk = weights["ijk"]
    if len(ijk) and getattr(test.space, "kind", None) == "volume":
        if not np.array_equal(np.asarray(test.space.ijk), ijk):
            raise DataError("The run's voxels (ijk) differ from the dataset's; refit the run.")


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


def _default_bank(run_dir, extractor, data, train_ids, params, progress):
    captions = [c[0] if c else "" for c in data.stimuli.captions(train_ids)]
    return build_bank(
        extractor,
        data.stimuli,
        train_ids,
        Path(run_dir) / "banks" / "train_stimuli",
        layer=params["layer"],
        pooling=params.get("pooling", "auto"),
        captions=captions,
        cache_dir=Path(run_dir) / "features",
        fit_ids=train_ids,
        seed=params.get("seed", 0),
        progress=progress,
    )


def _text_space(params, device, progress):
    """Embed texts in the run's feature space (open_clip "embedding" only), or None."""
    if not str(params["model"]).startswith("open_clip:") or params["layer"] != "embedding":
        return None
    return model_embedder(params["model"], device=device, seed=params.get("seed", 0))


def caption_run(
    run_dir,
    bank=None,
    method="lavca",
    rois=None,
    top_n=50,
    n_voxels=0,
    n_keywords=3,
    keyword_method="enrichment",
    template=DEFAULT_TEMPLATE,
    llm=None,
    captioner=None,
    image_captioner=None,
    tau=DEFAULT_TAU,
    roi_method="mean",
    text_model=None,
    n_shuffles=50,
    chunk_size=DEFAULT_CHUNK,
    thumbnails=True,
    device="auto",
    progress=True,
) -> pd.DataFrame:
    """Caption the ROIs (and best voxels) of a fit run and score every caption.

    Reads ``run.json`` and the weights, re-extracts (through the run's feature cache)
    the features of the dataset's training images as the default bank, captions each
    unit, scores each caption on the held-out images and writes
    ``RUN/captions.parquet`` and ``RUN/top_images/<roi>/<rank>_<id>.png``.

    Parameters
    ----------
    run_dir : str or Path
        Fit run directory.
    bank : str, Path or EmbeddingBank, optional
        Image bank in the run's feature space (a folder written by
        :meth:`EmbeddingBank.save`, with captions); default: the dataset's
        training images and their first captions.
    method : {"lavca", "brainscuba"}
        ``lavca``: keywords of the top images' captions composed into a sentence;
        ``brainscuba``: the direction projected onto the bank, captioned by
        ``captioner``.
    rois : sequence of str, optional
        ROIs to caption (default: every ROI label but ``nsdgeneral``).
    top_n : int
        Top images per unit (LaVCa keywords; thumbnails).
    n_voxels : int
        Best-predicted voxels captioned individually.
    n_keywords : int
        Keywords per caption.
    keyword_method : {"enrichment", "tfidf", "frequency"}
        Keyword scoring against the bank's captions.
    template : str
        Sentence template with a ``{keywords}`` field.
    llm : callable, optional
        ``llm(prompt) -> str`` composing LaVCa sentences.
    captioner : callable, optional
        BrainSCUBA captioner ``embeddings -> list of str`` (default: the nearest
        bank image's caption, :class:`NearestCaptioner`).
    image_captioner : callable, optional
        LaVCa image captioner ``images -> list of str`` (e.g.
        :class:`CocaCaptioner`) used on the top images instead of the bank's
        captions (bank ids must be stimulus ids of the dataset).
    tau : float
        BrainSCUBA softmax inverse temperature.
    roi_method : {"mean", "pca"}
        ROI direction for BrainSCUBA.
    text_model : str, optional
        Sentence model spec for the sentence-level score (e.g. ``hf:<MiniLM dir>``);
        default: TF-IDF bag of words over the bank's and test images' captions.
    n_shuffles : int
        Other units' captions averaged in the shuffled baseline.
    chunk_size : int
        Bank rows scored at once.
    thumbnails : bool
        Write the top images of each ROI (default bank only).
    device : str
        Torch device.
    progress : bool
        Show progress bars.

    Returns
    -------
    pandas.DataFrame
        The captions table (``subject, model, layer, unit, unit_kind, method,
        caption, keywords, score, shuffled_score``, then ``metric``,
        ``predicted_activation``, ``shuffled_predicted_activation``, ``top_ids``).
    """
    from brainalign.features import get_extractor

    check_option("method", method, METHODS)
    top_n = check_positive_int("top_n", top_n)
    if not isinstance(n_voxels, (int, np.integer)) or isinstance(n_voxels, bool) or n_voxels < 0:
        raise ParameterError(
            f"Invalid value for 'n_voxels': expected an integer >= 0; got {n_voxels!r}."
        )
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    params = run["params"]
    train, test = _load_test_data(params, progress)
    _check_targets(test, run["weights"])
    units = select_units(test, run["weights"], run["scores"], rois, n_voxels, roi_method)
    extractor = get_extractor(params["model"], device=device, seed=params.get("seed", 0))
    own_bank = bank is None
    if own_bank:
        bank = _default_bank(run_dir, extractor, train, train.stimulus_ids, params, progress)
    elif not isinstance(bank, EmbeddingBank):
        bank = EmbeddingBank.load(bank)
    if bank.embeddings.shape[1] != units.directions.shape[1]:
        raise DataError(
            f"The bank has {bank.embeddings.shape[1]} dimensions; the run's features "
            f"{units.directions.shape[1]}."
        )
    text_space = _text_space(params, device, progress)
    if method == "lavca":
        image_captions = None
        if image_captioner is not None:

            def image_captions(rows):
                return list(image_captioner(list(train.stimuli.images(bank.ids[rows]))))

        found = _run_lavca(units, bank, top_n, n_keywords, keyword_method, template, llm,
                           text_space, image_captions, chunk_size, progress)  # fmt: skip
    else:
        found = _run_brainscuba(units, bank, top_n, captioner, tau, n_keywords, chunk_size)
    table = _score_table(units, found, bank, test, text_space, text_model, n_shuffles, device)
    table.insert(0, "method", method)
    table.insert(0, "unit_kind", units.kinds)
    table.insert(0, "unit", units.names)
    table.insert(0, "layer", params["layer"])
    table.insert(0, "model", str(params["model"]))
    table.insert(0, "subject", params["subject"])
    table = table[list(CONTRACT_COLUMNS) + [c for c in table if c not in CONTRACT_COLUMNS]]
    with atomic_path(run_dir / "captions.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    if thumbnails and own_bank:
        write_top_images(run_dir, units, found, bank, train.stimuli)
    return table


def _run_lavca(units, bank, top_n, n_keywords, keyword_method, template, llm, text_space,
               image_captions, chunk_size, progress):  # fmt: skip
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


def _run_brainscuba(units, bank, top_n, captioner, tau, n_keywords, chunk_size):
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


def _score_table(units, found, bank, test, text_space, text_model, n_shuffles, device):
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
            "shuffled_score": shuffled_baseline(matrix, n_shuffles),
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
        table["shuffled_predicted_activation"] = shuffled_baseline(pred, n_shuffles)
    table["top_ids"] = [", ".join(map(str, bank.ids[f["top_rows"][:10]])) for f in found]
    return table


def write_top_images(run_dir, units, found, bank, stimuli, n_images=12, size=THUMBNAIL_PX):
    """Write ``RUN/top_images/<roi>/<rank>_<stimulus id>.png`` thumbnails per ROI.

    Parameters
    ----------
    run_dir : str or Path
        Run directory.
    units : Units
        The captioned units (only ROIs get thumbnails).
    found : list of dict
        Per unit ``top_rows`` (bank rows, best first).
    bank : EmbeddingBank
        The bank (its ids are stimulus ids of ``stimuli``).
    stimuli : object
        Store with ``images(ids)``.
    n_images : int
        Thumbnails per ROI.
    size : int
        Longest side of a thumbnail, in pixels.

    Returns
    -------
    dict of str -> list of Path
        The files written per ROI.
    """
    from PIL import Image

    root = Path(run_dir) / "top_images"
    written = {}
    for name, kind, result in zip(units.names, units.kinds, found, strict=True):
        if kind != "roi":
            continue
        folder = root / _safe_name(name)
        if folder.exists():
            shutil.rmtree(folder)
        ids = bank.ids[result["top_rows"][:n_images]]
        written[name] = []
        for rank, (sid, image) in enumerate(zip(ids, stimuli.images(ids), strict=True), 1):
            thumb = Image.fromarray(np.asarray(image, dtype=np.uint8))
            thumb.thumbnail((size, size))
            path = folder / f"{rank:02d}_{sid}.png"
            with atomic_path(path) as tmp, warnings.catch_warnings():
                thumb.save(tmp, format="PNG")
            written[name].append(path)
    return written


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))
