"""Writers of an agency without personal data (docs/privacy.md, "Member agencies"): a Polres
analyst acts as ``recorder``, records incidents and workplaces under ``timpora_aggregate``, and
never gets a person or a personal field back, in any face; its incidents alert as the batch's."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.alerts import run_batch
from geo.users import create_user
from tests.api.helpers import SAMBAS_TOWN, SAMPLES, auth, feature, point
from tests.geo.alert_synth import alerts, offset

SECRET = "Saksi melihat pekerja tanpa izin di gudang belakang"  # the description's free text
INCIDENT = {"kind": "illegal_work", "severity": 3, "occurred_at": "2025-03-14T09:30:00"}


@pytest.fixture
def polres(session: Session) -> dict[str, str]:
    """Authorization headers of a Polres analyst (no personal data) and an Imigrasi analyst."""
    users = {
        "polres": ("polres-ana", "analyst", "POLRES"),
        "imigrasi": ("imi-ana", "analyst", None),
        "admin": ("imi-admin", "admin", None),
    }
    headers = {}
    for key, (name, role, agency) in users.items():
        _, token = create_user(session=session, name=name, role=role, agency=agency)
        headers[key] = auth(token)
    return headers


def no_personal_field(props: dict[str, Any]) -> None:
    for name in ("description", "foreigner_ids", "external_ref"):
        assert name not in props, name


def test_a_polres_analyst_records_an_incident(
    client: TestClient, session: Session, polres: dict[str, str]
) -> None:
    meta = client.get("/dashboard/meta", headers=polres["polres"]).json()
    assert (meta["role"], meta["personal_data"]) == ("recorder", False)
    users = client.get("/api/v1/users", headers=polres["admin"]).json()["users"]
    assert {u["name"]: u["role"] for u in users}["polres-ana"] == "analyst"  # as stored

    body = feature(point(*SAMBAS_TOWN), **INCIDENT, description=SECRET, sharing="agency")
    made = client.post(
        "/api/v1/incidents", json=body, headers={**polres["polres"], "Idempotency-Key": "k1"}
    )
    assert made.status_code == 201, made.text
    props = made.json()["properties"]
    assert (props["agency"], props["sharing"]) == ("POLRES", "agency")
    no_personal_field(props)
    assert SECRET not in made.text
    incident_id = made.json()["id"]
    stored = session.execute(
        text(
            "SELECT a.short_name, i.description FROM incident i JOIN agency a "
            "ON a.id = i.agency_id WHERE i.id = :id"
        ),
        {"id": incident_id},
    ).one()
    assert tuple(stored) == ("POLRES", SECRET)
    audit = session.execute(
        text("SELECT role, agency_id IS NOT NULL FROM audit_log WHERE resource = :r"),
        {"r": f"incidents/{incident_id}"},
    ).one()
    assert tuple(audit) == ("recorder", True)

    # The retry gets the same answer back, the aggregate face again.
    replay = client.post(
        "/api/v1/incidents", json=body, headers={**polres["polres"], "Idempotency-Key": "k1"}
    )
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == made.json()

    url = f"/api/v1/incidents/{incident_id}"
    changed = client.patch(
        url,
        json={"properties": {"severity": 4, "description": SECRET + " (2)"}},
        headers=polres["polres"],
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["properties"]["severity"] == 4
    no_personal_field(changed.json()["properties"])
    wider = client.patch(
        url,
        json={"properties": {"sharing": "agencies", "shared_with": ["IMIGRASI"]}},
        headers=polres["polres"],
    )
    assert wider.status_code == 200, wider.text
    assert wider.json()["properties"]["shared_with"] == ["IMIGRASI"]

    # Never read back, in any face; the immigration office reads it.
    faces = {
        "item": client.get(url, headers=polres["polres"]),
        "list": client.get("/api/v1/incidents", params={"limit": 1000}, headers=polres["polres"]),
        "ogc": client.get(
            f"/ogc/collections/incidents/items/{incident_id}", headers=polres["polres"]
        ),
        "export": client.get(
            "/api/v1/incidents/export", params={"format": "csv"}, headers=polres["polres"]
        ),
    }
    for face, answer in faces.items():
        assert answer.status_code == 200, (face, answer.text)
        assert "Saksi" not in answer.text, face
    exported = list(csv.DictReader(io.StringIO(faces["export"].text)))
    assert incident_id in {int(r["id"]) for r in exported}
    assert "description" not in exported[0]
    seen = client.get(url, headers=polres["imigrasi"]).json()["properties"]
    assert seen["description"] == SECRET + " (2)"


def test_a_polres_analyst_records_a_workplace(client: TestClient, polres: dict[str, str]) -> None:
    made = client.post("/api/v1/workplaces", json=SAMPLES["workplaces"], headers=polres["polres"])
    assert made.status_code == 201, made.text
    url = f"/api/v1/workplaces/{made.json()['id']}"
    changed = client.patch(
        url, json={"properties": {"foreign_worker_quota": 12}}, headers=polres["polres"]
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["properties"]["foreign_worker_quota"] == 12


@pytest.mark.parametrize("layer", ["foreigners", "sightings", "zones"])
def test_persons_and_zones_are_refused(
    client: TestClient, session: Session, polres: dict[str, str], layer: str
) -> None:
    made = client.post(f"/api/v1/{layer}", json=SAMPLES[layer], headers=polres["polres"])
    assert made.status_code == 403, made.text
    assert "recorder" in made.json()["detail"] and "agency without personal data" in made.text
    existing = client.post(f"/api/v1/{layer}", json=SAMPLES[layer], headers=polres["imigrasi"])
    assert existing.status_code == 201, existing.text
    patched = client.patch(
        f"/api/v1/{layer}/{existing.json()['id']}",
        json={"properties": {}},
        headers=polres["polres"],
    )
    assert patched.status_code == 403, patched.text


@pytest.mark.parametrize("field", ["foreigner_ids", "external_ref"])
def test_links_to_persons_and_references_are_422(
    client: TestClient, polres: dict[str, str], field: str
) -> None:
    value: Any = [1] if field == "foreigner_ids" else "LP/123/III/2025"
    body = feature(point(*SAMBAS_TOWN), **INCIDENT, **{field: value})
    refused = client.post("/api/v1/incidents", json=body, headers=polres["polres"])
    assert refused.status_code == 422 and f"properties.{field}" in refused.text, refused.text


def test_imports_stay_with_writers_of_personal_data(
    client: TestClient, polres: dict[str, str]
) -> None:
    files = {"file": ("i.csv", b"kind,severity,occurred_at,lon,lat\n", "text/csv")}
    answer = client.post("/api/v1/incidents/import", files=files, headers=polres["polres"])
    assert answer.status_code == 403, answer.text


def test_polres_incidents_alert_as_the_batch_does(
    client: TestClient, session: Session, polres: dict[str, str]
) -> None:
    """Written under timpora_aggregate, evaluated as the service's step: a workplace pair and a
    cluster of three, the same episodes as the batch over the same incidents."""
    site = client.post("/api/v1/workplaces", json=SAMPLES["workplaces"], headers=polres["imigrasi"])
    assert site.status_code == 201, site.text
    for k, (dx, dy) in enumerate([(100, 0), (250, 150), (150, 300)]):
        lon, lat = offset(session, *SAMBAS_TOWN, dx, dy)
        body = feature(point(lon, lat), **{**INCIDENT, "occurred_at": f"2025-03-1{k}T09:00:00"})
        assert (
            client.post("/api/v1/incidents", json=body, headers=polres["polres"]).status_code == 201
        )
    # The writer's role is back after the step: the answer above was the aggregate face, and
    # the next request still cannot read a person.
    assert client.get("/api/v1/sightings", headers=polres["polres"]).status_code == 403

    def episodes() -> list[tuple[Any, ...]]:
        return sorted(
            (a.rule_kind, a.episode_key, a.incident_id, a.workplace_id, a.occurrences)
            for a in alerts(session)
        )

    on_write = episodes()
    assert {e[0] for e in on_write} == {"incident_near_workplace", "incident_cluster"}
    session.execute(text("DELETE FROM alert"))
    run_batch(session=session, rules=("incident_near_workplace", "incident_cluster"))
    assert episodes() == on_write
