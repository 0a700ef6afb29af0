"""Figures of an alignment run: learning curve, identification, subject-to-subject."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainalign.runs._rundir import RunDir

#: The ROI row the figures summarise (every target the run loaded).
WHOLE = "all targets"


def draw_align_figures(run: RunDir, curve, ident, ceiling) -> dict:
    """Draw the three figures of an alignment run into ``figures/``; return their paths."""
    run.figures.mkdir(parents=True, exist_ok=True)
    return {
        "learning_curve_figure": _curve_figure(curve, run.figure("learning_curve.png")),
        "identification_figure": _ident_figure(ident, run.figure("identification.png")),
        "predictivity_figure": _ceiling_figure(ceiling, run.figure("subject_predictivity.png")),
    }


def _save(fig, path: Path) -> Path:
    """Write a figure as PNG, atomically."""
    from brainalign._utils import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path


def _colours(n: int):
    from matplotlib import colormaps

    return colormaps["tab10"](np.arange(n) % 10)


def _legend(ax, subjects, colours, solid: str, dashed: str, chance: bool = False) -> None:
    """Add one entry per subject (its colour) and one per line style, outside the axes."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, linewidth=2) for c in colours]
    labels = [f"subject {s}" for s in subjects]
    handles += [Line2D([], [], color="0.2", marker="o"), Line2D([], [], color="0.2", ls="--")]
    labels += [solid, dashed]
    if chance:
        handles.append(Line2D([], [], color="0.4", linestyle=":"))
        labels.append("chance (1 / n held out)")
    ax.legend(handles, labels, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)


def _m_axis(ax, sizes) -> None:
    """Draw a log axis of the adaptation sizes, ticked at the sizes themselves."""
    sizes = sorted({int(m) for m in sizes})
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(m) for m in sizes])
    ax.minorticks_off()
    ax.set_xlabel("alignment stimuli the held-out subject is adapted with (m)")


def _curve_figure(curve: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    rows = curve[curve["roi"] == WHOLE]
    fig = Figure(figsize=(8.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    subjects = list(dict.fromkeys(rows["held_out"]))
    colours = _colours(len(subjects))
    for colour, subject in zip(colours, subjects, strict=True):
        part = rows[rows["held_out"] == subject].sort_values("n_adapt")
        ax.plot(part["n_adapt"], part["mean_r_shared"], marker="o", color=colour)
        ax.axhline(part["mean_r_within"].iloc[0], color=colour, linestyle="--", linewidth=1)
    _m_axis(ax, rows["n_adapt"])
    ax.set_ylabel("held-out mean r (all targets)")
    ax.set_title("New subject through the shared space vs its own encoder")
    _legend(ax, subjects, colours, "through the shared space", "own encoder, all its data")
    return _save(fig, path)


def _ident_figure(ident: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    rows = ident[ident["metric"] == "top1"]
    fig = Figure(figsize=(8.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    subjects = list(dict.fromkeys(rows["held_out"]))
    colours = _colours(len(subjects))
    for colour, subject in zip(colours, subjects, strict=True):
        part = rows[rows["held_out"] == subject]
        cross = part[part["decoder"] == "cross-subject"].sort_values("n_adapt")
        ax.plot(cross["n_adapt"], cross["value"], marker="o", color=colour)
        own = part.loc[part["decoder"] == "within-subject", "value"]
        if len(own):
            ax.axhline(own.iloc[0], color=colour, linestyle="--", linewidth=1)
    ax.axhline(rows["chance"].mean(), color="0.4", linestyle=":")
    _m_axis(ax, rows["n_adapt"].dropna())
    ax.set_ylim(0, 1)
    ax.set_ylabel("top-1 identification among held-out stimuli")
    ax.set_title("Cross-subject decoding")
    _legend(ax, subjects, colours, "decoder of the others", "own decoder", chance=True)
    return _save(fig, path)


def _ceiling_figure(ceiling: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    rows = ceiling[ceiling["roi"] == WHOLE]
    table = rows.pivot(index="source", columns="target", values="mean_r")
    sources = [s for s in table.index if s != "others"] + ["others"]
    table = table.loc[[s for s in sources if s in table.index]]
    fig = Figure(
        figsize=(1.2 * table.shape[1] + 2.5, 0.8 * table.shape[0] + 1.8), layout="constrained"
    )
    ax = fig.add_subplot()
    values = table.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="viridis", vmin=0, vmax=max(np.nanmax(values), 1e-3))
    for (i, j), v in np.ndenumerate(values):
        if table.index[i] == str(table.columns[j]):
            ax.text(j, i, "self", ha="center", va="center", color="0.5", fontsize=9)
        elif np.isfinite(v):
            ax.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                color="white" if v < 0.6 * np.nanmax(values) else "black",
                fontsize=9,
            )
    ax.set_xticks(range(table.shape[1]), [f"subject {t}" for t in table.columns])
    ax.set_yticks(
        range(table.shape[0]),
        [f"subject {s}" if s != "others" else "all others" for s in table.index],
    )
    ax.set_xlabel("predicted subject")
    ax.set_ylabel("predicting from")
    ax.set_title("Subject-to-subject prediction (held-out mean r)")
    fig.colorbar(image, ax=ax, label="mean r, all targets")
    return _save(fig, path)
