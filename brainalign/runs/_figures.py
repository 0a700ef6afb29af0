"""The figures every run draws: volume maps, surface maps and EEG topomaps."""

from __future__ import annotations

from pathlib import Path

from brainalign.runs._rundir import RunDir


def draw_run_figures(run) -> list[Path]:
    """Draw the figures of whatever a fit run holds, under ``RUN/figures``.

    Volume maps are drawn as slices and a glass brain, surface maps (native or
    projected from the volume) on their meshes, and time-resolved scores (EEG) as
    topomaps at the peak latencies and r(t) per channel. Each drawer does nothing
    when the run has none of its inputs, so no code asks which kind of data it was.

    Parameters
    ----------
    run : str, Path or RunDir
        The run directory.

    Returns
    -------
    list of Path
        Files written.
    """
    from brainalign.maps import plot_run_maps, plot_run_surface_maps, plot_run_topomaps

    run = run if isinstance(run, RunDir) else RunDir(run)
    record = run.record.read_or_none() or {}
    n_test = (record.get("data") or {}).get("n_test")  # the EEG chance band needs it
    return [
        *plot_run_maps(run.path),
        *plot_run_surface_maps(run.path),
        *plot_run_topomaps(run.path, n_test=n_test),
    ]
