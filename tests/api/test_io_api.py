"""POST /api/v1/{layer}/import and GET /api/v1/{layer}/export."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.helpers import auth, make_tokens

DATA = Path(__file__).resolve().parent.parent / "data" / "io"


@pytest.fixture
def tokens(session: Session) -> dict[str, str]:
    return make_tokens(session, prefix="io")


def upload(client: TestClient, token: str, layer: str, name: str, **params: str):  # type: ignore[no-untyped-def]
    with (DATA / name).open("rb") as fh:
        return client.post(
            f"/api/v1/{layer}/import",
            params=params,
            headers=auth(token),
            files={"file": (name, fh, "text/csv")},
        )


def test_import_dry_run_report_and_export(
    client: TestClient, tokens: dict[str, str], session: Session
) -> None:
    dry = upload(client, tokens["analyst"], "workplaces", "workplaces_id.csv", dry_run="true")
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True and dry.json()["inserted"] == 3
    assert session.execute(text("SELECT count(*) FROM workplace")).scalar_one() == 0
    for layer, name in (
        ("workplaces", "workplaces_id.csv"),
        ("foreigners", "foreigners_id.csv"),
        ("sightings", "sightings_id.csv"),
    ):
        r = upload(client, tokens["analyst"], layer, name)
        assert r.status_code == 200, r.text
    bad = upload(client, tokens["admin"], "sightings", "sightings_bad.csv")
    assert bad.status_code == 422
    body = bad.json()
    assert body["type"] == "ImportRejectedError"
    assert [(p["row"], p["field"]) for p in body["errors"]["problems"]][:2] == [
        (3, "observed_at"),
        (4, "foreigner_ref"),
    ]
    assert (
        session.execute(
            text("SELECT count(*) FROM sighting WHERE external_ref LIKE 'BAD-%'")
        ).scalar_one()
        == 0
    )
    gj = client.get(
        "/api/v1/foreigners/export", params={"format": "geojson"}, headers=auth(tokens["viewer"])
    )
    assert gj.status_code == 200 and gj.headers["x-record-count"] == "4"
    props = gj.json()["features"][0]["properties"]
    assert "full_name" not in props and "passport_number" not in props
    csv = client.get(
        "/api/v1/sightings/export",
        params={"format": "csv", "kind": "patrol"},
        headers=auth(tokens["coordinator"]),
    )
    assert csv.status_code == 200 and csv.text.count("\n") == 2  # header + one patrol row
    xlsx = client.get(
        "/api/v1/workplaces/export", params={"format": "xlsx"}, headers=auth(tokens["planner"])
    )
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


@pytest.mark.parametrize("role", ["coordinator", "planner", "viewer"])
def test_import_needs_write(client: TestClient, tokens: dict[str, str], role: str) -> None:
    r = upload(client, tokens[role], "workplaces", "workplaces_id.csv")
    assert r.status_code == 403


def test_bad_format_and_unknown_file_type_are_422(
    client: TestClient, tokens: dict[str, str]
) -> None:
    r = client.get(
        "/api/v1/incidents/export", params={"format": "pdf"}, headers=auth(tokens["viewer"])
    )
    assert r.status_code == 422 and r.json()["field"] == "format"
    r = client.post(
        "/api/v1/incidents/import",
        headers=auth(tokens["admin"]),
        files={"file": ("x.exe", b"MZ", "application/octet-stream")},
    )
    assert r.status_code == 422 and r.json()["field"] == "file"
