"""Architecture rules of the runs layer, checked on the package source."""

import ast
from pathlib import Path

import brainalign

PACKAGE = Path(brainalign.__file__).parent
#: Modules that implement the spaces (they may look at their own kind).
SPACES = {"data/_space.py", "data/_surface.py", "data/_sensors.py"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text())


def _docstrings(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def record_names(tree) -> list[int]:
    """Lines naming ``run.json``/``sweep.json`` as a file (not in docs or messages)."""
    skip = _docstrings(tree)
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in skip:
            text = node.value if isinstance(node.value, str) else ""
            # a file name or path (messages and help texts may mention the record)
            if ("run.json" in text or "sweep.json" in text) and " " not in text:
                lines.append(node.lineno)
    return lines


def kind_branches(tree) -> list[int]:
    """Lines comparing a space's ``kind`` or reading it with ``getattr``."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute):
            if node.left.attr == "kind" and "space" in ast.unparse(node.left.value):
                lines.append(node.lineno)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "getattr":
            if len(node.args) > 1 and ast.unparse(node.args[1]) == "'kind'":
                lines.append(node.lineno)
    return lines


def spec_parsing(tree) -> list[int]:
    """Lines parsing a model spec by hand (``.startswith("open_clip:")``)."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "startswith"
        and "open_clip:" in ast.unparse(node.args)
    ]


def _offenders(rule, exempt) -> list[str]:
    return [
        f"{name}:{line}" for name, tree in _modules() if not exempt(name) for line in rule(tree)
    ]


def test_only_the_runs_layer_names_the_run_record():
    assert _offenders(record_names, lambda name: name.startswith("runs/")) == []


def test_no_code_branches_on_the_kind_of_a_space():
    assert _offenders(kind_branches, lambda name: name in SPACES) == []


def test_model_specs_are_parsed_only_in_features():
    assert _offenders(spec_parsing, lambda name: name.startswith("features/")) == []


def test_the_rules_find_planted_violations():
    tree = ast.parse(
        '"""Writes run.json (a docstring: allowed)."""\n'
        "def f(out, space, m):\n"
        '    path = out / "run.json"\n'
        '    raise ValueError("no run.json in this folder")  # a message: allowed\n'
        '    if space.kind == "volume" or getattr(space, "kind", None):\n'
        '        return m.startswith("open_clip:")\n'
    )
    assert record_names(tree) == [3]
    assert kind_branches(tree) == [5, 5]
    assert spec_parsing(tree) == [6]
