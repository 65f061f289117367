"""HTTP face of the notification subscriptions: own vs everyone's, masked channels, test sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.settings import NotifySettings, Settings
from tests.api.helpers import auth, make_tokens
from tests.mailserver import Mailbox, free_port, start_smtp, text_of

BOT_TOKEN = "AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ"
TELEGRAM = f"tgram://123456789:{BOT_TOKEN}/-100123"
HOOK_SECRET = "p4th-secret-of-the-json-receiver"
URL = "/api/v1/notifications/subscriptions"


@pytest.fixture
def tokens(session: Session) -> dict[str, str]:
    return make_tokens(session, prefix="nt")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    controller, box = start_smtp(free_port())
    try:
        yield box
    finally:
        controller.stop()


def test_own_subscriptions_and_masked_channels(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    viewer, admin = auth(tokens["viewer"]), auth(tokens["admin"])
    mine = client.post(URL, json={"target": TELEGRAM, "lang": "en"}, headers=viewer)
    assert mine.status_code == 201, mine.text
    body = mine.json()
    assert (body["owner_kind"], body["owner"], body["role"]) == ("user", "nt-viewer", None)
    assert body["target"].startswith("tgram://") and BOT_TOKEN not in mine.text
    # Stored in full for the sender, never answered back.
    stored = session.execute(
        text("SELECT target FROM notify_subscription WHERE id = :id"), {"id": body["id"]}
    ).scalar_one()
    assert stored == TELEGRAM
    listed = client.get(URL, headers=viewer)
    assert [s["id"] for s in listed.json()["subscriptions"]] == [body["id"]]
    assert BOT_TOKEN not in listed.text

    # Someone else's, an office's, or a channel users may not add themselves: refused.
    other = client.post(
        URL, json={"target": "a@office.example", "owner": "nt-admin"}, headers=viewer
    )
    assert other.status_code == 403
    office = client.post(
        URL,
        json={"target": "a@office.example", "owner_kind": "office", "owner": "Pos"},
        headers=viewer,
    )
    assert office.status_code == 403
    hook = f"json://hooks.example.org/{HOOK_SECRET}"
    refused = client.post(URL, json={"target": hook}, headers=viewer)
    assert refused.status_code == 422 and refused.json()["field"] == "target"
    assert HOOK_SECRET not in refused.text and "'json'" in refused.json()["detail"]
    bad = client.post(URL, json={"target": "nonsense://x", "lang": "en"}, headers=admin)
    assert bad.status_code == 422 and "nonsense" in bad.json()["detail"]
    severity = client.post(
        URL, json={"target": "a@office.example", "min_severity": 9}, headers=viewer
    )
    assert severity.status_code == 422 and severity.json()["field"] == "min_severity"
    area = client.post(
        URL, json={"target": "a@office.example", "kecamatan": ["99.99"]}, headers=viewer
    )
    assert area.status_code == 422 and "99.99" in area.json()["detail"]

    # An administrator adds the coordinators' shared channel, any Apprise channel, for an office.
    shared = client.post(
        URL,
        json={
            "target": hook,
            "owner_kind": "office",
            "owner": "Koordinator Timpora",
            "role": "coordinator",
            "kecamatan": ["61.01.09"],
            "min_severity": 3,
        },
        headers=admin,
    )
    assert shared.status_code == 201, shared.text
    assert HOOK_SECRET not in shared.text and shared.json()["kecamatan"] == ["61.01.09"]
    everyone = client.get(URL, headers=admin)
    assert {s["id"] for s in everyone.json()["subscriptions"]} == {body["id"], shared.json()["id"]}
    assert HOOK_SECRET not in everyone.text and BOT_TOKEN not in everyone.text
    assert client.get(URL, params={"owner_kind": "office"}, headers=viewer).status_code == 403

    # Removing: one's own, or anything as an administrator; someone else's is not found.
    sid = shared.json()["id"]
    assert client.delete(f"{URL}/{sid}", headers=viewer).status_code == 404
    assert client.delete(f"{URL}/{body['id']}", headers=viewer).status_code == 204
    assert client.delete(f"{URL}/{sid}", headers=admin).status_code == 204
    assert client.get(URL, headers=admin).json()["subscriptions"] == []
    audited = session.execute(
        text(
            "SELECT action, details FROM audit_log "
            "WHERE resource LIKE 'notifications/subscriptions/%' ORDER BY id"
        )
    ).all()
    assert [a.action for a in audited] == ["create", "create", "delete", "delete"]
    assert HOOK_SECRET not in json.dumps([a.details for a in audited])


def test_test_message_goes_to_a_real_mail_server(
    app: FastAPI, settings: Settings, tokens: dict[str, str], mailbox: Mailbox
) -> None:
    app.state.settings = Settings(
        database=settings.database,
        area=settings.area,
        service=settings.service,
        field=settings.field,
        imports=settings.imports,
        notify=NotifySettings(
            smtp_host="127.0.0.1",
            smtp_port=mailbox.port,
            smtp_security="insecure",
            smtp_from="timpora@office.example",
        ),
    )
    planner = auth(tokens["planner"])
    with TestClient(app) as client:
        created = client.post(URL, json={"target": "perencana@office.example"}, headers=planner)
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        assert created.json()["target"] == "pe***@office.example"
        sent = client.post(f"{URL}/{sid}/test", headers=planner)
        assert sent.status_code == 200, sent.text
        assert sent.json() == {
            "id": sid,
            "target": "pe***@office.example",
            "delivered": True,
            "error": None,
        }
        # Someone else's subscription cannot be tested (nor learnt of).
        assert client.post(f"{URL}/{sid}/test", headers=auth(tokens["viewer"])).status_code == 404
    (mail,) = mailbox.wait_for(1)
    assert mail["To"] == "perencana@office.example"
    assert mail["Subject"] == "[Timpora] Pesan uji Timpora Map"
    assert "segera untuk tingkat ≥ 4, ringkasan harian" in text_of(mail)


def test_a_down_channel_reports_a_masked_error(client: TestClient, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin"])
    secret = "S3cretMailPass"
    created = client.post(
        URL,
        json={
            "target": f"mailto://ops:{secret}@127.0.0.1:9/?to=x@office.example&from=ops@office.example&mode=insecure"
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert secret not in created.text
    sent = client.post(f"{URL}/{created.json()['id']}/test", headers=admin)
    assert sent.status_code == 200
    answer: dict[str, Any] = sent.json()
    assert answer["delivered"] is False and answer["error"]
    assert secret not in sent.text
