"""Export: every format reads back to the same rows; personal fields per role; filters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import PermissionDeniedError
from geo.io import export_layer, import_file
from geo.io.exporter import export_frame
from geo.registry import get_layer, parse_filters
from geo.settings import Settings
from tests.geo.test_importer import load_fixtures

LAYERS = ("workplaces", "foreigners", "sightings")


def _without_ids(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["id"]).reset_index(drop=True)


@pytest.mark.parametrize("fmt", ["csv", "geojson", "gpkg", "xlsx"])
def test_export_import_round_trip_is_identical(
    session: Session, settings: Settings, tmp_path: Path, fmt: str
) -> None:
    load_fixtures(session, settings)
    before = {layer: export_frame(session=session, layer=layer, role="analyst") for layer in LAYERS}
    files = {}
    for layer in LAYERS:
        files[layer] = tmp_path / f"{layer}.{fmt}"
        export_layer(session=session, layer=layer, fmt=fmt, role="analyst", out=files[layer])
    # Same database: nothing changes.
    for layer in LAYERS:
        report = import_file(session=session, layer=layer, path=files[layer], area=settings.area)
        assert (report.inserted, report.updated) == (0, 0), layer
    # Empty database: the files rebuild the same rows.
    session.execute(text("DELETE FROM sighting; DELETE FROM foreigner; DELETE FROM workplace"))
    for layer in LAYERS:
        import_file(session=session, layer=layer, path=files[layer], area=settings.area)
    for layer in LAYERS:
        after = export_frame(session=session, layer=layer, role="analyst")
        pd.testing.assert_frame_equal(_without_ids(after), _without_ids(before[layer]))


def test_personal_fields_only_for_roles_that_see_them(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    load_fixtures(session, settings)
    analyst = export_layer(session=session, layer="foreigners", fmt="csv", role="analyst")
    assert b"Contoh Satu (Sintetis)" in analyst.content and b"XUJI0001" in analyst.content
    assert analyst.personal
    # People are never exported to a role without personal data, whichever face asks.
    for layer in ("foreigners", "sightings"):
        with pytest.raises(PermissionDeniedError, match=f"may not export {layer}"):
            export_layer(session=session, layer=layer, fmt="csv", role="viewer")
    # Other layers go out without their personal fields.
    viewer = export_layer(session=session, layer="incidents", fmt="csv", role="viewer")
    full = export_layer(session=session, layer="incidents", fmt="csv", role="analyst")
    assert b"description" in full.content and b"description" not in viewer.content
    assert full.personal and not viewer.personal
    rows = session.execute(
        text(
            "SELECT action, resource, details->>'personal' FROM audit_log "
            "WHERE action = 'export' ORDER BY id"
        )
    ).all()
    assert rows == [
        ("export", "foreigners", "true"),
        ("export", "incidents", "false"),
        ("export", "incidents", "true"),
    ]


def test_export_takes_the_list_filters(session: Session, settings: Settings) -> None:
    load_fixtures(session, settings)
    filters = parse_filters(layer=get_layer("foreigners"), nationality="MYS,CHN")
    frame = export_frame(session=session, layer="foreigners", role="analyst", filters=filters)
    assert sorted(frame["external_ref"]) == ["UJI-F-1", "UJI-F-2"]
    filters = parse_filters(layer=get_layer("sightings"), start="2025-03-06", kind="patrol")
    frame = export_frame(session=session, layer="sightings", role="analyst", filters=filters)
    assert frame["external_ref"].tolist() == []
    filters = parse_filters(layer=get_layer("sightings"), start="2025-03-06")
    frame = export_frame(session=session, layer="sightings", role="analyst", filters=filters)
    assert sorted(frame["external_ref"]) == ["UJI-S-3", "UJI-S-4"]
    assert frame["observed_at"].tolist()[0].endswith("+07:00")
