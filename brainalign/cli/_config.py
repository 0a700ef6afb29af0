"""Run configs: ``--config run.toml`` on every verb, and the resolved options in run.json.

A config holds the same options as the command line, by option name (``n_permutations``
or ``--permutations`` style names both work: dashes and underscores are the same).
Options given on the command line win over the config. A TOML file may hold one table
per verb (``[fit]``, ``[compare]``) or the options at top level; a ``run.json`` written
by a verb carries its resolved options under ``"config"``, so
``brainalign fit --config RUN/run.json --out RUN2`` reruns it exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

from brainalign.exceptions import ParameterError

#: Options that describe how to run, not what to compute, and the positional run
#: directory a verb reads (never written to configs).
_NOT_CONFIG = {"run", "run_dir", "verb", "verbose", "quiet", "config", "help", "overwrite"}


def expand_config(parser, argv: list[str]) -> list[str]:
    """Return ``argv`` with the options of its ``--config`` file added where not given.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The top-level parser (with one sub-parser per verb).
    argv : list of str
        Command-line arguments.

    Returns
    -------
    list of str
        Arguments with the config's options inserted right after the verb, so that
        the same option given on the command line (even abbreviated) wins.
    """
    path = _config_path(argv)
    verb = next((a for a in argv if not a.startswith("-")), None)
    if path is None or verb is None:
        return argv
    sub = _subparser(parser, verb)
    if sub is None:
        return argv
    options = _read(Path(path), verb)
    by_dest = {a.dest: a for a in sub._actions if a.option_strings}
    by_name = {_key(s): a for a in by_dest.values() for s in a.option_strings}
    given = {_key(a.split("=")[0]) for a in argv if a.startswith("--")}
    extra = []
    for key, value in options.items():
        action = by_name.get(_key(key)) or by_dest.get(_key(key).lstrip("-").replace("-", "_"))
        if action is None or action.dest in _NOT_CONFIG:
            if _key(key).lstrip("-").replace("-", "_") in _NOT_CONFIG:
                continue
            raise ParameterError(
                f"Invalid value for '--config': {path} sets {key!r}, which is not an option "
                f"of 'brainalign {verb}'."
            )
        names = {_key(s) for s in action.option_strings}
        if names & given or value is None:
            continue
        extra += _tokens(action, value)
    at = argv.index(verb) + 1  # right after the verb: a later command-line value wins
    return argv[:at] + extra + argv[at:]


def resolved_options(args) -> dict:
    """Return the options of a parsed command line, as a config records them."""
    return {k: v for k, v in sorted(vars(args).items()) if k not in _NOT_CONFIG and not callable(v)}


def record_config(args) -> None:
    """Add the resolved options to the run record the verb wrote in ``args.out``."""
    from brainalign.runs import RunDir

    out = getattr(args, "out", None) or getattr(args, "run_dir", None)
    if not out or args.verb == "caption":  # caption writes no record of its own
        return
    for record in RunDir(out).records():
        if record.exists():
            record.update(config={"verb": args.verb, "options": resolved_options(args)})
            return


def _config_path(argv):
    for i, a in enumerate(argv):
        if a == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    return None


def _subparser(parser, verb):
    for action in parser._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict) and verb in choices:
            return choices[verb]
    return None


def _read(path: Path, verb: str) -> dict:
    if not path.is_file():
        raise ParameterError(f"Invalid value for '--config': no file at {path}.")
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(path.read_text())
        else:
            data = json.loads(path.read_text())
    except ValueError as exc:
        raise ParameterError(f"Invalid value for '--config': {path} is not valid: {exc}") from None
    if "config" in data and isinstance(data["config"], dict):  # a run record
        recorded = data["config"].get("verb")
        if recorded != verb:
            raise ParameterError(
                f"Invalid value for '--config': {path} records a 'brainalign {recorded}' "
                f"run, not '{verb}'."
            )
        return data["config"]["options"]
    if isinstance(data.get(verb), dict):
        return data[verb]
    return {k: v for k, v in data.items() if not isinstance(v, dict)}


def _key(name: str) -> str:
    name = name.replace("_", "-")
    return name if name.startswith("-") else f"--{name}"


def _tokens(action, value) -> list[str]:
    option = next(s for s in action.option_strings if s.startswith("--"))
    if action.nargs == 0:  # a flag
        return [option] if value else []
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return [option, str(value)]
