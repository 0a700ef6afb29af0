"""Claiming a folder for an embedded sample without ever overwriting real data."""

from __future__ import annotations

import shutil
from pathlib import Path

from brainalign.exceptions import DataError

#: File that marks a folder as written by ``brainalign sample``.
MARKER = ".brainalign-sample"


def check_claimable(out: Path) -> None:
    """Refuse a non-empty folder that holds no brainalign sample (e.g. a real dataset).

    Parameters
    ----------
    out : Path
        Destination folder.

    Raises
    ------
    DataError
        If ``out`` is not empty and has no sample marker.
    """
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise DataError(
            f"Refusing to write the sample into {out}: the folder is not empty and "
            "holds no earlier brainalign sample."
        )


def claim_folder(out: Path, entries) -> None:
    """Claim ``out`` for a sample and remove the ``entries`` of an earlier one.

    Parameters
    ----------
    out : Path
        Destination folder (created).
    entries : iterable of str
        Names (or glob patterns) of the files and folders a sample writes.
    """
    check_claimable(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by brainalign sample; safe to delete\n")
    for pattern in entries:
        for path in out.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
