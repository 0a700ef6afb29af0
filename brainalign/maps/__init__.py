"""Maps layer: figures (and later surfaces) of statistic maps."""

from brainalign.maps._figures import plot_run_maps
from brainalign.maps._surface import (
    check_mesh,
    load_mesh,
    plot_run_surface_maps,
    plot_surface_map,
)
from brainalign.maps._topomaps import (
    peak_times,
    plot_run_topomaps,
    plot_time_courses,
    plot_topomaps,
)

__all__ = [
    "check_mesh",
    "load_mesh",
    "peak_times",
    "plot_run_maps",
    "plot_run_surface_maps",
    "plot_run_topomaps",
    "plot_surface_map",
    "plot_time_courses",
    "plot_topomaps",
]
