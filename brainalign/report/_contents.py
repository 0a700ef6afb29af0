"""What a run directory holds, read once for the report.

Files read (each optional; the report shows a section only for what is there):

* ``run.json``: provenance (parameters, versions, data hashes, warnings); a sweep without
  one gives its manifest ``sweep.json`` (parameters and task statuses) instead;
* ``roi_scores.parquet``: ``subject, model, layer, roi, mean_r, median_r, mean_ncr2,
  frac_significant, n_targets`` and optionally ``mean_r_low, mean_r_high, mean_cv_r2,
  n_ncr2`` (a sweep writes several models and layers);
* ``layer_selection.parquet`` (compare): ``subject, model, roi, layer, frequency``;
* ``scores.parquet``: only read for EEG runs (it has ``channel`` and ``time`` columns);
* ``maps/*.nii.gz`` and ``figures/*.png`` (map figures are named ``*_stat-<stat>_<view>.png``;
  an EEG run's ``*_topomap.png`` and ``*_timecourse.png`` are left out: the EEG section
  draws them from the scores);
* ``captions.parquet``: ``subject, model, layer, unit, unit_kind, method, caption, keywords,
  score, shuffled_score``;
* ``decoding.parquet``: ``metric, value`` and optionally ``roi, chance, time``;
* ``retrieved_captions.parquet`` (decode): ``stimulus_id, rank, caption, similarity``
  and optionally ``own, true_caption``;
* ``rsa.parquet`` (compare --rsa): ``model, layer, roi, value`` and optionally the
  interval and noise-ceiling columns;
* top images per ROI: ``top_images/<roi>/*.png`` (or ``.jpg``), ranked by file name, or
  ``top_images.parquet`` with ``roi, path`` (and optionally ``rank``); relative paths are
  relative to the run directory.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from brainalign._utils import require_file
from brainalign.exceptions import DataError

#: Image suffixes accepted as top-image thumbnails.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
#: Columns each table must have for its section (the others are optional).
REQUIRED = {
    "roi_scores.parquet": ("roi", "mean_r"),
    "captions.parquet": ("unit", "caption"),
    "decoding.parquet": ("metric", "value"),
    "top_images.parquet": ("roi", "path"),
    "retrieved_captions.parquet": ("stimulus_id", "rank", "caption"),
    "rsa.parquet": ("model", "layer", "roi", "value"),
}
#: Figure kinds of EEG runs: the EEG section draws them from the scores (same peaks).
SENSOR_FIGURES = ("_topomap.png", "_timecourse.png")
#: Columns of ``scores.parquet`` that make a run time-resolved (EEG).
EEG_COLUMNS = ("channel", "time", "r")


@dataclasses.dataclass
class RunContents:
    """The parts of a run directory the report can show (``None`` when absent)."""

    path: Path
    record: dict | None = None
    roi_scores: pd.DataFrame | None = None
    eeg_scores: pd.DataFrame | None = None
    captions: pd.DataFrame | None = None
    decoding: pd.DataFrame | None = None
    retrieved_captions: pd.DataFrame | None = None
    rsa: pd.DataFrame | None = None
    layer_selection: pd.DataFrame | None = None
    top_images: dict = dataclasses.field(default_factory=dict)
    map_figures: list = dataclasses.field(default_factory=list)
    other_figures: list = dataclasses.field(default_factory=list)
    maps: list = dataclasses.field(default_factory=list)
    surface_views: list = dataclasses.field(default_factory=list)
    link_base: str = "."


def read_contents(run_dir) -> RunContents:
    """Read what a run directory holds.

    Parameters
    ----------
    run_dir : str or Path
        Run directory.

    Returns
    -------
    RunContents
        Tables, figure and map paths, and the provenance record.

    Raises
    ------
    MissingFileError
        If ``run_dir`` does not exist.
    DataError
        If it is not a folder, or a table lacks the columns its section needs.
    """
    from brainalign.runs import RunDir

    path = require_file(run_dir, "run directory")
    if not path.is_dir():
        raise DataError(f"Not a run directory (expected a folder): {path}")
    run = RunDir(path)
    figures = run.figure_files()
    record = run.record.read_or_none()
    if record is None:  # a sweep's manifest stands in for its record
        manifest = run.manifest.read_or_none()
        record = None if manifest is None else {"command": "compare", **manifest}
    return RunContents(
        path=path,
        record=record,
        roi_scores=_read_table(run, "roi_scores"),
        eeg_scores=_read_eeg_scores(run),
        captions=_read_table(run, "captions"),
        decoding=_read_table(run, "decoding"),
        retrieved_captions=_read_table(run, "retrieved_captions"),
        rsa=_read_table(run, "rsa"),
        layer_selection=_read_table(run, "layer_selection"),
        top_images=_find_top_images(run),
        map_figures=[p for p in figures if "_stat-" in p.name and not _sensor_figure(p)],
        other_figures=[p for p in figures if "_stat-" not in p.name],
        maps=run.volume_maps(),
        surface_views=run.surface_views(),
    )


def _sensor_figure(path: Path) -> bool:
    """Whether a figure is an EEG run's own topomap or time course (not a brain map)."""
    return path.name.endswith(SENSOR_FIGURES)


def _read_table(run, name: str, columns=None) -> pd.DataFrame | None:
    table = run.read_table(name, columns=columns)
    if table is None:
        return None
    path = run.table(name)
    missing = [c for c in REQUIRED.get(path.name, ()) if c not in table.columns]
    if missing:
        raise DataError(f"Table {path} lacks the columns {missing} (it has {list(table.columns)}).")
    return table


def _read_eeg_scores(run) -> pd.DataFrame | None:
    """Read ``scores.parquet`` only when it is time-resolved (voxel tables can be large)."""
    names = run.table_columns("scores")
    if not names or not all(c in names for c in EEG_COLUMNS):
        return None
    keep = [c for c in ("subject", "model", "layer") if c in names] + list(EEG_COLUMNS)
    return _read_table(run, "scores", columns=keep)


def _find_top_images(run) -> dict[str, list[Path]]:
    """Find the top images per ROI: ``top_images/<roi>/*`` or ``top_images.parquet``."""
    run_dir = run.path
    folder = run.top_images
    if folder.is_dir():
        found = {}
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            images = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if images:
                found[sub.name] = images
        return found
    table = _read_table(run, "top_images")
    if table is None:
        return {}
    if "rank" in table.columns:
        table = table.sort_values("rank", kind="stable")
    found = {}
    for roi, path in zip(table["roi"].astype(str), table["path"].astype(str), strict=True):
        image = Path(path)
        found.setdefault(roi, []).append(image if image.is_absolute() else run_dir / image)
    return found
