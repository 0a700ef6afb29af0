"""Figures of attention encoders: where each ROI's query looks on the token grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainalign._utils import atomic_path

#: Columns of the grid of mean maps.
GRID_COLUMNS = 5


def plot_attention_grid(mean, names, out, title="Where each ROI looks") -> Path:
    """Draw every ROI's mean attention map on the token grid, one panel per ROI.

    Each panel has its own colour bar in attention weight (a uniform map is
    ``1 / n_tokens``, written in the panel's title), and its peak is marked.

    Parameters
    ----------
    mean : ndarray of shape (n_groups, rows, columns)
        Mean attention map of each ROI (e.g. over the held-out stimuli).
    names : sequence of str
        ROI of each map.
    out : str or Path
        PNG to write.
    title : str
        Figure title.

    Returns
    -------
    Path
        ``out``.
    """
    import matplotlib.pyplot as plt

    from brainalign.maps._style import colormap, style_of

    mean = np.asarray(mean, dtype=np.float64)
    n = len(mean)
    cols = min(GRID_COLUMNS, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.5 * rows + 0.6), squeeze=False)
    uniform = 1.0 / mean[0].size
    for ax, values, name in zip(axes.flat, mean, names, strict=False):
        image = ax.imshow(values, cmap=colormap("attention"), vmin=0, vmax=values.max())
        r, c = np.unravel_index(values.argmax(), values.shape)
        ax.plot(c, r, marker="+", color="white", markersize=12, mew=2)
        ax.set_title(f"{name}\npeak {values.max():.2f} (uniform {uniform:.2f})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        bar.ax.tick_params(labelsize=7)
    for ax in axes.flat[n:]:
        ax.axis("off")
    fig.suptitle(f"{title} ({style_of('attention').label}, token grid)", fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def plot_attention_overlays(images, maps, mean, name, ids, out) -> Path:
    """Draw one ROI's attention over stimuli: its mean map, then each stimulus with its map.

    Parameters
    ----------
    images : sequence of ndarray, each (H, W, 3) uint8
        Stimuli.
    maps : ndarray of shape (n_images, rows, columns)
        The ROI's attention map on each stimulus.
    mean : ndarray of shape (rows, columns)
        The ROI's mean map.
    name : str
        ROI.
    ids : sequence of str
        Stimulus ids (panel titles).
    out : str or Path
        PNG to write.

    Returns
    -------
    Path
        ``out``.
    """
    import matplotlib.pyplot as plt

    from brainalign.maps._style import colormap

    cmap = colormap("attention")
    n = len(images)
    fig, axes = plt.subplots(1, n + 1, figsize=(2.6 * (n + 1), 3.0), squeeze=False)
    axes = axes[0]
    image = axes[0].imshow(mean, cmap=cmap, vmin=0, vmax=float(np.max(mean)))
    axes[0].set_title("mean over held-out\nstimuli", fontsize=9)
    fig.colorbar(image, ax=axes[0], fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
    for ax, img, values, ident in zip(axes[1:], images, maps, ids, strict=True):
        h, w = img.shape[:2]
        ax.imshow(img)
        # each token covers its cell of the image: nearest cells, not smoothed peaks
        ax.imshow(
            values, cmap=cmap, alpha=0.55, extent=(0, w, h, 0), vmin=0, vmax=float(np.max(maps))
        )
        ax.set_title(f"stimulus {ident}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        f"{name}: attention over the held-out stimuli it is predicted to respond to most",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, out)


def _save(fig, out) -> Path:
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return out
