"""One bad filter value, one message: every face that takes a filter refuses it the same way.

The registry list, a map view, hotspots, alerts, the export (HTTP and CLI), the hotspot CLI and the
map CLI all parse through the filter family (``geo.registry.filters``); each bad value below goes
through every face that takes that parameter and must come back with the family's own message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app as cli_app
from geo.errors import ValidationError
from geo.registry import LAYERS, parse_filters, where_clause
from tests.api.helpers import auth, make_tokens

# Bad values, by the filter parameters they use.
BAD_VALUES = [
    pytest.param({"bbox": "109.0,1.0,200.0,2.0"}, id="bbox-out-of-range"),
    pytest.param({"bbox": "109.5,1.6,109.1,1.2"}, id="bbox-inverted"),
    pytest.param({"start": "31/01/2025"}, id="bad-date"),
    pytest.param({"start": "2025-02-01", "end": "2025-01-01"}, id="start-after-end"),
    pytest.param({"kind": "piracy"}, id="unknown-kind"),
    pytest.param({"kecamatan": "Atlantis"}, id="unknown-kecamatan"),
]

# Each face and the filter parameters it takes (a face is only sent what it accepts).
HTTP_FACES: dict[str, tuple[str, frozenset[str]]] = {
    "registry-list": (
        "/api/v1/incidents",
        frozenset({"bbox", "start", "end", "kind", "kecamatan"}),
    ),
    "map-view": ("/maps/heatmap", frozenset({"start", "end", "kind", "kecamatan"})),
    "hotspots": ("/api/v1/hotspots", frozenset({"start", "end", "kind"})),
    "alerts": ("/api/v1/alerts", frozenset({"bbox", "start", "end", "kecamatan"})),
    "export": (
        "/api/v1/incidents/export?format=geojson",
        frozenset({"bbox", "start", "end", "kind", "kecamatan"}),
    ),
}
CLI_FACES: dict[str, tuple[list[str], frozenset[str]]] = {
    "cli-export": (
        ["export", "incidents"],
        frozenset({"bbox", "start", "end", "kind", "kecamatan"}),
    ),
    "cli-hotspots": (["hotspots"], frozenset({"start", "end", "kind"})),
    "cli-map": (["map", "heatmap"], frozenset({"start", "end", "kind", "kecamatan"})),
}


def family_message(session: Session, values: dict[str, str]) -> str:
    """What the filter family itself says about ``values`` (parsing, then turning into SQL)."""
    incidents = LAYERS["incidents"]
    with pytest.raises(ValidationError) as info:
        filters = parse_filters(layer=incidents, **values)
        where_clause(incidents, filters, session=session)
    return info.value.message


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("values", BAD_VALUES)
def test_every_http_face_gives_the_same_422(
    client: Any, session: Session, values: dict[str, str]
) -> None:
    expected = family_message(session, values)
    assert next(iter(values.values())).split(",")[0][:8] in expected or "end" in values
    token = make_tokens(session, prefix="faces")["analyst"]
    faces = [name for name, (_, takes) in HTTP_FACES.items() if set(values) <= takes]
    assert len(faces) >= 3
    for name in faces:
        path, _ = HTTP_FACES[name]
        r = client.get(path, params=values, headers=auth(token))
        assert r.status_code == 422, (name, r.text)
        assert r.json()["detail"] == expected, name


@pytest.mark.parametrize("values", BAD_VALUES)
def test_every_cli_face_gives_the_same_message(
    session: Session,
    database_url: str,
    values: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = family_message(session, values)
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    faces = [name for name, (_, takes) in CLI_FACES.items() if set(values) <= takes]
    assert faces
    options = [part for key, value in values.items() for part in (f"--{key}", value)]
    for name in faces:
        command, _ = CLI_FACES[name]
        out = ["--out", str(tmp_path / "out.file")] if name != "cli-hotspots" else []
        result = CliRunner().invoke(cli_app, [*command, *out, *options])
        assert result.exit_code == 1, (name, result.output)
        assert _words(expected) in _words(result.output), (name, result.output)
        assert "Traceback" not in result.output
