"""Exceptions raised by brainalign.

Two families matter to callers and to the command line:

* :class:`ParameterError` -- the caller asked for something invalid (a wrong option,
  an unknown name). The command line exits with status 2.
* :class:`DataError` -- the data on disk or in memory is missing, inconsistent or
  malformed. The command line exits with status 1.
"""

__all__ = ["BrainAlignError", "DataError", "MissingFileError", "ParameterError"]


class BrainAlignError(Exception):
    """Base class of every error brainalign raises on purpose."""


class ParameterError(BrainAlignError, ValueError):
    """An argument has an invalid value or type."""


class DataError(BrainAlignError, ValueError):
    """Data are missing, inconsistent or malformed."""


class MissingFileError(DataError, FileNotFoundError):
    """A file or folder the dataset layout requires is not there."""
