r"""Write a run's voxel selectivity report: one self-contained HTML file.

Shows what the run directory holds, each section only when its data is there: the
provenance and warnings (run.json), the sortable ROI table (roi_scores.parquet), layer
profiles and the model x ROI heatmap (sweeps), voxel maps (figures/ or maps/), captions
with their shuffled baseline (captions.parquet), top images per ROI
(top_images/<roi>/*.png), decoding (decoding.parquet) and EEG r(t) with topomaps.
Figures are embedded; the file opens offline. Prints the path written.

example:
  brainalign report run_fit
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    """Add this verb's arguments."""
    parser.add_argument("run_dir", metavar="RUN", help="run directory")
    parser.add_argument(
        "--out", metavar="FILE", default=None, help="HTML file (default: RUN/report.html)"
    )


def run(args) -> int:
    """Write the report and print its path."""
    from brainalign.report import write_report

    print(write_report(args.run_dir, out=args.out))
    return 0
