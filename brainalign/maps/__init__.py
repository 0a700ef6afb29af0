"""Maps layer: figures (and later surfaces) of statistic maps."""

from brainalign.maps._figures import plot_run_maps

__all__ = ["plot_run_maps"]
