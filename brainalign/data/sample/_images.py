"""Procedural stimulus images with known attributes, and captions describing them."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Attribute values. Each value is also the word used in captions and ground truth.
COLOURS = {
    "red": (0.85, 0.15, 0.15),
    "green": (0.15, 0.70, 0.20),
    "blue": (0.15, 0.30, 0.85),
    "yellow": (0.90, 0.85, 0.15),
}
SHAPES = ("circle", "square", "triangle")
TEXTURES = ("plain", "striped", "checkered")
POSITIONS = {
    "centre": (42, 42),
    "left": (42, 20),
    "right": (42, 64),
    "top": (20, 42),
    "bottom": (64, 42),
}
COUNTS = {1: "one", 2: "two", 3: "three"}
CATEGORIES = ("none", "face", "house", "word")
_CATEGORY_P = (0.55, 0.15, 0.15, 0.15)

GRID = 85  # drawing resolution; images are stored at GRID * UPSCALE = 425 pixels
UPSCALE = 5


def sample_attributes(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Draw the attributes of ``n`` images.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    n : int
        Number of images.

    Returns
    -------
    pandas.DataFrame
        Columns ``colour, shape, texture, position, count, category``; ``shape`` is
        the category name for category images (face, house, word).
    """
    category = rng.choice(CATEGORIES, size=n, p=_CATEGORY_P)
    shape = rng.choice(SHAPES, size=n)
    texture = rng.choice(TEXTURES, size=n)
    is_cat = category != "none"
    shape = np.where(is_cat, category, shape)
    texture = np.where(is_cat, "plain", texture)
    return pd.DataFrame(
        {
            "colour": rng.choice(list(COLOURS), size=n),
            "shape": shape,
            "texture": texture,
            "position": rng.choice(list(POSITIONS), size=n),
            "count": rng.integers(1, 4, size=n),
            "category": category,
        }
    )


def has_word(attributes: pd.DataFrame, word: str) -> np.ndarray:
    """Return, per image, whether ``word`` describes it (colour, shape, count...).

    Parameters
    ----------
    attributes : pandas.DataFrame
        Output of :func:`sample_attributes`.
    word : str
        An attribute value (``"red"``, ``"face"``, ``"three"``, ``"left"`` ...).

    Returns
    -------
    ndarray of bool, shape (n_images,)
        True where the image has the attribute.
    """
    counts = attributes["count"].map(COUNTS)
    columns = [attributes[c] for c in ("colour", "shape", "texture", "position")]
    return np.logical_or.reduce([c.to_numpy() == word for c in columns + [counts]])


def caption(row) -> str:
    """Describe one image in a COCO-style sentence.

    Parameters
    ----------
    row : mapping
        One row of :func:`sample_attributes`.

    Returns
    -------
    str
        E.g. ``"two red striped circles on the left"``.
    """
    count = int(row["count"])
    noun = row["shape"] + ("s" if count > 1 else "")
    if row["shape"] == "house" and count > 1:
        noun = "houses"
    texture = "" if row["texture"] == "plain" else row["texture"] + " "
    lead = "a" if count == 1 else COUNTS[count]
    where = {
        "centre": "in the centre",
        "left": "on the left",
        "right": "on the right",
        "top": "at the top",
        "bottom": "at the bottom",
    }[row["position"]]
    return f"{lead} {row['colour']} {texture}{noun} {where}"


def _offsets(count: int, position: str) -> list[tuple[int, int]]:
    """Centres of ``count`` objects around a position, spread across the short axis."""
    cy, cx = POSITIONS[position]
    step = 22
    spread = [(0,)] if count == 1 else [(-step // 2, step // 2), (-step, 0, step)][count - 2]
    spread = spread if count > 1 else (0,)
    if position in ("left", "right"):
        return [(cy + d, cx) for d in spread]
    return [(cy, cx + d) for d in spread]


def _shape_mask(kind: str, yy, xx, cy: int, cx: int, r: int):
    """Boolean mask of a primitive shape."""
    if kind == "circle":
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    if kind == "square":
        h = int(r * 0.85)
        return (np.abs(yy - cy) <= h) & (np.abs(xx - cx) <= h)
    # triangle, apex up
    return (yy >= cy - r) & (yy <= cy + r) & (np.abs(xx - cx) * 2 <= yy - (cy - r))


def _texture(kind: str, yy, xx):
    """Multiplicative texture pattern (1 = full colour)."""
    if kind == "striped":
        return np.where((xx // 3) % 2 == 0, 1.0, 0.45)
    if kind == "checkered":
        return np.where(((xx // 3) + (yy // 3)) % 2 == 0, 1.0, 0.45)
    return np.ones_like(xx, dtype=float)


def _draw_face(img, yy, xx, cy, cx, r, colour):
    img[_shape_mask("circle", yy, xx, cy, cx, r)] = colour
    for ex in (cx - r // 2, cx + r // 2):
        img[_shape_mask("circle", yy, xx, cy - r // 3, ex, max(1, r // 5))] = 0.05
    mouth = (np.abs(yy - (cy + r // 2)) <= 1) & (np.abs(xx - cx) <= r // 2)
    img[mouth] = 0.05


def _draw_house(img, yy, xx, cy, cx, r, colour):
    body = (yy >= cy - r // 4) & (yy <= cy + r) & (np.abs(xx - cx) <= int(r * 0.8))
    img[body] = colour
    img[_shape_mask("triangle", yy, xx, cy - r // 2, cx, r // 2 + 2) & ~body] = (
        np.asarray(colour) * 0.5
    )
    door = (yy >= cy + r // 3) & (yy <= cy + r) & (np.abs(xx - cx) <= max(1, r // 5))
    img[door] = 0.1


def _draw_word(img, yy, xx, cy, cx, r, colour):
    plate = (np.abs(yy - cy) <= r // 2) & (np.abs(xx - cx) <= r)
    img[plate] = 0.95
    for k in range(4):
        gx = cx - r + 3 + k * (2 * r - 4) // 4
        glyph = (np.abs(yy - cy) <= r // 3) & (xx >= gx) & (xx <= gx + 1)
        bar = (np.abs(yy - (cy - r // 3)) <= 0) & (xx >= gx) & (xx <= gx + 3)
        img[glyph | bar] = colour


_CATEGORY_DRAW = {"face": _draw_face, "house": _draw_house, "word": _draw_word}


def upscale(image: np.ndarray) -> np.ndarray:
    """Enlarge a drawn image to the storage resolution (85 -> 425 pixels, nearest)."""
    return image.repeat(UPSCALE, axis=0).repeat(UPSCALE, axis=1)


def draw_image(row, rng: np.random.Generator) -> np.ndarray:
    """Draw one image at the drawing resolution (85 x 85 x 3, uint8).

    :func:`upscale` turns it into the stored 425 x 425 image; both pool to the same
    17 x 17 grid, so features can be computed on the small image.

    Parameters
    ----------
    row : mapping
        One row of :func:`sample_attributes`.
    rng : numpy.random.Generator
        Random generator for the background and colour jitter.

    Returns
    -------
    ndarray of shape (85, 85, 3), dtype uint8
        The image.
    """
    yy, xx = np.mgrid[0:GRID, 0:GRID]
    img = np.empty((GRID, GRID, 3))
    img[:] = rng.uniform(0.35, 0.6) + 0.1 * (yy / GRID - 0.5)[..., None]
    colour = np.clip(np.asarray(COLOURS[row["colour"]]) + rng.normal(0, 0.03, 3), 0, 1)
    r = int(rng.integers(8, 11))
    for cy, cx in _offsets(int(row["count"]), row["position"]):
        if row["category"] != "none":
            _CATEGORY_DRAW[row["category"]](img, yy, xx, cy, cx, r, colour)
            continue
        mask = _shape_mask(row["shape"], yy, xx, cy, cx, r)
        pattern = _texture(row["texture"], yy, xx)[..., None] * colour
        img[mask] = pattern[mask]
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
