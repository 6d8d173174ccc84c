"""Queue names are written once, in relay/names.py: the notifications domain and the
console's queries take them from there (SQL binds them, or writes them in from
relay.names where a partial index must see the value), never spell them again."""

from __future__ import annotations

import ast
from pathlib import Path

from relay.names import Queues
from tests.support import ROOT

CHECKED = (*sorted((ROOT / "notifications").rglob("*.py")), ROOT / "relay/console/queries.py")


def _docstrings(tree: ast.Module) -> set[int]:
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}


def spelled_queues(path: Path) -> list[tuple[int, str]]:
    """(line, queue) for each string literal (docstrings aside) naming a queue: the
    whole string, or quoted inside SQL."""
    tree = ast.parse(path.read_text())
    docs = _docstrings(tree)
    return [(node.lineno, queue) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docs
            for queue in Queues.ALL if node.value == queue or f"'{queue}'" in node.value]


def test_no_module_spells_a_queue_name():
    found = {str(p.relative_to(ROOT)): spelled_queues(p) for p in CHECKED}
    assert {p: hits for p, hits in found.items() if hits} == {}


def test_a_queue_in_sql_is_found(tmp_path):
    # given a module with the queue inside an SQL string, and one only in its docstring
    sql = tmp_path / "m.py"
    sql.write_text('"""Reads notify.transactional."""\n'
                   "Q = \"SELECT 1 FROM notifications WHERE queue = 'notify.transactional'\"\n")
    # then the SQL one is reported, the docstring is not
    assert spelled_queues(sql) == [(2, Queues.TRANSACTIONAL)]
