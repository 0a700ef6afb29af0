"""Synthesise images for the ROIs of a fit run: a synthesis run directory.

fit run -> :class:`~brainalign.synthesis.RoiEncoder` (the run's weights, ROI masks
and feature extractor; the cached features give the calibration bank and any
fitted reduction) -> one generator per method -> images per ROI, scored against
the best natural images of the bank, the same seeds without optimisation or
guidance, and the other ROIs -> ``synthesis.parquet``, ``synthesis_scores.parquet``,
``images/<roi>/``, figures and ``run.json``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from brainalign._utils import atomic_path, get_logger
from brainalign.exceptions import DataError, ParameterError
from brainalign.runs._rundir import RunDir, _folder_name

logger = get_logger(__name__)

#: ROIs not synthesised by default (the whole visual cortex mask).
SKIP_ROIS = ("nsdgeneral",)
#: Tables of a synthesis run.
TABLE = "synthesis"
SCORES_TABLE = "synthesis_scores"


def load_encoder(run_dir, device="auto", progress=False) -> dict:
    """Build the encoder of a fit run, with its calibration bank and the subject's images.

    Parameters
    ----------
    run_dir : str, Path or RunDir
        An fMRI fit run.
    device : str
        Torch device of the extractor.
    progress : bool
        Progress bars (loading, feature extraction when the cache lacks them).

    Returns
    -------
    dict
        ``encoder`` (:class:`RoiEncoder`, one unit per ROI of the data), ``bank``
        (the training images' features, an :class:`EmbeddingBank`), ``train``
        (the training BrainData, whose ``stimuli`` hold the images), ``params``
        (the fit's run.json parameters) and ``model`` (the resolved spec).
    """
    from brainalign.captions import EmbeddingBank
    from brainalign.features import get_extractor, load_reduction
    from brainalign.runs._caption import _check_captionable, _check_targets, read_fit_run
    from brainalign.runs._common import load_averaged, resolved_model
    from brainalign.runs._fit import stack_features
    from brainalign.runs._spec import RunSpec
    from brainalign.synthesis import RoiEncoder

    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    fit = read_fit_run(run)
    _check_captionable(run)
    params = fit["params"]
    spec = RunSpec.from_json(params)
    data = load_averaged(spec.dataset, spec.root, spec.subject, spec.roi, progress)
    train, test = data.split()
    if train.stimuli is None:
        raise ParameterError(
            f"Invalid value for 'run': synthesis needs the images the subject saw; the "
            f"{spec.dataset} data of {str(run.path)!r} has none."
        )
    _check_targets(test, fit["weights"])
    extractor = get_extractor(spec.model, device=device, seed=spec.seed, preprocess=spec.preprocess)
    cache = spec.cache_dir or run.features
    feats = extractor.extract(
        train.stimuli,
        ids=train.stimulus_ids,
        layers=list(dict.fromkeys(spec.layers)),
        pooling=spec.pooling,
        cache_dir=cache,
        fit_ids=train.stimulus_ids,
        progress=progress,
        seed=spec.seed,
    )
    reductions = {layer: load_reduction(cache, fs) for layer, fs in feats.items()}
    poolings = {layer: fs.metadata["pooling"] for layer, fs in feats.items()}
    masks = {roi: test.roi_mask(roi) for roi in test.roi_names()}
    encoder = RoiEncoder.from_weights(
        extractor, spec.layers, poolings, fit["weights"], masks, reductions
    )
    stacked = stack_features([feats[layer] for layer in spec.layers])
    bank = EmbeddingBank(stacked.align(train.stimulus_ids), train.stimulus_ids)
    return {
        "encoder": encoder,
        "bank": bank,
        "train": train,
        "params": params,
        "model": resolved_model(fit["scores"], spec.model),
    }


def _generator(spec, encoder, bank, images, train, progress):
    """Build the generator of a spec (ascent's colours from the training images)."""
    from brainalign.synthesis import BankSearch, GradientAscent, GuidedDiffusion, colour_basis

    if spec.method == "bank":
        return BankSearch(bank, images)
    if spec.method == "ascent":
        sample = train.stimulus_ids[:: max(1, train.n_rows // 64)][:64]
        return GradientAscent(
            steps=spec.n_steps,
            size=spec.size,
            lr=spec.lr,
            selectivity=spec.selectivity,
            colours=colour_basis(list(train.stimuli.images(sample)), seed=spec.seed),
            batch_size=spec.batch_size,
            n_candidates=spec.n_candidates,
        )
    return GuidedDiffusion(
        spec.pipeline,
        steps=spec.n_steps,
        guidance_scale=spec.guidance_scale,
        size=spec.size,
        prompt=spec.prompt,
        selectivity=spec.selectivity,
        batch_size=spec.batch_size,
        n_candidates=spec.n_candidates,
    )


def _target_rois(spec, encoder) -> list[str]:
    if spec.rois is None:
        return [u for u in encoder.units if u not in SKIP_ROIS]
    from brainalign._utils import check_option

    for roi in spec.rois:
        check_option("rois", roi, encoder.units)
    return list(dict.fromkeys(spec.rois))


def synthesize(spec, out, progress=True, overwrite=False) -> dict:
    """Make (or choose) images for the ROIs of a fit run and score them.

    Writes, in ``out``: ``images/<roi>/<rank>_<id>.png`` (and ``baseline/``, the
    same seeds unoptimised or unguided, or random bank images),
    ``synthesis.parquet`` (one row per image), ``synthesis_scores.parquet`` (every
    ROI's predicted activation of every image), figures (an image grid per ROI
    beside its best bank images; the selectivity matrix) and ``run.json``. An
    interrupted run resumes: ROIs whose images are written are not made again.

    Parameters
    ----------
    spec : SynthesisSpec
        The options.
    out : str or Path
        The synthesis run directory.
    progress : bool
        Progress bars.
    overwrite : bool
        Replace another run that ``out`` holds.

    Returns
    -------
    dict
        ``table`` (synthesis.parquet), ``scores`` (synthesis_scores.parquet),
        ``paths`` (files written) and ``record`` (run.json).
    """
    from tqdm.auto import tqdm

    from brainalign.runs._common import messages, now, recorded_warnings, versions
    from brainalign.runs._synthesis_figures import draw_synthesis_figures

    run = RunDir(out)
    run.check_output()
    if run.path.resolve() == RunDir(spec.run).path.resolve():
        raise ParameterError(
            f"Invalid value for 'out': write the synthesis run beside the fit run, not into "
            f"it ({str(run.path)!r})."
        )
    if spec.method == "diffusion":
        _check_diffusers()
    run.prepare("synthesize", spec.to_json(), overwrite=overwrite)
    clock, began = time.perf_counter(), now()
    with recorded_warnings() as caught:
        ctx = load_encoder(spec.run, spec.device, progress)
        encoder, train = ctx["encoder"], ctx["train"]
        bank, images = _bank(spec, ctx)
        encoder.calibrate(bank)
        rois = _target_rois(spec, encoder)
        _claim_images(run, spec)
        generator = _generator(spec, encoder, bank, images, train, progress)
        tables, infos = [], {}
        for roi in tqdm(rois, desc=f"{spec.method} per ROI", disable=not progress):
            part = _one_roi(spec, run, encoder, generator, roi, progress)
            tables.append(part["table"])
            infos[roi] = part["info"]
    table = pd.concat([t["images"] for t in tables], ignore_index=True)
    scores = pd.concat([t["scores"] for t in tables], ignore_index=True)
    for column, value in (("layer", ctx["params"]["layer"]), ("model", ctx["model"])):
        table.insert(0, column, value)
    table.insert(0, "subject", ctx["params"]["subject"])
    paths = {
        TABLE: run.write_table(TABLE, table),
        SCORES_TABLE: run.write_table(SCORES_TABLE, scores),
    }
    best = _best_bank_images(encoder, bank, images, rois)
    paths.update(draw_synthesis_figures(run, table, scores, best, encoder))
    record = {
        "command": "synthesize",
        "date": began,
        "versions": versions(),
        "parameters": spec.to_json(),
        "source": {"run": spec.run, "model": ctx["model"]}
        | {k: ctx["params"][k] for k in ("dataset", "subject", "layer")},
        "bank": {"path": spec.bank, "n_images": len(bank)},
        "calibration": {
            u: {"mean": m, "sd": s, "max": x}
            for u, m, s, x in zip(
                encoder.units, encoder.bank_mean_, encoder.bank_sd_, encoder.bank_max_, strict=True
            )
        },
        "rois": infos,
        "summary": summarise(table),
        "seed": spec.seed,
        "seconds": time.perf_counter() - clock,
        "warnings": messages(caught),
    }
    paths["run"] = run.record.write(record)
    return {"table": table, "scores": scores, "paths": paths, "record": record}


def _claim_images(run, spec) -> None:
    """Keep images an interrupted run of the same options wrote; clear any others.

    ``images/parameters.json`` names the options the images were made with (where
    the run executes aside), so a resumed ROI is never one made otherwise.
    """
    import json
    import shutil

    from brainalign._utils import write_json_atomic
    from brainalign.runs._rundir import EXECUTION_KEYS

    folder = run.path / "images"
    marker = folder / "parameters.json"
    wanted = {k: v for k, v in spec.to_json().items() if k not in EXECUTION_KEYS}
    if folder.exists():
        try:
            held = json.loads(marker.read_text())
        except (OSError, ValueError):
            held = None
        if held == json.loads(json.dumps(wanted)):
            return
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    write_json_atomic(marker, wanted)


def _check_diffusers() -> None:
    try:
        import diffusers  # noqa: F401
    except ImportError:
        raise ParameterError(
            "Invalid value for 'method': diffusion needs the diffusers package "
            "(pip install 'brainalign[synthesis]')."
        ) from None


def _bank(spec, ctx):
    """Return the calibration and search bank, and its pixels (None for an outside bank)."""
    from brainalign.captions import EmbeddingBank

    if spec.bank is None:
        return ctx["bank"], ctx["train"].stimuli.images
    bank = EmbeddingBank.load(spec.bank)
    if bank.embeddings.shape[1] != ctx["encoder"].directions.shape[1]:
        raise DataError(
            f"The bank {spec.bank} has {bank.embeddings.shape[1]} dimensions; the run's "
            f"features {ctx['encoder'].directions.shape[1]} (build it with the run's model, "
            "layer and pooling)."
        )
    return bank, None


def _one_roi(spec, run, encoder, generator, roi, progress) -> dict:
    """Images of one ROI (read back when an interrupted run wrote them)."""
    folder = run.synthesis_images_of(roi)
    done = folder / "images.parquet"
    if done.is_file() and (folder / "scores.parquet").is_file():
        return {
            "table": {
                "images": pd.read_parquet(done),
                "scores": pd.read_parquet(folder / "scores.parquet"),
            },
            "info": {"resumed": True},
        }
    result = generator.generate(encoder, roi, spec.n, seed=spec.seed, progress=progress)
    files = _write_images(folder, result)
    part = result_tables(encoder, result, files, run.path)
    for name, frame in (("scores", part["scores"]), ("images", part["images"])):  # images last
        with atomic_path(folder / f"{name}.parquet") as tmp:
            frame.to_parquet(tmp, index=False)
    return {"table": part, "info": result.info}


def _write_images(folder, result) -> dict:
    """PNG files of the images and their baseline; returns the paths per kind."""
    import shutil

    from PIL import Image

    if folder.exists():
        shutil.rmtree(folder)
    written = {"images": [], "baseline": []}
    for kind, arrays in (("images", result.images), ("baseline", result.baseline_images)):
        if arrays is None:
            continue
        sub = folder if kind == "images" else folder / "baseline"
        for rank, (name, image) in enumerate(zip(result.ids, arrays, strict=False), 1):
            path = sub / f"{rank:02d}_{_folder_name(name)}.png"
            with atomic_path(path) as tmp:
                Image.fromarray(image).save(tmp, format="PNG")
            written[kind].append(path)
    return written


def result_tables(encoder, result, files=None, root=None) -> dict:
    """One row per image (``images``) and per image x ROI (``scores``) of a synthesis.

    Parameters
    ----------
    encoder : RoiEncoder
        The calibrated encoder.
    result : Synthesis
        A generator's result.
    files : dict, optional
        Written files (``images``, ``baseline`` lists of paths).
    root : Path, optional
        Run folder the file paths are made relative to.

    Returns
    -------
    dict of str -> pandas.DataFrame
        ``images``: ``method, roi, rank, image_id, seed, file, activation, z,
        selectivity, baseline_activation, baseline_z, baseline_selectivity,
        bank_best, bank_best_z, above_bank``; ``scores``: ``method, roi, rank,
        image_id, unit, activation, z`` (``roi`` is the target).
    """
    col = encoder.unit_index(result.target)
    z = encoder.zscores(result.activations)
    n, nb = len(result), len(result.baseline)
    base_z = encoder.zscores(result.baseline)
    pad = np.full(max(n - nb, 0), np.nan)

    def rel(kind):
        paths = (files or {}).get(kind) or []
        names = [str(p.relative_to(root)) if root is not None else str(p) for p in paths]
        return names + [None] * (n - len(names))

    best = float(encoder.bank_max_[col])
    images = pd.DataFrame(
        {
            "method": result.method,
            "roi": result.target,
            "rank": np.arange(1, n + 1),
            "image_id": result.ids,
            "seed": pd.array(result.seeds, dtype="Int64"),
            "file": rel("images"),
            "activation": result.target_activation,
            "z": z[:, col],
            "selectivity": encoder.selectivity(result.activations, result.target),
            "baseline_activation": np.concatenate([result.baseline[:n, col], pad]),
            "baseline_z": np.concatenate([base_z[:n, col], pad]),
            "baseline_selectivity": np.concatenate(
                [encoder.selectivity(result.baseline[:n], result.target), pad]
            ),
            "baseline_file": rel("baseline"),
            "bank_best": best,
            "bank_best_z": float(encoder.zscores(encoder.bank_max_)[col]),
            "above_bank": result.target_activation > best,
        }
    )
    scores = pd.DataFrame(
        {
            "method": result.method,
            "roi": result.target,
            "rank": np.repeat(np.arange(1, n + 1), len(encoder.units)),
            "image_id": np.repeat(result.ids, len(encoder.units)),
            "unit": np.tile(encoder.units, n),
            "activation": result.activations.ravel(),
            "z": z.ravel(),
        }
    )
    return {"images": images, "scores": scores}


def _best_bank_images(encoder, bank, images, rois, k=8) -> dict:
    """Per ROI the ``k`` best bank images (ids, activations, pixels when known)."""
    from brainalign.synthesis import BankSearch

    search = BankSearch(bank, images)
    best = {}
    for roi in rois:
        found = search.generate(encoder, roi, k)
        z = encoder.zscores(found.activations)[:, encoder.unit_index(roi)]
        best[roi] = {"ids": found.ids, "z": z, "images": found.images}
    return best


def summarise(table) -> dict:
    """Summarise a synthesis table per ROI (run.json ``summary``).

    Per ROI: median z of the images and of their baseline, the best bank image's z,
    the share of images above it and the median selectivity.
    """
    out = {}
    for roi, part in table.groupby("roi", sort=False):
        out[roi] = {
            "n": int(len(part)),
            "median_z": float(part["z"].median()),
            "median_baseline_z": float(part["baseline_z"].median()),
            "bank_best_z": float(part["bank_best_z"].iloc[0]),
            "frac_above_bank": float(part["above_bank"].mean()),
            "median_selectivity": float(part["selectivity"].median()),
        }
    return out
