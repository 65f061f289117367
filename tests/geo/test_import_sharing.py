"""Imports take a sharing level: the staging upsert and the partition exchange write it on the new
rows with the importing agency; a bad value is an error naming it, and nothing is written."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.io import ImportOptions, ImportSource, import_frame
from geo.roles import PERSONAL_ROLE, clear_role, use_agency, use_role_and_agency
from geo.settings import Settings
from geo.sharing import WHOLE_TIMPORA, Sharing, parse_sharing
from tests.geo.test_importer import _mixed_sightings, import_sightings, load_fixtures


def agency_id(session: Session, short: str) -> int:
    return int(
        session.execute(
            text("SELECT id FROM agency WHERE short_name = :s"), {"s": short}
        ).scalar_one()
    )


def incidents(n: int, prefix: str = "SHR") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "external_ref": [f"{prefix}-{i}" for i in range(n)],
            "kind": ["overstay"] * n,
            "severity": ["2"] * n,
            "occurred_at": [f"2026-11-{i + 1:02d} 10:00" for i in range(n)],
            "lon": [109.30 + i / 1000 for i in range(n)],
            "lat": [1.36] * n,
        }
    )


def stored(session: Session, table: str, prefix: str) -> set[tuple[Any, ...]]:
    rows = session.execute(
        text(
            f"SELECT agency_id, sharing, shared_with FROM {table} "
            "WHERE external_ref LIKE :p GROUP BY 1, 2, 3"
        ),
        {"p": f"{prefix}-%"},
    )
    return {(a, s, tuple(w)) for a, s, w in rows}


def test_the_upsert_writes_the_sharing_on_new_rows_and_keeps_stored_ones(
    session: Session, settings: Settings
) -> None:
    polres, kodim = agency_id(session, "POLRES"), agency_id(session, "KODIM")
    asked = parse_sharing(
        session=session, sharing="agencies", shared_with="kodim", agency_id=polres
    )
    assert asked == Sharing("agencies", (kodim,)) and asked.as_dict() == {
        "sharing": "agencies",
        "shared_with": ["KODIM"],
    }
    # Like the API's import job (and the command line's --author): the request's role and agency.
    use_role_and_agency(session, PERSONAL_ROLE, polres)
    report = import_frame(
        session=session,
        layer="incidents",
        source=ImportSource(incidents(3)),
        area=settings.area,
        options=ImportOptions(sharing=asked),
    )
    clear_role(session)
    assert report.inserted == 3 and report.as_dict()["sharing"] == asked.as_dict()
    assert stored(session, "incident", "SHR") == {(polres, "agencies", (kodim,))}
    audit = session.execute(
        text("SELECT agency_id, details FROM audit_log WHERE action = 'import' ORDER BY id DESC")
    ).first()
    assert audit is not None and audit[0] == polres
    assert audit[1]["sharing"] == "agencies" and audit[1]["shared_with"] == ["KODIM"]

    # A re-import (one row changed, one new) with another level: the stored rows keep theirs
    # (only the reporting agency widens a record, by a PATCH); the new one gets the new level.
    again = incidents(4)
    again.loc[0, "severity"] = "4"
    use_role_and_agency(session, PERSONAL_ROLE, polres)
    report = import_frame(
        session=session,
        layer="incidents",
        source=ImportSource(again),
        area=settings.area,
        options=ImportOptions(sharing=Sharing("agency")),
    )
    clear_role(session)
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 2)
    levels = dict(
        session.execute(
            text("SELECT external_ref, sharing FROM incident WHERE external_ref LIKE 'SHR-%'")
        ).all()
    )
    assert levels == {
        "SHR-0": "agencies",
        "SHR-1": "agencies",
        "SHR-2": "agencies",
        "SHR-3": "agency",
    }


@pytest.mark.parametrize("workers", [1, 2], ids=["one-session", "parallel-sessions"])
def test_the_partition_exchange_writes_the_sharing_as_the_owner_acting_for_a_user(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """The command line's --author: the owner's login under the user's role. The exchange's DDL
    runs as the owner; the months' rows record the user's agency and the sharing asked (loaded
    in the import's session, or by sessions of their own), and the import ends under the
    user's role again."""
    from geo.io import exchange

    monkeypatch.setattr(exchange, "PARALLEL_MIN_ROWS", 0)
    parallel: list[int] = []
    load_parallel = exchange.load_parallel
    monkeypatch.setattr(
        exchange,
        "load_parallel",
        lambda **kw: parallel.append(kw["workers"]) or load_parallel(**kw),
    )
    load_fixtures(session, settings)
    polres, kodim = agency_id(session, "POLRES"), agency_id(session, "KODIM")
    frame = _mixed_sightings(session, 1_500, seed=11)
    frame["external_ref"] = [f"EXS-{i}" for i in range(len(frame))]
    use_role_and_agency(session, PERSONAL_ROLE, polres)
    report = import_sightings(
        session,
        settings,
        frame,
        sharing=Sharing("agencies", (kodim,), ("KODIM",)),
        exchange_min_rows=300,
        load_workers=workers,
    )
    assert any("partition exchange" in note for note in report.notes), report.notes
    assert parallel == ([2] if workers == 2 else [])
    assert session.execute(text("SELECT current_user")).scalar_one() == PERSONAL_ROLE
    clear_role(session)
    assert report.inserted == len(frame)
    assert stored(session, "sighting", "EXS") == {(polres, "agencies", (kodim,))}
    # The swapped-in partitions took no default of the loading table with them: every partition
    # has sighting's own.
    defaults = session.execute(
        text(
            "SELECT DISTINCT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
            "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
            "LEFT JOIN pg_inherits i ON i.inhrelid = d.adrelid "
            "WHERE (i.inhparent = 'sighting'::regclass OR d.adrelid = 'sighting'::regclass) "
            "AND a.attname IN ('agency_id', 'sharing', 'shared_with')"
        )
    ).all()
    assert sorted(defaults) == [
        ("agency_id", "timpora_request_agency()"),
        ("shared_with", "'{}'::integer[]"),
        ("sharing", "'timpora'::character varying"),
    ]


def test_the_owner_import_exchanges_with_the_agency_it_is_given(
    session: Session, settings: Settings
) -> None:
    """The owner with an agency set and no role (no row policies bind it): the same rows."""
    load_fixtures(session, settings)
    polres = agency_id(session, "POLRES")
    frame = _mixed_sightings(session, 1_200, seed=12)
    frame["external_ref"] = [f"EXO-{i}" for i in range(len(frame))]
    use_agency(session, polres)
    report = import_sightings(
        session, settings, frame, sharing=Sharing("agency"), exchange_min_rows=300, load_workers=1
    )
    clear_role(session)
    assert any("partition exchange" in note for note in report.notes), report.notes
    assert stored(session, "sighting", "EXO") == {(polres, "agency", ())}


@pytest.mark.parametrize(
    ("sharing", "shared_with", "writer", "field", "value"),
    [
        pytest.param("everyone", None, "POLRES", "sharing", "everyone", id="unknown-level"),
        pytest.param("agencies", ["NOPE"], "POLRES", "shared_with", "NOPE", id="unknown-agency"),
        pytest.param("agencies", ["<b>x"], "POLRES", "shared_with", "<b>x", id="not-a-name"),
        pytest.param("agencies", None, "POLRES", "sharing", "agencies", id="agencies-no-names"),
        pytest.param(
            "agency", ["KODIM"], "POLRES", "shared_with", "KODIM", id="names-not-agencies"
        ),
        pytest.param("agency", None, None, "sharing", "agency", id="writer-without-agency"),
    ],
)
def test_bad_sharing_is_an_error_naming_the_value(
    session: Session,
    sharing: str,
    shared_with: list[str] | None,
    writer: str | None,
    field: str,
    value: str,
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_sharing(
            session=session,
            sharing=sharing,
            shared_with=shared_with,
            agency_id=agency_id(session, writer) if writer else None,
        )
    assert caught.value.field == field and caught.value.value == value
    assert value in str(caught.value)


def test_layers_without_sharing_refuse_a_narrower_one_and_write_nothing(
    session: Session, settings: Settings
) -> None:
    workplaces = pd.DataFrame(
        {
            "external_ref": ["SHW-1"],
            "name": ["PT Uji"],
            "sector": ["plantation"],
            "lon": [109.3],
            "lat": [1.36],
        }
    )
    with pytest.raises(ValidationError, match="'agency'") as caught:
        import_frame(
            session=session,
            layer="workplaces",
            source=ImportSource(workplaces),
            area=settings.area,
            options=ImportOptions(sharing=Sharing("agency")),
        )
    assert caught.value.field == "sharing"
    assert not session.execute(
        text("SELECT count(*) FROM workplace WHERE external_ref = 'SHW-1'")
    ).scalar_one()
    # The whole Timpora is every layer's default, and says nothing for a layer without sharing.
    report = import_frame(
        session=session,
        layer="workplaces",
        source=ImportSource(workplaces),
        area=settings.area,
        options=ImportOptions(sharing=WHOLE_TIMPORA),
    )
    assert report.inserted == 1 and report.as_dict()["sharing"] is None
