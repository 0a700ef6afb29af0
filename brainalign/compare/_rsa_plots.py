"""Figure of an RDM (matplotlib, imported when drawing)."""

from __future__ import annotations

import numpy as np

from brainalign._utils import atomic_path, check_type
from brainalign.compare._rsa import RDM
from brainalign.exceptions import ParameterError


def plot_rdm(
    rdm: RDM,
    labels=False,
    ax=None,
    cmap: str = "viridis",
    title: str | None = None,
    colorbar: bool = True,
    path=None,
    dpi: int = 100,
):
    """Draw an RDM as an image, optionally with stimulus labels, and save it.

    The figure is built without pyplot (no global state, works headless); it
    displays in notebooks and can be saved again with ``fig.savefig``.

    Parameters
    ----------
    rdm : RDM
        The RDM to draw.
    labels : bool or sequence of str
        ``True``: the stimulus ids on both axes; a sequence: one label per stimulus;
        ``False``: no tick labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; default: a new figure.
    cmap : str
        Matplotlib colour map.
    title : str, optional
        Axes title; default: the RDM's method.
    colorbar : bool
        Add a colour bar.
    path : str or Path, optional
        Where to save the figure (format from the suffix, written atomically).
    dpi : int
        Resolution of the saved file.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ParameterError
        If ``rdm`` is not an RDM or ``labels`` has the wrong length.
    """
    from matplotlib.figure import Figure

    check_type("rdm", rdm, RDM)
    ticks = _tick_labels(labels, rdm)
    if ax is None:
        side = 4.0 + (0.12 * rdm.n_stimuli if ticks is not None else 0.0)
        fig = Figure(figsize=(min(side + 1.0, 16.0), min(side, 15.0)), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    image = ax.imshow(rdm.to_matrix(), cmap=cmap, interpolation="nearest")
    ax.set_title(rdm.method if title is None else title)
    if ticks is None:
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        ax.set_xticks(np.arange(rdm.n_stimuli), ticks, rotation=90, fontsize="small")
        ax.set_yticks(np.arange(rdm.n_stimuli), ticks, fontsize="small")
    if colorbar:
        fig.colorbar(image, ax=ax, label="dissimilarity")
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
    return fig


def _tick_labels(labels, rdm: RDM):
    if labels is False or labels is None:
        return None
    if labels is True:
        return [str(v) for v in rdm.stimulus_ids.tolist()]
    if isinstance(labels, str) or not hasattr(labels, "__len__"):
        raise ParameterError(
            "Invalid value for 'labels': expected a bool or a sequence of one label per "
            f"stimulus; got {labels!r:.80}."
        )
    if len(labels) != rdm.n_stimuli:
        raise ParameterError(
            f"Invalid value for 'labels': expected {rdm.n_stimuli} labels (one per "
            f"stimulus); got {len(labels)}."
        )
    return [str(v) for v in labels]
