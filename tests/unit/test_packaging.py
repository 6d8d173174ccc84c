"""The runtime ships the runtime: what `pip install .` installs imports only what it declares.

The stand-ins (standins/) and the dev extra's libraries are test and demo equipment; a
runtime module importing one would work in the checkout and fail in the image.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("relay", "sync_worker", "notifications")
# the dev extra's distributions, by the name they are imported under
DEV_ONLY = {"standins", "aiosmtpd", "pytest", "fakeredis", "httpx", "schemathesis",
            "playwright", "hypothesis", "ruff", "tests"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _runtime_files() -> list[Path]:
    files = [ROOT / "celeryconfig.py"]
    for package in RUNTIME:
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def _imported_top_levels(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_runtime_module_imports_the_standins_or_a_dev_only_library():
    offenders = {str(path.relative_to(ROOT)): sorted(_imported_top_levels(path) & DEV_ONLY)
                 for path in _runtime_files()}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_scan_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from standins.smtp import serve\n    import aiosmtpd\n")
    assert _imported_top_levels(module) == {"standins", "aiosmtpd"}


def test_the_wheel_holds_the_runtime_packages_and_not_the_standins():
    find = _pyproject()["tool"]["setuptools"]["packages"]["find"]
    packages = set(find_packages(str(ROOT), include=find["include"]))
    assert {p.split(".")[0] for p in packages} == set(RUNTIME)
    assert "standins" not in packages and (ROOT / "standins" / "__init__.py").exists()


def test_the_standins_server_libraries_are_dev_dependencies_only():
    project = _pyproject()["project"]
    runtime = {re.split(r"[\[<>=~! ]", d)[0].lower() for d in project["dependencies"]}
    dev = {re.split(r"[\[<>=~! ]", d)[0].lower() for d in project["optional-dependencies"]["dev"]}
    assert "aiosmtpd" in dev and "aiosmtpd" not in runtime
