"""Figures of a run's statistic maps: slices and a glass brain per map (nilearn)."""

from __future__ import annotations

from pathlib import Path

from brainalign._utils import atomic_path, warn

#: Display settings per statistic: colour map and whether values are signed.
_STYLE = {
    "r": ("cold_hot", True),
    "r2": ("cold_hot", True),
    "ncr2": ("hot", False),
    "log10pfdr": ("hot", False),
    "alpha": ("viridis", False),
}


def plot_run_maps(run_dir, stats=("r", "ncr2", "log10pfdr")) -> list[Path]:
    """Draw stat-map slices and a glass brain for each map of a run directory.

    Parameters
    ----------
    run_dir : str or Path
        Run directory holding ``maps/*_stat-<stat>.nii.gz``.
    stats : sequence of str
        Statistics to draw.

    Returns
    -------
    list of Path
        PNG files written under ``run_dir/figures`` (empty when matplotlib is
        unavailable, with a warning).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from nilearn import plotting
    except ImportError as exc:  # plotting is optional: say so, do not crash
        warn(f"No figures: {exc}.")
        return []
    run_dir = Path(run_dir)
    written = []
    for stat in stats:
        for path in sorted((run_dir / "maps").glob(f"*_stat-{stat}.nii.gz")):
            cmap, signed = _STYLE.get(stat, ("cold_hot", True))
            stem = path.name[: -len(".nii.gz")]
            for kind in ("slices", "glass"):
                target = run_dir / "figures" / f"{stem}_{kind}.png"
                fig = plt.figure(figsize=(10, 3))
                if kind == "slices":
                    plotting.plot_stat_map(
                        str(path),
                        bg_img=None,
                        display_mode="z",
                        cut_coords=6,
                        cmap=cmap,
                        figure=fig,
                        title=stem,
                        symmetric_cbar=signed,
                        threshold=1e-6,  # voxels outside the mask stay transparent
                        draw_cross=False,
                    )
                else:
                    plotting.plot_glass_brain(
                        str(path),
                        cmap=cmap,
                        plot_abs=not signed,
                        figure=fig,
                        title=stem,
                        colorbar=True,
                        symmetric_cbar=signed,
                        threshold=1e-6,  # voxels outside the mask stay transparent
                    )
                with atomic_path(target) as tmp:
                    fig.savefig(tmp, dpi=80)
                plt.close(fig)
                written.append(target)
    return written
