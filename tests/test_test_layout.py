"""The test suite's own layout rules, machine-checked (issue 22 §4).

* Test and bench modules import shared builders from ``tests/helpers/``, never from another
  ``test_*`` module or from ``conftest``: importing a test module runs its module-level
  fixtures and constants a second time and ties two test files together invisibly.
* A test never returns before it asserted anything: a bare ``return`` ahead of every
  ``assert``/``pytest.raises`` passes without having checked a thing.

Each rule is also run once on a small tree that breaks it on purpose, so a check that
silently stopped matching anything fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("tests", "bench")


def _modules(root: Path) -> list[Path]:
    """Every Python file of the test and bench trees (helpers included)."""
    return sorted(
        path
        for folder in CHECKED
        if (root / folder).is_dir()
        for path in (root / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    )


def _test_module_names(root: Path) -> set[str]:
    return {path.stem for path in (root / "tests").glob("test_*.py")} | {"conftest"}


def sideways_imports(root: Path) -> list[str]:
    """``path:line: module`` for each import of a test module or conftest."""
    forbidden = _test_module_names(root)
    found = []
    for path in _modules(root):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules = [node.module]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == "tests":
                    parts = parts[1:]
                if parts and parts[0] in forbidden:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {module}")
    return found


def _own_statements(function: ast.AST) -> list[ast.AST]:
    """The nodes of ``function``'s body, not those of functions or classes defined in it."""
    nodes = []
    pending = list(ast.iter_child_nodes(function))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        nodes.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return nodes


def _checks_something(node: ast.AST) -> bool:
    """An ``assert``, or a ``pytest.raises``/``pytest.fail``/``pytest.warns`` call."""
    if isinstance(node, ast.Assert):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "pytest"
        and node.func.attr in {"raises", "fail", "warns"}
    )


def early_returns(root: Path) -> list[str]:
    """``path:line: test`` for each ``return`` in a test that comes before any check."""
    found = []
    for path in sorted((root / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not node.name.startswith("test"):
                continue
            statements = _own_statements(node)
            first_check = min((n.lineno for n in statements if _checks_something(n)), default=None)
            found += [
                f"{path.relative_to(root)}:{n.lineno}: {node.name}"
                for n in statements
                if isinstance(n, ast.Return) and (first_check is None or n.lineno < first_check)
            ]
    return found


def test_no_module_imports_a_test_module_or_conftest() -> None:
    assert sideways_imports(ROOT) == []


def test_no_test_returns_before_it_checked_something() -> None:
    assert early_returns(ROOT) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("importer", "source"),
    [
        ("tests/test_b.py", "from test_a import builder\n"),
        ("tests/test_b.py", "import test_a\n"),
        ("tests/test_b.py", "from tests.test_a import builder\n"),
        ("tests/test_b.py", "from conftest import fixture\n"),
        ("tests/helpers/builders.py", "from test_a import builder\n"),
        ("bench/a_bench.py", "def run():\n    from test_a import builder\n"),
    ],
)
def test_a_sideways_import_is_found(tmp_path: Path, importer: str, source: str) -> None:
    root = _tree(
        tmp_path,
        {"tests/test_a.py": "def builder(): ...\n", "tests/conftest.py": "", importer: source},
    )
    (finding,) = sideways_imports(root)
    assert finding.startswith(f"{importer}:")


def test_imports_from_helpers_are_allowed(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "tests/test_a.py": "from helpers.builders import builder\n",
            "tests/helpers/builders.py": "from helpers.local import TEST_PASSPHRASE\n",
            "bench/a_bench.py": "from helpers.builders import builder\n",
        },
    )
    assert sideways_imports(root) == []


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("    if x:\n        return\n    assert x\n", 3),
        ("    try:\n        f()\n    except ValueError:\n        return\n    assert f()\n", 5),
        ("    return\n", 2),
    ],
)
def test_an_early_return_is_found(tmp_path: Path, body: str, line: int) -> None:
    root = _tree(tmp_path, {"tests/test_a.py": f"def test_x(x):\n{body}"})
    assert early_returns(root) == [f"tests/test_a.py:{line}: test_x"]


@pytest.mark.parametrize(
    "body",
    [
        "    assert x\n    if x:\n        return\n    assert f()\n",
        "    with pytest.raises(ValueError):\n        f()\n    return\n",
        "    def inner():\n        return 1\n    assert inner() == 1\n",
    ],
)
def test_a_return_after_a_check_or_in_a_nested_function_is_allowed(
    tmp_path: Path, body: str
) -> None:
    root = _tree(tmp_path, {"tests/test_a.py": f"import pytest\n\ndef test_x(x):\n{body}"})
    assert early_returns(root) == []
