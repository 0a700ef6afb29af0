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


def test_only_the_runs_layer_names_the_run_record():
    offenders = []
    for name, tree in _modules():
        if name.startswith("runs/"):
            continue
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and id(node) not in skip:
                text = node.value if isinstance(node.value, str) else ""
                # a file name or path (messages and help texts may mention the record)
                if ("run.json" in text or "sweep.json" in text) and " " not in text:
                    offenders.append(f"{name}:{node.lineno}")
    assert offenders == []


def test_no_code_branches_on_the_kind_of_a_space():
    offenders = []
    for name, tree in _modules():
        if name in SPACES:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute):
                if node.left.attr == "kind" and "space" in ast.unparse(node.left.value):
                    offenders.append(f"{name}:{node.lineno}")
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "getattr":
                if len(node.args) > 1 and ast.unparse(node.args[1]) == "'kind'":
                    offenders.append(f"{name}:{node.lineno}")
    assert offenders == []


def test_model_specs_are_parsed_only_in_features():
    offenders = []
    for name, tree in _modules():
        if name.startswith("features/"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "startswith" and "open_clip:" in ast.unparse(node.args):
                    offenders.append(f"{name}:{node.lineno}")
    assert offenders == []


def test_the_rules_can_fail(tmp_path):
    tree = ast.parse(
        'def f(space, m):\n    return space.kind == "volume" or m.startswith("open_clip:")\n'
    )
    kinds = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Compare) and getattr(n.left, "attr", "") == "kind"
    ]
    calls = [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and "open_clip:" in ast.unparse(n.args)
    ]
    assert kinds and calls
