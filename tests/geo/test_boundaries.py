"""Reference geography: loading, office imports, derived zones and location on every write."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Polygon
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.boundaries import boundary_status, import_boundaries, load_reference_data
from geo.errors import ImportRejectedError, OutOfAreaError, ValidationError
from geo.locate import check_in_area, locate
from geo.settings import AreaSettings, Settings
from tests.conftest import SHARED_DATA

ARUK = (109.677308, 1.610957)


def test_plbn_aruk_is_in_sebunga_128_m_from_the_border(session: Session) -> None:
    loc = locate(session=session, lon=ARUK[0], lat=ARUK[1])
    assert loc.kecamatan_name == "Sajingan Besar"
    assert loc.kecamatan_code == "61.01.09"
    assert loc.desa_name == "Sebunga"
    assert loc.border_side == "ID"
    assert loc.distance_to_border_m == pytest.approx(128, abs=5)


def test_a_point_just_across_the_border_from_aruk_is_malaysian(session: Session) -> None:
    # Walk from Aruk through the nearest border point and 500 m beyond it, in metres (UTM 49N).
    lon, lat = session.execute(
        text(
            """
            WITH a AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649) g),
                 b AS (SELECT ST_ClosestPoint(geom_utm, a.g) c FROM reference_feature, a
                       WHERE kind = 'border'),
                 p AS (SELECT ST_Translate(b.c, 500 * (ST_X(b.c) - ST_X(a.g)) / ST_Distance(a.g, b.c),
                                                500 * (ST_Y(b.c) - ST_Y(a.g)) / ST_Distance(a.g, b.c)) g
                       FROM a, b)
            SELECT ST_X(ST_Transform(g, 4326)), ST_Y(ST_Transform(g, 4326)) FROM p
            """
        ),
        {"lon": ARUK[0], "lat": ARUK[1]},
    ).one()
    loc = locate(session=session, lon=lon, lat=lat)
    assert loc.border_side == "MY"
    assert loc.kecamatan_code is None and loc.desa_code is None
    exact = session.execute(
        text(
            "SELECT ST_Distance(geom_utm, ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649)) "
            "FROM reference_feature WHERE kind = 'border'"
        ),
        {"lon": lon, "lat": lat},
    ).scalar_one()
    # Exactly the distance to the whole (unsubdivided) line; below 500 m as the border bends.
    assert loc.distance_to_border_m == pytest.approx(exact, abs=1e-6)
    assert 300 < loc.distance_to_border_m <= 500.001


def test_kecamatan_areas_sum_to_the_kabupaten_within_half_a_percent(session: Session) -> None:
    kec, kab, n = session.execute(
        text(
            """
            SELECT (SELECT sum(ST_Area(geom_utm)) FROM admin_area WHERE level = 'kecamatan'),
                   (SELECT ST_Area(geom_utm) FROM admin_area WHERE level = 'kabupaten'),
                   (SELECT count(*) FROM admin_area WHERE level = 'kecamatan')
            """
        )
    ).one()
    assert n == 19
    assert abs(kec - kab) / kab < 0.005
    assert kab / 1e6 == pytest.approx(5938.3, rel=0.001)


def test_counts_and_codes_of_the_reference_layers(session: Session) -> None:
    counts = dict(
        session.execute(text("SELECT level, count(*) FROM admin_area GROUP BY level")).all()
    )
    assert counts == {"kabupaten": 1, "kecamatan": 19, "desa": 193}
    code = session.execute(
        text("SELECT code FROM admin_area WHERE level = 'kecamatan' AND name = 'Sajingan Besar'")
    ).scalar_one()
    assert code == "61.01.09"
    kinds = dict(
        session.execute(text("SELECT kind, count(*) FROM reference_feature GROUP BY kind")).all()
    )
    assert kinds["border"] == 1 and kinds["coastline"] == 1 and kinds["land"] == 2
    assert kinds["crossing_post"] == 2  # PLBN Aruk and Temajuk
    names = set(
        session.execute(text("SELECT name FROM reference_feature WHERE kind='town'")).scalars()
    )
    assert {"Sambas", "Pemangkat", "Singkawang"} <= names


def test_loading_twice_changes_nothing(session: Session, settings: Settings) -> None:
    before = session.execute(text("SELECT max(loaded_at), count(*) FROM admin_area")).one()
    report = load_reference_data(session=session, settings=settings)
    assert not report.changed
    assert all(layer.inserted == 0 and layer.updated == 0 for layer in report.layers)
    assert all(layer.checksum == "ok" for layer in report.layers)
    after = session.execute(text("SELECT max(loaded_at), count(*) FROM admin_area")).one()
    assert before == after


def test_border_bands_and_plb_zone(session: Session) -> None:
    rows = session.execute(
        text(
            """
            SELECT z.name, z.kind, ST_Area(z.geom_utm) / 1e6,
                   ST_Area(ST_Difference(z.geom_utm, ST_Buffer(k.geom_utm, 1))) / 1e6
            FROM zone z, admin_area k WHERE k.level = 'kabupaten' AND z.derived
            ORDER BY z.name
            """
        )
    ).all()
    by_name = {r[0]: r for r in rows}
    assert {r[1] for r in rows} == {"border_band", "plb_area"}
    for name, _, area, outside in rows:
        assert area > 50, name
        assert outside < 0.01 * area, f"{name} spills out of the regency"
    # 0–2 km band: about 2 km × the ~100 km Sambas border stretch, less the coast and estuaries.
    assert 120 < by_name["Sabuk perbatasan 0–2 km"][2] < 220
    overlap = session.execute(
        text(
            """
            SELECT ST_Area(ST_Intersection(a.geom_utm, b.geom_utm)) FROM zone a, zone b
            WHERE a.name = 'Sabuk perbatasan 0–2 km' AND b.name = 'Sabuk perbatasan 2–5 km'
            """
        )
    ).scalar_one()
    assert overlap < 1_000  # m²: the bands touch, they do not overlap
    # A sighting at Aruk (128 m from the border) lies in the first band and in the PLB area.
    inside = session.execute(
        text(
            """
            SELECT array_agg(name ORDER BY name) FROM zone
            WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
            """
        ),
        {"lon": ARUK[0], "lat": ARUK[1]},
    ).scalar_one()
    assert inside == ["Sabuk perbatasan 0–2 km", "Wilayah PLB (Pas Lintas Batas)"]


@pytest.mark.parametrize(
    "table_sql",
    [
        pytest.param(
            "INSERT INTO incident (kind, severity, occurred_at, geom) VALUES "
            "('illegal_entry', 4, now(), {pt}) RETURNING id",
            id="incident",
        ),
        pytest.param(
            "INSERT INTO sighting (observed_at, source, geom) VALUES (now(), 'patrol', {pt}) "
            "RETURNING id",
            id="sighting",
        ),
        pytest.param(
            "INSERT INTO workplace (name, sector, geom) VALUES ('PT Sawit Sintetis', "
            "'plantation', {pt}) RETURNING id",
            id="workplace",
        ),
        pytest.param(
            "INSERT INTO foreigner (full_name, nationality, permit_type, geom) VALUES "
            "('Synthetic Person', 'MYS', 'PLB', {pt}) RETURNING id",
            id="foreigner",
        ),
    ],
)
def test_every_write_of_a_point_fills_the_location(session: Session, table_sql: str) -> None:
    table = table_sql.split()[2]
    pt = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
    new_id = session.execute(
        text(table_sql.format(pt=pt)), {"lon": ARUK[0], "lat": ARUK[1]}
    ).scalar_one()
    row = session.execute(
        text(
            f"SELECT kecamatan_name, desa_name, distance_to_border_m, border_side FROM {table} WHERE id = :id"
        ),
        {"id": new_id},
    ).one()
    assert row[0] == "Sajingan Besar" and row[1] == "Sebunga"
    assert row[2] == pytest.approx(128, abs=5) and row[3] == "ID"
    # Moving the point re-derives the fields in the same statement.
    session.execute(
        text(
            f"UPDATE {table} SET geom = ST_SetSRID(ST_MakePoint(109.310052, 1.361227), 4326) WHERE id = :id"
        ),
        {"id": new_id},
    )
    moved = session.execute(
        text(f"SELECT kecamatan_name, distance_to_border_m FROM {table} WHERE id = :id"),
        {"id": new_id},
    ).one()
    assert moved[0] == "Sambas"
    assert moved[1] > 20_000


def test_out_of_area_point_is_rejected_naming_coordinates_and_nearest_kecamatan(
    session: Session,
) -> None:
    area = AreaSettings(aoi_margin_m=10_000)
    assert check_in_area(session=session, lon=ARUK[0], lat=ARUK[1], area=area) is False
    with pytest.raises(OutOfAreaError) as info:
        check_in_area(session=session, lon=109.30, lat=0.60, area=area)  # ~30 km south, Bengkayang
    message = str(info.value)
    assert "lon 109.300000, lat 0.600000" in message
    assert "nearest kecamatan" in message
    assert info.value.field == "geometry"
    # A sighting may be let in (flagged) when the setting allows it.
    allowed = check_in_area(
        session=session, lon=109.30, lat=0.60, area=area, allow_out_of_area=True
    )
    assert allowed is True


def test_point_just_inside_the_margin_is_accepted(session: Session) -> None:
    # 7 km outside the regency at sea, west of Paloh: inside the 10 km margin.
    assert check_in_area(session=session, lon=109.0, lat=1.55, area=AreaSettings()) is False
    with pytest.raises(OutOfAreaError):
        check_in_area(session=session, lon=109.0, lat=1.55, area=AreaSettings(aoi_margin_m=5_000))


def test_location_queries_use_the_spatial_indexes(session: Session) -> None:
    session.execute(text("SET LOCAL enable_seqscan = off"))  # small tables: ask what it *can* use
    plans = []
    for sql in (
        "SELECT code FROM locate_piece WHERE kind = 'desa' AND "
        "ST_Intersects(geom, ST_SetSRID(ST_MakePoint(109.67, 1.61), 4326))",
        "SELECT geom_utm FROM locate_piece WHERE kind = 'border' ORDER BY geom_utm <-> "
        "ST_Transform(ST_SetSRID(ST_MakePoint(109.67, 1.61), 4326), 32649) LIMIT 1",
    ):
        plans.append("\n".join(session.execute(text("EXPLAIN " + sql)).scalars()))
    assert "ix_locate_piece_desa" in plans[0]
    assert "ix_locate_piece_border_utm" in plans[1]
    pieces = dict(
        session.execute(
            text("SELECT kind, max(ST_NPoints(geom)) FROM locate_piece GROUP BY kind")
        ).all()
    )
    assert pieces["border"] <= 32 and pieces["desa"] <= 64


# --- an office's own files --------------------------------------------------------------------


def _desa_frame(codes: list[str]) -> gpd.GeoDataFrame:
    frame = gpd.read_file(SHARED_DATA / "sambas-admin" / "desa_sambas.geojson")
    frame = frame[frame["kode"].isin(codes)].copy()
    return gpd.GeoDataFrame(
        {
            "KDEPUM": frame["kode"].to_list(),
            "WADMKD": [f"{n} (resmi)" for n in frame["nama"]],
        },
        geometry=frame.geometry.to_list(),
        crs=4326,
    )


def _write_zipped_shapefile(frame: gpd.GeoDataFrame, folder: Path, name: str) -> Path:
    shp_dir = folder / name
    shp_dir.mkdir()
    frame.to_file(shp_dir / f"{name}.shp", engine="pyogrio")
    archive = folder / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp_dir.iterdir():
            zf.write(part, part.name)
    return archive


def test_shapefile_in_utm_imports_to_the_right_place(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    sajingan = (
        session.execute(
            text("SELECT code FROM admin_area WHERE level = 'desa' AND parent_code = '61.01.09'")
        )
        .scalars()
        .all()
    )
    frame = _desa_frame(list(sajingan)).to_crs(32649)
    assert frame.crs.to_epsg() == 32649
    archive = _write_zipped_shapefile(frame, tmp_path, "desa_sajingan_utm")
    # A sighting written before the import is re-located by it.
    sid = session.execute(
        text(
            "INSERT INTO sighting (observed_at, source, geom) VALUES (:t, 'patrol', "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"
        ),
        {"t": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "lon": ARUK[0], "lat": ARUK[1]},
    ).scalar_one()

    layer = import_boundaries(session=session, settings=settings, path=archive, level="desa")

    assert layer.features == len(sajingan) == 5
    assert any("removed 188" in n for n in layer.notes)
    loc = locate(session=session, lon=ARUK[0], lat=ARUK[1])
    assert loc.desa_name == "Sebunga (resmi)" and loc.kecamatan_name == "Sajingan Besar"
    assert (
        session.execute(
            text("SELECT desa_name FROM sighting WHERE id = :id"), {"id": sid}
        ).scalar_one()
        == "Sebunga (resmi)"
    )
    area = session.execute(
        text("SELECT sum(area_km2) FROM admin_area WHERE level = 'desa'")
    ).scalar_one()
    expected = session.execute(
        text("SELECT area_km2 FROM admin_area WHERE code = '61.01.09'")
    ).scalar_one()
    assert area == pytest.approx(expected, rel=0.002)  # reprojected back without distortion


def test_invalid_file_is_rejected_whole_with_a_report(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    good = _desa_frame(["61.01.09.2002", "61.01.09.2001"])
    flat = Polygon([(109.5, 1.5), (109.6, 1.5), (109.7, 1.5), (109.5, 1.5)])  # no area at all
    bad = gpd.GeoDataFrame(
        {
            "KDEPUM": ["61.01.09.2002", "61.01.09.2001", "61.01.09.2001", "61.01.09.9999"],
            "WADMKD": ["Sebunga", None, "Dup", "Flat"],
        },
        geometry=[good.geometry.iloc[0], good.geometry.iloc[1], good.geometry.iloc[1], flat],
        crs=4326,
    )
    path = tmp_path / "desa_bad.gpkg"
    bad.to_file(path, engine="pyogrio")
    before = session.execute(text("SELECT count(*), max(loaded_at) FROM admin_area")).one()

    with pytest.raises(ImportRejectedError) as info:
        import_boundaries(session=session, settings=settings, path=path, level="desa")

    report = info.value.details
    assert {(p["feature"], p["field"]) for p in report} == {
        (2, "WADMKD"),
        (3, "KDEPUM"),
        (4, "geometry"),
    }
    assert any("duplicate code" in p["reason"] for p in report)
    assert any("LineString" in p["reason"] or "empty" in p["reason"] for p in report)
    after = session.execute(text("SELECT count(*), max(loaded_at) FROM admin_area")).one()
    assert before == after


def test_self_intersecting_polygon_is_repaired_and_reported(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    bowtie = Polygon(
        [(109.50, 1.50), (109.60, 1.60), (109.60, 1.50), (109.50, 1.60), (109.50, 1.50)]
    )
    frame = gpd.GeoDataFrame(
        {"kode": ["61.01"], "nama": ["Kabupaten Uji"]}, geometry=[bowtie], crs=4326
    )
    path = tmp_path / "kab.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    layer = import_boundaries(
        session=session, settings=settings, path=path, level="kabupaten", dry_run=True
    )
    assert layer.features == 1
    assert any("make_valid" in n and "Self-intersection" in n for n in layer.notes)


def test_import_refuses_unknown_level_and_field(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "k.geojson"
    _desa_frame(["61.01.09.2002"]).to_file(path, driver="GeoJSON", engine="pyogrio")
    with pytest.raises(ValidationError) as info:
        import_boundaries(session=session, settings=settings, path=path, level="provinsi")
    assert info.value.value == "provinsi"
    with pytest.raises(ValidationError) as info:
        import_boundaries(
            session=session, settings=settings, path=path, level="desa", name_field="NAMA_DESA"
        )
    assert "NAMA_DESA" in str(info.value) and "WADMKD" in str(info.value)


def test_status_lists_layers_with_licences(session: Session) -> None:
    rows = {(r["target"], r["layer"]): r for r in boundary_status(session=session)}
    assert rows[("admin_area", "desa")]["features"] == 193
    assert rows[("admin_area", "desa")]["licence"] == "MIT"
    assert rows[("reference_feature", "border")]["licence"] == "ODbL-1.0"
    assert rows[("zone", "border_band")]["features"] == 3
