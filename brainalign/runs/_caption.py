"""Caption a fit run: units -> captions with scores -> captions.parquet, top images."""

from __future__ import annotations

import shutil
import warnings

import numpy as np

from brainalign._utils import atomic_path, check_option, check_positive_int, get_logger
from brainalign.captions import (
    CONTRACT_COLUMNS,
    DEFAULT_TAU,
    METHODS,
    THUMBNAIL_PX,
    EmbeddingBank,
    build_bank,
    model_embedder,
    run_brainscuba,
    run_lavca,
    score_captions,
    select_units,
)
from brainalign.captions._banks import DEFAULT_CHUNK
from brainalign.captions._directions import voxel_directions
from brainalign.captions._evaluate import N_PERMUTATIONS, N_POOL, baseline_pool
from brainalign.captions._text import DEFAULT_TEMPLATE
from brainalign.exceptions import DataError, ParameterError
from brainalign.runs._common import resolved_model
from brainalign.runs._rundir import RunDir

logger = get_logger(__name__)


def read_fit_run(run_dir) -> dict:
    """Read a fit run's parameters, weights and scores (through :class:`RunDir`).

    Parameters
    ----------
    run_dir : str, Path or RunDir
        Run directory written by :func:`brainalign.runs.fit_subject`.

    Returns
    -------
    dict
        ``params`` (run.json parameters), ``weights`` (``coef, intercept, mean,
        scale`` arrays and ``targets``, the table locating each target) and
        ``scores`` (scores.parquet, or None).
    """
    from brainalign.runs._fit import read_weights

    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if not run.record.exists():
        raise ParameterError(
            f"Invalid value for 'run_dir': expected a fit run directory with run.json; "
            f"got {str(run.path)!r}."
        )
    record = run.record.read()
    params = record.get("parameters", {})
    missing = [k for k in ("dataset", "root", "subject", "model", "layer") if k not in params]
    if missing or record.get("command", "fit") != "fit":
        raise DataError(f"{run.record.path} is not a fit run (missing {missing}).")
    return {"params": params, "weights": read_weights(run), "scores": run.read_table("scores")}


def _check_captionable(run: RunDir) -> None:
    """Refuse time-resolved runs: their targets are channel x time cells, not voxels."""
    if {"channel", "time"} <= set(run.table_columns("scores")):
        raise ParameterError(
            f"Invalid value for 'run_dir': caption describes voxels or vertices of fMRI "
            f"fit runs; {str(run.path)!r} is a time-resolved EEG run (channel x time targets)."
        )


def _load_test_data(params, progress):
    from brainalign.runs._common import load_averaged

    data = load_averaged(
        params["dataset"], params["root"], params["subject"], params.get("roi", "auto"), progress
    )
    return data.split()


def _check_targets(test, weights) -> None:
    n = weights["coef"].shape[1]
    if test.n_targets != n:
        raise DataError(f"The run's weights have {n} targets but the data has {test.n_targets}.")
    saved = weights["targets"]
    if len(saved.columns) and test.space is not None:
        now = test.space.score_columns()
        same = list(now.columns) == list(saved.columns) and all(
            np.array_equal(now[c].to_numpy().astype(saved[c].dtype), saved[c].to_numpy())
            for c in saved.columns
        )
        if not same:
            raise DataError(
                "The run's targets (" + ", ".join(saved.columns) + ") differ from the "
                "dataset's; refit the run."
            )


def _default_bank(run_dir, extractor, data, train_ids, params, progress):
    captions = [c[0] if c else "" for c in data.stimuli.captions(train_ids)]
    return build_bank(
        extractor,
        data.stimuli,
        train_ids,
        RunDir(run_dir).banks / "train_stimuli",
        layer=params["layer"],
        pooling=params.get("pooling", "auto"),
        captions=captions,
        cache_dir=RunDir(run_dir).features,
        fit_ids=train_ids,
        seed=params.get("seed", 0),
        progress=progress,
    )


def _text_space(params, device, progress):
    """Embed texts in the run's feature space (open_clip "embedding" only), or None."""
    from brainalign.features import ModelSpec

    if not ModelSpec.parse(params["model"]).has_text_tower or params["layer"] != "embedding":
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
    n_shuffles=N_POOL,
    chunk_size=DEFAULT_CHUNK,
    thumbnails=True,
    out=None,
    seed=0,
    device="auto",
    progress=True,
    n_permutations=N_PERMUTATIONS,
):
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
        Best voxels captioned individually, chosen on training data only: by the
        run's inner-CV R² of the training images (``cv_r2`` of scores.parquet), or,
        for a run without it, by the in-sample r of the model's predictions of the
        training images; never by the test r their captions are scored with.
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
        Captions in the fixed shuffled-baseline pool: drawn with ``seed`` from
        every caption of the run's training images, the same for every unit and
        whichever units are captioned. ``shuffled_score`` is their mean score on
        the unit (what a random caption scores).
    chunk_size : int
        Bank rows scored at once.
    thumbnails : bool
        Write the top images of each ROI (default bank only).
    out : str or Path, optional
        Folder of ``captions.parquet`` and ``top_images/`` (default: the fit run).
    seed : int
        Seed of the baseline pool and of the permutations.
    device : str
        Torch device.
    progress : bool
        Show progress bars.
    n_permutations : int
        Permutations of the test images behind each caption's ``p_value``: the
        permutation p-value of ``score - shuffled_score`` (a caption is
        informative when it is below 0.05).

    Returns
    -------
    pandas.DataFrame
        The captions table (``subject, model, layer, unit, unit_kind, method,
        caption, keywords, score, shuffled_score``, then ``metric``,
        ``shuffled_p95`` (the pool's 95th percentile score), ``p_value``,
        ``n_pool``, ``predicted_activation``, ``shuffled_predicted_activation``
        (the pool's mean), ``top_ids``).
    """
    from brainalign.features import get_extractor

    check_option("method", method, METHODS)
    top_n = check_positive_int("top_n", top_n)
    if not isinstance(n_voxels, (int, np.integer)) or isinstance(n_voxels, bool) or n_voxels < 0:
        raise ParameterError(
            f"Invalid value for 'n_voxels': expected an integer >= 0; got {n_voxels!r}."
        )
    run_dir = RunDir(run_dir).path
    _check_captionable(RunDir(run_dir))
    run = read_fit_run(run_dir)
    params = run["params"]
    train, test = _load_test_data(params, progress)
    if train.stimuli is None:
        raise ParameterError(
            f"Invalid value for 'run_dir': captions need the images the subject saw; the "
            f"{params['dataset']} data of {str(run_dir)!r} has none."
        )
    _check_targets(test, run["weights"])
    extractor = get_extractor(
        params["model"],
        device=device,
        seed=params.get("seed", 0),
        preprocess=params.get("preprocess"),
    )
    own_bank = bank is None
    train_bank, train_r = None, None
    if own_bank or (n_voxels and not _has_cv_r2(run["scores"])):
        train_bank = _default_bank(run_dir, extractor, train, train.stimulus_ids, params, progress)
    if n_voxels and not _has_cv_r2(run["scores"]):
        train_r = training_r(run["weights"], train, train_bank)
    units = select_units(test, run["weights"], run["scores"], rois, n_voxels, roi_method, train_r)
    if own_bank:
        bank = train_bank
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

        found = run_lavca(units, bank, top_n, n_keywords, keyword_method, template, llm,
                           text_space, image_captions, chunk_size, progress)  # fmt: skip
    else:
        found = run_brainscuba(units, bank, top_n, captioner, tau, n_keywords, chunk_size)
    pool = baseline_pool(
        [c for caps in train.stimuli.captions(train.stimulus_ids) for c in caps], n_shuffles, seed
    )
    table = score_captions(units, found, bank, test, text_space, text_model, n_shuffles, device,
                           seed, pool=pool, n_permutations=n_permutations)  # fmt: skip
    table.insert(0, "method", method)
    table.insert(0, "unit_kind", units.kinds)
    table.insert(0, "unit", units.names)
    table.insert(0, "layer", params["layer"])
    table.insert(0, "model", resolved_model(run["scores"], params["model"]))
    table.insert(0, "subject", params["subject"])
    table = table[list(CONTRACT_COLUMNS) + [c for c in table if c not in CONTRACT_COLUMNS]]
    target = RunDir(run_dir if out is None else out)
    target.check_output()
    target.path.mkdir(parents=True, exist_ok=True)
    target.write_table("captions", table)
    if thumbnails and own_bank:
        write_top_images(target.path, units, found, bank, train.stimuli)
    return table


def _has_cv_r2(scores) -> bool:
    return (
        scores is not None
        and "cv_r2" in scores.columns
        and bool(np.isfinite(scores["cv_r2"].to_numpy(dtype=np.float64)).any())
    )


def training_r(weights, train, train_bank, block=1024) -> np.ndarray:
    """In-sample r of the model's predictions of the training responses, per target.

    A training-data criterion for picking voxels when the run has no inner-CV
    score: optimistic (the weights were fitted on these images) but blind to the
    test images.

    Parameters
    ----------
    weights : dict
        ``coef``, ``intercept``, ``mean``, ``scale`` of the encoding model.
    train : BrainData
        Training responses (repetitions averaged).
    train_bank : EmbeddingBank
        Features of the training images in the run's feature space (ids: the
        training stimulus ids).

    Returns
    -------
    numpy.ndarray of shape (n_targets,)
        Pearson r per target.
    """
    from brainalign.encoding import pearson_r

    rows = {sid: i for i, sid in enumerate(train_bank.ids.tolist())}
    missing = [s for s in train.stimulus_ids.tolist() if s not in rows]
    if missing:
        raise DataError(f"The training bank lacks {len(missing)} training images.")
    x = np.asarray(train_bank.embeddings, dtype=np.float64)[
        [rows[s] for s in train.stimulus_ids.tolist()]
    ]
    dirs = voxel_directions(weights["coef"], weights["scale"])
    offsets = weights["intercept"] - dirs @ weights["mean"]
    out = np.empty(dirs.shape[0])
    for lo in range(0, dirs.shape[0], block):
        pred = x @ dirs[lo : lo + block].T + offsets[lo : lo + block]
        out[lo : lo + block] = pearson_r(train.responses[:, lo : lo + block], pred)
    return out


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

    run = RunDir(run_dir)
    written = {}
    for name, kind, result in zip(units.names, units.kinds, found, strict=True):
        if kind != "roi":
            continue
        folder = run.top_images_of(name)
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
