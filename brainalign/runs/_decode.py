"""Decode one subject into a model's embedding space and write the run directory."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path, get_logger
from brainalign.exceptions import DataError, ParameterError
from brainalign.runs._common import (
    features_record,
    messages,
    provenance,
    recorded_warnings,
    resolve_roi,
)
from brainalign.runs._rundir import RunDir
from brainalign.runs._spec import DecodeSpec

logger = get_logger(__name__)


def decode_subject(
    dataset,
    root,
    subject,
    model,
    out,
    layer="embedding",
    target="image",
    roi="auto",
    rois=None,
    pooling="auto",
    alphas=None,
    cv=5,
    n_captions=5,
    device="auto",
    backend="numpy",
    seed=0,
    cache_dir=None,
    progress=True,
) -> dict:
    """Decode one subject's responses into model space, per ROI, and write the run.

    Parameters
    ----------
    dataset : str
        Dataset name with stimulus images (``"nsd"``).
    root : str or Path
        Dataset folder.
    subject : int
        Subject number.
    model : str
        Model spec whose embedding is decoded (e.g. ``open_clip:ViT-B-32@...``, or
        ``hf:<dir>`` of a sentence model with ``target="caption"``).
    out : str or Path
        Run directory (created).
    layer : str
        Layer of the model to decode into (default: the final embedding).
    target : {"image", "caption"}
        Decode the model's features of the images, or its text embedding of each
        image's captions (averaged over the captions of an image).
    roi : str, sequence of str or None
        Targets to load: ROI names for fMRI, channel names for EEG (``"auto"``:
        ``nsdgeneral``, or every channel).
    rois : sequence of str, optional
        fMRI: ROIs decoded separately (default: every ROI label in the data); a
        decoder on all loaded voxels (``"all"``) is always fitted. EEG data is
        decoded over time instead (every time point, and the whole epoch).
    pooling : str
        Feature pooling.
    alphas : sequence of float, optional
        Ridge penalty grid.
    cv : int
        Folds for alpha selection.
    n_captions : int
        Captions retrieved per test image (when a caption bank in the target space
        exists: the text tower of an open_clip model, or ``target="caption"``).
    device, backend : str
        Torch device for features; where the ridge runs.
    seed : int
        Seed of random weights and reductions.
    cache_dir : str or Path, optional
        Feature cache (default: ``<out>/features``).
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        ``decoding`` (the metrics table), ``captions`` (retrieved captions or None)
        and ``paths``.
    """
    spec = DecodeSpec(
        dataset=dataset,
        root=root,
        subject=subject,
        model=model,
        layer=layer,
        target=target,
        roi=roi,
        rois=rois,
        pooling=pooling,
        alphas=alphas,
        cv=cv,
        n_captions=n_captions,
        device=device,
        backend=backend,
        seed=seed,
        cache_dir=None if cache_dir is None else str(cache_dir),
    )
    return run_decode(spec, out, progress=progress)


def run_decode(spec: DecodeSpec, out, progress: bool = True, overwrite: bool = False) -> dict:
    """Decode one :class:`DecodeSpec` and write its run directory.

    The subject, ROIs, model and layer are checked before any data is loaded
    (:func:`~brainalign.runs._validate.check_plan`), then the run directory
    (:meth:`RunDir.prepare`).

    Parameters
    ----------
    spec : DecodeSpec
        What to decode.
    out : str, Path or RunDir
        Run directory.
    progress : bool
        Show progress bars.
    overwrite : bool
        Replace a different run that ``out`` holds (else it is refused).

    Returns
    -------
    dict
        As :func:`decode_subject`.
    """
    from brainalign.data import load_dataset
    from brainalign.encoding import DecodingModel, decode_rois
    from brainalign.runs._validate import check_plan

    run = out if isinstance(out, RunDir) else RunDir(out)
    run.check_output()
    rois = [r for r in [*(spec.rois or []), spec.roi] if isinstance(r, str) and r != "auto"]
    models = {spec.model: [spec.layer]} if spec.target == "image" else None
    check_plan(spec.dataset, spec.root, [spec.subject], rois or None, models)
    if spec.shared_space is not None:
        from brainalign.runs._align import open_align_run

        open_align_run(spec)  # a bad align run fails before the run directory is made
    run.prepare("decode", spec.to_json(), overwrite=overwrite)
    cache = spec.cache_dir or run.features
    if spec.shared_space is not None:
        return _decode_shared(spec, run, cache, progress)
    with recorded_warnings() as caught:
        space = _TargetSpace(spec)  # fails before reading
        data = load_dataset(
            spec.dataset,
            root=spec.root,
            subject=spec.subject,
            roi=resolve_roi(spec.dataset, spec.root, spec.roi),
            progress=progress,
        ).average_repetitions()
        train_ids = data.split()[0].stimulus_ids
        feats = space.embed(data, train_ids, spec.pooling, cache, progress)
        if data.space is not None and data.space.time_resolved:
            result = _decode_eeg(data, feats, spec.alphas, spec.cv, spec.backend)
            captions = None
        else:
            rois = spec.rois
            if rois is None:
                rois = [n for n in data.roi_names() if n not in data.roi_columns]
            est = DecodingModel(alphas=spec.alphas, cv=spec.cv, backend=spec.backend)
            result = decode_rois(data, feats, rois=list(rois), estimator=est, progress=progress)
            captions = space.retrieve(data, result, spec.n_captions, cache, spec.pooling)
    table = result["scores"]
    if captions is not None:
        table = pd.concat([table, captions["metrics"]], ignore_index=True)
    for name, value in (("target", spec.target), ("layer", spec.layer), ("model", space.spec)):
        table.insert(0, name, value)
    table.insert(0, "subject", spec.subject)
    paths = _write(run, table, captions, result, feats, spec, caught, data)
    shown = None if captions is None else captions["table"]
    return {"decoding": table, "captions": shown, "paths": paths}


def _decode_shared(spec: DecodeSpec, run: RunDir, cache, progress: bool) -> dict:
    """Decode through an align run's shared space (a decoder of the other subjects)."""
    from brainalign.runs._align import cross_subject_decode

    with recorded_warnings() as caught:
        space = _TargetSpace(spec)  # fails before reading
        out = cross_subject_decode(spec, run, progress)
        captions = space.retrieve(out["data"], out["result"], spec.n_captions, cache, spec.pooling)
    table = out["result"]["scores"]
    if captions is not None:
        table = pd.concat([table, captions["metrics"]], ignore_index=True)
    for name, value in (("target", spec.target), ("layer", spec.layer), ("model", out["model"])):
        table.insert(0, name, value)
    table.insert(0, "subject", spec.subject)
    paths = _write(
        run,
        table,
        captions,
        out["result"],
        out["features"],
        spec,
        caught,
        out["data"],
        out["record"],
    )
    shown = None if captions is None else captions["table"]
    return {"decoding": table, "captions": shown, "paths": paths}


def _decode_eeg(data, feats, alphas, cv, backend) -> dict:
    """Time-resolved decoding and identification (EEG): one table, no ROI decoders."""
    from brainalign.encoding import decode_over_time

    table = decode_over_time(data, feats, alphas=alphas, cv=cv, backend=backend)
    table.insert(0, "roi", np.where(table["scope"] == "epoch", "epoch", "all"))
    return {"scores": table, "predictions": {}, "test_ids": data.split()[1].stimulus_ids}


class _TargetSpace:
    """The embedding decoded into, and the caption bank in the same space."""

    def __init__(self, spec: DecodeSpec):
        from brainalign.features import get_extractor

        self.layer, self.target, self.device, self.seed = (
            spec.layer,
            spec.target,
            spec.device,
            spec.seed,
        )
        self.model = spec.model
        tower = "text" if spec.target == "caption" else "auto"
        preprocess = None if tower == "text" else spec.preprocess
        self.extractor = get_extractor(
            spec.model, device=spec.device, tower=tower, seed=spec.seed, preprocess=preprocess
        )
        if spec.target == "caption" and self.extractor.bundle.modality != "text":
            raise ParameterError(
                f"Invalid value for 'target': 'caption' needs a model with a text tower; "
                f"{spec.model!r} reads images."
            )
        self.spec = self.extractor.spec

    def embed(self, data, train_ids, pooling, cache_dir, progress):
        """Embedding of every stimulus of ``data`` (a FeatureSet)."""
        kwargs = {
            "layers": [self.layer],
            "pooling": pooling,
            "cache_dir": cache_dir,
            "progress": progress,
            "seed": self.seed,
        }
        if self.target == "image":
            return self.extractor.extract(
                data.stimuli, ids=data.stimulus_ids, fit_ids=train_ids, **kwargs
            )[self.layer]
        return _caption_embeddings(self.extractor, data, kwargs)

    def text_extractor(self, pooling):
        """Extractor of caption embeddings in the decoded space, or None."""
        from brainalign.features import ModelSpec, Pooling

        if Pooling.parse(pooling).fitted:
            return None  # a reduction fitted on the decoded stimuli: no bank in its space
        if self.target == "caption":
            return self.extractor
        if ModelSpec.parse(self.model).has_text_tower and self.layer == "embedding":
            from brainalign.features import get_extractor

            return get_extractor(self.model, device=self.device, tower="text", seed=self.seed)
        return None

    def retrieve(self, data, result, n_captions, cache_dir, pooling):
        """Retrieve captions for the decoded test embeddings (None without a bank)."""
        from brainalign.encoding import caption_retrieval_scores, retrieve_captions

        text = self.text_extractor(pooling)
        if text is None:
            logger.info(
                "No caption retrieval: %s layer %r has no text embedding in the same space "
                "(use an open_clip model's 'embedding' or --target caption).",
                self.spec,
                self.layer,
            )
            return None
        test_ids = result["test_ids"]
        try:
            per_image = data.stimuli.captions(test_ids)
        except (AttributeError, DataError) as exc:
            logger.info("No caption retrieval: the dataset has no captions (%s).", exc)
            return None
        owner = np.repeat(test_ids, [len(c) for c in per_image])
        bank = [c for caps in per_image for c in caps]
        if not bank:
            logger.info("No caption retrieval: the test images have no captions.")
            return None
        ids = [f"{o}#{j}" for j, o in enumerate(owner)]
        # the bank in the decoded space: the same layer and pooling for a caption target
        layer = self.layer if self.target == "caption" else "embedding"
        emb = text.extract(
            bank, ids=ids, layers=[layer], pooling=pooling, cache_dir=cache_dir, progress=False
        )[layer].features
        metrics = []
        for roi, pred in result["predictions"].items():
            m = caption_retrieval_scores(pred, emb, owner, test_ids, seed=self.seed)
            m.insert(0, "roi", roi)
            metrics.append(m)
        table = retrieve_captions(result["predictions"]["all"], emb, bank, k=n_captions)
        table.insert(0, "stimulus_id", test_ids[table.pop("row").to_numpy()])
        table["own"] = owner[table["bank_index"].to_numpy()] == table["stimulus_id"].to_numpy()
        first = {s: c[0] for s, c in zip(test_ids.tolist(), per_image, strict=True) if c}
        table["true_caption"] = [first.get(s, "") for s in table["stimulus_id"].tolist()]
        return {"metrics": pd.concat(metrics, ignore_index=True), "table": table}


def _caption_embeddings(extractor, data, kwargs):
    """Mean text embedding of each stimulus's captions, as a FeatureSet."""
    from brainalign.features import FeatureSet

    per_image = data.stimuli.captions(data.stimulus_ids)
    missing = [s for s, c in zip(data.stimulus_ids, per_image, strict=True) if not c]
    if missing:
        raise DataError(
            f"target 'caption' needs captions for every stimulus; {len(missing)} have none "
            f"(e.g. {missing[:5]})."
        )
    owner = np.repeat(np.arange(len(per_image)), [len(c) for c in per_image])
    texts = [c for caps in per_image for c in caps]
    ids = [f"{data.stimulus_ids[o]}#{j}" for j, o in enumerate(owner)]
    fs = extractor.extract(texts, ids=ids, **kwargs)[kwargs["layers"][0]]
    sums = np.zeros((len(per_image), fs.features.shape[1]), np.float64)
    np.add.at(sums, owner, fs.features)
    mean = (sums / np.bincount(owner)[:, None]).astype(np.float32)
    return FeatureSet(mean, data.stimulus_ids, {**fs.metadata, "caption_mean": True})


def _write(run: RunDir, table, captions, result, feats, spec, caught, data, extra=None) -> dict:
    run.path.mkdir(parents=True, exist_ok=True)
    paths = {"decoding": run.write_table("decoding", table)}
    if captions is not None:
        paths["captions"] = run.write_table("retrieved_captions", captions["table"])
    test_ids = result["test_ids"]
    arrays = {f"pred_{roi}": p for roi, p in result["predictions"].items()}
    if arrays:  # (time-resolved EEG decoding keeps only its table)
        paths["predictions"] = run.decoded_embeddings
        with atomic_path(paths["predictions"]) as tmp:
            np.savez(tmp, stimulus_ids=test_ids, true=feats.align(test_ids), **arrays)
    test = data.split()[1]
    record = provenance("decode", spec.to_json(), test, messages(caught))
    features = features_record({spec.layer: feats})
    paths["run"] = run.record.write({**record, "features": features, **(extra or {})})
    return paths
