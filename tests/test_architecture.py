"""The architecture of design.md, machine-checked: layers, private names, the one string link.

``import-linter`` checks the layer contract in ``pyproject.toml`` (api → sealsvc → ofd →
pki, nothing importing upwards). Each check is also run once on a small tree that breaks
it on purpose, so a contract that silently stopped matching anything would fail here.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "sealsvc", "ofd", "pki")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_layer_contract_is_kept() -> None:
    result = _lint_imports(ROOT / "pyproject.toml", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("importer", "imported"),
    [("pki", "sealsvc"), ("pki", "ofd"), ("ofd", "sealsvc"), ("sealsvc", "api"), ("ofd", "api")],
)
def test_layer_contract_catches_an_upward_import(
    tmp_path: Path, importer: str, imported: str
) -> None:
    """The same contract on a tree of empty packages where one imports a layer above it."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / importer / "bad.py").write_text(f"import {imported}\n")
    config = tmp_path / "contracts.toml"
    section = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = section["contracts"][0]
    config.write_text(
        "[tool.importlinter]\n"
        f"root_packages = {section['root_packages']!r}\n"
        "[[tool.importlinter.contracts]]\n"
        f"name = {contract['name']!r}\n"
        f"type = {contract['type']!r}\n"
        f"layers = {contract['layers']!r}\n"
    )
    result = _lint_imports(config, tmp_path)
    assert result.returncode != 0
    assert f"{importer}.bad -> {imported}" in result.stdout


def _private_imports(source: str) -> list[str]:
    """``from <our package>… import _name``: a reach into another module's internals."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] not in PACKAGES:
                continue
            found += [
                f"{node.module}.{a.name}"
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            ]
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    offenders = {
        str(path.relative_to(ROOT)): names
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if (names := _private_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_private_import_check_sees_one() -> None:
    assert _private_imports("from sealsvc.verification.validator import _Context\n") == [
        "sealsvc.verification.validator._Context"
    ]
    assert _private_imports("from sealsvc import __version__\nfrom os import _exit\n") == []


def _string_links() -> set[str]:
    """``"api.x:y"`` strings in the lower layers, as import-linter's ``importer -> module``."""
    return {
        f"{_module_name(path)} -> {match.group(1)}"
        for package in ("sealsvc", "ofd", "pki")
        for path in sorted((ROOT / package).rglob("*.py"))
        for match in re.finditer(
            r"[\"'](api\.[\w.]+)(?::\w+)?[\"']", path.read_text(encoding="utf-8")
        )
    }


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _declared_string_links() -> set[str]:
    section = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return set(section["contracts"][0].get("ignore_imports", []))


def test_string_links_are_the_ones_the_contract_declares() -> None:
    """``sealctl serve`` names the app for uvicorn; the contract lists that link, and only it."""
    assert _string_links() == _declared_string_links() == {"sealsvc.cli.serve -> api.app"}


@pytest.mark.parametrize("link", sorted(_declared_string_links()))
def test_a_declared_string_link_is_not_an_import(link: str) -> None:
    """The contract ignores the link, so a real import there would go unseen: there is none."""
    importer, imported = link.split(" -> ")
    tree = ast.parse((ROOT / (importer.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
    imports = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imports |= {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not {name for name in imports if name == imported or name.startswith(f"{imported}.")}
    assert imported.split(".")[0] not in imports


def _untyped_contexts(source: str) -> list[str]:
    """Parameters named ``context`` not annotated as the ServiceContext (SQLAlchemy's
    execution context in column defaults excepted)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for argument in [*node.args.args, *node.args.kwonlyargs]:
                annotation = ast.unparse(argument.annotation) if argument.annotation else ""
                if argument.arg == "context" and not annotation.endswith(
                    ("ServiceContext", "ServiceContext | None", "DefaultExecutionContext")
                ):
                    found.append(f"{node.name}({argument.arg}: {annotation or '?'})")
    return found


def test_the_service_context_is_typed_wherever_it_is_passed() -> None:
    offenders = {
        str(path.relative_to(ROOT)): found
        for package in ("sealsvc", "api")
        for path in sorted((ROOT / package).rglob("*.py"))
        if (found := _untyped_contexts(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_context_check_sees_an_untyped_one() -> None:
    assert _untyped_contexts("def f(context, x: int) -> None: ...\n") == ["f(context: ?)"]
    assert _untyped_contexts("def f(context: ServiceContext) -> None: ...\n") == []
