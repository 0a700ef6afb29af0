"""Pipelines: typed run options -> a run directory (fit, sweep, decode, caption).

This layer sits between the methods (``compare``, ``captions``, ``maps``,
``encoding``) and the front ends (``report``, ``cli``). It owns every pipeline and
every file of a run directory:

* :class:`RunSpec`, :class:`DecodeSpec`, :class:`SweepSpec`: a run's options, validated
  once, with ``to_json``/``from_json`` (``run.json`` ``parameters``) and
  ``add_arguments``/``from_args`` (the command line);
* :class:`RunDir` and :class:`RunRecord`: the names of a run's files and the one writer
  of ``run.json`` and ``sweep.json``;
* :func:`fit_one`: the single encoding fit behind ``fit`` and every sweep task, with its
  post-steps (surface projections and extra scores the dataset offers, figures);
* :func:`fit_subject`, :func:`run_sweep`, :func:`decode_subject`, :func:`caption_run`,
  :func:`synthesize` (images for a fit run's ROIs);
* :func:`compare_encoders` (two fits of one subject, ROI by ROI, paired) and
  :func:`load_attention_encoder` (the encoder of a ``--encoder attention`` fit).
"""

from brainalign.runs._align import align_subjects, run_align
from brainalign.runs._attention import compare_encoders, load_attention_encoder
from brainalign.runs._caption import caption_run, read_fit_run, write_top_images
from brainalign.runs._categories import category_rdm, category_run
from brainalign.runs._challenge import run_challenge_scores
from brainalign.runs._common import load_averaged, provenance, recorded_warnings, resolve_roi
from brainalign.runs._decode import decode_subject, run_decode
from brainalign.runs._figures import draw_run_figures
from brainalign.runs._fit import (
    extract_layers,
    fit_one,
    fit_subject,
    map_values,
    read_weights,
    run_fit,
)
from brainalign.runs._rundir import MAP_STATS, RunDir, RunRecord
from brainalign.runs._spec import AlignSpec, DecodeSpec, RunSpec, SweepSpec, SynthesisSpec
from brainalign.runs._sweep import collect_sweep, run_sweep, sweep
from brainalign.runs._synthesis import load_encoder, synthesize

__all__ = [
    "AlignSpec",
    "DecodeSpec",
    "MAP_STATS",
    "RunDir",
    "RunRecord",
    "RunSpec",
    "SweepSpec",
    "SynthesisSpec",
    "align_subjects",
    "caption_run",
    "category_rdm",
    "category_run",
    "collect_sweep",
    "compare_encoders",
    "decode_subject",
    "draw_run_figures",
    "extract_layers",
    "fit_one",
    "fit_subject",
    "load_attention_encoder",
    "load_averaged",
    "load_encoder",
    "map_values",
    "provenance",
    "read_fit_run",
    "read_weights",
    "recorded_warnings",
    "resolve_roi",
    "run_align",
    "run_challenge_scores",
    "run_decode",
    "run_fit",
    "run_sweep",
    "sweep",
    "synthesize",
    "write_top_images",
]
