"""Every parameter that scales work has a cap, and a value past it is a 422 naming the parameter.

The caps live in ``geo.registry.caps``; these go through the faces a client uses (the hotspot
API, patrol plans, map views, exports, the CLI) and check the status, the field and the message.
An analysis past its time limit ends with a 503.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app as cli_app
from geo.deadline import check_deadline, time_limit
from geo.errors import AnalysisTimeoutError
from geo.settings import Settings
from tests.api.helpers import auth, make_tokens

GET_CASES = [
    pytest.param("/api/v1/hotspots", {"cell_m": "5"}, "cell_m", "between 100 and 20000", id="cell"),
    pytest.param(
        "/api/v1/hotspots",
        {"start": "1900-01-01", "end": "2200-01-01", "slice": "week"},
        "slice",
        "(max 520)",
        id="weekly-slices-1900-2200",
    ),
    pytest.param(
        "/api/v1/hotspots",
        {"start": "1900-01-01", "end": "2200-01-01", "slice": "month"},
        "slice",
        "(max 520)",
        id="monthly-slices-1900-2200",
    ),
    pytest.param(
        "/api/v1/hotspots",
        {"cell_m": "100", "start": "2020-01-01", "end": "2025-01-01"},
        "cell_m",
        "(max 10,000,000)",
        id="cells-times-slices",
    ),
    pytest.param(
        "/maps/patrol", {"avoid_recent_days": "1e12"}, "avoid_recent_days", "0 and 365", id="recent"
    ),
    pytest.param("/maps/patrol", {"k": "inf"}, "k", "an integer between 1 and 50", id="k-inf"),
    pytest.param("/maps/patrol", {"k": "2.5"}, "k", "an integer between 1 and 50", id="k-fraction"),
    pytest.param(
        "/maps/hotspots", {"kde": "1", "bandwidth_m": "1e9"}, "bandwidth_m", "20000", id="bandwidth"
    ),
    pytest.param(
        "/maps/hotspots", {"clusters": "1", "eps_m": "nan"}, "eps_m", "between 10", id="eps-nan"
    ),
    pytest.param(
        "/maps/hotspots", {"clusters": "1", "eps_m": "1e7"}, "eps_m", "5000 metres", id="eps"
    ),
    pytest.param(
        "/maps/hotspots",
        {"clusters": "1", "min_samples": "inf"},
        "min_samples",
        "an integer",
        id="min-samples",
    ),
    pytest.param("/maps/heatmap", {"cell_m": "1e9"}, "cell_m", "20000 metres", id="heat-cells"),
]


@pytest.mark.parametrize(("path", "params", "field", "message"), GET_CASES)
def test_caps_on_get_faces(
    client: Any, session: Session, path: str, params: dict[str, str], field: str, message: str
) -> None:
    token = make_tokens(session, prefix="caps")["analyst"]
    r = client.get(path, params=params, headers=auth(token))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == field
    assert message in body["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"k": 51}, "k", id="k"),
        pytest.param({"avoid_recent_days": 10**12}, "avoid_recent_days", id="recent"),
        pytest.param({"radius_m": 1e9}, "radius_m", id="radius"),
        pytest.param({"recent_factor": 2}, "recent_factor", id="recent-factor"),
    ],
)
def test_caps_on_patrol_plans(
    client: Any, session: Session, body: dict[str, Any], field: str
) -> None:
    token = make_tokens(session, prefix="caps-plan")["planner"]
    r = client.post("/api/v1/patrols/plan", json=body, headers=auth(token))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


def _incidents(session: Session, *when: str) -> None:
    for at in when:
        session.execute(
            text(
                "INSERT INTO incident (kind, severity, occurred_at, geom) VALUES ('overstay', 2, "
                "CAST(:at AS timestamptz), ST_SetSRID(ST_MakePoint(109.30, 1.36), 4326))"
            ),
            {"at": at},
        )


def test_timeline_slices_from_the_data_are_capped(client: Any, session: Session) -> None:
    _incidents(session, "1901-01-01T00:00:00+07", "2199-01-01T00:00:00+07")
    token = make_tokens(session, prefix="caps-timeline")["analyst"]
    r = client.get("/maps/timeline", params={"period": "week"}, headers=auth(token))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "period" and "(max 520)" in r.json()["detail"]


def test_export_rows_are_capped(
    client: Any, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geo.io.exporter

    _incidents(session, "2025-01-01T00:00:00+07", "2025-01-02T00:00:00+07")
    token = make_tokens(session, prefix="caps-export")["analyst"]
    params = {"format": "geojson", "start": "2025-01-01", "end": "2025-01-03"}
    ok = client.get("/api/v1/incidents/export", params=params, headers=auth(token))
    assert ok.status_code == 200, ok.text
    monkeypatch.setattr(geo.io.exporter, "MAX_EXPORT_ROWS", 1)
    r = client.get("/api/v1/incidents/export", params=params, headers=auth(token))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "rows" and "more than 1 rows" in r.json()["detail"]


def test_points_for_kde_and_dbscan_are_capped(
    client: Any, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geo.hotspots.data

    _incidents(session, "2025-01-01T00:00:00+07", "2025-01-02T00:00:00+07")
    monkeypatch.setattr(geo.hotspots.data, "MAX_ANALYSIS_POINTS", 1)
    token = make_tokens(session, prefix="caps-points")["analyst"]
    for option in ({"kde": "1"}, {"clusters": "1"}):
        r = client.get("/maps/hotspots", params=option, headers=auth(token))
        assert r.status_code == 422, r.text
        assert "more than 1 incidents" in r.json()["detail"]


def test_an_analysis_past_its_time_limit_is_a_503(
    client: Any, session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = make_tokens(session, prefix="caps-time")["analyst"]
    assert client.get("/api/v1/hotspots", headers=auth(token)).status_code == 200
    monkeypatch.setattr(settings.service, "analysis_time_limit_s", 1e-9)
    for path in ("/api/v1/hotspots", "/maps/hotspots"):
        r = client.get(path, headers=auth(token))
        assert r.status_code == 503, r.text
        assert "TIMPORA_ANALYSIS_TIME_LIMIT_S" in r.json()["detail"]


def test_the_deadline_holds_only_inside_its_block() -> None:
    check_deadline("outside")  # no limit outside time_limit
    with time_limit(0.0), pytest.raises(AnalysisTimeoutError, match="at step one"):
        check_deadline("step one")
    check_deadline("after")


def test_the_cli_refuses_the_same_slices(
    session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    result = CliRunner().invoke(
        cli_app, ["hotspots", "--start", "1900-01-01", "--end", "2200-01-01"]
    )
    assert result.exit_code == 1, result.output
    assert "(max 520)" in result.output and "Traceback" not in result.output
