"""CQL2 → SQL (geo/registry/cql.py): values are bound parameters, names come from the
queryables, and a filter's implied box never changes what it selects."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import QueryError
from geo.registry import LAYERS
from geo.registry.cql import compile_filter, layer_queryables, parse_filter


def test_values_are_bound_never_pasted(session: Session) -> None:
    queryables = layer_queryables(LAYERS["incidents"], "viewer")
    hostile = "x'); DROP TABLE incident; --"
    tree = parse_filter(f"kind = '{hostile.replace(chr(39), chr(39) * 2)}'", "cql2-text")
    assert tree is not None
    compiled = compile_filter(tree, queryables)
    assert "DROP" not in compiled.sql and "'" not in compiled.sql
    assert hostile in compiled.params.values()
    # It runs, and selects nothing.
    count = session.execute(
        text(f"SELECT count(*) FROM incident t WHERE {compiled.sql}"), compiled.params
    ).scalar_one()
    assert count == 0


def test_property_names_come_from_the_queryables_only() -> None:
    queryables = layer_queryables(LAYERS["incidents"], "viewer")
    for name in ('"kind"; DROP TABLE incident', "t.description", "description"):
        tree = {"op": "isNull", "args": [{"property": name}]}
        with pytest.raises(QueryError, match="not a queryable"):
            compile_filter(tree, queryables)


@pytest.mark.parametrize(
    ("cql", "bbox"),
    [
        pytest.param(
            "S_INTERSECTS(geometry, BBOX(109.1, 1.2, 109.3, 1.4))",
            (109.1, 1.2, 109.3, 1.4),
            id="bbox",
        ),
        pytest.param(
            "severity > 2 AND S_WITHIN(geometry, POLYGON((109 1, 110 1, 110 2, 109 1)))",
            (109.0, 1.0, 110.0, 2.0),
            id="within-in-and",
        ),
        pytest.param(
            "S_INTERSECTS(geometry, POINT(109 1)) OR severity > 2", None, id="or-no-bound"
        ),
        pytest.param("NOT S_INTERSECTS(geometry, POINT(109 1))", None, id="not-no-bound"),
        pytest.param("S_DISJOINT(geometry, POINT(109 1))", None, id="disjoint-no-bound"),
    ],
)
def test_implied_box(cql: str, bbox: tuple[float, ...] | None) -> None:
    queryables = layer_queryables(LAYERS["incidents"], "viewer")
    tree = parse_filter(cql, "cql2-text")
    assert tree is not None
    got = compile_filter(tree, queryables).bbox
    assert got == (pytest.approx(bbox) if bbox else None)
