"""OGC API – Features Part 2 and 3: queryables per role, CQL2 text/JSON filters compiled to bound
SQL, sortby, properties, crs/bbox-crs and numberMatched, against real PostGIS."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy.orm import Session

from geo.registry import LAYERS, create_feature
from geo.settings import Settings
from geo.users import Principal
from tests.api.helpers import ARUK, PALOH, SAMBAS_TOWN, auth, feature, make_tokens, point

# (kind, severity, status, occurred_at WIB, place, description)
INCIDENTS = [
    ("overstay", 1, "open", "2025-01-05T10:00:00", SAMBAS_TOWN, "Paspor habis"),
    ("overstay", 3, "closed", "2025-01-20T10:00:00", PALOH, None),
    ("illegal_work", 4, "open", "2025-02-03T10:00:00", ARUK, "Bekerja di kebun"),
    ("illegal_entry", 5, "investigating", "2025-02-10T23:30:00", ARUK, "Jalan tikus"),
    ("smuggling", 2, "open", "2025-03-01T08:00:00", PALOH, None),
    ("illegal_work", 3, "closed", "2025-03-15T08:00:00", SAMBAS_TOWN, "Pabrik"),
]


def seed(session: Session, settings: Settings) -> list[int]:
    writer = Principal(name="seed", role="analyst")
    ids = []
    for kind, severity, status, at, (lon, lat), description in INCIDENTS:
        props: dict[str, Any] = dict(kind=kind, severity=severity, status=status, occurred_at=at)
        if description:
            props["description"] = description
        created = create_feature(
            session=session,
            layer=LAYERS["incidents"],
            body=feature(point(lon, lat), **props),
            principal=writer,
            area=settings.area,
        )
        ids.append(int(created.feature["id"]))
    for i, (lon, lat) in enumerate((SAMBAS_TOWN, PALOH, ARUK)):
        create_feature(
            session=session,
            layer=LAYERS["sightings"],
            body=feature(
                point(lon, lat),
                source="patrol",
                note=f"catatan {i}",
                observed_at=f"2025-02-0{i + 1}T11:00:00",
            ),
            principal=writer,
            area=settings.area,
        )
    create_feature(
        session=session,
        layer=LAYERS["workplaces"],
        body=feature(point(*SAMBAS_TOWN), name="PT Filter Uji", sector="trade"),
        principal=writer,
        area=settings.area,
    )
    return ids


@pytest.fixture
def ogc(client: TestClient, session: Session, settings: Settings) -> dict[str, Any]:
    ids = seed(session, settings)
    tokens = make_tokens(session, prefix="cql")
    return {"ids": ids, "tokens": tokens, "client": client}


def items(env: dict[str, Any], collection: str, role: str = "viewer", **params: Any) -> Any:
    response = env["client"].get(
        f"/ogc/collections/{collection}/items",
        params=params,
        headers=auth(env["tokens"][role]),
    )
    return response


def kinds(response: Any) -> list[tuple[str, int]]:
    assert response.status_code == 200, response.text
    return sorted(
        (f["properties"]["kind"], f["properties"]["severity"]) for f in response.json()["features"]
    )


def test_queryables_are_the_fields_each_role_sees(ogc: dict[str, Any]) -> None:
    client, tokens = ogc["client"], ogc["tokens"]
    docs = {
        role: client.get("/ogc/collections/incidents/queryables", headers=auth(tokens[role]))
        for role in ("viewer", "analyst")
    }
    for response in docs.values():
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/schema+json")
    viewer = docs["viewer"].json()
    analyst = docs["analyst"].json()
    assert viewer["$schema"].startswith("https://json-schema.org/")
    assert viewer["type"] == "object" and viewer["additionalProperties"] is False
    assert {"kind", "severity", "status", "occurred_at", "geometry"} <= set(viewer["properties"])
    # Free text and references are personal: not queryable for a viewer, queryable for analysts.
    assert not {"description", "external_ref"} & set(viewer["properties"])
    assert {"description", "external_ref"} <= set(analyst["properties"])
    assert viewer["properties"]["occurred_at"] == {
        "title": "Occurred at",
        "type": "string",
        "format": "date-time",
        "x-ogc-role": "primary-instant",
    }
    assert viewer["properties"]["kind"]["enum"][0] == "overstay"
    assert viewer["properties"]["geometry"]["x-ogc-role"] == "primary-geometry"
    # A suppressed count is not queryable (a filter on it would reveal it).
    workplaces = client.get(
        "/ogc/collections/workplaces/queryables", headers=auth(tokens["viewer"])
    ).json()
    assert "foreign_workers" not in workplaces["properties"]
    desa = client.get(
        "/ogc/collections/sightings-by-desa/queryables", headers=auth(tokens["viewer"])
    ).json()
    assert set(desa["properties"]) == {"geometry", "desa_code", "desa_name", "kecamatan_code"}
    # The queryables link is on each collection.
    doc = client.get("/ogc/collections/incidents", headers=auth(tokens["viewer"])).json()
    rels = {link["rel"] for link in doc["links"]}
    assert "http://www.opengis.net/def/rel/ogc/1.0/queryables" in rels
    assert (
        client.get(
            "/ogc/collections/sightings/queryables", headers=auth(tokens["viewer"])
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("cql", "expected"),
    [
        pytest.param("kind = 'overstay'", [("overstay", 1), ("overstay", 3)], id="equal"),
        pytest.param("severity >= 4", [("illegal_entry", 5), ("illegal_work", 4)], id="gte"),
        pytest.param("severity <> 3 AND kind = 'illegal_work'", [("illegal_work", 4)], id="and"),
        pytest.param(
            "kind = 'smuggling' OR severity = 5",
            [("illegal_entry", 5), ("smuggling", 2)],
            id="or",
        ),
        pytest.param(
            "NOT (status = 'open' OR status = 'closed')", [("illegal_entry", 5)], id="not"
        ),
        pytest.param(
            "kind LIKE 'illegal%' AND severity < 5",
            [("illegal_work", 3), ("illegal_work", 4)],
            id="like",
        ),
        pytest.param(
            "kind IN ('smuggling', 'illegal_entry')",
            [("illegal_entry", 5), ("smuggling", 2)],
            id="in",
        ),
        pytest.param(
            "severity BETWEEN 2 AND 3",
            [("illegal_work", 3), ("overstay", 3), ("smuggling", 2)],
            id="between",
        ),
        pytest.param(
            "kind NOT IN ('overstay', 'illegal_work')",
            [("illegal_entry", 5), ("smuggling", 2)],
            id="not-in",
        ),
        pytest.param("CASEI(kind) = casei('SMUGGLING')", [("smuggling", 2)], id="casei"),
        pytest.param("workplace_id IS NULL AND severity = 1", [("overstay", 1)], id="is-null"),
        pytest.param(
            "kecamatan_code IS NOT NULL AND severity = 1", [("overstay", 1)], id="is-not-null"
        ),
        pytest.param(
            "S_INTERSECTS(geometry, BBOX(109.6, 1.35, 109.7, 1.45))",
            [("illegal_entry", 5), ("illegal_work", 4)],
            id="s-intersects-bbox",
        ),
        pytest.param(
            "S_WITHIN(geometry, POLYGON((109.2 1.6, 109.4 1.6, 109.4 1.8, 109.2 1.8, 109.2 1.6)))",
            [("overstay", 3), ("smuggling", 2)],
            id="s-within",
        ),
        pytest.param(
            "S_DWITHIN(geometry, POINT(109.3021 1.3549), 1000, meters)",
            [("illegal_work", 3), ("overstay", 1)],
            id="s-dwithin",
        ),
        pytest.param(
            "S_DWITHIN(POINT(109.30 1.70), geometry, 1000)",
            [("overstay", 3), ("smuggling", 2)],
            id="s-dwithin-literal-first",
        ),
        pytest.param(
            "T_AFTER(occurred_at, TIMESTAMP('2025-02-10T17:00:00Z'))",
            [("illegal_work", 3), ("smuggling", 2)],
            id="t-after",
        ),
        pytest.param(
            "T_BEFORE(occurred_at, DATE('2025-01-20'))", [("overstay", 1)], id="t-before-date"
        ),
        pytest.param(
            "T_DURING(occurred_at, INTERVAL('2025-02-01', '2025-02-28'))",
            [("illegal_entry", 5), ("illegal_work", 4)],
            id="t-during",
        ),
        pytest.param(
            "T_INTERSECTS(occurred_at, INTERVAL('2025-03-01', '..'))",
            [("illegal_work", 3), ("smuggling", 2)],
            id="t-intersects-open",
        ),
        pytest.param(
            # 23:30 WIB on the 10th: that day in WIB, not in UTC.
            "occurred_at = DATE('2025-02-10')",
            [("illegal_entry", 5)],
            id="date-is-a-wib-day",
        ),
        pytest.param(
            "occurred_at > '2025-03-01T00:00:00Z'",
            [("illegal_work", 3), ("smuggling", 2)],
            id="string-timestamp",
        ),
    ],
)
def test_cql2_text(ogc: dict[str, Any], cql: str, expected: list[tuple[str, int]]) -> None:
    assert kinds(items(ogc, "incidents", filter=cql)) == expected


def test_cql2_json_and_the_legacy_text_name(ogc: dict[str, Any]) -> None:
    tree = {
        "op": "and",
        "args": [
            {"op": "in", "args": [{"property": "kind"}, ["overstay", "illegal_work"]]},
            {"op": ">", "args": [{"property": "severity"}, 2]},
            {
                "op": "s_intersects",
                "args": [
                    {"property": "geometry"},
                    {
                        "type": "Polygon",
                        "coordinates": [
                            [[109.2, 1.3], [109.7, 1.3], [109.7, 1.8], [109.2, 1.8], [109.2, 1.3]]
                        ],
                    },
                ],
            },
            {
                "op": "t_after",
                "args": [{"property": "occurred_at"}, {"timestamp": "2025-01-10T00:00:00Z"}],
            },
        ],
    }
    got = items(ogc, "incidents", filter=json.dumps(tree), **{"filter-lang": "cql2-json"})
    assert kinds(got) == [("illegal_work", 3), ("illegal_work", 4), ("overstay", 3)]
    # GDAL up to 3.6 names the text encoding by its draft name.
    legacy = items(
        ogc,
        "incidents",
        filter="(kind = 'overstay') AND (severity > 2)",
        **{"filter-lang": "cql-text"},
    )
    assert kinds(legacy) == [("overstay", 3)]
    # A queryable as a query parameter is an equality filter, combined with the others.
    assert kinds(items(ogc, "incidents", kind="overstay", filter="severity < 2")) == [
        ("overstay", 1)
    ]


def test_filters_count_and_page(ogc: dict[str, Any]) -> None:
    first = items(ogc, "incidents", filter="severity > 1", limit=2).json()
    assert first["numberMatched"] == 5 and first["numberReturned"] == 2
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    assert "filter=severity" in nxt
    second = (
        ogc["client"]
        .get(nxt.replace("http://testserver", ""), headers=auth(ogc["tokens"]["viewer"]))
        .json()
    )
    assert second["numberReturned"] == 2
    assert not {f["id"] for f in first["features"]} & {f["id"] for f in second["features"]}
    # With bbox and datetime too.
    both = items(
        ogc,
        "incidents",
        filter="severity > 1",
        bbox="109.25,1.65,109.35,1.75",
        datetime="2025-02-01/..",
    ).json()
    assert [f["properties"]["kind"] for f in both["features"]] == ["smuggling"]


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        pytest.param({"filter": "kind = "}, "filter", "not valid cql2-text", id="syntax"),
        pytest.param(
            {"filter": "nope = 1"}, "filter", "'nope' is not a queryable", id="unknown-property"
        ),
        pytest.param({"filter": "severity = 'high'"}, "filter", "expected a number", id="type"),
        pytest.param({"filter": "severity + 1 > 2"}, "filter", "not supported", id="arithmetic"),
        pytest.param(
            {"filter": "kind = 'x'", "filter-lang": "sql"},
            "filter-lang",
            "must be one of",
            id="lang",
        ),
        pytest.param(
            {"filter": "{not json", "filter-lang": "cql2-json"},
            "filter",
            "not valid JSON",
            id="json",
        ),
        pytest.param(
            {"filter": '{"op": "frobnicate", "args": [1]}', "filter-lang": "cql2-json"},
            "filter",
            "not supported",
            id="json-unknown-op",
        ),
        pytest.param(
            {"filter": "S_DWITHIN(geometry, POINT(109 1), 900000)"},
            "filter",
            "0-200000 m",
            id="dwithin-cap",
        ),
        pytest.param(
            {"filter": "T_AFTER(kind, TIMESTAMP('2025-01-01T00:00:00Z'))"},
            "filter",
            "need a date or time",
            id="temporal-type",
        ),
        pytest.param(
            {"filter": " AND ".join(["severity > 1"] * 200)},
            "filter",
            "more than",
            id="too-many-terms",
        ),
        pytest.param({"filter": "x" * 10_001}, "filter", "longer than", id="too-long"),
        pytest.param(
            {"filter": "NOT (" * 25 + "severity = 1" + ")" * 25}, "filter", "deeper than", id="deep"
        ),
        pytest.param(
            {"sortby": "-description"}, "sortby", "not a sortable property", id="sortby-personal"
        ),
        pytest.param(
            {"properties": "kind,description"},
            "properties",
            "not properties of incidents",
            id="properties-personal",
        ),
        pytest.param({"crs": "EPSG:3857"}, "crs", "must be one of", id="crs"),
        pytest.param(
            {"bbox-crs": "EPSG:9999", "bbox": "1,2,3,4"},
            "bbox-crs",
            "must be one of",
            id="bbox-crs",
        ),
    ],
)
def test_bad_queries_are_400_naming_the_problem(
    ogc: dict[str, Any], params: dict[str, str], field: str, words: str
) -> None:
    response = items(ogc, "incidents", **params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] == field and words in body["detail"], body
    assert "SELECT" not in body["detail"]


def test_viewers_cannot_filter_or_sort_on_personal_fields(ogc: dict[str, Any]) -> None:
    # The analyst may; the same filter names nothing a viewer can query.
    analyst = items(ogc, "incidents", role="analyst", filter="description LIKE 'Jalan%'")
    assert kinds(analyst) == [("illegal_entry", 5)]
    for cql in ("description LIKE 'Jalan%'", "description IS NULL", "external_ref IS NULL"):
        refused = items(ogc, "incidents", role="viewer", filter=cql)
        assert refused.status_code == 400 and "not a queryable" in refused.json()["detail"]
    refused = items(ogc, "incidents", role="planner", sortby="description")
    assert refused.status_code == 400
    # As a query parameter it is no filter at all for a viewer (not a queryable): nothing is
    # narrowed by a value the viewer cannot see.
    assert items(ogc, "incidents", role="viewer", description="Pabrik").json()["numberMatched"] == 6
    # The aggregated sightings: no filter on a count (hidden below 3).
    agg = items(ogc, "sightings-by-desa", role="viewer", filter="count < 3")
    assert agg.status_code == 400


def test_sortby_and_properties(ogc: dict[str, Any]) -> None:
    page = items(
        ogc, "incidents", sortby="-severity,+occurred_at", properties="kind,severity"
    ).json()
    severities = [f["properties"]["severity"] for f in page["features"]]
    assert severities == sorted(severities, reverse=True)
    assert all(set(f["properties"]) == {"kind", "severity"} for f in page["features"])
    assert all(f["geometry"]["type"] == "Point" for f in page["features"])
    ties = [f["properties"] for f in page["features"] if f["properties"]["severity"] == 3]
    assert [t["kind"] for t in ties] == ["overstay", "illegal_work"]  # January before March
    # Pages in sort order: the next page goes on where the first stopped.
    first = items(ogc, "incidents", sortby="kind", limit=4).json()
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    second = (
        ogc["client"]
        .get(nxt.replace("http://testserver", ""), headers=auth(ogc["tokens"]["viewer"]))
        .json()
    )
    names = [f["properties"]["kind"] for f in first["features"] + second["features"]]
    assert names == sorted(names) and len(names) == 6
    one = (
        ogc["client"]
        .get(
            f"/ogc/collections/incidents/items/{ogc['ids'][0]}?properties=status",
            headers=auth(ogc["tokens"]["viewer"]),
        )
        .json()
    )
    assert one["properties"] == {"status": "open"}
    desa = items(
        ogc, "sightings-by-desa", properties="desa_name,count_label", sortby="-desa_name", limit=3
    ).json()
    assert all(set(f["properties"]) == {"desa_name", "count_label"} for f in desa["features"])
    names = [f["properties"]["desa_name"] for f in desa["features"]]
    assert names == sorted(names, reverse=True)


def test_crs_and_bbox_crs(ogc: dict[str, Any]) -> None:
    to_utm = Transformer.from_crs(4326, 32649, always_xy=True)
    base = items(ogc, "incidents", filter="severity = 1").json()["features"][0]
    lon, lat = base["geometry"]["coordinates"]
    assert (round(lon, 4), round(lat, 4)) == SAMBAS_TOWN
    cases = {
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84": (lon, lat),
        "http://www.opengis.net/def/crs/EPSG/0/4326": (lat, lon),
        "http://www.opengis.net/def/crs/EPSG/0/32649": to_utm.transform(lon, lat),
    }
    for uri, (x, y) in cases.items():
        response = items(ogc, "incidents", filter="severity = 1", crs=uri)
        assert response.headers["content-crs"] == f"<{uri}>"
        got = response.json()["features"][0]["geometry"]["coordinates"]
        assert got == pytest.approx([x, y], abs=0.02), uri
    one = ogc["client"].get(
        f"/ogc/collections/incidents/items/{ogc['ids'][0]}?crs=EPSG:32649",
        headers=auth(ogc["tokens"]["viewer"]),
    )
    assert one.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/32649>"
    assert one.json()["geometry"]["coordinates"][0] > 100_000  # metres
    # bbox in EPSG:4326 is lat/lon; in EPSG:32649, metres around Aruk.
    latlon = items(ogc, "incidents", bbox="1.65,109.25,1.75,109.35", **{"bbox-crs": "EPSG:4326"})
    assert kinds(latlon) == [("overstay", 3), ("smuggling", 2)]
    ax, ay = to_utm.transform(*ARUK)
    metres = items(
        ogc,
        "incidents",
        bbox=f"{ax - 500},{ay - 500},{ax + 500},{ay + 500}",
        **{"bbox-crs": "EPSG:32649"},
    )
    assert kinds(metres) == [("illegal_entry", 5), ("illegal_work", 4)]
    # filter-crs: the filter's geometry in metres.
    dwithin = items(
        ogc,
        "incidents",
        filter=f"S_INTERSECTS(geometry, BBOX({ax - 500},{ay - 500},{ax + 500},{ay + 500}))",
        **{"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/32649"},
    )
    assert kinds(dwithin) == [("illegal_entry", 5), ("illegal_work", 4)]
    # Declared per collection.
    doc = (
        ogc["client"]
        .get("/ogc/collections/incidents", headers=auth(ogc["tokens"]["viewer"]))
        .json()
    )
    assert set(cases) == set(doc["crs"]) and doc["storageCrs"].endswith("CRS84")
    # The aggregated collection too.
    desa = items(ogc, "sightings-by-desa", crs="EPSG:32649", limit=1)
    assert desa.json()["features"][0]["geometry"]["coordinates"][0] > 100_000


def test_number_matched_only_where_cheap_or_asked(ogc: dict[str, Any]) -> None:
    # Sightings: a table of millions. Unfiltered: the count grid's total; filtered: on request.
    unfiltered = items(ogc, "sightings", role="analyst", limit=1).json()
    assert unfiltered["numberMatched"] == 3
    filtered = items(ogc, "sightings", role="analyst", filter="source = 'patrol'", limit=1).json()
    assert "numberMatched" not in filtered
    asked = items(
        ogc, "sightings", role="analyst", filter="note LIKE 'catatan%'", count="true"
    ).json()
    assert asked["numberMatched"] == 3
    not_asked = items(ogc, "incidents", count="false").json()
    assert "numberMatched" not in not_asked and not_asked["numberReturned"] == 6


def test_conformance_declares_what_is_served(ogc: dict[str, Any]) -> None:
    conf = (
        ogc["client"]
        .get("/ogc/conformance", headers=auth(ogc["tokens"]["viewer"]))
        .json()["conformsTo"]
    )
    for needed in (
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    ):
        assert needed in conf
    # Not implemented: not declared.
    assert not [
        c
        for c in conf
        if c.endswith(
            ("/arithmetic", "/array-functions", "/accent-insensitive-comparison", "/functions")
        )
    ]
