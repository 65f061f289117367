"""The field over HTTP: Traccar Client's two request forms, devices, tracks, the form's reports."""

from __future__ import annotations

import base64
import datetime as dt
import io
import uuid
from contextlib import nullcontext
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.field import devices
from geo.field.batcher import PositionBatcher
from geo.users import create_user
from tests.api.helpers import ARUK, SAMBAS_TOWN, auth, make_tokens

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def tokens(session: Session) -> dict[str, str]:
    return make_tokens(session, prefix="field")


@pytest.fixture(autouse=True)
def batcher_in_test_transaction(app, session: Session) -> None:  # type: ignore[no-untyped-def]
    """Positions are written in the test's own (rolled-back) transaction."""
    app.state.position_batcher = PositionBatcher(
        session_factory=lambda: nullcontext(session), margin_m=10_000.0
    )


@pytest.fixture
def traccar(session: Session) -> str:
    devices.register_device(
        session=session, name="HP Tim A", team="Tim A", kind="traccar", identifier="356938035643809"
    )
    session.flush()
    return "356938035643809"


def _count(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM track_position")).scalar_one())


def test_osmand_query_form_as_older_traccar_client_sends_it(client, session, traccar) -> None:  # type: ignore[no-untyped-def]
    # Older Traccar Client: POST to the server URL with every field in the query string.
    params = {
        "id": traccar,
        "timestamp": str(int(NOW.timestamp())),
        "lat": str(ARUK[1]),
        "lon": str(ARUK[0]),
        "speed": "2.7",
        "bearing": "181.0",
        "altitude": "52.0",
        "accuracy": "6.0",
        "batt": "88.0",
    }
    response = client.post("/osmand", params=params)
    assert response.status_code == 200 and response.text == ""
    # The same position again (the app resends after a lost answer): still 200, one row.
    assert client.post("/osmand", params=params).status_code == 200
    # The form-encoded body variant, and GET (OsmAnd itself), are accepted too.
    form = {**params, "timestamp": str(int(NOW.timestamp()) - 60)}
    assert client.post("/osmand", data=form).status_code == 200
    get = {**params, "timestamp": str(int(NOW.timestamp()) - 120)}
    assert client.get("/osmand", params=get).status_code == 200
    assert _count(session) == 3
    row = session.execute(
        text("SELECT speed_mps, heading_deg, battery_pct FROM track_position ORDER BY id LIMIT 1")
    ).one()
    assert row.speed_mps == pytest.approx(2.7 * 1852 / 3600)
    assert (row.heading_deg, row.battery_pct) == (181.0, 88.0)


def test_osmand_json_as_current_traccar_client_sends_it(client, session, traccar) -> None:  # type: ignore[no-untyped-def]
    body = {
        "location": {
            "timestamp": NOW.isoformat().replace("+00:00", "Z"),
            "coords": {
                "latitude": ARUK[1],
                "longitude": ARUK[0],
                "accuracy": 5.0,
                "speed": 0.0,
                "heading": -1,
                "altitude": 40.0,
            },
            "is_moving": False,
            "odometer": 0,
            "battery": {"level": 0.5, "is_charging": True},
        },
        "device_id": traccar,
    }
    response = client.post("/osmand", json=body)
    assert response.status_code == 200
    assert _count(session) == 1


def test_osmand_unknown_devices_are_refused_counted_never_stored(client, session, traccar) -> None:  # type: ignore[no-untyped-def]
    query = {"id": "stranger", "lat": str(ARUK[1]), "lon": str(ARUK[0])}
    assert client.post("/osmand", params=query).status_code == 400  # as Traccar answers
    body = {
        "device_id": "stranger",
        "location": {
            "timestamp": NOW.isoformat(),
            "coords": {"latitude": ARUK[1], "longitude": ARUK[0]},
        },
    }
    assert client.post("/osmand", json=body).status_code == 404
    assert _count(session) == 0
    attempts = session.execute(
        text("SELECT attempts FROM field_refusal WHERE identifier = 'stranger'")
    ).scalar_one()
    assert attempts == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"params": {"id": "x", "lat": "abc", "lon": "109"}}, id="bad-lat"),
        pytest.param({"params": {"lat": "1.4", "lon": "109.6"}}, id="no-id"),
        pytest.param(
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
            id="bad-json",
        ),
        pytest.param({"json": {"device_id": "x"}}, id="json-without-location"),
    ],
)
def test_osmand_malformed_is_400_naming_the_problem(
    client, session, kwargs: dict[str, Any]
) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/osmand", **kwargs)
    assert response.status_code == 400
    assert response.text
    assert _count(session) == 0


def test_devices_are_managed_by_admins_only(client, tokens) -> None:  # type: ignore[no-untyped-def]
    body = {"name": "Form Tim B", "team": "Tim B", "kind": "form"}
    for role in ("analyst", "coordinator", "planner", "viewer"):
        assert (
            client.post("/api/v1/field/devices", json=body, headers=auth(tokens[role])).status_code
            == 403
        )
    made = client.post("/api/v1/field/devices", json=body, headers=auth(tokens["admin"]))
    assert made.status_code == 201
    assert made.json()["token"].startswith("tpm_")
    listed = client.get("/api/v1/field/devices", headers=auth(tokens["admin"])).json()
    assert [d["name"] for d in listed["devices"]] == ["Form Tim B"]
    assert "token" not in listed["devices"][0]
    bad = client.post(
        "/api/v1/field/devices",
        headers=auth(tokens["admin"]),
        json={"name": "X", "team": "Tim B", "kind": "pager"},
    )
    assert bad.status_code == 422 and "pager" in bad.json()["detail"]
    revoked = client.post("/api/v1/field/devices/Form Tim B/revoke", headers=auth(tokens["admin"]))
    assert revoked.json()["active"] is False


def test_tracks_are_for_roles_that_manage_patrols(client, session, traccar, tokens) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        client.post(
            "/osmand",
            params={
                "id": traccar,
                "lat": str(ARUK[1]),
                "lon": str(ARUK[0] + i * 0.001),
                "timestamp": str(int(NOW.timestamp()) - 300 + i * 60),
                "accuracy": "5",
            },
        )
    start = (NOW - dt.timedelta(hours=1)).isoformat()
    for role, status in (
        ("admin", 200),
        ("analyst", 200),
        ("planner", 200),
        ("coordinator", 403),
        ("viewer", 403),
    ):
        response = client.get(
            "/api/v1/patrols/tracks", params={"start": start}, headers=auth(tokens[role])
        )
        assert response.status_code == status, role
    tracks = client.get(
        "/api/v1/patrols/tracks", params={"start": start}, headers=auth(tokens["planner"])
    ).json()
    assert tracks["features"][0]["properties"]["positions"] == 5
    live = client.get("/api/v1/patrols/positions", headers=auth(tokens["planner"])).json()
    assert live["features"][0]["properties"]["team"] == "Tim A"
    assert live["features"][0]["geometry"]["coordinates"][0] == pytest.approx(ARUK[0] + 0.004)
    too_long = client.get(
        "/api/v1/patrols/tracks",
        headers=auth(tokens["planner"]),
        params={"start": "2026-01-01", "end": "2026-03-01"},
    )
    assert too_long.status_code == 422 and "31 days" in too_long.json()["detail"]


@pytest.fixture
def form_token(session: Session) -> str:
    _device, token = devices.register_device(
        session=session, name="Form Tim C", team="Tim C", kind="form"
    )
    session.flush()
    assert token
    return token


def _report(**properties: Any) -> dict[str, Any]:
    return {
        "kind": "sighting",
        "geometry": {"type": "Point", "coordinates": list(SAMBAS_TOWN)},
        "properties": {"observed_at": NOW.isoformat(), "note": "dua orang", **properties},
    }


def test_form_report_is_written_once_through_the_registry(client, session, form_token) -> None:  # type: ignore[no-untyped-def]
    key = str(uuid.uuid4())
    headers = {**auth(form_token), "Idempotency-Key": key}
    first = client.post("/field/api/reports", json=_report(), headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "accepted"
    again = client.post("/field/api/reports", json=_report(), headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    row = session.execute(
        text(
            "SELECT source, kecamatan_name, reported_by, external_ref FROM sighting WHERE id = :id"
        ),
        {"id": first.json()["id"]},
    ).one()
    assert row.source == "patrol" and row.kecamatan_name  # derived on write, like any write
    assert row.external_ref == f"field:{key}"
    audit = session.execute(
        text("SELECT user_name, role FROM audit_log WHERE action = 'create'")
    ).all()
    assert [tuple(a) for a in audit] == [("device:Form Tim C", "field")]


def test_form_report_records_the_device_agency_and_obeys_its_sharing(client, session) -> None:  # type: ignore[no-untyped-def]
    """A Polres administrator's device reports for Polres: the sighting records Polres, and one
    shared with Polres only is hidden from Kodim while Polres reads it (row-level security)."""
    session.execute(
        text("UPDATE agency SET personal_data = true WHERE short_name IN ('KODIM', 'POLRES')")
    )
    users = {
        (agency, role): create_user(
            session=session, name=f"fa-{agency}-{role}", role=role, agency=agency
        )[1]
        for agency, role in (("POLRES", "admin"), ("POLRES", "analyst"), ("KODIM", "analyst"))
    }
    polres = session.execute(text("SELECT id FROM agency WHERE short_name = 'POLRES'")).scalar()
    made = client.post(
        "/api/v1/field/devices",
        json={"name": "Form Polres 1", "team": "Tim Polres", "kind": "form"},
        headers=auth(users[("POLRES", "admin")]),
    )
    assert made.status_code == 201, made.text
    assert made.json()["agency"] == "POLRES"
    listed = client.get("/api/v1/field/devices", headers=auth(users[("POLRES", "admin")])).json()
    assert [(d["name"], d["agency"]) for d in listed["devices"]] == [("Form Polres 1", "POLRES")]
    device = auth(made.json()["token"])
    sent = {}
    for level in ("timpora", "agency"):
        response = client.post(
            "/field/api/reports",
            json=_report(sharing=level),
            headers={**device, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 201, response.text
        sent[level] = response.json()["id"]
    rows = session.execute(
        text("SELECT id, agency_id, sharing FROM sighting WHERE id = ANY(:ids) ORDER BY id"),
        {"ids": list(sent.values())},
    ).all()
    assert [(r.agency_id, r.sharing) for r in rows] == [(polres, "timpora"), (polres, "agency")]
    for reader, sees in (("POLRES", {"timpora", "agency"}), ("KODIM", {"timpora"})):
        headers = auth(users[(reader, "analyst")])
        for level, record_id in sent.items():
            got = client.get(f"/api/v1/sightings/{record_id}", headers=headers)
            assert got.status_code == (200 if level in sees else 404), (reader, level, got.text)
        seen = client.get("/api/v1/sightings", params={"limit": 1000}, headers=headers).json()
        ids = {f["id"] for f in seen["features"]}
        assert {level for level, i in sent.items() if i in ids} == sees, reader


def test_form_refusals_carry_their_reason(client, form_token) -> None:  # type: ignore[no-untyped-def]
    outside = _report()
    outside["geometry"]["coordinates"] = [104.0, 1.3]
    response = client.post(
        "/field/api/reports",
        json=outside,
        headers={**auth(form_token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 422
    assert "outside Kabupaten Sambas" in response.json()["detail"]
    no_key = client.post("/field/api/reports", json=_report(), headers=auth(form_token))
    assert no_key.status_code == 422
    bad_token = client.post(
        "/field/api/reports", json=_report(), headers={**auth("tpm_nope"), "Idempotency-Key": "k"}
    )
    assert bad_token.status_code == 401


def test_form_photo_is_reencoded_without_metadata(client, session, form_token, tokens) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    image = Image.new("RGB", (3000, 2000), (120, 160, 90))
    exif = Image.Exif()
    exif[0x010F] = "CanaryCam"  # Make
    exif[0x8825] = {2: (1.0, 24.0, 48.0), 4: (109.0, 38.0, 48.0)}  # GPS IFD
    raw = io.BytesIO()
    image.save(raw, format="JPEG", exif=exif)
    assert b"CanaryCam" in raw.getvalue()
    data_url = "data:image/jpeg;base64," + base64.b64encode(raw.getvalue()).decode()
    response = client.post(
        "/field/api/reports",
        json={**_report(), "photo": data_url},
        headers={**auth(form_token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    photo_id = response.json()["photo_id"]
    assert (
        client.get(f"/api/v1/field/photos/{photo_id}", headers=auth(tokens["viewer"])).status_code
        == 403
    )
    got = client.get(f"/api/v1/field/photos/{photo_id}", headers=auth(tokens["coordinator"]))
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert b"CanaryCam" not in got.content and b"Exif" not in got.content
    assert max(Image.open(io.BytesIO(got.content)).size) == 1600


def test_form_shell_is_served_with_a_strict_policy(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/field/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert client.get("/field/sw.js").headers["service-worker-allowed"] == "/field/"
    assert client.get("/field/manifest.webmanifest").json()["start_url"] == "/field/"
    context = client.get("/field/api/context").json()
    assert len(context["outline"]["features"]) == 19
    assert "illegal_entry" in context["incident_kinds"]


def test_a_device_moved_to_another_agency_reports_for_it(client, session, tokens) -> None:  # type: ignore[no-untyped-def]
    """Administrators move a device (audited); its next report records the new agency, what it
    reported before keeps the old one; other roles get 403, unknown names 404, bad bodies 422."""
    made = client.post(
        "/api/v1/field/devices",
        json={"name": "Form Pindah", "team": "Tim P", "kind": "form"},
        headers=auth(tokens["admin"]),
    )
    assert made.status_code == 201 and made.json()["agency"] == "IMIGRASI"
    device = auth(made.json()["token"])

    def report() -> int:
        sent = client.post(
            "/field/api/reports",
            json=_report(),
            headers={**device, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert sent.status_code == 201, sent.text
        return int(sent.json()["id"])

    before = report()
    for role in ("analyst", "coordinator", "planner", "viewer"):
        refused = client.patch(
            "/api/v1/field/devices/Form Pindah",
            json={"agency": "KODIM"},
            headers=auth(tokens[role]),
        )
        assert refused.status_code == 403, (role, refused.text)
    moved = client.patch(
        "/api/v1/field/devices/Form Pindah", json={"agency": "kodim"}, headers=auth(tokens["admin"])
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["agency"] == "KODIM"
    whoami = client.get("/field/api/whoami", headers=device).json()
    assert whoami == {"device": "Form Pindah", "team": "Tim P", "agency": "KODIM"}
    after = report()
    agencies = dict(
        session.execute(
            text(
                "SELECT s.id, a.short_name FROM sighting s JOIN agency a ON a.id = s.agency_id "
                "WHERE s.id = ANY(:ids)"
            ),
            {"ids": [before, after]},
        ).all()
    )
    assert agencies == {before: "IMIGRASI", after: "KODIM"}
    audit = session.execute(
        text(
            "SELECT user_name, action, details FROM audit_log "
            "WHERE resource LIKE 'field/devices/%' AND action = 'update'"
        )
    ).all()
    assert [(a.user_name, a.details) for a in audit] == [
        ("field-admin", {"agency": ["IMIGRASI", "KODIM"]})
    ]
    for body, status in (
        ({"agency": "NOPE"}, 404),
        ({"agency": ""}, 422),
        ({"agency": "KODIM", "team": "x"}, 422),
    ):
        bad = client.patch(
            "/api/v1/field/devices/Form Pindah", json=body, headers=auth(tokens["admin"])
        )
        assert bad.status_code == status, (body, bad.text)
    unknown = client.patch(
        "/api/v1/field/devices/Nobody", json={"agency": "KODIM"}, headers=auth(tokens["admin"])
    )
    assert unknown.status_code == 404


def test_the_form_context_lists_active_agencies_to_share_with(client, session) -> None:  # type: ignore[no-untyped-def]
    session.execute(text("UPDATE agency SET active = false WHERE short_name = 'BEACUKAI'"))
    context = client.get("/field/api/context").json()
    assert context["sharing_levels"] == ["timpora", "agencies", "agency"]
    shorts = [a["short_name"] for a in context["agencies"]]
    assert "POLRES" in shorts and "BEACUKAI" not in shorts and shorts == sorted(shorts)
    assert set(context["agencies"][0]) == {"short_name", "name"}
