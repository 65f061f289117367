"""Every response that carries personal data leaves an audit row, writes' answers included:
a PATCH (an empty one too) answers with the whole record, an idempotent replay and a repeated
sighting report answer with what is stored."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.helpers import SAMPLES, auth, make_tokens


def _rows(session: Session, resource: str) -> list[tuple[str, str, int]]:
    rows = session.execute(
        text(
            "SELECT user_name, action, record_count FROM audit_log WHERE resource = :r ORDER BY id"
        ),
        {"r": resource},
    ).all()
    return [(r.user_name, r.action, r.record_count) for r in rows]


def _create(client: TestClient, token: str, layer: str, body: dict[str, Any]) -> int:
    response = client.post(f"/api/v1/{layer}", json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_patch_answers_are_audited_empty_ones_too(client: TestClient, session: Session) -> None:
    tokens = make_tokens(session, prefix="pa")
    fid = _create(client, tokens["analyst"], "foreigners", SAMPLES["foreigners"])
    empty = client.patch(f"/api/v1/foreigners/{fid}", json={}, headers=auth(tokens["analyst"]))
    assert empty.status_code == 200 and empty.json()["properties"]["passport_number"]
    changed = client.patch(
        f"/api/v1/foreigners/{fid}",
        json={"properties": {"status": "departed"}},
        headers=auth(tokens["admin"]),
    )
    assert changed.status_code == 200
    assert _rows(session, f"foreigners/{fid}") == [
        ("pa-analyst", "create", 1),
        ("pa-analyst", "read", 1),  # the empty PATCH showed the whole record
        ("pa-admin", "update", 1),
        ("pa-admin", "read", 1),  # and so did the real one, passport included
    ]


def test_patch_of_a_workplace_is_not_a_personal_read(client: TestClient, session: Session) -> None:
    tokens = make_tokens(session, prefix="pw")
    wid = _create(client, tokens["analyst"], "workplaces", SAMPLES["workplaces"])
    assert (
        client.patch(
            f"/api/v1/workplaces/{wid}", json={}, headers=auth(tokens["analyst"])
        ).status_code
        == 200
    )
    assert [a for _, a, _ in _rows(session, f"workplaces/{wid}")] == ["create"]


def test_idempotent_replay_is_audited(client: TestClient, session: Session) -> None:
    tokens = make_tokens(session, prefix="ir")
    headers = {**auth(tokens["analyst"]), "Idempotency-Key": "ulang-1"}
    first = client.post("/api/v1/foreigners", json=SAMPLES["foreigners"], headers=headers)
    again = client.post("/api/v1/foreigners", json=SAMPLES["foreigners"], headers=headers)
    assert first.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["properties"]["full_name"] == "Uji Orang Asing Satu"
    fid = first.json()["id"]
    assert _rows(session, f"foreigners/{fid}") == [
        ("ir-analyst", "create", 1),
        ("ir-analyst", "read", 1),
    ]


def test_repeated_sighting_report_is_audited(client: TestClient, session: Session) -> None:
    tokens = make_tokens(session, prefix="ds")
    report = {
        **SAMPLES["sightings"],
        "properties": {**SAMPLES["sightings"]["properties"], "external_ref": "APOA-ULANG-1"},
    }
    sid = _create(client, tokens["analyst"], "sightings", report)
    again = client.post("/api/v1/sightings", json=report, headers=auth(tokens["admin"]))
    assert again.status_code == 200 and again.json()["id"] == sid
    assert _rows(session, f"sightings/{sid}") == [
        ("ds-analyst", "create", 1),
        ("ds-admin", "read", 1),  # the stored report went back: a read, not a write
    ]
