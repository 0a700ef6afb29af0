"""How each statistic is drawn and named: one table for every map, colour bar and title.

Every figure of a statistic (volume slices, glass brains, surfaces, flat maps,
topomaps) takes its colour map, colour-bar label (with units) and name in words from
:data:`STYLES`, so a statistic looks and reads the same everywhere. The colour maps
are legible on a white page: sequential maps start at a visible colour and never reach
white (``hot`` and ``viridis`` end in white or near-white yellow; these are cut
before), signed statistics use a diverging map centred on zero whose near-white centre
is cut out (:data:`DIVERGING_GAP`), and maps of numbered
choices (best layer, best model) use a categorical map with a legend.

:func:`describe` turns a BIDS-like file stem (``sub-01_model-SampleNet_layer-layer6_stat-r``)
into a title in words (``"Held-out r, SampleNet layer6, subject 1"``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Lightest colour a sequential map may reach (as a fraction of its colour range):
#: above it the colours come too close to a white page.
SEQUENTIAL_TOP = 0.8
#: Darkest colour of a sequential map: its lowest values are a colour, not the black of
#: outlines and text.
SEQUENTIAL_BOTTOM = 0.15
#: Half-width of the (near-white) centre cut out of a diverging map, as a fraction of
#: its colour range: values near zero are drawn in a pale but visible blue or red.
DIVERGING_GAP = 0.15
#: FDR-corrected p below which a voxel counts as significant.
ALPHA_FDR = 0.05


@dataclass(frozen=True)
class StatStyle:
    """How one statistic is drawn.

    Attributes
    ----------
    name : str
        The statistic in words, for titles (``"Held-out r"``).
    label : str
        Colour-bar label with units (``"r"``, ``"ncR² (%)"``).
    kind : {"diverging", "sequential", "categorical"}
        Signed values around zero, non-negative magnitudes, or numbered choices.
    cmap : str
        Matplotlib colour map name (cut by :func:`colormap` for sequential maps).
    """

    name: str
    label: str
    kind: str
    cmap: str

    @property
    def signed(self) -> bool:
        """Whether the colour scale is symmetric around zero."""
        return self.kind == "diverging"


#: Style of every statistic a run writes as a map or score column.
STYLES = {
    "r": StatStyle("Held-out r", "r (Pearson, test images)", "diverging", "RdBu_r"),
    "r2": StatStyle("Held-out R²", "R² (fraction of variance)", "diverging", "RdBu_r"),
    "cv_r2": StatStyle("Inner-CV R²", "inner-CV R² (fraction)", "diverging", "RdBu_r"),
    "nc": StatStyle("Noise ceiling", "noise ceiling (% variance)", "sequential", "viridis"),
    "ncr2": StatStyle("Noise-normalised R²", "ncR² (% of explainable)", "sequential", "inferno"),
    "log10pfdr": StatStyle("Significance", "−log10 p (FDR-corrected)", "sequential", "inferno"),
    "alpha": StatStyle("Ridge penalty", "alpha (ridge penalty)", "sequential", "viridis"),
    "bestr": StatStyle(
        "Held-out r of the chosen layer", "r (Pearson, test images)", "diverging", "RdBu_r"
    ),
    "bestmodelr": StatStyle(
        "Held-out r of the chosen model", "r (Pearson, test images)", "diverging", "RdBu_r"
    ),
    "activation_z": StatStyle(
        "Predicted activation",
        "predicted activation (SDs above the bank's mean)",
        "diverging",
        "RdBu_r",
    ),
    "attention": StatStyle(
        "Attention",
        "attention weight (share of the ROI query's attention)",
        "sequential",
        "inferno",
    ),
    "bestlayer": StatStyle("Best layer (inner CV)", "layer", "categorical", "tab10"),
    "bestmodel": StatStyle("Best model (inner CV)", "model", "categorical", "tab10"),
}

#: Words of the entities of a file stem, in title order.
_ENTITY_WORDS = {"sub": "subject {}", "space": "{} space", "hemi": "{} hemisphere"}
#: Words of the figure kinds that end a figure's stem.
_KINDS = {
    "slices": "axial slices",
    "glass": "glass brain",
    "surface": "surface",
    "flat": "flat map",
    "topomap": "topomaps",
    "timecourse": "time courses",
}


def style_of(stat: str) -> StatStyle:
    """Return the style of a statistic (a generic diverging style for unknown ones).

    Parameters
    ----------
    stat : str
        Statistic name as in file names (``r``, ``ncr2``, ``log10pfdr``, ...).

    Returns
    -------
    StatStyle
    """
    return STYLES.get(stat, StatStyle(stat, stat, "diverging", "RdBu_r"))


def colormap(stat: str, n_categories: int | None = None):
    """Return the matplotlib colour map of a statistic, legible on white.

    Sequential maps are cut to :data:`SEQUENTIAL_BOTTOM`..:data:`SEQUENTIAL_TOP` of
    their range so that the smallest values are not black and the largest never
    (near-)white; diverging maps lose their
    near-white centre (:data:`DIVERGING_GAP`), so values near zero are pale blue or
    red; categorical maps have one distinct colour per category.

    Parameters
    ----------
    stat : str
        Statistic name.
    n_categories : int, optional
        Number of categories, for categorical statistics.

    Returns
    -------
    matplotlib.colors.Colormap
    """
    import matplotlib
    from matplotlib.colors import ListedColormap

    style = style_of(stat)
    base = matplotlib.colormaps[style.cmap]
    if style.kind == "sequential":
        import numpy as np

        return ListedColormap(
            base(np.linspace(SEQUENTIAL_BOTTOM, SEQUENTIAL_TOP, 256)), name=f"{style.cmap}_cut"
        )
    if style.kind == "categorical":
        n = max(1, int(n_categories or base.N))
        colors = [base(i % base.N) for i in range(n)]
        return ListedColormap(colors, name=f"{style.cmap}_{n}")
    import numpy as np

    half = 0.5 - DIVERGING_GAP
    stops = np.concatenate([np.linspace(0.0, half, 128), np.linspace(1.0 - half, 1.0, 128)])
    return ListedColormap(base(stops), name=f"{style.cmap}_cut")


@dataclass(frozen=True)
class Threshold:
    """Which voxels of a map are drawn, as a number and in words.

    Attributes
    ----------
    value : float
        Voxels whose (absolute, for diverging maps) value is below it stay transparent.
    text : str
        The rule in words, for captions (``"voxels with p(FDR) < 0.05"``).
    """

    value: float
    text: str


def threshold_of(stat: str) -> Threshold:
    """Return the threshold of the figures of a statistic.

    Significance maps show the voxels with an FDR-corrected p below
    :data:`ALPHA_FDR`; every other map shows every voxel of the mask (its non-zero
    values; non-positive values of sequential maps are left out).

    Parameters
    ----------
    stat : str
        Statistic name.

    Returns
    -------
    Threshold
    """
    import math

    if stat == "log10pfdr":
        value = -math.log10(ALPHA_FDR)
        return Threshold(value, f"voxels with p(FDR) < {ALPHA_FDR:g} (−log10 p ≥ {value:.1f})")
    kind = style_of(stat).kind
    if kind == "categorical":
        return Threshold(0.5, "every voxel of the mask")
    if kind == "sequential":
        return Threshold(1e-6, "voxels of the mask with a positive value")
    return Threshold(1e-6, "every voxel of the mask (non-zero values)")


def map_caption(stem: str) -> str:
    """Return the caption of a map figure: its title in words and what it shows.

    Parameters
    ----------
    stem : str
        Figure or map file stem (``sub-01_model-M_layer-L_stat-log10pfdr_glass``).

    Returns
    -------
    str
        E.g. ``"Significance, M L, subject 1 (glass brain). Shown: voxels with
        p(FDR) < 0.05 (−log10 p ≥ 1.3)."``
    """
    stat = entities(stem).get("stat")
    if stat is None:
        return describe(stem)
    text = f"{describe(stem)}. Colour: {style_of(stat).label}"
    return f"{text}; shown: {threshold_of(stat).text}."


def entities(stem: str) -> dict[str, str]:
    """Return the ``key-value`` entities of a BIDS-like file stem, in order.

    Parameters
    ----------
    stem : str
        File name without extension (``sub-01_model-SampleNet_layer-layer6_stat-r_glass``).

    Returns
    -------
    dict of str -> str
        ``{"sub": "01", "model": "SampleNet", "layer": "layer6", "stat": "r"}``; parts
        without a ``-`` (e.g. ``glass``) are left out.
    """
    found = {}
    for part in stem.split("_"):
        key, dash, value = part.partition("-")
        if dash and key:
            found[key] = value
    return found


def describe(stem: str) -> str:
    """Return a figure title in words from a map or figure file stem.

    Parameters
    ----------
    stem : str
        ``sub-01_model-SampleNet_layer-layer6_space-fsaverage_stat-r_glass`` and the like.

    Returns
    -------
    str
        E.g. ``"Held-out r, SampleNet layer6, subject 1, fsaverage space (glass brain)"``.
    """
    parts = entities(stem)
    head = style_of(parts["stat"]).name if "stat" in parts else ""
    words = [head] if head else []
    model = " ".join(v for v in (parts.get("model"), parts.get("layer")) if v)
    if model:
        words.append(model)
    for key, pattern in _ENTITY_WORDS.items():
        if key in parts:
            value = str(int(parts[key])) if key == "sub" and parts[key].isdigit() else parts[key]
            value = {"L": "left", "R": "right"}.get(value, value) if key == "hemi" else value
            words.append(pattern.format(value))
    title = ", ".join(words) or stem
    kind = stem.rsplit("_", 1)[-1] if "_" in stem else ""
    return f"{title} ({_KINDS[kind]})" if kind in _KINDS else title
