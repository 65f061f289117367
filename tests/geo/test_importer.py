"""Bulk import: header aliases, dates, all-or-nothing, idempotency, the fast path."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ImportRejectedError
from geo.io import ImportOptions, ImportSource, import_file, import_frame
from geo.io.derive import location_index
from geo.io.importer import ImportReport
from geo.io.load import LoadOptions
from geo.io.validate import parse_datetimes, resolve_nationality
from geo.settings import Settings
from geo.sharing import WHOLE_TIMPORA, Sharing
from geo.tiles import grid_drift

DATA = Path(__file__).resolve().parent.parent / "data" / "io"
UTC = dt.UTC


def load_fixtures(session: Session, settings: Settings) -> None:
    for layer, name in (
        ("workplaces", "workplaces_id.csv"),
        ("foreigners", "foreigners_id.csv"),
        ("sightings", "sightings_id.csv"),
    ):
        import_file(session=session, layer=layer, path=DATA / name, area=settings.area)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        pytest.param("Malaysia", "MYS", id="name"),
        pytest.param("MYS", "MYS", id="alpha3"),
        pytest.param("my", "MYS", id="alpha2-lower"),
        pytest.param("Tiongkok", "CHN", id="indonesian"),
        pytest.param("Vietnam", "VNM", id="common-name"),
        pytest.param("Korea Selatan", "KOR", id="indonesian-two-words"),
        pytest.param("458", "MYS", id="numeric"),
        pytest.param("Atlantis", None, id="unknown"),
    ],
)
def test_nationality_resolution(value: str, code: str | None) -> None:
    assert resolve_nationality(value) == code


def test_datetimes_naive_is_wib_dmy_and_offsets() -> None:
    parsed = parse_datetimes(
        pd.Series(
            [
                "05/03/2025 14:30",
                "2025-03-05T08:00:00+07:00",
                "2025-03-07T01:00:00Z",
                "2025-03-06",
                "31/02/2025",
                "yesterday",
                None,
            ]
        )
    )
    assert parsed[0] == pd.Timestamp("2025-03-05T07:30:00Z")
    assert parsed[1] == pd.Timestamp("2025-03-05T01:00:00Z")
    assert parsed[2] == pd.Timestamp("2025-03-07T01:00:00Z")
    assert parsed[3] == pd.Timestamp("2025-03-05T17:00:00Z")  # midnight WIB
    assert parsed[4:].isna().all()


def test_indonesian_headers_and_dmy_dates_map(session: Session, settings: Settings) -> None:
    load_fixtures(session, settings)
    wp = session.execute(
        text(
            "SELECT external_ref, name, sector, rptka_number, foreign_worker_quota, "
            "ST_X(geom), ST_Y(geom), kecamatan_name FROM workplace ORDER BY external_ref"
        )
    ).all()
    assert [(r[0], r[2], r[4]) for r in wp] == [
        ("UJI-W-1", "plantation", 25),
        ("UJI-W-2", "hospitality", None),
        ("UJI-W-3", "fishing", 4),
    ]
    assert wp[0][5:8] == (109.3925, 1.5963, "Galing")  # decimal commas read
    people = session.execute(
        text(
            "SELECT f.external_ref, nationality, sex, birth_date, permit_type, "
            "permit_expires_on, w.external_ref, f.geom IS NULL FROM foreigner f "
            "LEFT JOIN workplace w ON w.id = f.sponsor_workplace_id ORDER BY 1"
        )
    ).all()
    assert people == [
        ("UJI-F-1", "MYS", "M", dt.date(1980, 2, 1), "PLB", dt.date(2025, 12, 31), None, False),
        (
            "UJI-F-2",
            "CHN",
            "F",
            dt.date(1990, 7, 15),
            "KITAS",
            dt.date(2026, 1, 15),
            "UJI-W-1",
            False,
        ),
        ("UJI-F-3", "VNM", "M", None, "VISA_KUNJUNGAN", dt.date(2025, 6, 5), None, True),
        (
            "UJI-F-4",
            "IND",
            "F",
            dt.date(1975, 4, 3),
            "KITAP",
            dt.date(2030, 4, 3),
            "UJI-W-3",
            False,
        ),
    ]
    seen = session.execute(
        text(
            "SELECT s.external_ref, observed_at, source, note, f.external_ref, s.kecamatan_name, "
            "s.border_side FROM sighting s LEFT JOIN foreigner f ON f.id = s.foreigner_id "
            "ORDER BY 1"
        )
    ).all()
    assert [(r[0], r[1], r[2], r[4]) for r in seen] == [
        ("UJI-S-1", dt.datetime(2025, 3, 5, 7, 30, tzinfo=UTC), "patrol", "UJI-F-1"),
        ("UJI-S-2", dt.datetime(2025, 3, 5, 1, 0, tzinfo=UTC), "lodging", "UJI-F-2"),
        ("UJI-S-3", dt.datetime(2025, 3, 6, 14, 15, tzinfo=UTC), "public_report", None),
        ("UJI-S-4", dt.datetime(2025, 3, 7, 1, 0, tzinfo=UTC), "checkpoint", "UJI-F-4"),
    ]
    assert seen[2][3] == "catatan, dengan koma"
    assert all(r[5] is not None and r[6] == "ID" for r in seen)
    audit = session.execute(
        text("SELECT resource, record_count FROM audit_log WHERE action = 'import' ORDER BY id")
    ).all()
    assert audit == [("workplaces", 3), ("foreigners", 4), ("sightings", 4)]


def test_bad_rows_rejected_with_exact_report_and_nothing_written(
    session: Session, settings: Settings
) -> None:
    load_fixtures(session, settings)
    before = session.execute(text("SELECT count(*) FROM sighting")).scalar_one()
    with pytest.raises(ImportRejectedError) as caught:
        import_file(
            session=session, layer="sightings", path=DATA / "sightings_bad.csv", area=settings.area
        )
    problems = [
        (p["row"], p["field"], p["value"], p["reason"].split(" (")[0])
        for p in caught.value.details["problems"]
    ]
    assert problems == [
        (3, "observed_at", "31/02/2025", "no such date"),
        (4, "foreigner_ref", "UJI-F-404", "no foreigner with this external_ref"),
        (
            5,
            "source",
            "ufo",
            "not one of patrol, lodging, checkpoint, public_report, other, inspection",
        ),
        (6, "lon/lat", "103.8 1.35", "outside Kabupaten Sambas plus the 10 km margin"),
        (7, "lon/lat", "abc 1.61", "coordinates must be two numbers"),
        (7, "observed_at", None, "required value is missing"),
        (8, "external_ref", "BAD-1", "duplicate of row 2"),
    ]
    assert caught.value.details["rejected_rows"] == 6
    assert session.execute(text("SELECT count(*) FROM sighting")).scalar_one() == before
    assert (
        session.execute(
            text("SELECT count(*) FROM sighting WHERE external_ref LIKE 'BAD-%'")
        ).scalar_one()
        == 0
    )


PEOPLE_SQL = text(
    "SELECT f.external_ref, f.full_name, f.sex, f.birth_date, f.passport_number, f.permit_type, "
    "f.permit_number, f.permit_expires_on, w.external_ref, ST_AsText(f.geom), f.kecamatan_code, "
    "f.status FROM foreigner f LEFT JOIN workplace w ON w.id = f.sponsor_workplace_id ORDER BY 1"
)


def test_update_changes_only_the_columns_in_the_file(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    load_fixtures(session, settings)
    before = session.execute(PEOPLE_SQL).all()
    assert all(r[4] is not None for r in before)  # every fixture person has a passport
    path = tmp_path / "status.csv"
    path.write_text(
        "no_ref,nama,kewarganegaraan,jenis_izin,status_wna,nomor_izin\n"
        "UJI-F-1,Contoh Satu (Sintetis),Malaysia,PLB,keluar,PLB-UJI-1\n"
        "UJI-F-2,Contoh Dua (Sintetis),Tiongkok,ITAS,aktif,\n"  # a blank cell clears
        "UJI-F-9,Contoh Sembilan (Sintetis),Malaysia,PLB,,\n"
    )
    report = import_file(session=session, layer="foreigners", path=path, area=settings.area)
    assert (report.inserted, report.updated, report.unchanged) == (1, 2, 0)
    assert any(n.startswith("stored values kept (not in the file): sex, ") for n in report.notes)
    after = {r[0]: r for r in session.execute(PEOPLE_SQL).all()}
    for old in before:
        new = after[old[0]]
        # Passport, birth date, sex, expiry, sponsor, home point and its derived columns stay.
        assert new[:6] == old[:6] and new[7:11] == old[7:11]
    assert after["UJI-F-1"][11] == "departed" and after["UJI-F-1"][6] == "PLB-UJI-1"
    assert after["UJI-F-2"][11] == "active" and after["UJI-F-2"][6] is None
    assert after["UJI-F-4"] == next(r for r in before if r[0] == "UJI-F-4")
    # A new row gets the defaults and nothing else.
    assert after["UJI-F-9"][2:12] == (None, None, None, "PLB", *(None,) * 5, "active")
    again = import_file(session=session, layer="foreigners", path=path, area=settings.area)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)


def test_a_file_of_keys_alone_changes_nothing(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    load_fixtures(session, settings)
    before = session.execute(text("SELECT * FROM workplace ORDER BY id")).all()
    path = tmp_path / "keys.csv"
    path.write_text("ref,nama,sektor\nUJI-W-1,PT Ganti Nama,perkebunan\n")
    with pytest.raises(ImportRejectedError):  # location columns are required for workplaces
        import_file(session=session, layer="workplaces", path=path, area=settings.area)
    path.write_text("ref\nUJI-W-1\n")
    with pytest.raises(ImportRejectedError) as caught:
        import_file(session=session, layer="foreigners", path=path, area=settings.area)
    assert caught.value.details["total_problems"] == 3  # full_name, nationality, permit_type
    assert session.execute(text("SELECT * FROM workplace ORDER BY id")).all() == before


@pytest.mark.parametrize(
    ("header", "suggestion"),
    [
        pytest.param("nomor_pasport", "did you mean nomor_paspor (passport_number)?", id="alias"),
        pytest.param("Pasport Number", "did you mean passport_number?", id="typo-name"),
        pytest.param("warna_favorit", "known columns: external_ref, full_name", id="no-match"),
    ],
)
def test_unknown_header_is_an_error_naming_it_with_the_nearest_known_one(
    session: Session, settings: Settings, tmp_path: Path, header: str, suggestion: str
) -> None:
    load_fixtures(session, settings)
    before = session.execute(PEOPLE_SQL).all()
    path = tmp_path / "typo.csv"
    path.write_text(
        f"no_ref,nama,kewarganegaraan,jenis_izin,{header}\n"
        "UJI-F-1,Contoh Satu (Sintetis),Malaysia,PLB,XUJI9999\n"
    )
    with pytest.raises(ImportRejectedError) as caught:
        import_file(session=session, layer="foreigners", path=path, area=settings.area)
    (problem,) = caught.value.details["problems"]
    assert (problem["row"], problem["field"], problem["value"]) == (1, header, header)
    assert problem["reason"].startswith("unknown column; " + suggestion)
    assert header in str(caught.value)
    assert session.execute(PEOPLE_SQL).all() == before


def test_export_columns_import_back_and_blank_headers_of_empty_columns_pass(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    load_fixtures(session, settings)
    path = tmp_path / "exported.csv"
    path.write_text(
        "id,external_ref,name,sector,lon,lat,kecamatan_code,desa_name,distance_to_border_m,\n"
        "7,UJI-W-1,PT Contoh,plantation,109.3925,1.5963,61.01.01,Galing,1.5,\n"
    )
    report = import_file(session=session, layer="workplaces", path=path, area=settings.area)
    assert report.updated == 1
    assert any("id, kecamatan_code, desa_name, distance_to_border_m" in n for n in report.notes)
    path.write_text("ref,nama,sektor,bujur,lintang,\nUJI-W-1,PT Contoh,sawit,109.39,1.59,oops\n")
    with pytest.raises(ImportRejectedError, match="has no header"):
        import_file(session=session, layer="workplaces", path=path, area=settings.area)


@pytest.mark.parametrize(
    ("header", "rows", "expected"),
    [
        pytest.param(
            "ref,tanggal,sumber,bujur",
            "S-{k},2025-03-05 10:00,patrol,109.65",
            (1, "lon/lat", "the lat column is missing"),
            id="lat",
        ),
        pytest.param(
            "ref,sumber,bujur,lintang",
            "S-{k},patrol,109.65,1.61",
            (1, "observed_at", "required column is missing (accepted headers: observed_at, "),
            id="observed_at",
        ),
        pytest.param(
            "ref,tanggal,sumber",
            "S-{k},2025-03-05 10:00,patrol",
            (1, "lon/lat", "a location is required"),
            id="location",
        ),
    ],
)
def test_a_missing_required_column_is_one_problem(
    session: Session, settings: Settings, tmp_path: Path, header: str, rows: str, expected: Any
) -> None:
    path = tmp_path / "missing.csv"
    path.write_text(header + "\n" + "\n".join(rows.format(k=k) for k in range(50)) + "\n")
    with pytest.raises(ImportRejectedError) as caught:
        import_file(session=session, layer="sightings", path=path, area=settings.area)
    assert caught.value.details["total_problems"] == 1
    (problem,) = caught.value.details["problems"]
    assert (problem["row"], problem["field"]) == expected[:2]
    assert problem["reason"].startswith(expected[2])


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("31/02/2025", "no such date", id="dmy-feb-31"),
        pytest.param("2025-02-29", "no such date", id="iso-not-leap"),
        pytest.param("2025-13-01", "no such date", id="iso-month-13"),
        pytest.param("31/04/2025 10:00", "no such date", id="dmy-with-time"),
        pytest.param("kemarin", "not a date/time", id="words"),
        pytest.param("2024-02-29", None, id="leap-day"),
    ],
)
def test_an_impossible_date_is_reported_as_no_such_date(
    session: Session, settings: Settings, tmp_path: Path, value: str, reason: str | None
) -> None:
    path = tmp_path / "dates.csv"
    path.write_text(f"ref,tanggal,sumber,bujur,lintang\nD-1,{value},patrol,109.65,1.61\n")
    if reason is None:
        report = import_file(session=session, layer="sightings", path=path, area=settings.area)
        assert report.inserted == 1
        return
    with pytest.raises(ImportRejectedError) as caught:
        import_file(session=session, layer="sightings", path=path, area=settings.area)
    (problem,) = caught.value.details["problems"]
    assert (problem["field"], problem["value"]) == ("observed_at", value)
    assert problem["reason"].startswith(reason)


def test_reimport_is_idempotent_and_changed_rows_update(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    load_fixtures(session, settings)
    again = import_file(
        session=session, layer="sightings", path=DATA / "sightings_id.csv", area=settings.area
    )
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    changed = (DATA / "sightings_id.csv").read_text().replace("Tim Contoh 1", "Tim Contoh 9")
    changed += "UJI-S-5,2025-03-08 09:00,,patrol,,,109.31,1.36\n"
    path = tmp_path / "changed.csv"
    path.write_text(changed)
    report = import_file(session=session, layer="sightings", path=path, area=settings.area)
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 3)
    assert (
        session.execute(
            text("SELECT reported_by FROM sighting WHERE external_ref = 'UJI-S-1'")
        ).scalar_one()
        == "Tim Contoh 9"
    )
    assert session.execute(text("SELECT count(*) FROM sighting")).scalar_one() == 5


def test_dry_run_validates_and_writes_nothing(session: Session, settings: Settings) -> None:
    report = import_file(
        session=session,
        layer="workplaces",
        path=DATA / "workplaces_id.csv",
        area=settings.area,
        dry_run=True,
    )
    assert report.dry_run and report.inserted == 3
    assert session.execute(text("SELECT count(*) FROM workplace")).scalar_one() == 0
    assert session.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 0


def test_vectorised_location_matches_timpora_locate(session: Session) -> None:
    rng = np.random.default_rng(3)
    lon = np.concatenate([rng.uniform(108.9, 109.9, 400), [109.6773, 109.52, 108.95]])
    lat = np.concatenate([rng.uniform(0.9, 2.1, 400), [1.611, 1.99, 1.17]])
    ours = location_index(session).locate(lon, lat)
    sql = session.execute(
        text(
            "SELECT (timpora_locate(ST_SetSRID(ST_MakePoint(x, y), 4326))).* "
            "FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY "
            "AS u(x, y, i) ORDER BY i"
        ),
        {"xs": lon.tolist(), "ys": lat.tolist()},
    ).all()
    theirs = pd.DataFrame(sql, columns=list(ours.columns))
    for col in ("kecamatan_code", "kecamatan_name", "desa_code", "desa_name", "border_side"):
        mine = [None if pd.isna(v) else v for v in ours[col]]
        sql_values = [None if pd.isna(v) else v for v in theirs[col]]
        assert mine == sql_values, col
    assert np.allclose(
        ours["distance_to_border_m"].to_numpy(dtype=float),
        theirs["distance_to_border_m"].to_numpy(dtype=float),
        atol=0.01,
    )
    assert ours["border_side"].eq("MY").any() and ours["desa_code"].isna().any()


def test_100k_row_csv_goes_through_the_fast_path(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    n = 100_000
    rng = np.random.default_rng(11)
    kab = location_index(session).kabupaten
    lon = rng.uniform(109.2, 109.6, 3 * n)
    lat = rng.uniform(1.2, 1.6, 3 * n)
    import shapely

    inside = shapely.contains_xy(kab, lon, lat)
    lon, lat = lon[inside][:n], lat[inside][:n]
    stamps = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 300, n), "s")
    frame = pd.DataFrame(
        {
            "external_ref": [f"FAST-{i}" for i in range(n)],
            "observed_at": stamps.strftime("%Y-%m-%d %H:%M:%S"),
            "source": "patrol",
            "lon": lon.round(6),
            "lat": lat.round(6),
        }
    )
    path = tmp_path / "sightings.csv"
    frame.to_csv(path, index=False)
    started = time.perf_counter()
    report = import_file(session=session, layer="sightings", path=path, area=settings.area)
    elapsed = time.perf_counter() - started
    print(f"\n100k-row CSV import: {elapsed:.1f} s ({n / elapsed:,.0f} rows/s)")
    assert report.inserted == n
    stats = session.execute(
        text("SELECT count(*), count(kecamatan_code), count(distance_to_border_m) FROM sighting")
    ).one()
    # A handful fall in the slivers between desa polygons that the regency outline fills.
    assert stats[0] == n and stats[2] == n and stats[1] >= n - 20
    sample = (
        session.execute(
            text(
                "SELECT s.kecamatan_code = l.kecamatan_code AND s.desa_code = l.desa_code "
                "AND abs(s.distance_to_border_m - l.distance_to_border_m) < 0.01 "
                "FROM (SELECT * FROM sighting ORDER BY external_ref LIMIT 200) s, "
                "LATERAL timpora_locate(s.geom) l"
            )
        )
        .scalars()
        .all()
    )
    assert all(sample)
    again = import_frame(
        session=session, layer="sightings", source=ImportSource(frame), area=settings.area
    )
    assert again.unchanged == n


def _mixed_sightings(session: Session, n: int, seed: int) -> pd.DataFrame:
    """Sightings over three months: fixture foreigners and anonymous, many near the border."""
    from tests.geo.alert_synth import ARUK, offset

    rng = np.random.default_rng(seed)
    kab = location_index(session).kabupaten
    import shapely

    near_lon, near_lat = offset(session, *ARUK, -1500, 0)
    lon = np.where(rng.random(3 * n) < 0.3, near_lon, rng.uniform(109.0, 109.8, 3 * n))
    lat = np.where(lon == near_lon, near_lat, rng.uniform(1.0, 2.0, 3 * n))
    lon = lon + rng.normal(0, 0.01, 3 * n)
    lat = lat + rng.normal(0, 0.01, 3 * n)
    inside = shapely.contains_xy(kab, lon, lat)
    lon, lat = lon[inside][:n], lat[inside][:n]
    stamps = pd.Timestamp("2025-04-01") + pd.to_timedelta(rng.integers(0, 86400 * 85, n), "s")
    who = rng.choice(["UJI-F-1", "UJI-F-2", "UJI-F-4", ""], n)
    return pd.DataFrame(
        {
            "external_ref": [f"MIX-{i}" for i in range(n)],
            "observed_at": stamps.strftime("%Y-%m-%d %H:%M:%S"),
            "foreigner_ref": who,
            "source": rng.choice(["patrol", "lodging"], n),
            "note": np.where(rng.random(n) < 0.1, "catatan\tdengan tab, ünïcode", ""),
            "lon": lon.round(6),
            "lat": lat.round(6),
        }
    )


def import_sightings(
    session: Session,
    settings: Settings,
    frame: pd.DataFrame,
    *,
    sharing: Sharing = WHOLE_TIMPORA,
    **load: Any,
) -> ImportReport:
    """``frame`` imported as sightings with these ``LoadOptions`` (``load``: exchange_min_rows,
    chunk_rows, load_workers ...) and ``sharing``."""
    return import_frame(
        session=session,
        layer="sightings",
        source=ImportSource(frame),
        area=settings.area,
        options=ImportOptions(sharing=sharing, load=LoadOptions(**load)),
    )


def _snapshot(session: Session) -> tuple[list[Any], list[Any], list[Any]]:
    rows = session.execute(
        text(
            "SELECT s.external_ref, observed_at, f.external_ref, source, reported_by, note, "
            "out_of_area, ST_AsEWKB(s.geom), ST_AsEWKB(s.geom_utm), s.kecamatan_code, "
            "s.kecamatan_name, s.desa_code, s.desa_name, s.distance_to_border_m, s.border_side "
            "FROM sighting s LEFT JOIN foreigner f ON f.id = s.foreigner_id ORDER BY 1"
        )
    ).all()
    alerts = session.execute(
        text(
            "SELECT a.rule_kind, s.external_ref, a.foreigner_id, a.zone_id, a.distance_m, "
            "a.event_at, a.details, a.kecamatan_code, a.desa_code, "
            "regexp_replace(a.dedup_key, 'sighting=[0-9]+', 'sighting=' || s.external_ref) "
            "FROM alert a LEFT JOIN sighting s ON s.id = a.sighting_id ORDER BY 10, 2"
        )
    ).all()
    grid = (
        session.execute(
            text("SELECT level, cx, cy, month, n FROM sighting_grid ORDER BY 1, 2, 3, 4")
        ).all()
        if session.execute(text("SELECT to_regclass('sighting_grid')")).scalar_one()
        else []
    )
    return rows, alerts, grid


@pytest.mark.parametrize(
    ("grid_in_client", "workers"),
    [(True, 2), (True, 1), (False, 2)],
    ids=["grid-counted-here-2-sessions", "grid-counted-here-1-session", "grid-trigger"],
)
def test_partition_exchange_gives_the_rows_alerts_and_grid_of_the_upsert(
    session: Session,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    grid_in_client: bool,
    workers: int,
) -> None:
    from geo.io import exchange, gridload
    from tests.geo.alert_synth import ARUK, add_zone, offset

    def options(min_rows: int) -> ImportOptions:
        # Several chunks per COPY, this many loading sessions.
        load = LoadOptions(exchange_min_rows=min_rows, chunk_rows=1_000, load_workers=workers)
        return ImportOptions(batch_alerts_min_rows=min_rows, load=load)

    monkeypatch.setattr(exchange, "PARALLEL_MIN_ROWS", 0)
    if not grid_in_client:  # as if pyproj and PostGIS disagreed: the trigger counts
        monkeypatch.setattr(gridload, "agrees_with_server", lambda *a: False)
    parallel_loads: list[int] = []
    load_parallel = exchange.load_parallel
    monkeypatch.setattr(
        exchange,
        "load_parallel",
        lambda **kw: parallel_loads.append(kw["workers"]) or load_parallel(**kw),
    )

    load_fixtures(session, settings)
    add_zone(session, *offset(session, *ARUK, -1500, 0), 800.0, kind="watch")
    session.execute(text("DELETE FROM sighting"))
    session.execute(text("DELETE FROM alert"))
    frame = _mixed_sightings(session, 6_000, seed=5)
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    big = 10**9
    slow = import_file(
        session=session,
        layer="sightings",
        path=path,
        area=settings.area,
        options=options(big),
    )
    assert slow.inserted == len(frame) and not any("exchange" in n for n in slow.notes)
    before = _snapshot(session)
    assert {a[0] for a in before[1]} >= {"sighting_near_border", "sighting_in_zone"}
    session.execute(text("DELETE FROM sighting"))
    session.execute(text("DELETE FROM alert"))
    fast = import_file(
        session=session,
        layer="sightings",
        path=path,
        area=settings.area,
        options=options(1_000),
    )
    assert fast.inserted == len(frame)
    assert any("partition exchange" in n for n in fast.notes), fast.notes
    # Two sessions only when no statement trigger has to run in the loading transaction.
    assert parallel_loads == ([2] if grid_in_client and workers == 2 else [])
    assert any("batch pass" in n for n in fast.notes), fast.notes
    after = _snapshot(session)
    assert after[0] == before[0]
    assert after[1] == before[1]
    assert after[2] == before[2]
    parts = (
        session.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'sighting'::regclass AND c.relname LIKE 'sighting_y2025m0%' "
                "ORDER BY 1"
            )
        )
        .scalars()
        .all()
    )
    assert parts == ["sighting_y2025m04", "sighting_y2025m05", "sighting_y2025m06"]
    grid_parts = (
        session.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'sighting_grid'::regclass AND c.relname LIKE '%_y2025%' "
                "ORDER BY 1"
            )
        )
        .scalars()
        .all()
    )
    months = ["y2025m04", "y2025m05", "y2025m06"]
    assert grid_parts == ([f"sighting_grid_{m}" for m in months] if grid_in_client else [])
    # The swapped-in partitions carry sighting's indexes and no loading leftovers.
    indexes = session.execute(
        text("SELECT count(*) FROM pg_indexes WHERE tablename = 'sighting_y2025m05'")
    ).scalar_one()
    assert (
        indexes
        == session.execute(
            text("SELECT count(*) FROM pg_indexes WHERE tablename = 'sighting'")
        ).scalar_one()
    )
    assert not session.execute(
        text("SELECT count(*) FROM pg_class WHERE relname LIKE 'sighting_load_%'")
    ).scalar_one()
    # Same file again: nothing changes; a changed row is updated (months now hold data).
    again = import_file(
        session=session,
        layer="sightings",
        path=path,
        area=settings.area,
        options=options(1_000),
    )
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(frame))
    assert _snapshot(session) == after
    # Later writes keep the bulk-written grid in step through the trigger.
    session.execute(text("DELETE FROM sighting WHERE external_ref LIKE 'MIX-1%'"))
    assert grid_drift(session=session, layer="sightings") == 0


@pytest.fixture(params=[1, 2], ids=["1-session", "2-sessions"])
def load_sessions(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Exchange imports with months loaded by this many sessions, however few the rows."""
    from geo.io import exchange

    monkeypatch.setattr(exchange, "PARALLEL_MIN_ROWS", 0)
    return int(request.param)


def test_partition_exchange_failure_leaves_nothing(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch, load_sessions: int
) -> None:
    from geo.io import exchange

    load_fixtures(session, settings)
    frame = _mixed_sightings(session, 3_000, seed=6)
    partitions_sql = text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'sighting'::regclass ORDER BY 1"
    )
    partitions = session.execute(partitions_sql).scalars().all()
    count = session.execute(text("SELECT count(*) FROM sighting")).scalar_one()
    swap_in = exchange.swap_in

    def swap_then_fail(**kwargs: Any) -> None:
        swap_in(**kwargs)  # the months are attached; then something goes wrong
        raise RuntimeError("disk full")

    monkeypatch.setattr(exchange, "swap_in", swap_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        import_sightings(
            session, settings, frame, exchange_min_rows=500, load_workers=load_sessions
        )
    assert session.execute(text("SELECT count(*) FROM sighting")).scalar_one() == count
    assert session.execute(partitions_sql).scalars().all() == partitions
    assert not session.execute(
        text("SELECT count(*) FROM pg_class WHERE relname LIKE 'sighting_load_%'")
    ).scalar_one()
    assert (
        not session.execute(
            text("SELECT count(*) FROM audit_log WHERE resource = 'sightings'")
        ).scalar_one()
        - 1
    )  # only the fixtures' import


def test_exchanged_rows_take_a_block_of_ids_in_file_order(
    session: Session, settings: Settings, load_sessions: int
) -> None:
    """The ids of the rows loaded by exchange are consecutive ids of ``sighting``'s sequence,
    in the file's order whatever session loaded them, and later writes draw after them."""
    load_fixtures(session, settings)
    frame = _mixed_sightings(session, 3_000, seed=8)  # three months, in random time order
    result = import_sightings(
        session, settings, frame, exchange_min_rows=500, chunk_rows=700, load_workers=load_sessions
    )
    assert any("partition exchange" in n for n in result.notes), result.notes
    # The months from April (UTC) are exchanged; the file's first WIB hours fall in March and
    # take the upsert.
    ids = dict(
        session.execute(
            text(
                "SELECT external_ref, id FROM sighting "
                "WHERE external_ref LIKE 'MIX-%' AND observed_at >= '2025-04-01T00:00:00Z'"
            )
        ).all()
    )
    in_file_order = [ids[ref] for ref in frame["external_ref"] if ref in ids]
    assert len(in_file_order) > 2_900
    assert in_file_order == list(range(in_file_order[0], in_file_order[0] + len(ids)))
    later = session.execute(
        text(
            "INSERT INTO sighting (observed_at, geom, source) VALUES "
            "('2025-05-01T00:00:00Z', ST_SetSRID(ST_MakePoint(109.3, 1.35), 4326), 'patrol') "
            "RETURNING id"
        )
    ).scalar_one()
    assert later > in_file_order[-1]


@pytest.mark.timeout(300, method="thread")  # a regression hangs in C: end the run
def test_exchange_after_partitions_made_in_the_same_transaction_loads_in_one_session(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partition made earlier in the import's transaction holds ``sighting`` ACCESS EXCLUSIVE
    until commit: loading sessions of their own would wait for it while the import waits for
    them. The import loads in its own session instead, and finishes."""
    import datetime as dt

    from geo import partitions
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
    far = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    assert partitions.ensure_range(session=session, start=far, end=far) >= 1
    frame = _mixed_sightings(session, 3_000, seed=7)
    result = import_sightings(session, settings, frame, exchange_min_rows=500, load_workers=2)
    assert result.inserted == len(frame)
    assert parallel == []


def test_border_distance_is_the_geos_distance_exactly(session: Session) -> None:
    import shapely

    from geo.io.derive import _to_utm

    index = location_index(session)
    assert index.border is not None and index.border_segments is not None
    rng = np.random.default_rng(8)
    lines = index.border.geometries
    # Random points over the regency and points within metres of the line (the hard cases).
    on_line = shapely.line_interpolate_point(
        lines[rng.integers(0, len(lines), 3000)], rng.uniform(0, 1, 3000), normalized=True
    )
    near = shapely.get_coordinates(on_line) + rng.normal(0, 20, (3000, 2))
    x, y = _to_utm().transform(rng.uniform(108.9, 109.9, 5000), rng.uniform(0.9, 2.1, 5000))
    px = np.concatenate([x, near[:, 0]])
    py = np.concatenate([y, near[:, 1]])
    ours = index.border_segments.distance(px, py, index.border)
    geos = shapely.distance(shapely.points(px, py), shapely.multilinestrings(list(lines)))
    assert np.array_equal(ours, geos)


def test_partition_exchange_aborts_the_copy_when_a_chunk_fails(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch, load_sessions: int
) -> None:
    load_fixtures(session, settings)
    frame = _mixed_sightings(session, 3_000, seed=9)
    count = session.execute(text("SELECT count(*) FROM sighting")).scalar_one()
    index = location_index(session)
    calls = {"n": 0}
    real_locate = type(index).locate

    def locate_then_fail(self: Any, lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
        calls["n"] += 1
        if calls["n"] == 3:  # the third chunk, while the COPY of the first two is running
            raise MemoryError("out of memory while deriving")
        return real_locate(self, lon, lat)

    monkeypatch.setattr(type(index), "locate", locate_then_fail)
    with pytest.raises(MemoryError):
        import_sightings(
            session,
            settings,
            frame,
            exchange_min_rows=500,
            chunk_rows=500,
            load_workers=load_sessions,
        )
    assert calls["n"] >= 3  # chunks are located ahead by threads: a few more may be made
    assert session.execute(text("SELECT count(*) FROM sighting")).scalar_one() == count
    assert not session.execute(
        text("SELECT count(*) FROM pg_class WHERE relname LIKE 'sighting_load_%'")
    ).scalar_one()


def test_grid_cells_counted_here_are_the_servers(session: Session) -> None:
    """pyproj and PostGIS put points in the same Web Mercator cells, cell edges included."""
    from geo import tiles
    from geo.io import gridload

    rng = np.random.default_rng(11)
    lon = np.round(rng.uniform(108.8, 110.0, 5_000), 6)
    lat = np.round(rng.uniform(0.8, 2.2, 5_000), 6)
    # Points on and next to level-17 cell edges (x of an edge, back to degrees).
    edges = (
        np.arange(105_500, 105_560) * tiles._FINEST_CELL_M - tiles.WEB_MERCATOR_HALF
    ) / 6378137.0
    edge_lon = np.degrees(np.concatenate([edges, np.nextafter(edges, 0), np.nextafter(edges, 1)]))
    edge_lat = np.full(len(edge_lon), 1.5)
    assert gridload.agrees_with_server(session, edge_lon, edge_lat)
    assert gridload.agrees_with_server(session, lon, lat)
    lon = np.concatenate([lon, edge_lon])
    lat = np.concatenate([lat, edge_lat])
    # And the counts: the rows the trigger would add, level by level and in all.
    months = np.array(["2025-04", "2025-05"] * (len(lon) // 2), dtype="datetime64[M]")
    rows = gridload.count(lon, lat, months)
    for level in range(12, 18):
        per_month = rows.select((rows.level == level) & (rows.month != 0))
        everything = rows.select((rows.level == level) & (rows.month == 0))
        assert per_month.n.sum() == everything.n.sum() == len(lon)

    # Written in key order (level, cx, cy, month): the same rows, sorted.
    def as_tuples(grid: gridload.GridRows) -> list[tuple[int, ...]]:
        columns = (grid.level, grid.cx, grid.cy, grid.month, grid.n)
        return list(zip(*(c.tolist() for c in columns), strict=True))

    ordered = as_tuples(rows.in_key_order())
    assert ordered == sorted(as_tuples(rows))
