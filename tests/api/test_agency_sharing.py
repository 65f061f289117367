"""Sharing between agencies, held by PostgreSQL's row-level security: agency × sharing level ×
face (personal: an analyst; aggregate: a viewer), through the API lists and items, OGC items,
exports, vector tiles, the patrol log and the map aggregates (docs/privacy.md)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.users import create_user
from tests.api.helpers import SAMBAS_TOWN, auth, feature, point
from tests.api.test_tiles import decode, tile_of

LEVELS = ("timpora", "agencies", "agency")
# Three desa of different kecamatan, west of 109.68 °E (one zoom-7 tile holds them all).
PLACES_SQL = text(
    """
    SELECT DISTINCT ON (parent_code) code, ST_X(p) AS lon, ST_Y(p) AS lat
    FROM (SELECT code, parent_code, ST_PointOnSurface(geom) AS p FROM admin_area
          WHERE level = 'desa') d
    WHERE ST_X(p) < 109.68
    ORDER BY parent_code, code
    LIMIT 3
    """
)
# Who may see a record Kodim shared at each level (Kodim shares "agencies" with Imigrasi).
SEES = {
    "KODIM": {"timpora", "agencies", "agency"},
    "IMIGRASI": {"timpora", "agencies"},
    "POLRES": {"timpora"},
}
FACES = ("analyst", "viewer")


def level_sharing(level: str) -> dict[str, Any]:
    return {"sharing": level, **({"shared_with": ["IMIGRASI"]} if level == "agencies" else {})}


@pytest.fixture
def world(client: TestClient, session: Session) -> dict[str, Any]:
    """Kodim's analyst reports an incident, three sightings and a patrol at each level."""
    # Polres and Kodim analysts read and write personal data here (their agencies' setting).
    session.execute(
        text("UPDATE agency SET personal_data = true WHERE short_name IN ('KODIM', 'POLRES')")
    )
    places = {
        level: (row.code, (row.lon, row.lat))
        for level, row in zip(LEVELS, session.execute(PLACES_SQL), strict=True)
    }
    tokens = {
        (agency, face): create_user(
            session=session, name=f"share-{agency}-{face}", role=face, agency=agency
        )[1]
        for agency in SEES
        for face in FACES
    }
    kodim = auth(tokens[("KODIM", "analyst")])
    ids: dict[str, dict[str, int]] = {"incidents": {}, "sightings": {}, "patrols": {}}
    for level, (_, (lon, lat)) in places.items():
        made = client.post(
            "/api/v1/incidents",
            json=feature(
                point(lon, lat),
                kind="illegal_work",
                severity=3,
                occurred_at="2025-03-01T10:00:00",
                description=f"laporan {level}",
                **level_sharing(level),
            ),
            headers=kodim,
        )
        assert made.status_code == 201, made.text
        assert made.json()["properties"]["agency"] == "KODIM"
        ids["incidents"][level] = made.json()["id"]
        for i in range(3):
            seen = client.post(
                "/api/v1/sightings",
                json=feature(
                    point(lon + i * 1e-4, lat),
                    source="patrol",
                    observed_at=f"2025-03-02T1{i}:00:00",
                    **level_sharing(level),
                ),
                headers=kodim,
            )
            assert seen.status_code == 201, seen.text
            ids["sightings"].setdefault(level, seen.json()["id"])
        patrol = client.post(
            "/api/v1/patrols/log",
            json={
                "type": "Feature",
                "geometry": point(lon, lat),
                "properties": {"patrolled_at": "2025-03-03T08:00:00", **level_sharing(level)},
            },
            headers=kodim,
        )
        assert patrol.status_code == 201, patrol.text
        assert patrol.json()["properties"]["agency"] == "KODIM"
        assert patrol.json()["properties"]["sharing"] == level
        ids["patrols"][level] = patrol.json()["id"]
    return {"tokens": tokens, "ids": ids, "places": places}


def visible(world: dict[str, Any], layer: str, agency: str) -> set[int]:
    return {world["ids"][layer][level] for level in SEES[agency]}


def test_sharing_matrix(client: TestClient, world: dict[str, Any], tmp_path: Path) -> None:
    """Every agency × face against the records of every level (one world: built once)."""
    for agency in SEES:
        for face in FACES:
            check_one(client, world, agency, face, tmp_path)


def check_one(
    client: TestClient, world: dict[str, Any], agency: str, face: str, tmp_path: Path
) -> None:
    headers = auth(world["tokens"][(agency, face)])
    ids = world["ids"]
    mine = set(ids["incidents"].values())
    want = visible(world, "incidents", agency)

    # API list and items.
    listed = client.get("/api/v1/incidents", params={"limit": 1000}, headers=headers)
    assert {f["id"] for f in listed.json()["features"]} & mine == want
    for level, record_id in ids["incidents"].items():
        got = client.get(f"/api/v1/incidents/{record_id}", headers=headers)
        assert got.status_code == (200 if level in SEES[agency] else 404), (level, got.text)
    # OGC items.
    items = client.get("/ogc/collections/incidents/items", params={"limit": 1000}, headers=headers)
    assert {f["id"] for f in items.json()["features"]} & mine == want
    # Exports.
    export = client.get("/api/v1/incidents/export", params={"format": "csv"}, headers=headers)
    assert export.status_code == 200, export.text
    exported = {int(r["id"]) for r in csv.DictReader(io.StringIO(export.text))}
    assert exported & mine == want
    # The patrol log.
    patrols = client.get("/api/v1/patrols/log", params={"limit": 1000}, headers=headers).json()
    assert {f["id"] for f in patrols["features"]} & set(ids["patrols"].values()) == visible(
        world, "patrols", agency
    )

    # Sightings: records for the personal face; counts per desa for both faces.
    if face == "analyst":
        seen = client.get("/api/v1/sightings", params={"limit": 1000}, headers=headers).json()
        got_ids = {f["id"] for f in seen["features"]}
        assert got_ids & set(ids["sightings"].values()) == visible(world, "sightings", agency)
    by_desa = client.get(
        "/ogc/collections/sightings-by-desa/items", params={"limit": 1000}, headers=headers
    ).json()["features"]
    counts = {f["properties"]["desa_code"]: f["properties"]["count"] for f in by_desa}
    for level, (desa, _) in world["places"].items():
        assert counts[desa] == (3 if level in SEES[agency] else 0), (level, desa)

    # Tiles: raw points from zoom 14 follow the sharing; the precomputed grid below zoom 12
    # counts whole-Timpora records only, for every agency.
    z = 14
    x, y = tile_of(*world["places"]["agency"][1], z)
    tile = client.get(f"/tiles/incidents/{z}/{x}/{y}.mvt", headers=headers)
    points = decode(tmp_path, tile.content, z, x, y).get("incidents", []) if tile.content else []
    assert len(points) == (1 if agency == "KODIM" else 0)
    z = 7
    x, y = tile_of(*world["places"]["timpora"][1], z)
    grid = client.get(f"/tiles/incidents/{z}/{x}/{y}.mvt", headers=headers)
    cells = decode(tmp_path, grid.content, z, x, y)["incidents"]
    assert sum(int(c["properties"]["count"]) for c in cells) == 1


def test_postgresql_refuses_without_the_application(
    session: Session, world: dict[str, Any]
) -> None:
    """The policies hold for a query that bypasses every filter of the application."""
    polres = session.execute(text("SELECT id FROM agency WHERE short_name = 'POLRES'")).scalar()
    kodim = session.execute(text("SELECT id FROM agency WHERE short_name = 'KODIM'")).scalar()
    restricted = world["ids"]["incidents"]["agency"]
    for role in ("timpora_personal", "timpora_aggregate"):
        session.execute(text(f"SET LOCAL ROLE {role}"))
        for agency_id, expect in ((polres, 0), (kodim, 1), ("", 0)):
            session.execute(
                text("SELECT set_config('timpora.agency_id', :a, true)"), {"a": str(agency_id)}
            )
            found = session.execute(
                text("SELECT count(*) FROM incident WHERE id = :id"), {"id": restricted}
            ).scalar()
            assert found == expect, (role, agency_id)
            sightings = session.execute(
                text("SELECT count(*) FROM sighting WHERE sharing = 'agency'")
            ).scalar()
            assert sightings == 3 * expect
        session.execute(text("RESET ROLE"))
    # Nor may a request write a record as another agency, or narrow one.
    session.execute(text("SET LOCAL ROLE timpora_personal"))
    session.execute(text("SELECT set_config('timpora.agency_id', :a, true)"), {"a": str(polres)})
    with pytest.raises(DBAPIError, match="row-level security"), session.begin_nested():
        session.execute(
            text(
                "INSERT INTO incident (kind, severity, occurred_at, geom, agency_id) VALUES "
                "('other', 1, now(), ST_SetSRID(ST_MakePoint(109.3, 1.35), 4326), :kodim)"
            ),
            {"kodim": kodim},
        )
    session.execute(text("SELECT set_config('timpora.agency_id', :a, true)"), {"a": str(kodim)})
    with pytest.raises(DBAPIError, match="only ever widened"), session.begin_nested():
        session.execute(
            text("UPDATE incident SET sharing = 'agency', shared_with = '{}' WHERE id = :id"),
            {"id": world["ids"]["incidents"]["agencies"]},
        )
    session.execute(text("RESET ROLE"))


def test_moved_user_loses_the_old_agencys_records_at_once(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    admin = create_user(session=session, name="share-admin", role="admin")[1]
    kodim = auth(world["tokens"][("KODIM", "analyst")])
    restricted = world["ids"]["incidents"]["agency"]
    assert client.get(f"/api/v1/incidents/{restricted}", headers=kodim).status_code == 200
    moved = client.patch(
        "/api/v1/users/share-KODIM-analyst", json={"agency": "POLRES"}, headers=auth(admin)
    )
    assert moved.status_code == 200, moved.text
    assert client.get(f"/api/v1/incidents/{restricted}", headers=kodim).status_code == 404


def test_widening_only_by_the_reporting_agency(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    kodim = auth(world["tokens"][("KODIM", "analyst")])
    polres = auth(world["tokens"][("POLRES", "analyst")])
    restricted = world["ids"]["incidents"]["agency"]
    url = f"/api/v1/incidents/{restricted}"
    # Polres cannot see it, so cannot change it.
    assert (
        client.patch(url, json={"properties": {"sharing": "timpora"}}, headers=polres).status_code
        == 404
    )
    wider = client.patch(
        url, json={"properties": {"sharing": "agencies", "shared_with": ["POLRES"]}}, headers=kodim
    )
    assert wider.status_code == 200, wider.text
    assert wider.json()["properties"]["shared_with"] == ["POLRES"]
    assert client.get(url, headers=polres).status_code == 200
    # Polres now sees it but did not report it: it may not change the sharing.
    refused = client.patch(url, json={"properties": {"sharing": "timpora"}}, headers=polres)
    assert refused.status_code == 403, refused.text
    narrower = client.patch(url, json={"properties": {"sharing": "agency"}}, headers=kodim)
    assert narrower.status_code == 422 and "only ever widened" in narrower.text
    dropped = client.patch(url, json={"properties": {"shared_with": ["IMIGRASI"]}}, headers=kodim)
    assert dropped.status_code == 422 and "only ever widened" in dropped.text
    audit = session.execute(
        text("SELECT details, agency_id FROM audit_log WHERE resource = :r AND action = 'update'"),
        {"r": f"incidents/{restricted}"},
    ).one()
    assert audit.details["sharing"] == ["agency", "agencies"]
    kodim_id = session.execute(text("SELECT id FROM agency WHERE short_name = 'KODIM'")).scalar()
    assert audit.agency_id == kodim_id
    # The grid follows a widening to the whole Timpora.
    everyone = client.patch(url, json={"properties": {"sharing": "timpora"}}, headers=kodim)
    assert everyone.status_code == 200, everyone.text
    grid = session.execute(text("SELECT sum(n) FROM incident_grid WHERE level = 12")).scalar()
    assert grid == 4  # all-time and monthly rows of two incidents


@pytest.mark.parametrize(
    ("props", "named"),
    [
        pytest.param({"sharing": "agencies"}, "shared_with", id="agencies-without-names"),
        pytest.param(
            {"sharing": "agency", "shared_with": ["POLRES"]},
            "shared_with",
            id="names-without-agencies",
        ),
        pytest.param({"shared_with": ["NOWHERE"]}, "NOWHERE", id="unknown-agency"),
        pytest.param({"sharing": "some"}, "sharing", id="unknown-level"),
    ],
)
def test_bad_sharing_is_422(
    client: TestClient, world: dict[str, Any], props: dict[str, Any], named: str
) -> None:
    body = feature(
        point(*SAMBAS_TOWN), kind="other", severity=1, occurred_at="2025-03-01T10:00:00", **props
    )
    r = client.post(
        "/api/v1/incidents", json=body, headers=auth(world["tokens"][("KODIM", "analyst")])
    )
    assert r.status_code == 422 and named in r.text, r.text


def test_agency_without_personal_data_gets_the_aggregate_face(
    client: TestClient, session: Session
) -> None:
    token = create_user(session=session, name="kejari-coord", role="coordinator", agency="KEJARI")[
        1
    ]
    headers = auth(token)
    meta = client.get("/dashboard/meta", headers=headers).json()
    assert meta["role"] == "liaison"
    assert client.get("/api/v1/sightings", headers=headers).status_code == 403
    assert client.get("/api/v1/foreigners", headers=headers).status_code == 403
    admin = create_user(session=session, name="kejari-admin", role="admin")[1]
    on = client.patch("/api/v1/agencies/KEJARI", json={"personal_data": True}, headers=auth(admin))
    assert on.status_code == 200
    assert client.get("/api/v1/sightings", headers=headers).status_code == 200


def test_dashboard_offers_widening_to_who_may_change_sharing(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    """The dashboard's panel of restricted reports lists the layers whose records the caller's
    agency may widen: what it may update, with an agency."""

    def widen(agency: str, face: str) -> list[str]:
        r = client.get("/dashboard/meta", headers=auth(world["tokens"][(agency, face)]))
        assert r.status_code == 200, r.text
        return list(r.json()["widen"])

    assert widen("KODIM", "analyst") == ["incidents", "sightings"]  # personal data on here
    assert widen("KODIM", "viewer") == []
    session.execute(text("UPDATE agency SET personal_data = false WHERE short_name = 'POLRES'"))
    session.flush()
    assert widen("POLRES", "analyst") == ["incidents"]  # acts as recorder: no persons
