"""The ``brainalign`` command line: a thin front end over the library.

Exit status: 0 on success, 2 on a usage error, 1 on a data error; errors print one
line (the traceback only with ``-v``).
"""

from __future__ import annotations

import argparse
import logging
import sys

from brainalign.cli import (
    _caption,
    _compare,
    _decode,
    _demo,
    _extract,
    _fit,
    _info,
    _report,
    _sample,
)

_VERBS = {
    "sample": _sample,
    "info": _info,
    "extract": _extract,
    "fit": _fit,
    "compare": _compare,
    "decode": _decode,
    "caption": _caption,
    "report": _report,
    "demo": _demo,
}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one sub-command per verb.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    from brainalign import __version__

    parser = argparse.ArgumentParser(
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
        status = args.run(args)
        record_config(args)
        return status
    except (ParameterError, DataError, FileNotFoundError, OSError) as exc:
        if args.verbose:
            raise
        print(f"brainalign {args.verb}: error: {_one_line(exc)}", file=sys.stderr)
        return 2 if isinstance(exc, ParameterError) else 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
