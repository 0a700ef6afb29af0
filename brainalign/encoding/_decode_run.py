"""Decode one subject into a model's embedding space and write the run directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path, check_option, get_logger, write_json_atomic
from brainalign.encoding._decoding import (
    DecodingModel,
    caption_retrieval_scores,
    decode_rois,
    retrieve_captions,
)
from brainalign.encoding._run import provenance
from brainalign.exceptions import DataError, ParameterError

logger = get_logger(__name__)

#: What the decoder predicts: the model's embedding of each image, or the
#: (text-model) embedding of each image's captions.
TARGETS = ("image", "caption")


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
    from brainalign.data import load_dataset
    from brainalign.encoding._run import _default_roi, recorded_warnings

    check_option("target", target, TARGETS)
    roi = _default_roi(dataset, root, roi)
    out = Path(out)
    params = {
        "dataset": dataset,
        "root": str(root),
        "subject": subject,
        "model": model,
        "layer": layer,
        "target": target,
        "roi": roi,
        "rois": None if rois is None else list(rois),
        "pooling": pooling,
        "alphas": None if alphas is None else list(map(float, alphas)),
        "cv": cv,
        "n_captions": n_captions,
        "device": device,
        "backend": backend,
        "seed": seed,
    }
    cache = cache_dir or out / "features"
    with recorded_warnings() as caught:
        space = _TargetSpace(model, layer, target, device, seed)  # fails before reading
        data = load_dataset(dataset, root=root, subject=subject, roi=roi, progress=progress)
        data = data.average_repetitions()
        train_ids = data.split()[0].stimulus_ids
        feats = space.embed(data, train_ids, pooling, cache, progress)
        if _is_sensor(data):
            result = _decode_eeg(data, feats, alphas, cv, backend)
            captions = None
        else:
            if rois is None:
                rois = [n for n in data.roi_names() if n not in data.roi_columns]
            est = DecodingModel(alphas=alphas, cv=cv, backend=backend)
            result = decode_rois(data, feats, rois=rois, estimator=est, progress=progress)
            captions = space.retrieve(data, result, n_captions, cache, pooling)
    table = result["scores"]
    if captions is not None:
        table = pd.concat([table, captions["metrics"]], ignore_index=True)
    for name, value in (("target", target), ("layer", layer), ("model", space.spec)):
        table.insert(0, name, value)
    table.insert(0, "subject", subject)
    paths = _write(out, table, captions, result, feats, params, caught, data)
    shown = None if captions is None else captions["table"]
    return {"decoding": table, "captions": shown, "paths": paths}


def _is_sensor(data) -> bool:
    from brainalign.data import SensorSpace

    return isinstance(data.space, SensorSpace)


def _decode_eeg(data, feats, alphas, cv, backend) -> dict:
    """Time-resolved decoding and identification (EEG): one table, no ROI decoders."""
    from brainalign.encoding._time_resolved import decode_over_time

    table = decode_over_time(data, feats, alphas=alphas, cv=cv, backend=backend)
    table.insert(0, "roi", np.where(table["scope"] == "epoch", "epoch", "all"))
    return {"scores": table, "predictions": {}, "test_ids": data.split()[1].stimulus_ids}


class _TargetSpace:
    """The embedding decoded into, and the caption bank in the same space."""

    def __init__(self, model, layer, target, device, seed):
        from brainalign.features import get_extractor

        self.layer, self.target, self.device, self.seed = layer, target, device, seed
        self.model = model
        tower = "text" if target == "caption" else "auto"
        self.extractor = get_extractor(model, device=device, tower=tower, seed=seed)
        if target == "caption" and self.extractor.bundle.modality != "text":
            raise ParameterError(
                f"Invalid value for 'target': 'caption' needs a model with a text tower; "
                f"{model!r} reads images."
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
        if str(pooling).startswith(("pca", "srp")):
            return None  # a reduction fitted on the decoded stimuli: no bank in its space
        if self.target == "caption":
            return self.extractor
        if self.spec.startswith("open_clip:") and self.layer == "embedding":
            from brainalign.features import get_extractor

            return get_extractor(self.model, device=self.device, tower="text", seed=self.seed)
        return None

    def retrieve(self, data, result, n_captions, cache_dir, pooling):
        """Retrieve captions for the decoded test embeddings (None without a bank)."""
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
            m = caption_retrieval_scores(pred, emb, owner, test_ids)
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


def _write(out, table, captions, result, feats, params, caught, data) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"decoding": out / "decoding.parquet"}
    with atomic_path(paths["decoding"]) as tmp:
        table.to_parquet(tmp, index=False)
    if captions is not None:
        paths["captions"] = out / "retrieved_captions.parquet"
        with atomic_path(paths["captions"]) as tmp:
            captions["table"].to_parquet(tmp, index=False)
    paths["predictions"] = out / "decoded_embeddings.npz"
    test_ids = result["test_ids"]
    arrays = {f"pred_{roi}": p for roi, p in result["predictions"].items()}
    if arrays:  # (time-resolved EEG decoding keeps only its table)
        with atomic_path(paths["predictions"]) as tmp:
            np.savez(tmp, stimulus_ids=test_ids, true=feats.align(test_ids), **arrays)
    else:
        del paths["predictions"]
    record = provenance(params, caught, data.split()[1], command="decode")
    paths["run"] = write_json_atomic(out / "run.json", record)
    return paths
