"""Extra synthetic data for the export tests: a foreigner with a distinctive fake name, sightings
linked to them, and alert episodes (some about that person). Never real people."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import orjson
from pypdf import PdfReader
from sqlalchemy import text

from tests.maps.seed import FAKE_NAME, FAKE_PASSPORT, Seed, _anchor

EXPORT_FAKE_NAME = "Zzyzx Sintetis"
EXPORT_FAKE_PASSPORT = "ZZ0000099"
EXPORT_FAKE_PERMIT = "PLB-ZZYZX-77"
SECRETS = (
    EXPORT_FAKE_NAME,
    "Zzyzx",
    EXPORT_FAKE_PASSPORT,
    EXPORT_FAKE_PERMIT,
    FAKE_NAME,
    "Rahasiawan",
    FAKE_PASSPORT,
    "PLB-UJI",
)


def add_export_data(conn: Any, seed: Seed) -> dict[str, int]:
    """A named foreigner with 3 sightings in Galing (a third kecamatan), and alert episodes."""
    _, qlon, qlat = _anchor(conn, "Galing")
    fid = conn.execute(
        text(
            "INSERT INTO foreigner (full_name, nationality, permit_type, permit_number, "
            "passport_number, status, geom) VALUES (:name, 'MYS', 'PLB', :permit, :passport, "
            "'active', ST_GeomFromEWKT(:geom)) RETURNING id"
        ),
        {
            "name": EXPORT_FAKE_NAME,
            "permit": EXPORT_FAKE_PERMIT,
            "passport": EXPORT_FAKE_PASSPORT,
            "geom": f"SRID=4326;POINT({qlon} {qlat})",
        },
    ).scalar_one()
    for i in range(3):
        conn.execute(
            text(
                "INSERT INTO sighting (observed_at, foreigner_id, source, geom, note, reported_by) "
                "VALUES (:at, :fid, 'checkpoint', ST_GeomFromEWKT(:geom), :note, :by)"
            ),
            {
                "at": dt.datetime(2025, 2, 3 + i, 3, tzinfo=dt.UTC),
                "fid": fid,
                "geom": f"SRID=4326;POINT({qlon + 0.002 * i} {qlat + 0.001})",
                "note": f"{EXPORT_FAKE_NAME} {EXPORT_FAKE_PASSPORT}",
                "by": EXPORT_FAKE_NAME,
            },
        )
    rules = dict(conn.execute(text("SELECT kind, id FROM alert_rule")).all())
    alert_sql = text(
        "INSERT INTO alert (rule_id, rule_kind, severity, status, dedup_key, episode_key, "
        "foreigner_id, incident_id, subjects, details, geom, kecamatan_code, kecamatan_name, "
        "event_at, first_seen_at, last_seen_at, occurrences, resolved_at) "
        "VALUES (:rule_id, :kind, 3, :status, :key, :episode, :fid, NULL, "
        "CAST(:subjects AS jsonb), CAST(:details AS jsonb), ST_GeomFromEWKT(:geom), :code, "
        ":kname, :first, :first, :last, :times, :resolved_at)"
    )
    names = dict(
        conn.execute(
            text("SELECT code, name FROM admin_area WHERE code = ANY(:codes)"),
            {"codes": [seed.busy_code, seed.quiet_code]},
        ).all()
    )
    feb = dt.datetime(2025, 2, 10, 3, tzinfo=dt.UTC)
    dec = dt.datetime(2024, 12, 5, 3, tzinfo=dt.UTC)
    # Episodes (first seen, last seen, occurrences); the pack counts those of its period.
    plan = [
        # 2 open episodes about the named person (two rules): a person count below 3
        ("sighting_near_border", "new", fid, seed.quiet_code, feb, feb, 6),
        ("far_from_sponsor", "new", fid, seed.quiet_code, feb, feb, 2),
        # 4 open episodes of incidents near workplaces, one first seen in December and still
        # open in February; 1 resolved in December and 1 lapsed in December (left out of a
        # February period, and of "open now")
        ("incident_near_workplace", "new", None, seed.busy_code, feb, feb, 3),
        ("incident_near_workplace", "new", None, seed.busy_code, feb, feb, 1),
        ("incident_near_workplace", "acknowledged", None, seed.busy_code, feb, feb, 1),
        ("incident_near_workplace", "new", None, seed.busy_code, dec, feb, 9),
        ("incident_near_workplace", "resolved", None, seed.busy_code, dec, dec, 1),
        ("incident_near_workplace", "lapsed", None, seed.busy_code, dec, dec, 2),
    ]
    for n, (kind, status, foreigner, code, first, last, times) in enumerate(plan, start=1):
        lon, lat = seed.quiet_point if code == seed.quiet_code else seed.busy_point
        conn.execute(
            alert_sql,
            {
                "rule_id": rules[kind],
                "kind": kind,
                "status": status,
                "key": f"export-test-{n}",
                "episode": f"{kind}:export-test-{n}",
                "fid": foreigner,
                "subjects": orjson.dumps({"names": [EXPORT_FAKE_NAME]}).decode(),
                "details": orjson.dumps({"passport": EXPORT_FAKE_PASSPORT}).decode(),
                "geom": f"SRID=4326;POINT({lon} {lat})",
                "code": code,
                "kname": names[code],
                "first": first,
                "last": last,
                "times": times,
                "resolved_at": dec if status == "resolved" else None,
            },
        )
    return {"foreigner_id": int(fid), "open_person_alerts": 2, "open_incident_alerts": 4}


def pdf_text(data: bytes) -> tuple[int, str]:
    """Page count and the text of every page (pypdf), pages joined by form feeds."""
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\f".join(page.extract_text() or "" for page in reader.pages)


def assert_no_secrets(haystack: str) -> None:
    lowered = haystack.lower()
    for secret in SECRETS:
        assert secret.lower() not in lowered, f"{secret!r} leaked into an export"
