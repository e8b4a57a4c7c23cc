"""The layers keep their imports pointing one way, and SQL lives in ``app/storage`` only.

The import rules are import-linter contracts in ``pyproject.toml`` (run here through its API,
the same check as ``lint-imports``); the SQL rule is a look at every string literal of
``app/services``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
SQL = re.compile(
    r"\b(SELECT\s|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|FOR\s+(NO\s+KEY\s+)?UPDATE"
    r"|pg_notify|pg_advisory)",
    re.IGNORECASE,
)


def _docstrings(tree: ast.AST) -> set[int]:
    """Ids of the docstring nodes (they may well name a statement or a lock)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def sql_literals(folder: Path) -> list[str]:
    """``path:line`` of every string literal under ``folder`` (docstrings aside) that holds
    SQL."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and SQL.search(node.value)
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_import_contract_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename="pyproject.toml", no_cache=True, no_logo=True) == 0


def test_the_use_cases_hold_no_sql() -> None:
    assert sql_literals(ROOT / "app" / "services") == []


def test_the_graphql_layer_holds_no_sql() -> None:
    assert sql_literals(ROOT / "graphql_schema") == []


def test_the_sql_check_finds_sql_where_there_is_some() -> None:
    # the check itself: storage is where the statements are
    assert len(sql_literals(ROOT / "app" / "storage")) > 50
