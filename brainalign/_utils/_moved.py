"""Names that moved to another module: served from there, with a FutureWarning."""

from __future__ import annotations


def moved_attribute(module: str, name: str, moved: dict[str, str], target: str):
    """Return ``target.<moved[name]>`` for a name that left ``module``, with a warning.

    Used by a package's module-level ``__getattr__`` so old import paths keep working.
    The target is imported by name (at call time), so a lower layer can point users
    at a higher one without importing it.

    Parameters
    ----------
    module : str
        The module the name was asked of (``"brainalign.compare"``).
    name : str
        The attribute asked for.
    moved : dict of str -> str
        Old name -> its name in ``target``.
    target : str
        Module the names moved to (``"brainalign.runs"``).

    Returns
    -------
    object
        The attribute in its new home.

    Raises
    ------
    AttributeError
        When ``name`` is not one of the moved names.
    """
    if name not in moved:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    import importlib
    import warnings

    warnings.warn(
        f"{module}.{name} moved to {target}.{moved[name]}; import it from there.",
        FutureWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module(target), moved[name])
