"""Building blocks of report sections: tables, figures, key-value lists.

A section is a :class:`Section` holding a list of items; each item is a plain dict with a
``kind`` the template knows how to draw (``table``, ``figure``, ``pairs``, ``list``,
``gallery``, ``code``). Text stays plain text: the template escapes all of it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers

import numpy as np
import pandas as pd


@dataclasses.dataclass
class Section:
    """One section of the report: an element id, a title, notes and items."""

    id: str
    title: str
    intro: str = ""
    notes: list = dataclasses.field(default_factory=list)
    items: list = dataclasses.field(default_factory=list)


def fmt_value(value, digits: int = 3) -> str:
    """Format a cell value as text (numbers rounded, missing values as a dash).

    Parameters
    ----------
    value : object
        The value.
    digits : int
        Decimals for floats.

    Returns
    -------
    str
        The text.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.{digits}f}"
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def _sort_key(value, numeric: bool) -> str:
    if not numeric:
        return fmt_value(value).lower()
    if value is None or pd.isna(value):
        return "NaN"
    return repr(float(value))


#: Tables with more rows than this are collapsed by ``table(..., collapsed=None)``.
LONG_TABLE_ROWS = 20


def table(
    frame: pd.DataFrame, columns, table_id: str, caption: str = "", collapsed: bool | None = False
) -> dict:
    """Describe a sortable table, optionally folded into a collapsible ``<details>``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows to show, in order.
    columns : sequence of tuple
        ``(column, header, digits)``; columns missing from ``frame`` are skipped. A
        ``model`` column shows each spec's display name
        (:func:`~brainalign.features.model_label`).
    table_id : str
        Element id of the table.
    caption : str
        Table caption (also the collapsed table's summary line, with its row count).
    collapsed : bool or None
        Fold the table (closed until clicked); None: fold it when it has more than
        :data:`LONG_TABLE_ROWS` rows (show a summary beside it).

    Returns
    -------
    dict
        A ``table`` item.
    """
    present = [c for c in columns if c[0] in frame.columns]
    header = []
    for name, label, _ in present:
        dtype = frame[name].dtype
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        header.append({"label": label, "numeric": numeric})
    rows = []
    shown = frame[[c[0] for c in present]]
    if "model" in shown.columns:  # one display name per model in every table
        from brainalign.features import model_label

        shown = shown.assign(model=shown["model"].map(lambda m: model_label(m) if m else m))
    for record in shown.itertuples(index=False):
        rows.append(
            [
                {"text": fmt_value(v, digits), "sort": _sort_key(v, h["numeric"])}
                for v, (_, _, digits), h in zip(record, present, header, strict=True)
            ]
        )
    if collapsed is None:
        collapsed = len(rows) > LONG_TABLE_ROWS
    return {
        "kind": "table",
        "id": table_id,
        "caption": caption,
        "columns": header,
        "rows": rows,
        "collapsed": bool(collapsed),
    }


def figure(uri: str, caption: str, fig_id: str = "") -> dict:
    """Describe an embedded figure (``uri`` is a data URI; ``fig_id`` its element id)."""
    return {"kind": "figure", "id": fig_id, "uri": uri, "caption": caption}


def links(caption: str, entries) -> dict:
    """Describe a list of links (``entries``: ``(text, href)`` pairs, hrefs relative)."""
    return {"kind": "links", "caption": caption, "entries": [(str(t), str(h)) for t, h in entries]}


def pairs(caption: str, mapping: dict) -> dict:
    """Describe a key-value list (values formatted as text)."""
    return {
        "kind": "pairs",
        "caption": caption,
        "pairs": [(str(k), fmt_value(v, 6)) for k, v in mapping.items()],
    }


def with_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy a results table with ``subject``, ``model``, ``layer`` as text (``""`` if absent)."""
    frame = frame.reset_index(drop=True)
    for column in ("subject", "model", "layer"):
        if column in frame.columns:
            frame[column] = frame[column].astype(str)
        else:
            frame[column] = ""
    return frame


def varying(frame: pd.DataFrame, columns=("subject", "model", "layer")) -> list[str]:
    """Return the key columns that take more than one value."""
    return [c for c in columns if c in frame.columns and frame[c].nunique(dropna=False) > 1]
