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


def _colours(n: int):
    from matplotlib import colormaps

    return colormaps["tab10"](np.arange(n) % 10)


def _curve_figure(curve: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    rows = curve[curve["roi"] == WHOLE]
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    subjects = list(dict.fromkeys(rows["held_out"]))
    for colour, (subject, part) in zip(
        _colours(len(subjects)), rows.groupby("held_out", sort=False), strict=True
    ):
        part = part.sort_values("n_adapt")
        ax.plot(
            part["n_adapt"],
            part["mean_r_shared"],
            marker="o",
            color=colour,
            label=f"subject {subject}: shared space",
        )
        ax.axhline(
            part["mean_r_within"].iloc[0],
            color=colour,
            linestyle="--",
            linewidth=1,
            label=f"subject {subject}: own encoder, all its data",
        )
    ax.set_xscale("log")
    ax.set_xlabel("alignment stimuli the held-out subject is adapted with (m)")
    ax.set_ylabel("held-out mean r (all targets)")
    ax.set_title("New subject through the shared space vs its own encoder")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    fig.savefig(path, dpi=110)
    return path


def _ident_figure(ident: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    rows = ident[ident["metric"] == "top1"]
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    subjects = list(dict.fromkeys(rows["held_out"]))
    for colour, subject in zip(_colours(len(subjects)), subjects, strict=True):
        part = rows[rows["held_out"] == subject]
        cross = part[part["decoder"] == "cross-subject"].sort_values("n_adapt")
        ax.plot(
            cross["n_adapt"],
            cross["value"],
            marker="o",
            color=colour,
            label=f"subject {subject}: decoder of the others",
        )
        own = part.loc[part["decoder"] == "within-subject", "value"]
        if len(own):
            ax.axhline(
                own.iloc[0],
                color=colour,
                linestyle="--",
                linewidth=1,
                label=f"subject {subject}: own decoder",
            )
    ax.axhline(rows["chance"].mean(), color="0.4", linestyle=":", label="chance (1 / n held out)")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("alignment stimuli the held-out subject is adapted with (m)")
    ax.set_ylabel("top-1 identification among held-out stimuli")
    ax.set_title("Cross-subject decoding")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.savefig(path, dpi=110)
    return path


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
        if np.isfinite(v):
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
    fig.savefig(path, dpi=110)
    return path
