"""The API's own layering: routers share helpers through ``api/``, never through each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROUTERS = sorted((Path(__file__).resolve().parents[2] / "api" / "routers").glob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", ROUTERS, ids=lambda p: p.name)
def test_routers_do_not_import_each_other(path: Path) -> None:
    others = {f"api.routers.{p.stem}" for p in ROUTERS if p.stem not in {"__init__", path.stem}}
    assert not _imported_modules(path) & others


def test_there_are_routers_to_check() -> None:
    assert len(ROUTERS) >= 10
