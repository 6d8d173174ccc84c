"""Each domain keeps its SQL in its store (issue #14): services, producers, planners and
tasks call store functions and never carry a statement of their own. A string literal
that starts like a statement outside a store module fails this test, naming the place."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = ("sync_worker", "notifications")
STATEMENT = re.compile(r"^\s*(WITH\s+\w+\s+AS|SELECT\s|UPDATE\s+\w+\s+(\w+\s+)?SET\s|"
                       r"INSERT\s+INTO\s|DELETE\s+FROM\s|COPY\s+\w+)", re.IGNORECASE)
# Besides store modules: the privacy hook that redacts a domain's rows in place (relay/privacy
# calls it with the domain's own statement, like a store), and the in-app channel, whose
# provider *is* a PostgreSQL table (its adapter writes the inbox as the others POST).
ALLOWED = {"sync_worker/profile_privacy.py", "notifications/channels/inapp.py"}


def _is_store(rel: str) -> bool:
    return rel in ALLOWED or "store" in Path(rel).stem or "/store/" in rel


def sql_outside_stores(root: Path = ROOT) -> list[str]:
    found = []
    for domain in DOMAINS:
        for path in sorted((root / domain).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if _is_store(rel):
                continue
            tree = ast.parse(path.read_text())
            docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                          if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
                          and node.body and isinstance(node.body[0], ast.Expr)}
            for node in ast.walk(tree):
                if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                        and id(node) not in docstrings and STATEMENT.match(node.value)):
                    found.append(f"{rel}:{node.lineno}")
    return found


def test_services_producers_and_tasks_hold_no_sql():
    assert sql_outside_stores() == []


def test_the_scan_finds_a_statement_in_a_service(tmp_path):
    service = tmp_path / "notifications" / "service.py"
    service.parent.mkdir()
    (tmp_path / "sync_worker").mkdir()
    service.write_text('"""SELECT in a docstring is prose."""\n'
                       'Q = """\n  UPDATE notifications SET state = %s"""\n')
    (tmp_path / "notifications" / "store").mkdir()
    (tmp_path / "notifications" / "store" / "sending.py").write_text('Q = "SELECT 1"\n')
    assert sql_outside_stores(tmp_path) == ["notifications/service.py:2"]
