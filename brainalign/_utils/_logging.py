"""Logging and warnings that point at the caller's line."""

from __future__ import annotations

import inspect
import logging
import warnings
from pathlib import Path

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def get_logger(name: str = "brainalign") -> logging.Logger:
    """Return the package logger (or a child of it).

    Parameters
    ----------
    name : str
        Logger name, usually ``__name__``.

    Returns
    -------
    logging.Logger
        The logger.
    """
    return logging.getLogger(name)


def _stacklevel_outside_package() -> int:
    """Return the stack level of the first frame outside brainalign."""
    level = 1
    frame = inspect.currentframe()
    while frame is not None:
        if not frame.f_code.co_filename.startswith(_PACKAGE_DIR):
            return level
        frame = frame.f_back
        level += 1
    return level


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Emit a warning attributed to the first line of user code.

    Parameters
    ----------
    message : str
        Warning text.
    category : type of Warning
        Warning class.
    """
    # -1: do not count this helper's own frame twice.
    warnings.warn(message, category, stacklevel=_stacklevel_outside_package() - 1)
