"""Both import paths (upsert and partition exchange) record the importing user's agency, as a
value read once per statement; swapped-in partitions get row-level security like the others.
(The registry, patrol log and audit paths: tests/api/test_agency_sharing.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.io import ImportOptions, import_file
from geo.io.load import LoadOptions
from geo.roles import use_agency
from geo.settings import Settings
from tests.geo.test_importer import _mixed_sightings, load_fixtures


def agency_id(session: Session, short_name: str) -> int:
    return int(
        session.execute(
            text("SELECT id FROM agency WHERE short_name = :s"), {"s": short_name}
        ).scalar_one()
    )


@pytest.mark.parametrize("exchange_min_rows", [10**9, 100], ids=["upsert", "exchange"])
def test_imports_record_the_importing_agency(
    session: Session, settings: Settings, tmp_path: Path, exchange_min_rows: int
) -> None:
    load_fixtures(session, settings)  # as the command line: no agency
    assert (
        session.execute(text("SELECT count(*) FROM sighting WHERE agency_id IS NOT NULL")).scalar()
        == 0
    )
    session.execute(text("DELETE FROM sighting"))
    kodim = agency_id(session, "KODIM")
    use_agency(session, kodim)
    frame = _mixed_sightings(session, 600, seed=3)
    path = tmp_path / "s.csv"
    frame.to_csv(path, index=False)
    options = ImportOptions(
        batch_alerts_min_rows=10**9,
        load=LoadOptions(exchange_min_rows=exchange_min_rows, load_workers=1),
    )
    report = import_file(
        session=session, layer="sightings", path=path, area=settings.area, options=options
    )
    assert report.inserted == len(frame)
    assert any("partition exchange" in n for n in report.notes) == (exchange_min_rows == 100)
    agencies = session.execute(
        text("SELECT agency_id, sharing, count(*) FROM sighting GROUP BY 1, 2")
    ).all()
    assert agencies == [(kodim, "timpora", len(frame))]
    audit = session.execute(
        text("SELECT agency_id FROM audit_log WHERE action = 'import' ORDER BY id DESC LIMIT 1")
    ).scalar()
    assert audit == kodim
    # A swapped-in partition, like every other, gives the service's roles no row by name.
    parts = session.execute(
        text(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'sighting'::regclass AND NOT c.relrowsecurity"
        )
    ).scalar()
    assert parts == 0
    use_agency(session, None)


def test_the_risk_ranking_counts_what_the_callers_agency_may_see(session: Session) -> None:
    """The ranking runs past the row policies (SECURITY DEFINER): it filters by agency itself."""
    kodim, polres = agency_id(session, "KODIM"), agency_id(session, "POLRES")
    wid = session.execute(
        text(
            "INSERT INTO workplace (name, sector, geom) VALUES "
            "('Kebun Uji Berbagi', 'plantation', ST_SetSRID(ST_MakePoint(109.30, 1.36), 4326)) "
            "RETURNING id"
        )
    ).scalar_one()
    for sharing in ("timpora", "agency"):
        session.execute(
            text(
                "INSERT INTO incident (kind, severity, occurred_at, geom, agency_id, sharing) "
                "VALUES ('illegal_work', 3, '2025-03-01', "
                "ST_SetSRID(ST_MakePoint(109.3001, 1.3601), 4326), :kodim, :sharing)"
            ),
            {"kodim": kodim, "sharing": sharing},
        )
    counts = {}
    for name, agency in (("kodim", kodim), ("polres", polres), ("none", "")):
        session.execute(
            text("SELECT set_config('timpora.agency_id', :a, true)"), {"a": str(agency)}
        )
        counts[name] = session.execute(
            text(
                "SELECT incidents FROM timpora_workplace_risk("
                "'2025-03-10', 300, 90, 30, 5000, 2, 5000, 365) WHERE workplace_id = :w"
            ),
            {"w": wid},
        ).scalar_one()
    assert counts == {"kodim": 2, "polres": 1, "none": 1}
