"""``POST /api/v1/{layer}/import?sharing=&shared_with=``: the job shows the sharing, the rows carry
it with the importer's agency; a bad value is a 422 naming it and no job is queued."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.users import create_user
from tests.api.helpers import auth

JOB_TIMEOUT_S = 120.0
CSV = (
    "external_ref,kind,severity,status,occurred_at,lon,lat\n"
    "API-SH-1,overstay,2,open,2026-11-02T10:00:00,109.30,1.36\n"
    "API-SH-2,illegal_entry,4,open,2026-11-04T08:00:00,109.32,1.38\n"
)


@pytest.fixture
def polres(session: Session) -> str:
    session.execute(text("UPDATE agency SET personal_data = true WHERE short_name = 'POLRES'"))
    _, token = create_user(session=session, name="imp-polres", role="analyst", agency="POLRES")
    session.flush()
    return token


def upload(client: TestClient, token: str, layer: str, tmp_path: Path, **params: Any) -> Any:
    path = tmp_path / "upload.csv"
    path.write_text(CSV)
    with path.open("rb") as fh:
        return client.post(
            f"/api/v1/{layer}/import",
            params=params,
            headers=auth(token),
            files={"file": ("upload.csv", fh, "text/csv")},
        )


def test_an_import_job_writes_the_sharing_it_was_given(
    committed: Engine, client: TestClient, polres: str, session: Session, tmp_path: Path
) -> None:
    r = upload(
        client, polres, "incidents", tmp_path, sharing="agencies", shared_with=["kodim,KEJARI"]
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["sharing"] == {"sharing": "agencies", "shared_with": ["KEJARI", "KODIM"]}
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while job["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
        job = client.get(r.headers["location"], headers=auth(polres)).json()
    assert job["status"] == "succeeded", job
    assert job["report"]["sharing"] == job["sharing"] and job["report"]["inserted"] == 2
    stored = session.execute(
        text(
            "SELECT a.short_name, i.sharing, "
            "(SELECT array_agg(w.short_name ORDER BY w.short_name) FROM agency w "
            " WHERE w.id = ANY (i.shared_with)) "
            "FROM incident i JOIN agency a ON a.id = i.agency_id "
            "WHERE i.external_ref LIKE 'API-SH-%'"
        )
    ).all()
    assert [tuple(s) for s in stored] == [("POLRES", "agencies", ["KEJARI", "KODIM"])] * 2
    # What the API then shows of them, to Polres: the agency and the sharing.
    listed = client.get("/api/v1/incidents", params={"limit": 10}, headers=auth(polres)).json()[
        "features"
    ]
    assert {(f["properties"]["agency"], f["properties"]["sharing"]) for f in listed} == {
        ("POLRES", "agencies")
    }


@pytest.mark.parametrize(
    ("layer", "params", "named"),
    [
        pytest.param("incidents", {"sharing": "semua"}, "semua", id="level"),
        pytest.param("incidents", {"shared_with": "NOPE"}, "NOPE", id="unknown-agency"),
        pytest.param("sightings", {"sharing": "agencies"}, "agencies", id="agencies-no-names"),
        pytest.param(
            "incidents", {"sharing": "timpora", "shared_with": "KODIM"}, "KODIM", id="names"
        ),
        pytest.param("workplaces", {"sharing": "agency"}, "agency", id="layer-without"),
    ],
)
def test_bad_sharing_is_422_naming_it_and_queues_nothing(
    client: TestClient,
    polres: str,
    tmp_path: Path,
    layer: str,
    params: dict[str, str],
    named: str,
) -> None:
    r = upload(client, polres, layer, tmp_path, **params)
    assert r.status_code == 422, r.text
    assert named in r.json()["detail"]
    assert client.app.state.imports._jobs == {}  # type: ignore[attr-defined]
