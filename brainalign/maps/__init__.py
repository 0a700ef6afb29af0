"""Maps layer: figures of statistic maps (volume, surface, flat patches, topomaps)."""

from brainalign.maps._attention import plot_attention_grid, plot_attention_overlays
from brainalign.maps._figures import plot_run_maps
from brainalign.maps._flat import plot_flat_map
from brainalign.maps._surface import (
    check_mesh,
    load_mesh,
    plot_run_surface_maps,
    plot_surface_map,
    write_surface_view,
)
from brainalign.maps._topomaps import (
    peak_times,
    plot_run_topomaps,
    plot_time_courses,
    plot_topomap_panels,
    plot_topomaps,
)

__all__ = [
    "check_mesh",
    "load_mesh",
    "peak_times",
    "plot_attention_grid",
    "plot_attention_overlays",
    "plot_flat_map",
    "plot_run_maps",
    "plot_run_surface_maps",
    "plot_run_topomaps",
    "plot_surface_map",
    "plot_time_courses",
    "plot_topomap_panels",
    "plot_topomaps",
    "write_surface_view",
]
