"""Validation helpers, atomic writes and logging shared by every layer."""

from brainalign._utils._io import atomic_path, write_json_atomic
from brainalign._utils._logging import get_logger, warn
from brainalign._utils._validation import (
    check_option,
    check_positive_int,
    check_type,
    closest_names,
    require_file,
)

__all__ = [
    "atomic_path",
    "check_option",
    "check_positive_int",
    "check_type",
    "closest_names",
    "get_logger",
    "require_file",
    "warn",
    "write_json_atomic",
]
