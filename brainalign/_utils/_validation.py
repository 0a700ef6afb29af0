"""One validation style: every message names the parameter, what was expected and got."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from brainalign.exceptions import MissingFileError, ParameterError


def closest_names(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` entries of ``choices`` that look like ``name``.

    Parameters
    ----------
    name : str
        The name that was not found.
    choices : iterable of str
        The valid names.
    n : int
        Maximum number of suggestions.

    Returns
    -------
    list of str
        Close matches, best first (possibly empty).
    """
    return difflib.get_close_matches(str(name), [str(c) for c in choices], n=n)


def check_option(name: str, value, allowed: Iterable):
    """Check that ``value`` is one of ``allowed``.

    Parameters
    ----------
    name : str
        Parameter name, used in the message.
    value : object
        The value given.
    allowed : iterable
        The valid values.

    Returns
    -------
    object
        ``value`` unchanged.

    Raises
    ------
    ParameterError
        If ``value`` is not allowed; the message lists the valid values and close
        matches.
    """
    allowed = list(allowed)
    if value in allowed:
        return value
    hint = ""
    if isinstance(value, str):
        close = closest_names(value, [a for a in allowed if isinstance(a, str)])
        if close:
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?"
    raise ParameterError(
        f"Invalid value for {name!r}: expected one of "
        f"{', '.join(repr(a) for a in allowed)}; got {value!r}.{hint}"
    )


def check_type(name: str, value, types: type | tuple[type, ...]):
    """Check that ``value`` is an instance of ``types``.

    Parameters
    ----------
    name : str
        Parameter name, used in the message.
    value : object
        The value given.
    types : type or tuple of type
        Accepted types.

    Returns
    -------
    object
        ``value`` unchanged.

    Raises
    ------
    ParameterError
        If the type does not match.
    """
    if isinstance(value, types):
        return value
    names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
    raise ParameterError(
        f"Invalid type for {name!r}: expected {names}; got {type(value).__name__} ({value!r:.80})."
    )


def check_positive_int(name: str, value) -> int:
    """Check that ``value`` is an integer >= 1 and return it as ``int``.

    Parameters
    ----------
    name : str
        Parameter name, used in the message.
    value : object
        The value given.

    Returns
    -------
    int
        The value.

    Raises
    ------
    ParameterError
        If ``value`` is not a positive integer.
    """
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ParameterError(
            f"Invalid value for {name!r}: expected a positive integer; got {value!r}."
        )
    return int(value)


def require_file(path: str | Path, what: str = "file") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if it exists.

    Parameters
    ----------
    path : str or Path
        Expected location.
    what : str
        Short description used in the message (e.g. ``"NSD design file"``).

    Returns
    -------
    Path
        The path.

    Raises
    ------
    MissingFileError
        If nothing exists at ``path``; the message names the expected path.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"Missing {what}: expected {path}")
    return path
