"""Render a run directory into one self-contained HTML file."""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
from importlib import resources
from pathlib import Path

from brainalign._utils import atomic_path, get_logger
from brainalign.exceptions import DataError
from brainalign.report import (
    _align,
    _attention,
    _captions,
    _categories,
    _measures,
    _rsa,
    _sections,
    _synthesis,
    _timeseries,
)
from brainalign.report._contents import read_contents

logger = get_logger(__name__)

#: Section builders, in page order; each returns a Section or None (nothing to show).
SECTION_BUILDERS = (
    _align.provenance_section,  # names the shared space of a fit --shared-space run
    _sections.warnings_section,
    _sections.roi_section,
    _sections.sweep_section,
    _rsa.rsa_section,
    _measures.measures_section,
    _sections.maps_section,
    _attention.attention_section,
    _captions.captions_section,
    _captions.top_images_section,
    _timeseries.decoding_section,
    _rsa.retrieved_captions_section,
    _timeseries.eeg_section,
    _sections.figures_section,
)
#: The sections of a ``categories`` run: its tables and figures are its own section's.
CATEGORY_SECTION_BUILDERS = (
    _sections.provenance_section,
    _sections.warnings_section,
    _categories.category_section,
)
#: The sections of an ``align`` run: its tables and figures are its own section's.
ALIGN_SECTION_BUILDERS = (
    _sections.provenance_section,
    _sections.warnings_section,
    _align.align_section,
)
#: The sections of a ``synthesize`` run.
SYNTHESIS_SECTION_BUILDERS = (
    _sections.provenance_section,
    _sections.warnings_section,
    _synthesis.synthesis_section,
)
#: Runs whose command has a section list of its own (the others get SECTION_BUILDERS).
COMMAND_SECTION_BUILDERS = {
    "categories": CATEGORY_SECTION_BUILDERS,
    "align": ALIGN_SECTION_BUILDERS,
    "synthesize": SYNTHESIS_SECTION_BUILDERS,
}
_TEMPLATES = "templates"


def _asset(name: str) -> str:
    return (resources.files("brainalign.report") / _TEMPLATES / name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("brainalign.report", _TEMPLATES),
        autoescape=True,  # every value is text, whatever the template's name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(run_dir, link_base: str = ".") -> str:
    """Render the report of a run directory as an HTML string.

    Parameters
    ----------
    run_dir : str or Path
        Run directory (see :func:`write_report` for what it may hold).
    link_base : str
        Path from the report's folder to the run directory, for the links to the
        run's interactive pages (``figures/*_surface.html``).

    Returns
    -------
    str
        A self-contained HTML document: figures are embedded, nothing is fetched.

    Raises
    ------
    MissingFileError
        If ``run_dir`` does not exist.
    DataError
        If it holds nothing to report, or a table lacks the columns its section needs.
    """
    from markupsafe import Markup

    from brainalign import __version__

    contents = read_contents(run_dir)
    contents.link_base = link_base
    command = (contents.record or {}).get("command")
    builders = COMMAND_SECTION_BUILDERS.get(command, SECTION_BUILDERS)
    sections = [s for s in (build(contents) for build in builders) if s is not None]
    if not sections:
        raise DataError(
            f"Nothing to report in {contents.path}: expected run.json, roi_scores.parquet, "
            "maps/, figures/, captions.parquet, decoding.parquet or top_images/."
        )
    style, script = _asset("report.css"), _asset("report.js")
    policy = (
        "default-src 'none'; img-src data:; "
        f"style-src {_csp_hash(style)}; script-src {_csp_hash(script)}"
    )
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=f"brainalign report: {contents.path.name}",
            sections=sections,
            style=Markup(style),  # package assets, not run data
            script=Markup(script),
            policy=policy,
            version=__version__,
            generated=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        )
    )


def write_report(run_dir, out=None) -> Path:
    """Write the voxel selectivity report of a run directory: one self-contained HTML file.

    Each section appears only when the run directory holds its data:

    - provenance and warnings (``run.json``);
    - ROI table, sortable (``roi_scores.parquet``); with several layers or models (a sweep),
      layer profiles per ROI and a model x ROI heatmap of the best layer's score;
    - voxel maps (``figures/*_stat-*.png``, or drawn from ``maps/*.nii.gz``);
    - captions with score and shuffled baseline (``captions.parquet``) and thumbnails of the
      top images per ROI (``top_images/<roi>/*.png``, ranked by file name, or
      ``top_images.parquet`` with ``roi, path[, rank]``);
    - decoding scores beside chance, over time when there is a ``time`` column
      (``decoding.parquet``: ``roi, metric, value[, chance, time]``);
    - EEG: r(t) per channel and mean, topomaps at the peak latencies (``scores.parquet`` with
      ``channel`` and ``time``);
    - other figures (``figures/*.png``).

    A ``categories`` run shows its category section, and an ``align`` run its
    cross-subject alignment section (learning curve, identification, subject-to-subject
    prediction), each after the provenance and warnings, in place of the others.

    Parameters
    ----------
    run_dir : str or Path
        Run directory.
    out : str or Path, optional
        Destination (default: ``run_dir/report.html``).

    Returns
    -------
    Path
        The file written (atomically: a failed call leaves no partial file).

    Raises
    ------
    MissingFileError
        If ``run_dir`` does not exist.
    DataError
        If it holds nothing to report, or a table lacks the columns its section needs.
    """
    out = Path(run_dir) / "report.html" if out is None else Path(out)
    base = Path(os.path.relpath(Path(run_dir).resolve(), out.resolve().parent)).as_posix()
    html = render_report(run_dir, base)  # everything is built before anything is written
    with atomic_path(out) as tmp:
        tmp.write_text(html, encoding="utf-8")
        tmp.chmod(0o644)  # a report is for sharing (temporary files start private)
    logger.debug("Report written to %s", out)
    return out
