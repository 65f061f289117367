"""The demo's answer key agrees with the data it describes, checked in PostGIS on the loaded rows:
every planted violation is in the data as the key says, the ordinary life is lawful, and nothing
outside the key breaks the rules the key is about."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.demo import seed
from geo.demo.planted import (
    BORDER_BAND_M,
    CLUSTER_CLEARANCE_M,
    CLUSTER_QUIET_BEFORE_DAYS,
    CROSSING_NEAR_BORDER_M,
    CROSSING_POST_CLEARANCE_M,
    PLB_TRIP_MIN_OUTSIDE_M,
    WORK_ELSEWHERE_MIN_M,
)
from geo.settings import Settings

END = dt.date(2025, 7, 1)
FAR_FROM_SPONSOR_M = 25_000.0  # the far_from_sponsor rule's default


@pytest.fixture
def truth(session: Session, settings: Settings, tmp_path: Path) -> Iterator[dict[str, Any]]:
    report = seed(
        session=session,
        seed=7,
        size="small",
        end=END,
        area=settings.area,
        ground_truth_path=tmp_path / "truth.json",
        evaluate_alerts=False,
    )
    written = json.loads((tmp_path / "truth.json").read_text())
    assert written == report.ground_truth
    yield written


def entries(truth: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    found = [v for v in truth["violations"] if v["kind"] == kind]
    assert found, f"no planted {kind}"
    return found


def ordinary(truth: dict[str, Any], kind: str) -> list[str]:
    (item,) = [o for o in truth["ordinary"] if o["kind"] == kind]
    refs: list[str] = item["subject"]["foreigners"]
    assert refs, kind
    return refs


def evidence(session: Session, refs: list[str]) -> list[Any]:
    rows = session.execute(
        text(
            """
            SELECT s.external_ref, s.observed_at, (s.observed_at AT TIME ZONE 'Asia/Pontianak')::date
                   AS wib_date, s.border_side, s.distance_to_border_m, f.external_ref AS person,
                   f.permit_type, f.permit_expires_on,
                   (SELECT min(ST_Distance(z.geom_utm, s.geom_utm)) FROM zone z
                    WHERE z.kind = 'plb_area' AND z.active) AS plb_m,
                   (SELECT min(ST_Distance(r.geom_utm, s.geom_utm)) FROM reference_feature r
                    WHERE r.kind = 'crossing_post') AS post_m
            FROM sighting s JOIN foreigner f ON f.id = s.foreigner_id
            WHERE s.external_ref = ANY(:refs) ORDER BY s.observed_at
            """
        ),
        {"refs": refs},
    ).all()
    assert len(rows) == len(refs)
    return list(rows)


def in_period(entry: dict[str, Any], at: dt.datetime) -> bool:
    return (
        dt.datetime.fromisoformat(entry["start"]) <= at <= dt.datetime.fromisoformat(entry["end"])
    )


def test_planted_violations_are_in_the_data(session: Session, truth: dict[str, Any]) -> None:
    assert truth["version"] == 3
    assert len({v["id"] for v in truth["violations"]}) == len(truth["violations"])
    for v in entries(truth, "overstay"):
        rows = evidence(session, v["evidence"]["sightings"])
        assert len(rows) >= 3, v["id"]
        (person,) = v["subject"]["foreigners"]
        assert all(r.person == person for r in rows)
        assert all(r.wib_date > r.permit_expires_on for r in rows), v["id"]
        assert str(rows[0].permit_expires_on) == v["permit_expires_on"]
        assert all(in_period(v, r.observed_at) for r in rows)
    for v in entries(truth, "plb_far_outside"):
        rows = evidence(session, v["evidence"]["sightings"])
        assert len(rows) >= 2 and all(r.permit_type == "PLB" for r in rows), v["id"]
        # Outside every plb_area zone, and far outside.
        assert min(r.plb_m for r in rows) >= PLB_TRIP_MIN_OUTSIDE_M, v["id"]
        assert all(r.wib_date <= r.permit_expires_on for r in rows)
    for v in entries(truth, "unofficial_crossing"):
        rows = evidence(session, v["evidence"]["sightings"])
        sides = {r.border_side for r in rows}
        assert sides == {"ID", "MY"}, v["id"]
        assert all(r.distance_to_border_m <= CROSSING_NEAR_BORDER_M for r in rows), v["id"]
        assert min(r.post_m for r in rows) >= CROSSING_POST_CLEARANCE_M, v["id"]
    for v in entries(truth, "work_elsewhere"):
        (person,) = v["subject"]["foreigners"]
        far = session.execute(
            text(
                """
                SELECT f.permit_type, sp.external_ref AS sponsor,
                       min(ST_Distance(s.geom_utm, sp.geom_utm)) AS from_sponsor_m,
                       max(ST_Distance(s.geom_utm, w.geom_utm)) AS from_other_m
                FROM sighting s JOIN foreigner f ON f.id = s.foreigner_id
                JOIN workplace sp ON sp.id = f.sponsor_workplace_id
                JOIN workplace w ON w.external_ref = :other
                WHERE s.external_ref = ANY(:refs) GROUP BY 1, 2
                """
            ),
            {"refs": v["evidence"]["sightings"], "other": v["workplace"]},
        ).one()
        assert far.permit_type == "KITAS" and far.sponsor == v["sponsor"], v["id"]
        assert far.from_other_m <= 500 and far.from_sponsor_m > WORK_ELSEWHERE_MIN_M - 1_000
    for v in entries(truth, "incident_cluster"):
        spread = session.execute(
            text(
                """
                SELECT count(*) AS n, max(ST_Distance(a.geom_utm, b.geom_utm)) AS span_m,
                       max(a.occurred_at) - min(a.occurred_at) AS lasting
                FROM incident a, incident b
                WHERE a.external_ref = ANY(:refs) AND b.external_ref = ANY(:refs)
                """
            ),
            {"refs": v["subject"]["incidents"]},
        ).one()
        assert spread.n == len(v["subject"]["incidents"]) ** 2 >= 9, v["id"]
        assert spread.span_m <= 600 and spread.lasting <= dt.timedelta(days=5), v["id"]
        # A new cluster at a quiet place: nothing else near it for four weeks before nor while
        # it lasts.
        others = session.execute(
            text(
                """
                SELECT count(*) FROM incident o
                WHERE NOT o.external_ref = ANY(:refs)
                  AND ST_DWithin(o.geom_utm, ST_Transform(ST_SetSRID(
                          ST_MakePoint(:lon, :lat), 4326), 32649), :clearance_m)
                  AND o.occurred_at BETWEEN CAST(:start AS timestamptz) - :before
                                        AND CAST(:end AS timestamptz)
                """
            ),
            {
                "refs": v["subject"]["incidents"],
                **v["where"],
                "clearance_m": CLUSTER_CLEARANCE_M - 1,
                "start": v["start"],
                "end": v["end"],
                "before": dt.timedelta(days=CLUSTER_QUIET_BEFORE_DAYS),
            },
        ).scalar_one()
        assert others == 0, v["id"]


def test_ordinary_life_is_where_the_key_says(session: Session, truth: dict[str, Any]) -> None:
    residents = ordinary(truth, "border_resident")
    homes = session.execute(
        text(
            """
            SELECT f.external_ref, f.permit_type, f.distance_to_border_m,
                   EXISTS (SELECT 1 FROM zone z WHERE z.kind = 'border_band'
                           AND (z.properties ->> 'min_m')::float = 0
                           AND ST_Intersects(z.geom, f.geom)) AS in_band,
                   count(s.id) AS seen
            FROM foreigner f LEFT JOIN sighting s ON s.foreigner_id = f.id
            WHERE f.external_ref = ANY(:refs) GROUP BY f.id
            """
        ),
        {"refs": residents},
    ).all()
    assert len(homes) == len(residents)
    for h in homes:
        assert h.permit_type == "PLB" and h.in_band, h
        assert h.distance_to_border_m <= BORDER_BAND_M and h.seen >= 40, h
    # PLB holders stay inside the PLB area except on the planted trips.
    trips = {s for v in entries(truth, "plb_far_outside") for s in v["evidence"]["sightings"]}
    outside = session.execute(
        text(
            """
            SELECT s.external_ref FROM sighting s JOIN foreigner f ON f.id = s.foreigner_id
            WHERE f.permit_type = 'PLB' AND NOT EXISTS (
                SELECT 1 FROM zone z WHERE z.kind = 'plb_area' AND z.active
                AND ST_Intersects(z.geom_utm, s.geom_utm))
            """
        )
    ).scalars()
    assert set(outside) == trips
    # Workers stay within the far-from-sponsor distance except at the planted other workplaces.
    elsewhere = {s for v in entries(truth, "work_elsewhere") for s in v["evidence"]["sightings"]}
    far = session.execute(
        text(
            """
            SELECT s.external_ref FROM sighting s JOIN foreigner f ON f.id = s.foreigner_id
            JOIN workplace w ON w.id = f.sponsor_workplace_id
            WHERE f.permit_type = 'KITAS' AND NOT ST_DWithin(s.geom_utm, w.geom_utm, :d)
            """
        ),
        {"d": FAR_FROM_SPONSOR_M},
    ).scalars()
    assert set(far) == elsewhere
    commuters = ordinary(truth, "commuter")
    assert not set(commuters) & {p for v in truth["violations"] for p in _people(v)}
    # Nobody is sighted after the permit expired but the planted overstayers.
    late = session.execute(
        text(
            """
            SELECT DISTINCT f.external_ref FROM sighting s JOIN foreigner f ON f.id = s.foreigner_id
            WHERE (s.observed_at AT TIME ZONE 'Asia/Pontianak')::date > f.permit_expires_on
            """
        )
    ).scalars()
    assert set(late) == {p for v in entries(truth, "overstay") for p in _people(v)}
    # Sightings across the border are the planted crossings only.
    crossings = {
        s for v in entries(truth, "unofficial_crossing") for s in v["evidence"]["sightings"]
    }
    abroad = session.execute(
        text("SELECT external_ref FROM sighting WHERE border_side = 'MY'")
    ).scalars()
    assert set(abroad) <= crossings
    # The expected permit notices are the active permits ending within 30 days of the end.
    (notice,) = [e for e in truth["expected"] if e["kind"] == "permit_notice"]
    due = session.execute(
        text(
            "SELECT external_ref FROM foreigner WHERE status = 'active' "
            "AND permit_expires_on - CAST(:end AS date) BETWEEN 0 AND 30"
        ),
        {"end": END},
    ).scalars()
    assert set(due) == set(notice["subject"]["foreigners"])


def _people(entry: dict[str, Any]) -> list[str]:
    refs: list[str] = entry["subject"].get("foreigners", [])
    return refs


def test_violating_workplaces_are_the_planted_ones(session: Session, truth: dict[str, Any]) -> None:
    """Over quota, hidden workers, expired permits: in the data as the key says, and nowhere else."""
    facts = {
        r.ref: r
        for r in session.execute(
            text(
                """
                SELECT w.external_ref AS ref, w.foreign_worker_quota AS quota,
                       count(f.id) FILTER (WHERE f.status = 'active') AS active,
                       array_remove(array_agg(f.external_ref ORDER BY f.external_ref)
                           FILTER (WHERE f.status = 'active'
                                   AND f.permit_expires_on < CAST(:end AS date)), NULL)
                           AS expired
                FROM workplace w LEFT JOIN foreigner f ON f.sponsor_workplace_id = w.id
                GROUP BY w.id
                """
            ),
            {"end": END},
        ).all()
    }
    listed = {w["subject"]["workplaces"][0]: w for w in truth["workplaces"]}
    assert len(listed) >= 8
    hidden = {}
    for v in entries(truth, "work_elsewhere"):
        hidden.setdefault(v["workplace"], []).extend(v["subject"]["foreigners"])
    for ref, fact in facts.items():
        over = fact.active > fact.quota
        late = list(fact.expired or [])
        found = [
            name
            for name, yes in (
                ("over_quota", over),
                ("hidden_workers", ref in hidden),
                ("expired_permits", bool(late)),
            )
            if yes
        ]
        if not found:
            assert ref not in listed, ref
            continue
        item = listed[ref]
        assert item["violations"] == found, ref
        assert item["expired_workers"] == late and item["foreign_worker_quota"] == fact.quota
        assert sorted(item["hidden_workers"]) == sorted(hidden.get(ref, []))
    kinds = {k for w in truth["workplaces"] for k in w["violations"]}
    assert kinds == {"over_quota", "hidden_workers", "expired_permits"}
