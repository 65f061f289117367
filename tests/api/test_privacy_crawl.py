"""The privacy crawl: what planners and viewers get from every face holds no person.

A canary foreigner with a unique string in every free field, a home point and sightings at known
exact points, an incident about them with free text, an alert about them with notes. Then, as
``viewer``, ``planner``, ``recorder`` and ``liaison`` (an analyst and a coordinator of an agency
without personal data): every
GET route of the OpenAPI document (each path parameter set to the canary's records, each
collection, each map view, each export format), decoded vector tiles around the canary's points,
the text of the PDFs (pypdf), the alert stream and a webhook payload. None may hold a canary string, an exact canary coordinate, or a per-person id
(docs/privacy.md). Responses are built under the database role ``timpora_aggregate``, as in the
service.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import inspection_plan, inspections
from geo.alerts.delivery import payload
from geo.alerts.service import features_by_ids
from geo.followup import actions, meetings
from geo.followup import values as followup_values
from geo.ogc import COLLECTIONS
from geo.registry import LAYERS, create_feature
from geo.settings import Settings
from geo.users import Principal
from maps.views import VIEWS
from tests.api.helpers import auth, feature, make_tokens, point
from tests.api.test_tiles import decode, tile_of

# ``recorder``, ``liaison``: an analyst and a coordinator of an agency without personal data
# (tests.api.helpers.FACE_USERS).
NON_PERSONAL_ROLES = ("viewer", "planner", "recorder", "liaison")
WEB_MERCATOR_R = 6378137.0

HOME = (109.312347, 1.367813)
SIGHTED_AT = ((109.391371, 1.482713), (109.392819, 1.483917), (109.395503, 1.479311))
CANARY_TEXT = {
    "full_name": "Kanari Zuvqex Wiratmo",
    "passport_number": "KNRPASS90713",
    "permit_number": "KNRPERMIT48213",
    "external_ref": "knr-person-55213",
    "birth_date": "1971-03-05",
    "permit_expires_on": "2031-07-19",
}
NOTE = "knr-note-77413"
REPORTER = "knr-reporter-33197"
SIGHTING_REF = "knr-sighting-ref"
INCIDENT_TEXT = "knr-incident-66171 seen near the river"
INCIDENT_REF = "knr-incident-ref-22903"
ALERT_TEXT = "knr-alert-note-88121"
INSPECTION_TEXT = "knr-inspection-summary-55213"
FINDING_TEXT = "knr-finding-note-66324"
MEETING_TEXT = "knr-meeting-minutes-41733"
ACTION_NOTE = "knr-action-note-90517"
# Keys that link a response to a person (their presence is the leak, whatever the value).
PERSON_KEYS = ("foreigner_id", "foreigner_ids", "sighting_id", "foreigner_name", "subject_names")


def coordinate_texts(lon: float, lat: float) -> tuple[str, str]:
    """An exact coordinate as any output writes it (6 or more decimals; fewer would match the
    vertices of the reference geography by chance)."""
    return f"{lon:.6f}", f"{lat:.6f}"


@dataclass(frozen=True)
class Canary:
    foreigner_id: int
    sponsor_id: int
    sighting_ids: tuple[int, ...]
    incident_id: int
    alert_id: int
    inspection_id: int = 0
    meeting_id: int = 0
    action_id: int = 0

    @property
    def strings(self) -> list[str]:
        texts = [*CANARY_TEXT.values(), NOTE, REPORTER, SIGHTING_REF, INCIDENT_TEXT, INCIDENT_REF]
        texts += [ALERT_TEXT, INSPECTION_TEXT, FINDING_TEXT, MEETING_TEXT, ACTION_NOTE]
        for lon, lat in (HOME, *SIGHTED_AT):
            texts.extend(coordinate_texts(lon, lat))
        return texts


@pytest.fixture
def canary(session: Session, settings: Settings) -> Canary:
    writer = Principal(name="canary-seed", role="analyst")

    def create(layer: str, geometry: dict[str, Any] | None, **props: Any) -> int:
        result = create_feature(
            session=session,
            layer=LAYERS[layer],
            body=feature(geometry, **props),
            principal=writer,
            area=settings.area,
        )
        return int(result.feature["id"])

    sponsor = create(
        "workplaces", point(109.3101, 1.3652), name="PT Kanari Sawit", sector="plantation"
    )
    person = create(
        "foreigners",
        point(*HOME),
        nationality="MYS",
        sex="F",
        permit_type="KITAS",
        sponsor_workplace_id=sponsor,
        **CANARY_TEXT,
    )
    sightings = tuple(
        create(
            "sightings",
            point(lon, lat),
            observed_at=f"2025-04-0{i + 1}T0{i + 7}:13:00+07:00",
            source="patrol",
            foreigner_id=person,
            note=NOTE,
            reported_by=REPORTER,
            external_ref=f"{SIGHTING_REF}-{i}",
        )
        for i, (lon, lat) in enumerate(SIGHTED_AT)
    )
    incident = create(
        "incidents",
        point(109.3931, 1.4812),
        kind="illegal_work",
        severity=4,
        occurred_at="2025-04-02T10:00:00+07:00",
        description=INCIDENT_TEXT,
        external_ref=INCIDENT_REF,
        foreigner_ids=[person],
        workplace_id=sponsor,
    )
    lon, lat = SIGHTED_AT[0]
    alert = session.execute(
        text(
            "INSERT INTO alert (rule_id, rule_kind, severity, dedup_key, sighting_id, "
            "foreigner_id, workplace_id, subjects, distance_m, geom, details, ack_note, event_at, "
            "kecamatan_name) SELECT r.id, r.kind, 3, 'knr-canary', :sid, :fid, :wid, "
            "jsonb_build_object('sighting_id', :sid, 'foreigner_id', :fid), 31234.5, "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), jsonb_build_object('why', :note), "
            ":note, :at, 'Sajingan Besar' FROM alert_rule r WHERE r.kind = 'far_from_sponsor' "
            "RETURNING id"
        ),
        {
            "sid": sightings[0],
            "fid": person,
            "wid": sponsor,
            "lon": lon,
            "lat": lat,
            "note": ALERT_TEXT,
            "at": dt.datetime(2025, 4, 1, 1, 13, tzinfo=dt.UTC),
        },
    ).scalar_one()
    inspection = inspections.record(
        session=session,
        principal=writer,
        body={
            "workplace_id": sponsor,
            "inspected_on": "2024-12-20",  # outside the periods the other tests count
            "led_by": "IMIGRASI",
            "agencies": ["POLRES"],
            "summary": INSPECTION_TEXT,
            "findings": [
                {
                    "foreigner_id": person,
                    "finding": "in_order",
                    "action_taken": "none",
                    "note": FINDING_TEXT,
                }
            ],
        },
        area=settings.area,
    )
    # A coordination meeting about the canary: minutes and an action's note are free text, its
    # links point at the canary's alert and incident.
    meeting = meetings.create_meeting(
        session=session,
        principal=writer,
        meeting=followup_values.parse_meeting_in(
            session,
            held_on="2025-04-03",
            title="Rapat kanari",
            notes=MEETING_TEXT,
            actions=[
                {
                    "title": "Tindak lanjut kanari",
                    "agency": "POLRES",
                    "due_on": "2025-04-10",
                    "links": [f"alert:{alert}", f"incident:{incident}"],
                }
            ],
        ),
    )
    action_id = meeting["actions"][0]["id"]
    actions.add_note(session=session, principal=writer, action_id=action_id, body=ACTION_NOTE)
    session.flush()
    return Canary(
        person, sponsor, sightings, incident, int(alert), inspection, meeting["id"], action_id
    )


def assert_no_person(body: bytes, canary: Canary, where: str) -> None:
    found = [s for s in canary.strings if s.encode() in body]
    assert not found, f"{where}: canary data {found}"
    for key in PERSON_KEYS:
        assert f'"{key}"'.encode() not in body, f"{where}: per-person key {key!r}"
    assert not re.search(rb'"sightings\.\d+"|"foreigners\.\d+"', body), f"{where}: a person's id"


def readable(response: Any) -> bytes:
    """The bytes to search: PDFs as their text, spreadsheets unzipped, the rest as sent."""
    body: bytes = response.content
    kind = response.headers.get("content-type", "")
    if "pdf" in kind:
        reader = PdfReader(io.BytesIO(body))
        return "\n".join(page.extract_text() or "" for page in reader.pages).encode()
    if body[:2] == b"PK":  # xlsx: XML parts in a zip
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return b"\n".join(archive.read(name) for name in archive.namelist())
    return body


def get_urls(app: FastAPI, canary: Canary, plan_id: int = 1) -> list[str]:
    """A concrete URL (or several) for every GET route of the OpenAPI document."""
    records = {
        "foreigners": canary.foreigner_id,
        "sightings": canary.sighting_ids[0],
        "incidents": canary.incident_id,
        "workplaces": canary.sponsor_id,
        "zones": 1,
    }
    feature_ids = {
        "sightings": canary.sighting_ids[0],
        "incidents": canary.incident_id,
        "workplaces": canary.sponsor_id,
        "alerts": canary.alert_id,
    }
    lon, lat = 109.3931, 1.4812  # ~250 m from the canary's sightings (a query echoes its point)
    urls: list[str] = []
    for path, operations in app.openapi()["paths"].items():
        if "get" not in operations:
            continue
        if path.startswith("/tiles/"):
            continue  # decoded below
        if path == "/api/v1/alerts/stream":
            continue  # a stream: see test_the_alert_stream_is_refused
        # OGC API - Tiles: the canary's tile at zoom 14 (z/row/col).
        path = path.replace("{tileMatrixSetId}", "WebMercatorQuad")
        tile_x, tile_y = tile_of(lon, lat, 14)
        path = path.replace("{tileMatrix}/{tileRow}/{tileCol}", f"14/{tile_y}/{tile_x}")
        if "{record_id}" in path:
            layer = path.split("/")[3]
            urls.append(path.replace("{record_id}", str(records[layer])))
        elif path == "/api/v1/alerts/{alert_id}":
            urls.append(path.replace("{alert_id}", str(canary.alert_id)))
        elif path == "/api/v1/imports/{job_id}":
            urls.append(path.replace("{job_id}", "nope"))
        elif path == "/api/v1/field/photos/{photo_id}":
            urls.append(path.replace("{photo_id}", "1"))
        elif path == "/api/v1/inspections/{inspection_id}":
            urls.append(path.replace("{inspection_id}", str(canary.inspection_id)))
        elif path == "/api/v1/patrols/log/{patrol_id}":
            urls.append(path.replace("{patrol_id}", "1"))
        elif path == "/api/v1/actions/{action_id}":
            urls.append(path.replace("{action_id}", str(canary.action_id)))
        elif path == "/api/v1/meetings/{meeting_id}":
            urls.append(path.replace("{meeting_id}", str(canary.meeting_id)))
        elif path.startswith("/api/v1/inspections/plans/{plan_id}"):  # the plan and its PDF
            urls.append(path.replace("{plan_id}", str(plan_id)))
        elif "{collection_id}" in path:
            for collection in COLLECTIONS:
                url = path.replace("{collection_id}", collection.id)
                urls.append(url.replace("{feature_id}", str(feature_ids.get(collection.id, 1))))
        elif path == "/maps/{view}":
            for view in VIEWS:
                urls.append(f"/maps/{view}")
                urls.append(f"/maps/{view}?layer=sightings&start=2025-01-01&end=2025-12-31")
        elif path == "/basemap/tiles/{z}/{x}/{y}":
            # the office's basemap archive around the canary (map data, never the database)
            urls.append("/basemap/tiles/12/3292/2031")
        elif path == "/maps/snapshot.{fmt}":
            urls += ["/maps/snapshot.pdf", "/maps/snapshot.pdf?source=sightings"]
            urls += ["/maps/snapshot.pdf?layer=risk", "/maps/snapshot.png?layer=risk"]
        elif path.endswith("/export"):
            urls += [f"{path}?format={fmt}" for fmt in ("geojson", "csv", "gpkg", "xlsx")]
        elif path == "/api/v1/proximity":
            urls.append(f"{path}?lon={lon}&lat={lat}&radius_m=2000")
            urls.append(f"{path}?lon={lon}&lat={lat}&radius_m=2000&layers=sightings")
        elif path == "/api/v1/hotspots":
            urls += [path, f"{path}?layer=sightings&cell_m=500&start=2025-01-01&end=2025-12-31"]
        else:
            assert "{" not in path, f"no parameters chosen for {path}"
            urls.append(path)
            if path == "/maps/briefing.pdf":
                urls.append(f"{path}?layer=sightings&start=2025-01-01&end=2025-12-31")
            if path in ("/api/v1/alerts", "/api/v1/incidents", "/api/v1/sightings"):
                urls.append(f"{path}?bbox=109.38,1.47,109.40,1.49")
    return urls


@pytest.mark.parametrize("role", NON_PERSONAL_ROLES)
def test_no_get_route_gives_a_person_away(
    app: FastAPI,
    client: TestClient,
    session: Session,
    settings: Settings,
    canary: Canary,
    role: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What each answer holds is checked here, not how fast it comes: the analyses' time limit
    # (tests/api/test_caps.py) would turn a year of sighting hot spots on a machine busy with the
    # other test worker into a 503 that hides the answer.
    monkeypatch.setattr(settings.service, "analysis_time_limit_s", 300.0)
    tokens = make_tokens(session, prefix=f"crawl-{role}", faces=True)
    refused, seen = [], 0
    # An inspection plan made by an administrator around the canary (its reasons name persons).
    plan = inspection_plan.make_plan(
        session=session,
        request=inspection_plan.parse_request(
            session=session, start_lon=109.3931, start_lat=1.4812, max_route_km=50
        ),
        principal=Principal(name="crawl-admin", role="admin"),
    )
    for url in get_urls(app, canary, plan["id"]):
        response = client.get(url, headers=auth(tokens[role]))
        assert response.status_code < 500, f"{url}: {response.status_code} {response.text[:300]}"
        if response.status_code == 403:
            refused.append(url.split("?")[0])
            body = response.content
            assert b"personal" in body or b"may not" in body, f"{url}: 403 without a reason"
        elif response.status_code == 200:
            seen += 1
            assert_no_person(readable(response), canary, f"{role} GET {url}")
        else:
            # 400: a device route (Traccar's protocol) asked without its parameters; 204: an
            # empty tile.
            assert response.status_code in (204, 400, 401, 404, 422), (
                f"{url}: {response.status_code}"
            )
            assert_no_person(response.content, canary, f"{role} GET {url}")
    # The person records themselves are refused, with a reason; the rest is served.
    for person_route in (
        f"/api/v1/foreigners/{canary.foreigner_id}",
        f"/api/v1/sightings/{canary.sighting_ids[0]}",
        "/api/v1/sightings/export",
        "/api/v1/alerts",
        "/ogc/collections/sightings/items",
        "/ogc/collections/alerts/items",
        "/api/v1/proximity",  # layers=sightings asked by name
    ):
        assert person_route in refused, f"{role}: {person_route} was not refused"
    assert seen > 40


def _no_feature_at(features: list[dict[str, Any]], where: str) -> None:
    for f in features:
        geometry = f.get("geometry") or {}
        if geometry.get("type") != "Point":
            continue
        x, y = geometry["coordinates"]
        if abs(x) > 180:  # GDAL decodes tiles in Web Mercator metres
            x = math.degrees(x / WEB_MERCATOR_R)
            y = math.degrees(2 * math.atan(math.exp(y / WEB_MERCATOR_R)) - math.pi / 2)
        for lon, lat in (HOME, *SIGHTED_AT):
            dx = (x - lon) * 111_320 * math.cos(math.radians(lat))
            dy = (y - lat) * 110_574
            assert math.hypot(dx, dy) > 20, (
                f"{where}: a point {math.hypot(dx, dy):.1f} m from a canary"
            )


@pytest.mark.parametrize("role", NON_PERSONAL_ROLES)
def test_tiles_hold_no_person(
    client: TestClient, session: Session, canary: Canary, role: str, tmp_path: Path
) -> None:
    tokens = make_tokens(session, prefix=f"tile-{role}", faces=True)
    for layer in ("sightings", "incidents", "zones", "admin-areas"):
        for z in (8, 11, 12, 14, 17, 19, 22):
            for lon, lat in (HOME, SIGHTED_AT[0]):
                x, y = tile_of(lon, lat, z)
                response = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=auth(tokens[role]))
                assert response.status_code in (200, 204), response.text
                if not response.content:
                    continue
                assert_no_person(response.content, canary, f"{role} tile {layer}/{z}")
                for name, features in decode(tmp_path, response.content, z, x, y).items():
                    where = f"{role} tile {layer}/{z}/{x}/{y} layer {name}"
                    _no_feature_at(features, where)
                    assert_no_person(orjson.dumps(features), canary, where)
                    for f in features:
                        count = f["properties"].get("count")
                        if isinstance(count, int) and layer == "sightings":
                            assert count == 0 or count >= 3, f"{where}: count {count}"


def test_tiles_still_show_the_canary_to_an_analyst(
    client: TestClient, session: Session, canary: Canary, tmp_path: Path
) -> None:
    """The crawl could fail: the same tile with personal data does hold the exact points."""
    tokens = make_tokens(session, prefix="tile-analyst")
    lon, lat = SIGHTED_AT[0]
    x, y = tile_of(lon, lat, 17)
    response = client.get(f"/tiles/sightings/17/{x}/{y}.mvt", headers=auth(tokens["analyst"]))
    features = decode(tmp_path, response.content, 17, x, y)["sightings"]
    with pytest.raises(AssertionError):
        _no_feature_at(features, "analyst")


def test_the_crawl_sees_the_canary_where_it_may(
    client: TestClient, session: Session, canary: Canary
) -> None:
    """Same routes for an analyst: the canary is there, so the checks above can fail."""
    tokens = make_tokens(session, prefix="crawl-analyst")
    for url in (
        f"/api/v1/foreigners/{canary.foreigner_id}",
        "/api/v1/sightings?bbox=109.38,1.47,109.40,1.49",
        "/api/v1/sightings/export?format=csv",
        f"/api/v1/alerts/{canary.alert_id}",
        f"/api/v1/incidents/{canary.incident_id}",
        f"/api/v1/meetings/{canary.meeting_id}",
        f"/api/v1/actions/{canary.action_id}",
    ):
        response = client.get(url, headers=auth(tokens["analyst"]))
        assert response.status_code == 200, url
        with pytest.raises(AssertionError):
            assert_no_person(readable(response), canary, url)


@pytest.mark.parametrize("role", NON_PERSONAL_ROLES)
def test_the_alert_stream_is_refused(client: TestClient, session: Session, role: str) -> None:
    tokens = make_tokens(session, prefix=f"stream-{role}", faces=True)
    response = client.get("/api/v1/alerts/stream", headers=auth(tokens[role]))
    assert response.status_code == 403
    assert b"personal" in response.content


def test_a_webhook_payload_holds_no_person(session: Session, canary: Canary) -> None:
    (alert,) = features_by_ids(session=session, ids=[canary.alert_id])
    body = payload(alert)
    assert_no_person(body, canary, "webhook payload")
    sent = orjson.loads(body)["alert"]
    assert sent["geometry"] is None
    assert "distance_m" not in sent["properties"]
    assert sent["properties"]["rule"] == "far_from_sponsor"  # still says what happened, and where
    assert sent["properties"]["kecamatan"]


@pytest.mark.parametrize("role", NON_PERSONAL_ROLES)
def test_worker_counts_below_three_are_suppressed(
    client: TestClient, session: Session, canary: Canary, role: str
) -> None:
    tokens = make_tokens(session, prefix=f"wp-{role}", faces=True)
    response = client.get(f"/api/v1/workplaces/{canary.sponsor_id}", headers=auth(tokens[role]))
    assert response.status_code == 200
    assert response.json()["properties"]["foreign_workers"] == "<3"
    admin = make_tokens(session, prefix=f"wp-admin-{role}")["admin"]
    exact = client.get(f"/api/v1/workplaces/{canary.sponsor_id}", headers=auth(admin))
    assert exact.json()["properties"]["foreign_workers"] == 1


def test_sighting_hotspots_give_no_suppressed_count_back(
    client: TestClient, session: Session, canary: Canary
) -> None:
    """Exact z and p values and the total would give hidden counts back (docs/privacy.md)."""
    tokens = make_tokens(session, prefix="hot", faces=True)
    query = "layer=sightings&cell_m=500&start=2025-01-01&end=2025-12-31"
    for role in NON_PERSONAL_ROLES:
        api = client.get(f"/api/v1/hotspots?{query}", headers=auth(tokens[role])).json()
        assert any(f["properties"]["count"] == "<3" for f in api["features"])
        assert all("gi_z" not in f["properties"] for f in api["features"])
        assert api["metadata"]["n_points"] is None
        page = client.get(f"/maps/hotspots?{query}", headers=auth(tokens[role])).text
        assert "Gi* z" not in page and "n = " not in page
    exact = client.get(f"/maps/hotspots?{query}", headers=auth(tokens["analyst"])).text
    assert "Gi* z" in exact and "n = 3" in exact
