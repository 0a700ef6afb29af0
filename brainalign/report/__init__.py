"""Report layer: one self-contained HTML file per run directory."""

from brainalign.report._render import render_report, write_report

__all__ = ["render_report", "write_report"]
