"""The ``brainalign`` command line: a thin front end over the library.

Exit status: 0 on success, 2 on a usage error, 1 on a data error; errors print one
line (the traceback only with ``-v``). Warnings print as one ``brainalign: warning:``
line each (they are recorded in ``run.json`` all the same); ``-q`` silences them and
``-v`` shows Python's full form (file, line and source).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings

from brainalign.cli import (
    _align,
    _caption,
    _categories,
    _compare,
    _convert,
    _decode,
    _demo,
    _extract,
    _fit,
    _info,
    _report,
    _sample,
    _synthesize,
)

_VERBS = {
    "sample": _sample,
    "info": _info,
    "extract": _extract,
    "convert": _convert,
    "fit": _fit,
    "compare": _compare,
    "decode": _decode,
    "categories": _categories,
    "align": _align,
    "caption": _caption,
    "synthesize": _synthesize,
    "report": _report,
    "demo": _demo,
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (``--help`` shows the usage)."""

    def error(self, message):
        """Print ``<prog>: error: <message> (see <prog> --help)`` and exit 2."""
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one sub-command per verb.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    from brainalign import __version__

    parser = _Parser(
        prog="brainalign",
        description="Link vision and language model features to brain data.",
    )
    parser.add_argument("--version", action="version", version=f"brainalign {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for name, module in _VERBS.items():
        doc = module.__doc__.strip()
        verb = sub.add_parser(
            name,
            help=doc.splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        group = verb.add_mutually_exclusive_group()
        group.add_argument(
            "-v", "--verbose", action="store_true", help="more messages, and tracebacks on errors"
        )
        group.add_argument(
            "-q", "--quiet", action="store_true", help="only errors; no progress bars"
        )
        verb.add_argument(
            "--config",
            metavar="FILE",
            help="options from a TOML file or a run's run.json (the command line wins)",
        )
        module.add_arguments(verb)
        verb.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 success, 1 data error, 2 usage error.
    """
    from brainalign.cli._config import expand_config, record_config
    from brainalign.exceptions import DataError, ParameterError

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(expand_config(parser, argv))
    except ParameterError as exc:  # a bad --config file
        print(f"brainalign: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s: %(message)s",
    )
    try:
        with warning_lines(quiet=args.quiet, verbose=args.verbose):
            status = args.run(args)
        record_config(args)
        return status
    except (ParameterError, DataError, FileNotFoundError, OSError) as exc:
        if args.verbose:
            raise
        print(f"brainalign {args.verb}: error: {_one_line(exc)}", file=sys.stderr)
        return 2 if isinstance(exc, ParameterError) else 1


def add_out_argument(parser) -> None:
    """Add ``--out RUN`` and ``--overwrite`` (the run-directory options of every run verb)."""
    parser.add_argument("--out", required=True, metavar="RUN", help="run directory")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a different run that RUN holds (without it, such a folder is refused; "
        "the same run resumes)",
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


@contextlib.contextmanager
def warning_lines(quiet: bool = False, verbose: bool = False):
    """Show warnings as one ``brainalign: warning: <message>`` line each while the block runs.

    Only the text of a shown warning changes (``warnings.formatwarning``): filters,
    recording (``run.json``, ``pytest.warns``) and the once-per-place rule stay
    Python's. ``quiet`` shows nothing; ``verbose`` keeps Python's full form.

    Parameters
    ----------
    quiet : bool
        Show no warnings.
    verbose : bool
        Show Python's form (file, line and source line).
    """
    previous = warnings.formatwarning
    if not verbose:
        warnings.formatwarning = _quiet_format if quiet else _line_format
    try:
        yield
    finally:
        warnings.formatwarning = previous


def _line_format(message, category, filename, lineno, line=None) -> str:
    kind = "" if category is UserWarning else f" ({category.__name__})"
    return f"brainalign: warning{kind}: {_one_line(message)}\n"


def _quiet_format(message, category, filename, lineno, line=None) -> str:
    return ""
