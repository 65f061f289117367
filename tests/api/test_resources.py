"""The registry endpoints: create, list with filters and pages, read, patch, delete, audit."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.schemas import AnyFeature, FeaturePage
from tests.api.helpers import PALOH, SAMBAS_TOWN, SAMPLES, auth, feature, make_tokens, point

LAYERS = tuple(SAMPLES)


@pytest.fixture
def tokens(session: Session) -> dict[str, str]:
    return make_tokens(session)


def create(client: TestClient, token: str, layer: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/v1/{layer}", json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("layer", LAYERS)
def test_create_read_patch_delete(
    client: TestClient, session: Session, tokens: dict[str, str], layer: str
) -> None:
    created = create(client, tokens["analyst"], layer, SAMPLES[layer])
    AnyFeature.model_validate(created)
    record_id = created["id"]
    # Foreigners and sightings are persons: only roles with personal data read them one by one.
    person = layer in ("foreigners", "sightings")
    viewer = client.get(f"/api/v1/{layer}/{record_id}", headers=auth(tokens["viewer"]))
    assert viewer.status_code == (403 if person else 200)
    got = client.get(f"/api/v1/{layer}/{record_id}", headers=auth(tokens["coordinator"]))
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/geo+json")
    body = got.json()
    assert body["geometry"]["type"] in ("Point", "MultiPolygon")
    if layer != "zones":
        # Derived on write by the database trigger: Sambas town is in kecamatan Sambas.
        assert body["properties"]["kecamatan_code"], body
        assert body["properties"]["distance_to_border_m"] > 0

    first_prop = next(iter(SAMPLES[layer]["properties"]))
    patch = {"properties": {first_prop: SAMPLES[layer]["properties"][first_prop]}}
    if layer == "incidents":
        patch = {"properties": {"status": "investigating"}, "geometry": point(*PALOH)}
    patched = client.patch(
        f"/api/v1/{layer}/{record_id}", json=patch, headers=auth(tokens["analyst"])
    )
    assert patched.status_code == 200, patched.text
    if layer == "incidents":
        props = patched.json()["properties"]
        assert props["status"] == "investigating"
        assert props["kecamatan_name"] == "Paloh"

    for role in ("analyst", "coordinator", "planner", "viewer"):
        denied = client.delete(f"/api/v1/{layer}/{record_id}", headers=auth(tokens[role]))
        assert denied.status_code == 403
    deleted = client.delete(f"/api/v1/{layer}/{record_id}", headers=auth(tokens["admin"]))
    assert deleted.status_code == 204
    assert (
        client.get(f"/api/v1/{layer}/{record_id}", headers=auth(tokens["admin"])).status_code == 404
    )
    actions = (
        session.execute(
            text("SELECT action FROM audit_log WHERE resource = :r ORDER BY id"),
            {"r": f"{layer}/{record_id}"},
        )
        .scalars()
        .all()
    )
    assert actions[0] == "create" and "update" in actions and actions[-1] == "delete"


def test_personal_fields_absent_for_planner_and_viewer(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    person = create(client, tokens["analyst"], "foreigners", SAMPLES["foreigners"])
    sighting = copy.deepcopy(SAMPLES["sightings"])
    sighting["properties"]["foreigner_id"] = person["id"]
    create(client, tokens["analyst"], "sightings", sighting)
    personal = ("full_name", "passport_number", "permit_number", "birth_date")
    for role in ("admin", "analyst", "coordinator"):
        props = client.get(f"/api/v1/foreigners/{person['id']}", headers=auth(tokens[role])).json()[
            "properties"
        ]
        assert all(props[k] is not None for k in personal)
        listed = client.get("/api/v1/sightings", headers=auth(tokens[role])).json()
        assert listed["features"][0]["properties"]["foreigner_name"] == "Uji Orang Asing Satu"
    before = session.execute(text("SELECT count(*) FROM audit_log WHERE action = 'read'")).scalar()
    for role in ("planner", "viewer"):
        # Records of persons are refused outright, saying why (docs/privacy.md).
        for url in (
            "/api/v1/foreigners",
            f"/api/v1/foreigners/{person['id']}",
            "/api/v1/sightings",
        ):
            response = client.get(url, headers=auth(tokens[role]))
            assert response.status_code == 403, url
            assert "read:personal" in response.text
            for leaked in ("Uji Orang Asing", "X1234567", "KITAS-1", "1990-01-31"):
                assert leaked not in response.text
    after = session.execute(text("SELECT count(*) FROM audit_log WHERE action = 'read'")).scalar()
    assert after == before  # no personal data shown, nothing to log
    client.get("/api/v1/foreigners", headers=auth(tokens["coordinator"]))
    row = session.execute(
        text(
            "SELECT user_name, role, resource, record_count, client FROM audit_log "
            "WHERE action = 'read' ORDER BY id DESC LIMIT 1"
        )
    ).one()
    assert row.user_name == "t-coordinator" and row.role == "coordinator"
    assert row.resource == "foreigners" and row.record_count == 1 and row.client


def test_list_filters_pages_and_next_links(client: TestClient, tokens: dict[str, str]) -> None:
    token = tokens["analyst"]
    kinds = ["overstay", "illegal_work", "smuggling"]
    for i in range(9):
        lon, lat = SAMBAS_TOWN if i % 2 else PALOH
        create(
            client,
            token,
            "incidents",
            feature(
                point(lon, lat),
                kind=kinds[i % 3],
                severity=1 + i % 5,
                occurred_at=f"2025-01-{10 + i:02d}T12:00:00",
            ),
        )
    everything = client.get("/api/v1/incidents?limit=10000", headers=auth(token)).json()
    assert everything["numberReturned"] == 9
    ids = [f["id"] for f in everything["features"]]
    assert ids == sorted(ids)

    # Pages of 4 by following next links reproduce the whole ordered list.
    url = "/api/v1/incidents?limit=4"
    seen: list[int] = []
    while url:
        page = client.get(url, headers=auth(token)).json()
        FeaturePage.model_validate(page)
        seen += [f["id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else ""
    assert seen == ids

    paloh = client.get("/api/v1/incidents?bbox=109.25,1.65,109.35,1.75", headers=auth(token)).json()
    assert paloh["numberReturned"] == 5
    assert {f["properties"]["kecamatan_name"] for f in paloh["features"]} == {"Paloh"}
    by_name = client.get("/api/v1/incidents?kecamatan=paloh", headers=auth(token)).json()
    assert by_name["numberReturned"] == 5

    # Naive times are WIB: 2025-01-10T12:00 WIB is 05:00 UTC.
    window = client.get(
        "/api/v1/incidents?start=2025-01-10T12:00:00&end=2025-01-12T12:00:00", headers=auth(token)
    ).json()
    assert window["numberReturned"] == 2
    assert window["features"][0]["properties"]["occurred_at"] == "2025-01-10T12:00:00+07:00"
    utc = client.get(
        "/api/v1/incidents",
        params={"start": "2025-01-10T05:00:00Z", "end": "2025-01-10T05:00:01Z"},
        headers=auth(token),
    ).json()
    assert utc["numberReturned"] == 1
    overstay = client.get("/api/v1/incidents?kind=overstay,smuggling", headers=auth(token)).json()
    assert overstay["numberReturned"] == 6


@pytest.mark.parametrize(
    ("url", "field", "value"),
    [
        pytest.param("/api/v1/incidents?bbox=1,2,3", "bbox", "1,2,3", id="bbox-3-values"),
        pytest.param("/api/v1/incidents?bbox=200,0,201,1", "bbox", "200,0,201,1", id="bbox-range"),
        pytest.param("/api/v1/incidents?bbox=a,b,c,d", "bbox", "a,b,c,d", id="bbox-text"),
        pytest.param("/api/v1/incidents?start=yesterday", "start", "yesterday", id="start"),
        pytest.param("/api/v1/incidents?kind=picnic", "kind", "picnic", id="kind"),
        pytest.param("/api/v1/zones?nationality=MYS", "nationality", "MYS", id="filter-not-here"),
        pytest.param("/api/v1/foreigners?nationality=Malay", "nationality", "MALAY", id="iso3"),
        pytest.param("/api/v1/incidents?limit=10001", "query.limit", 10001, id="limit"),
        pytest.param("/api/v1/incidents?limit=x", "query.limit", "x", id="limit-text"),
    ],
)
def test_bad_filters_are_422_naming_field_and_value(
    client: TestClient, tokens: dict[str, str], url: str, field: str, value: Any
) -> None:
    response = client.get(url, headers=auth(tokens["analyst"]))
    assert response.status_code == 422, response.text
    body = response.json()
    got_field = body.get("field") or body["errors"][0]["field"]
    got_value = body.get("value", body.get("errors", [{}])[0].get("value"))
    assert got_field == field
    assert str(got_value) == str(value)


@pytest.mark.parametrize(
    ("layer", "body", "field"),
    [
        pytest.param(
            "incidents",
            feature(point(109.3, 1.35), kind="x", severity=1, occurred_at="2025-01-01"),
            "properties.kind",
            id="enum",
        ),
        pytest.param(
            "incidents",
            feature(point(109.3, 1.35), kind="overstay", severity=9, occurred_at="2025-01-01"),
            "properties.severity",
            id="range",
        ),
        pytest.param(
            "incidents",
            feature(point(109.3, 1.35), kind="overstay", severity=1),
            "properties.occurred_at",
            id="required",
        ),
        pytest.param(
            "incidents",
            feature(
                point(109.3, 1.35),
                kind="overstay",
                severity=1,
                occurred_at="2025-01-01",
                kecamatan_code="1",
            ),
            "properties.kecamatan_code",
            id="read-only",
        ),
        pytest.param(
            "incidents",
            feature(
                point(109.3, 1.35),
                kind="overstay",
                severity=1,
                occurred_at="2025-01-01",
                colour="red",
            ),
            "properties.colour",
            id="unknown",
        ),
        pytest.param(
            "incidents",
            feature(point(200, 1.35), kind="overstay", severity=1, occurred_at="2025-01-01"),
            "geometry.coordinates",
            id="lon-range",
        ),
        pytest.param(
            "incidents",
            feature(point(1.35, 109.3), kind="overstay", severity=1, occurred_at="2025-01-01"),
            "geometry.coordinates",
            id="swapped",
        ),
        pytest.param(
            "incidents",
            feature(point(106.8, -6.2), kind="overstay", severity=1, occurred_at="2025-01-01"),
            "geometry",
            id="jakarta-out-of-area",
        ),
        pytest.param(
            "incidents",
            feature(
                {"type": "LineString", "coordinates": [[109.3, 1.3], [109.4, 1.4]]},
                kind="overstay",
                severity=1,
                occurred_at="2025-01-01",
            ),
            "geometry.type",
            id="linestring",
        ),
        pytest.param("incidents", {"type": "FeatureCollection"}, "type", id="not-a-feature"),
        pytest.param(
            "foreigners",
            feature(None, full_name="A", nationality="ZZZ", permit_type="KITAS"),
            "properties.nationality",
            id="nationality",
        ),
        pytest.param(
            "foreigners",
            feature(
                None,
                full_name="A",
                nationality="MYS",
                permit_type="KITAS",
                sponsor_workplace_id=999999,
            ),
            "properties.sponsor_workplace_id",
            id="missing-ref",
        ),
        pytest.param(
            "foreigners",
            feature(
                None, full_name="A", nationality="MYS", permit_type="KITAS", birth_date="31/01/1990"
            ),
            "properties.birth_date",
            id="date-format",
        ),
        pytest.param(
            "sightings",
            feature(point(109.3, 1.35), observed_at="2025-01-01", source="patrol", reported_by=5),
            "properties.reported_by",
            id="type",
        ),
    ],
)
def test_bad_bodies_are_422_naming_the_field(
    client: TestClient, session: Session, tokens: dict[str, str], layer: str, body: Any, field: str
) -> None:
    response = client.post(f"/api/v1/{layer}", json=body, headers=auth(tokens["analyst"]))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert session.execute(text("SELECT count(*) FROM incident")).scalar() == 0


def test_sighting_retries_do_not_duplicate(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    body = copy.deepcopy(SAMPLES["sightings"])
    body["properties"]["external_ref"] = "hotel-report-77"
    first = client.post("/api/v1/sightings", json=body, headers=auth(tokens["analyst"]))
    again = client.post("/api/v1/sightings", json=body, headers=auth(tokens["analyst"]))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert session.execute(text("SELECT count(*) FROM sighting")).scalar() == 1


def test_idempotency_key_replays_the_first_response(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    headers = {**auth(tokens["analyst"]), "Idempotency-Key": "req-1"}
    first = client.post("/api/v1/incidents", json=SAMPLES["incidents"], headers=headers)
    again = client.post("/api/v1/incidents", json=SAMPLES["incidents"], headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert first.json() == again.json()
    assert session.execute(text("SELECT count(*) FROM incident")).scalar() == 1
    other = client.post("/api/v1/workplaces", json=SAMPLES["workplaces"], headers=headers)
    assert other.status_code == 409


def test_duplicate_external_ref_is_409(client: TestClient, tokens: dict[str, str]) -> None:
    body = copy.deepcopy(SAMPLES["workplaces"])
    body["properties"]["external_ref"] = "wp-1"
    create(client, tokens["analyst"], "workplaces", body)
    again = client.post("/api/v1/workplaces", json=body, headers=auth(tokens["analyst"]))
    assert again.status_code == 409
    assert "wp-1" in again.json()["detail"]


def test_out_of_area_sightings_flagged_when_allowed(
    settings: Any, database: Any, session: Session
) -> None:
    from api.app import create_app
    from api.deps import get_session
    from geo.settings import AreaSettings, Settings
    from tests.conftest import request_session

    relaxed = Settings(
        database=settings.database,
        area=AreaSettings(
            reference_data_dir=settings.area.reference_data_dir, allow_out_of_area_sightings=True
        ),
        service=settings.service,
    )
    application = create_app(relaxed, database)
    application.dependency_overrides[get_session] = request_session(session)
    tokens = make_tokens(session, prefix="oa")
    with TestClient(application) as c:
        body = feature(point(110.35, 1.55), observed_at="2025-02-01T10:00:00", source="checkpoint")
        response = c.post("/api/v1/sightings", json=body, headers=auth(tokens["analyst"]))
        assert response.status_code == 201, response.text
        assert response.json()["properties"]["out_of_area"] is True
        incident = feature(
            point(110.35, 1.55), kind="overstay", severity=1, occurred_at="2025-01-01"
        )
        assert (
            c.post("/api/v1/incidents", json=incident, headers=auth(tokens["analyst"])).status_code
            == 422
        )


def test_unknown_id_is_404_and_bad_id_422(client: TestClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["viewer"])
    assert client.get("/api/v1/incidents/987654", headers=h).status_code == 404
    assert client.get("/api/v1/incidents/abc", headers=h).status_code == 422
    assert client.get("/api/v1/incidents/99999999999999999999999", headers=h).status_code == 422


def test_keyset_next_links_and_after(client: TestClient, tokens: dict[str, str]) -> None:
    token = tokens["analyst"]
    for i in range(5):
        create(
            client,
            token,
            "incidents",
            feature(point(*PALOH), kind="overstay", severity=2, occurred_at=f"2025-02-0{i + 1}"),
        )
    ids = [
        f["id"]
        for f in client.get("/api/v1/incidents?limit=100", headers=auth(token)).json()["features"]
    ]
    first = client.get("/api/v1/incidents?limit=2&kind=overstay", headers=auth(token)).json()
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    assert f"after={ids[1]}" in nxt and "offset" not in nxt and "kind=overstay" in nxt
    second = client.get(nxt.replace("http://testserver", ""), headers=auth(token)).json()
    assert [f["id"] for f in second["features"]] == ids[2:4]
    by_offset = client.get("/api/v1/incidents?limit=2&offset=2", headers=auth(token)).json()
    assert [f["id"] for f in by_offset["features"]] == ids[2:4]
    last = client.get(f"/api/v1/incidents?limit=2&after={ids[3]}", headers=auth(token)).json()
    assert [f["id"] for f in last["features"]] == ids[4:]
    assert [link["rel"] for link in last["links"]] == ["self"]
    empty = client.get(f"/api/v1/incidents?after={ids[-1]}", headers=auth(token)).json()
    assert empty["features"] == [] and empty["numberReturned"] == 0
    bad = client.get("/api/v1/incidents?after=-1", headers=auth(token))
    assert bad.status_code == 422
