"""The public HTTP contract: the app's OpenAPI document against a committed snapshot.

Refactoring must not change what a client can call or what it gets back. The snapshot
(``openapi_contract.json`` beside this file) keeps the route order, each path and method, the
operation ids, parameters, request bodies, response codes, media types and schemas, and the
component schemas. Prose is left out (``description``, ``summary``, ``examples``, tags, the
``info`` block), so rewording the documentation does not fail the test.

A deliberate change of the contract updates the snapshot and shows in review::

    PYTHONPATH=$PWD .venv/bin/python tests/api/test_openapi_contract.py --update
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("openapi_contract.json")

# Prose and grouping, not contract: dropped wherever they are keywords of the document.
PROSE_KEYS = frozenset({"description", "summary", "example", "examples", "tags", "externalDocs"})
# Mappings whose keys are names chosen by the API (field names, paths, codes), never keywords:
# a model field called ``description`` (incidents have one) must stay in the snapshot.
NAMED_MAPS = frozenset({"properties", "paths", "responses", "schemas", "content", "$defs"})


def _strip(node: Any, *, named: bool = False) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if not named and key in PROSE_KEYS:
                continue
            out[key] = _strip(value, named=not named and key in NAMED_MAPS)
        return out
    if isinstance(node, list):
        return [_strip(item) for item in node]
    return node


def contract(spec: dict[str, Any]) -> dict[str, Any]:
    """The parts of an OpenAPI document a client depends on, in a stable form."""
    paths = spec.get("paths", {})
    return {
        "openapi": spec.get("openapi"),
        # Registration order decides which route answers when paths overlap
        # (``/maps/snapshot.{fmt}`` before ``/maps/{view}``, ``/{layer}/export`` before ``/{id}``).
        "route_order": [
            f"{method.upper()} {path}" for path, item in paths.items() for method in item
        ],
        "paths": _strip(paths, named=True),
        "components": _strip(spec.get("components", {})),
    }


def current_contract() -> dict[str, Any]:
    """The contract of an app built from fixed settings; the engine never connects."""
    from api.app import create_app
    from geo.db import Database
    from geo.settings import DatabaseSettings, ServiceSettings, Settings

    settings = Settings(
        database=DatabaseSettings(database_url="postgresql://contract@127.0.0.1:9/contract"),
        service=ServiceSettings(environment="test"),
    )
    database = Database.from_settings(settings.database)
    try:
        return contract(create_app(settings, database).openapi())
    finally:
        database.dispose()


def _render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            here = f"{where}/{key}"
            if key not in new:
                found.append(f"removed {here}")
            elif key not in old:
                found.append(f"added {here}")
            else:
                found.extend(_differences(old[key], new[key], here))
        return found
    if old != new:
        return [f"changed {where or '/'}: {json.dumps(old)[:120]} -> {json.dumps(new)[:120]}"]
    return []


def test_openapi_matches_committed_contract() -> None:
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    differences = _differences(snapshot, json.loads(_render(current_contract())))
    assert not differences, (
        "the public HTTP contract changed; if intended, run "
        "`PYTHONPATH=$PWD .venv/bin/python tests/api/test_openapi_contract.py --update`:\n"
        + "\n".join(differences[:40])
    )


def test_contract_keeps_field_names_and_drops_prose() -> None:
    spec = {
        "paths": {
            "/x": {
                "get": {
                    "summary": "s",
                    "description": "d",
                    "responses": {"200": {"description": "ok", "content": {}}},
                }
            }
        },
        "components": {
            "schemas": {
                "Incident": {
                    "description": "prose",
                    "properties": {"description": {"type": "string", "description": "prose"}},
                }
            }
        },
    }
    doc = contract(spec)
    assert doc["route_order"] == ["GET /x"]
    assert doc["paths"] == {"/x": {"get": {"responses": {"200": {"content": {}}}}}}
    assert doc["components"] == {
        "schemas": {"Incident": {"properties": {"description": {"type": "string"}}}}
    }


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: tests/api/test_openapi_contract.py --update")
    SNAPSHOT.write_text(_render(current_contract()), encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
