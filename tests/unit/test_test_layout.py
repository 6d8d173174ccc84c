"""Test helpers live in one package, tests/support/: a test module never imports a
conftest file or another test module (under --import-mode=importlib such an import loads
that file a second time, as a different module with its own globals), and a conftest file
only defines fixtures and hooks."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

TESTS = ROOT / "tests"
SUPPORT = "tests.support"


def _imported(tree: ast.AST, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the tree, functions' included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = path.relative_to(ROOT).parent.parts
                package = package[:len(package) - node.level + 1]
                name = ".".join([*package, *([node.module] if node.module else [])])
                found.append((node.lineno, f"{name} (relative)"))
            else:
                found.append((node.lineno, node.module or ""))
    return found


def import_problems(source: str, path: Path) -> list[str]:
    """What is wrong with one file's imports."""
    problems = []
    for line, module in _imported(ast.parse(source), path):
        name = module.split(" ")[0]
        last = name.rsplit(".", 1)[-1]
        if last == "conftest":
            problems.append(f"{line}: imports a conftest file ({module})")
        elif last.startswith("test_"):
            problems.append(f"{line}: imports a test module ({module})")
        elif module.endswith("(relative)"):
            problems.append(f"{line}: a relative import ({module}); import {SUPPORT}.*")
        elif name.split(".")[0] == "tests" and not (
                name == SUPPORT or name.startswith(SUPPORT + ".")):
            problems.append(f"{line}: imports {module}; helpers belong in {SUPPORT}")
    return problems


def conftest_problems(source: str) -> list[str]:
    """Top-level functions of a conftest file that are neither fixtures nor pytest hooks,
    and classes (helpers, both: they belong in tests/support)."""
    problems = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            problems.append(f"{node.lineno}: class {node.name}")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            fixture = any("fixture" in ast.unparse(d) for d in node.decorator_list)
            if not fixture and not node.name.startswith("pytest_"):
                problems.append(f"{node.lineno}: def {node.name} is not a fixture")
    return problems


def test_no_file_under_tests_imports_a_conftest_a_test_module_or_a_stray_helper():
    problems = {}
    for path in sorted(TESTS.rglob("*.py")):
        found = import_problems(path.read_text(), path)
        if found:
            problems[str(path.relative_to(ROOT))] = found
    assert not problems, problems


def test_conftest_files_define_fixtures_only():
    problems = {}
    for path in sorted(TESTS.rglob("conftest.py")):
        found = conftest_problems(path.read_text())
        if found:
            problems[str(path.relative_to(ROOT))] = found
    assert not problems, problems


def test_the_checks_catch_each_forbidden_import():
    # given a test module under tests/integration/sla/
    here = TESTS / "integration" / "sla" / "test_x.py"
    bad = {
        "from tests.integration.sla.conftest import rows": "conftest",
        "from .conftest import rows": "conftest",
        "import conftest": "conftest",
        "from tests.unit.notifications.test_models import PROMO": "test module",
        "from .test_check import queued_ids": "test module",
        "from tests.integration.sync.helpers import change": "helpers belong",
        "from . import helpers": "relative",
        "def f():\n    from tests.servers import PrivateRedis": "helpers belong",
    }
    for source, expected in bad.items():
        # when its imports are checked, then each is named
        (problem,) = import_problems(source, here)
        assert expected in problem, (source, problem)
    assert import_problems("from tests.support.sla import past_event\nimport pytest", here) == []


def test_the_conftest_check_catches_helpers():
    source = ("import pytest\n\n@pytest.fixture\ndef ok():\n    pass\n\n"
              "def pytest_configure(config):\n    pass\n\n"
              "def helper():\n    pass\n\nclass Spy:\n    pass\n")
    assert conftest_problems(source) == ["10: def helper is not a fixture", "13: class Spy"]
