"""Reading files without library tracebacks: a damaged file raises one DataError naming it.

:func:`reading` wraps the lines that read a file; what nibabel, h5py, numpy, pandas,
scipy, MNE or PIL raise on a truncated or garbled file becomes
``DataError("betas_session02.hdf5 is truncated: expected 15015608 bytes, found 7507804
(NSD betas file /data/nsd/.../betas_session02.hdf5).")`` -- one line, file name first,
full path last. :func:`truncated` builds the same message where the reader itself
knows the expected and found sizes.
"""

from __future__ import annotations

import contextlib
import pickle
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from brainalign.exceptions import BrainAlignError, DataError, MissingFileError

__all__ = ["is_truncation", "load_npy", "read_nifti", "read_text", "reading", "truncated"]

#: Exceptions that readers raise on bad bytes (besides their libraries' own classes).
READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    RuntimeError,
    RuntimeWarning,  # a reader's warning made an error (MNE's "Invalid tag" of a cut FIF)
    MemoryError,
    struct.error,
    zlib.error,
    zipfile.BadZipFile,
    pickle.UnpicklingError,
)
#: Packages whose own exception classes (nibabel's ImageFileError, ...) count too.
_LIBRARIES = ("nibabel", "nilearn", "h5py", "numpy", "pandas", "scipy", "mne", "mne_bids", "PIL")
_H5_TRUNCATED = re.compile(r"truncated file: eof = (\d+).*stored_eof = (\d+)")
#: Phrases of short reads: gzip, h5py, numpy, nibabel's fileslice ("not enough data").
_TRUNCATION = (
    "truncated",
    "ended before",
    "unexpected end",
    "end of file",
    "smaller than",
    "could only read",
    "could not read bytes",
    "not enough data",
    "n_bytes does not look right",
    "ran out of input",
    "invalid tag with only",
)
_MAX_REASON = 160


@contextlib.contextmanager
def reading(path, what: str = "file"):
    """Turn a reader's exception inside the block into a one-line DataError on ``path``.

    brainalign's own errors pass through unchanged; so do exceptions that no file
    reader raises (a bug stays a traceback).

    Parameters
    ----------
    path : str or Path
        The file read inside the block.
    what : str
        What the file is, for the message (e.g. ``"NSD betas file"``).

    Raises
    ------
    DataError
        ``"<name> is truncated: <why> (<what> <path>)."`` or ``"<name> cannot be read:
        ..."``; :class:`~brainalign.exceptions.MissingFileError` if it vanished.
    """
    try:
        yield
    except BrainAlignError:
        raise
    except Exception as exc:
        if not _from_a_reader(exc):
            raise
        raise file_error(path, what, exc) from exc


def file_error(path, what: str, exc: BaseException) -> DataError:
    """Return the one-line DataError for ``exc`` raised while reading ``path``."""
    path = Path(path)
    if isinstance(exc, FileNotFoundError):  # it, or a file it names, is not there
        missing = Path(exc.filename) if exc.filename else path
        return MissingFileError(f"{missing.name} not found ({what} {missing}).")
    state, reason = diagnose(exc, path)
    if reason.startswith("is "):
        return DataError(f"{path.name} {reason} ({what} {path}).")
    return DataError(f"{path.name} {state}: {reason} ({what} {path}).")


def truncated(path, what: str, expected: int, found: int, unit: str) -> DataError:
    """Return ``"<name> is truncated: expected N <unit>, read M (<what> <path>)."``."""
    path = Path(path)
    return DataError(
        f"{path.name} is truncated: expected {expected} {unit}, read {found} ({what} {path})."
    )


def diagnose(exc: BaseException, path=None) -> tuple[str, str]:
    """Return ``(state, reason)``: ``"is truncated"`` or ``"cannot be read"``, and why, short.

    ``path``, where given, is dropped from the reader's text (nibabel says "File
    /x/a.nii.gz is not a gzip file"; the message names the file once).
    """
    text = _message(exc)
    if path is not None:
        text = re.sub(rf"^(File )?{re.escape(str(path))}:? ?", "", text)
        text = text.replace(str(path), Path(path).name)
    sizes = _H5_TRUNCATED.search(text)
    if sizes:
        return "is truncated", f"expected {sizes.group(2)} bytes, found {sizes.group(1)}"
    reason = _short(text)
    if isinstance(exc, EOFError) or any(k in text.lower() for k in _TRUNCATION):
        return "is truncated", reason
    return "cannot be read", reason


def read_nifti(path, what: str = "NIfTI image", dtype=None):
    """Read a whole NIfTI (or other nibabel) image: ``(data, image)``.

    Parameters
    ----------
    path : str or Path
        The image.
    what : str
        What it is, for messages.
    dtype : dtype, optional
        Convert the data to this type.

    Returns
    -------
    data : ndarray
        The stored values (scaled if the header says so).
    image : nibabel image
        Header and affine.
    """
    import nibabel as nib

    with reading(path, what):
        img = nib.load(str(path))
        return np.asarray(img.dataobj, dtype=dtype), img


def load_npy(path, what: str = "NumPy file", **kwargs) -> np.ndarray:
    """``np.load`` a ``.npy`` array; a short file says how many values it lacks.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What it is, for messages.
    **kwargs
        Passed to :func:`numpy.load` (``allow_pickle`` stays False by default).

    Returns
    -------
    ndarray
        The array.
    """
    try:
        with reading(path, what), open(path, "rb") as f:  # closed even when numpy fails
            return np.load(f, **kwargs)
    except DataError as exc:
        sizes = _npy_sizes(path)
        if sizes and sizes[1] < sizes[0]:
            raise truncated(path, what, *sizes, "values") from exc.__cause__
        raise


def read_text(path, what: str = "text file") -> str:
    """Read a text file; undecodable (binary) bytes raise a DataError naming it."""
    with reading(path, what):
        return Path(path).read_text()


def npy_header(f) -> tuple[tuple, np.dtype]:
    """Read the header of an open ``.npy`` file: ``(shape, dtype)``, the file at its data.

    Raises
    ------
    ValueError
        When the file does not start with a ``.npy`` header.
    """
    version = np.lib.format.read_magic(f)
    header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, _, dtype = header(f)
    return shape, dtype


def _npy_sizes(path):
    """``(values the header promises, whole values present)`` of a plain ``.npy``."""
    try:
        with open(path, "rb") as f:
            shape, dtype = npy_header(f)
            start = f.tell()
    except Exception:  # not even a readable header: nothing to count
        return None
    if dtype.hasobject or not dtype.itemsize:
        return None
    found = (Path(path).stat().st_size - start) // dtype.itemsize
    return int(np.prod(shape)), int(found)


def _from_a_reader(exc: BaseException) -> bool:
    if isinstance(exc, Warning) and not isinstance(exc, RuntimeWarning):
        return False  # a warning made an error by the caller's filters stays theirs
    module = type(exc).__module__.split(".")[0]
    return isinstance(exc, READ_ERRORS) or module in _LIBRARIES


def _message(exc: BaseException) -> str:
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    text = " ".join(str(text).split()) or type(exc).__name__
    return text


def is_truncation(exc: BaseException) -> bool:
    """Whether a reader's exception says the file ended early."""
    return diagnose(exc)[0] == "is truncated"


def _short(text: str) -> str:
    """Drop HDF5's wrapper and detail: ``"Can't read data (file read failed: ...)"``."""
    inner = re.fullmatch(r"[^()]*\((.*)\)", text)
    if inner and ("unable to" in text.lower() or "can't" in text.lower()):
        text = inner.group(1)
    if "=" in text and ":" in text:  # "file read failed: time = ..., filename = ..."
        text = text.split(":")[0]
    text = text.rstrip(".")
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
