"""Per-office shards on postgres_fdw.

A second PostGIS cluster on 127.0.0.1 holds two office shards (``north`` and ``south``), each a
full Timpora database (migrations + reference geography). The test database is the coordinator
and holds the third office (``west``) itself. The same deterministic synthetic data is loaded
once whole into one node (the test database, rolled back) and once split by office; then:

- ``ST_DWithin`` on ``geom_utm`` reaches the shards in their remote SQL (and does not without
  ``extensions 'postgis'``: the control);
- Gi* hotspots over the national views equal the single node's (cells, counts, z);
- alerts: every office evaluates its own on its node; their union plus the coordinator's
  cross-office pass equals the single node's alert set, and without that pass exactly the
  cross-office alerts are missing (the boundary, made visible).

Routing, as a deployment would do it: a workplace, an incident and an anonymous sighting go to
the office whose area holds them; a foreigner to the office of their residence, with all their
sightings wherever they are seen (so the rules about one foreigner stay on one node) and a
sponsor from that office.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg2
import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from geo.alerts import run_batch
from geo.boundaries import load_reference_data
from geo.cluster import SUPERUSER, EmbeddedCluster, free_port_from
from geo.errors import ConflictError
from geo.hotspots import analyse, hotspot_cells
from geo.migrate import upgrade
from geo.models import INCIDENT_KINDS, SECTORS, SIGHTING_SOURCES
from geo.settings import Settings
from geo.sharding import (
    ShardError,
    assign_id_block,
    attach_shard,
    detach_shard,
    list_shards,
    national_scope,
    run_national_pass,
    sightings_near,
    sightings_near_remote_sql,
)
from tests.geo.alert_synth import point_at_border_distance

WIB = dt.timezone(dt.timedelta(hours=7))
T0 = dt.datetime(2025, 3, 3, 0, 0, tzinfo=WIB)
DAYS = 56
TODAY = (T0 + dt.timedelta(days=30)).date()  # for permit_expiring
SHARDS = ("north", "south")
OFFICE_NO = {"north": 2, "south": 3}
WATCH_ZONE = "Zona Pantau Uji Sharding"

# --- deterministic synthetic data ------------------------------------------------------------


@dataclass
class Data:
    x_split: float
    y_split: float
    workplaces: list[dict[str, Any]] = field(default_factory=list)
    foreigners: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    sightings: list[dict[str, Any]] = field(default_factory=list)
    zone_centre: tuple[float, float] = (0.0, 0.0)
    split_point: tuple[float, float] = (0.0, 0.0)  # on the west/east line
    planted_cross_incidents: list[int] = field(default_factory=list)

    def office(self, x: float, y: float) -> str:
        if x < self.x_split:
            return "west"
        return "north" if y >= self.y_split else "south"


def _utm(session: Session | Connection, lon: float, lat: float) -> tuple[float, float]:
    row = session.execute(
        text(
            "SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(ST_SetSRID("
            "ST_MakePoint(:lon, :lat), 4326), 32649) AS g) q"
        ),
        {"lon": lon, "lat": lat},
    ).one()
    return float(row[0]), float(row[1])


def make_data(session: Session, seed: int = 20_251) -> Data:
    """Records around the desa anchor points of the loaded reference geography, split into three
    synthetic offices by a north-south line (west) and an east-west line (north/south)."""
    rng = np.random.default_rng(seed)
    anchors = np.array(
        session.execute(
            text(
                "SELECT ST_X(ST_PointOnSurface(geom_utm)), ST_Y(ST_PointOnSurface(geom_utm)) "
                "FROM admin_area WHERE level = 'desa' ORDER BY code"
            )
        ).all(),
        dtype=float,
    )
    data = Data(x_split=float(np.median(anchors[:, 0])), y_split=0.0)
    east = anchors[anchors[:, 0] >= data.x_split]
    data.y_split = float(np.median(east[:, 1]))

    def near(k: int, sigma: float) -> tuple[float, float]:
        ax, ay = anchors[k]
        return float(ax + rng.normal(0, sigma)), float(ay + rng.normal(0, sigma))

    def when(day_from: float = 0, days: float = DAYS) -> dt.datetime:
        return T0 + dt.timedelta(seconds=float(rng.uniform(day_from, day_from + days) * 86400))

    # Workplaces.
    for wid in range(1, 41):
        x, y = near(int(rng.integers(len(anchors))), 300)
        sector = SECTORS[int(rng.integers(len(SECTORS)))]
        data.workplaces.append({"id": wid, "x": x, "y": y, "sector": sector})
    # Two anchors on the west/east line, far apart: a planted cross-office pair and cluster.
    by_split = np.argsort(np.abs(anchors[:, 0] - data.x_split))
    a1 = anchors[by_split[0]]
    a2 = next(anchors[k] for k in by_split[1:] if abs(anchors[k][1] - a1[1]) > 8000)
    data.split_point = (data.x_split, float(a1[1]))
    data.workplaces.append(
        {"id": 41, "x": data.x_split - 160.0, "y": float(a1[1]), "sector": "plantation"}
    )
    # Incidents: background, two clusters inside an office each, one across the line.
    iid = 0

    def incident(x: float, y: float, at: dt.datetime) -> int:
        nonlocal iid
        iid += 1
        data.incidents.append(
            {
                "id": iid,
                "x": x,
                "y": y,
                "at": at,
                "kind": INCIDENT_KINDS[int(rng.integers(len(INCIDENT_KINDS)))],
                "severity": int(rng.integers(1, 6)),
            }
        )
        return iid

    for _ in range(160):
        incident(*near(int(rng.integers(len(anchors))), 1500), when())
    for k in (int(np.argmin(anchors[:, 0])), int(np.argmax(anchors[:, 0]))):
        for n in range(3):
            incident(*near(k, 150), T0 + dt.timedelta(days=10 + n))
    data.planted_cross_incidents.append(
        incident(data.x_split + 140.0, float(a1[1]), T0 + dt.timedelta(days=5))
    )
    for n, dx in enumerate((-260.0, -90.0, 210.0)):
        data.planted_cross_incidents.append(
            incident(data.x_split + dx, float(a2[1]) + 40 * n, T0 + dt.timedelta(days=20 + n))
        )
    # Foreigners, homed in an office; sponsors from their own office.
    wp_office = {w["id"]: data.office(w["x"], w["y"]) for w in data.workplaces}
    zone_anchor = int(rng.integers(len(anchors)))
    data.zone_centre = (float(anchors[zone_anchor][0]), float(anchors[zone_anchor][1]))
    for fid in range(1, 71):
        k = zone_anchor if fid <= 8 else int(rng.integers(len(anchors)))
        x, y = near(k, 500)
        office = data.office(x, y)
        permit = str(rng.choice(["KITAS", "KITAS", "KITAP", "VOA", "PLB", "VISA_KUNJUNGAN"]))
        sponsors = [w for w, o in wp_office.items() if o == office]
        sponsor = int(rng.choice(sponsors)) if permit == "KITAS" and sponsors else None
        expires = T0.date() + dt.timedelta(days=int(rng.integers(-10, 400)))
        if permit in ("VOA", "VISA_KUNJUNGAN"):
            expires = T0.date() + dt.timedelta(days=int(rng.integers(5, 45)))
        data.foreigners.append(
            {"id": fid, "x": x, "y": y, "permit": permit, "expires": expires, "sponsor": sponsor}
        )
    # Sightings: mostly of a foreigner near home, some far away, some anonymous.
    sid = 0

    def sighting(x: float, y: float, at: dt.datetime, fid: int | None) -> None:
        nonlocal sid
        sid += 1
        source = SIGHTING_SOURCES[int(rng.integers(len(SIGHTING_SOURCES)))]
        data.sightings.append({"id": sid, "x": x, "y": y, "at": at, "f": fid, "source": source})

    for _ in range(1400):
        if rng.random() < 0.8:
            f = data.foreigners[int(rng.integers(len(data.foreigners)))]
            if rng.random() < 0.1:
                x, y = near(int(rng.integers(len(anchors))), 1000)
            else:
                x, y = f["x"] + rng.normal(0, 2500), f["y"] + rng.normal(0, 2500)
            sighting(float(x), float(y), when(), f["id"])
        else:
            sighting(*near(int(rng.integers(len(anchors))), 2000), when(), None)
    # Near the border: in, out through the hysteresis band, and back (state-based rule).
    for metres in (600.0, 1500.0, 2150.0, 4000.0, 900.0, 300.0):
        bx, by = _utm(session, *point_at_border_distance(session, metres))
        for fid in (3, 11, 23, None):
            sighting(bx + rng.normal(0, 30), by + rng.normal(0, 30), when(0, 20), fid)
    return data


# --- loading ---------------------------------------------------------------------------------

POINT = "ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 32649), 4326)"


def _cols(rows: list[dict[str, Any]], *keys: str) -> dict[str, list[Any]]:
    return {k: [r[k] for r in rows] for k in keys}


def load(session: Session, data: Data, office: str | None) -> dict[str, int]:
    """Insert ``office``'s records (all of them when None) with their global ids."""
    fo = {f["id"]: data.office(f["x"], f["y"]) for f in data.foreigners}

    def mine(x: float, y: float) -> bool:
        return office is None or data.office(x, y) == office

    wps = [w for w in data.workplaces if mine(w["x"], w["y"])]
    fs = [f for f in data.foreigners if mine(f["x"], f["y"])]
    incs = [i for i in data.incidents if mine(i["x"], i["y"])]
    sights = [
        s
        for s in data.sightings
        if office is None or (fo[s["f"]] if s["f"] else data.office(s["x"], s["y"])) == office
    ]
    session.execute(
        text(
            f"""
            INSERT INTO workplace (id, name, sector, external_ref, geom)
            OVERRIDING SYSTEM VALUE
            SELECT id, 'PT Uji ' || id, sector, 'wp-' || id, {POINT}
            FROM unnest(CAST(:id AS int[]), CAST(:sector AS text[]), CAST(:x AS float8[]),
                        CAST(:y AS float8[])) AS t(id, sector, x, y)
            """
        ),
        _cols(wps, "id", "sector", "x", "y"),
    )
    session.execute(
        text(
            f"""
            INSERT INTO foreigner (id, full_name, nationality, permit_type, permit_expires_on,
                                   sponsor_workplace_id, external_ref, geom)
            OVERRIDING SYSTEM VALUE
            SELECT id, 'Orang Uji ' || id, 'MYS', permit, expires, sponsor, 'f-' || id, {POINT}
            FROM unnest(CAST(:id AS int[]), CAST(:permit AS text[]), CAST(:expires AS date[]),
                        CAST(:sponsor AS int[]), CAST(:x AS float8[]), CAST(:y AS float8[]))
                 AS t(id, permit, expires, sponsor, x, y)
            """
        ),
        _cols(fs, "id", "permit", "expires", "sponsor", "x", "y"),
    )
    session.execute(
        text(
            f"""
            INSERT INTO incident (id, kind, severity, occurred_at, external_ref, geom)
            OVERRIDING SYSTEM VALUE
            SELECT id, kind, severity, at, 'i-' || id, {POINT}
            FROM unnest(CAST(:id AS int[]), CAST(:kind AS text[]), CAST(:severity AS int[]),
                        CAST(:at AS timestamptz[]), CAST(:x AS float8[]), CAST(:y AS float8[]))
                 AS t(id, kind, severity, at, x, y)
            """
        ),
        _cols(incs, "id", "kind", "severity", "at", "x", "y"),
    )
    session.execute(
        text(
            f"""
            INSERT INTO sighting (id, observed_at, foreigner_id, source, external_ref, geom)
            OVERRIDING SYSTEM VALUE
            SELECT id, at, f, source, 's-' || id, {POINT}
            FROM unnest(CAST(:id AS bigint[]), CAST(:at AS timestamptz[]), CAST(:f AS int[]),
                        CAST(:source AS text[]), CAST(:x AS float8[]), CAST(:y AS float8[]))
                 AS t(id, at, f, source, x, y)
            """
        ),
        _cols(sights, "id", "at", "f", "source", "x", "y"),
    )
    zx, zy = data.zone_centre
    session.execute(
        text(
            "INSERT INTO zone (name, kind, geom) SELECT :name, 'watch', ST_Multi(ST_Transform("
            "ST_Expand(ST_SetSRID(ST_MakePoint(:x, :y), 32649), 2500), 4326))"
        ),
        {"name": WATCH_ZONE, "x": zx, "y": zy},
    )
    return {
        "workplace": len(wps),
        "foreigner": len(fs),
        "incident": len(incs),
        "sighting": len(sights),
    }


ALERT_KEY_SQL = """
SELECT a.rule_kind, a.incident_id, a.sighting_id, a.foreigner_id, a.workplace_id, z.name,
       round(CAST(a.distance_m AS numeric), 1), a.event_at, a.subjects -> 'incident_ids'
FROM {table} a LEFT JOIN zone z ON z.id = a.zone_id
WHERE a.id > :after
"""

AlertKey = tuple[Any, ...]


def alert_keys(session: Session, table: str = "alert", after: int = 0) -> set[AlertKey]:
    rows = session.execute(text(ALERT_KEY_SQL.format(table=table)), {"after": after})
    return {tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in rows}


def max_alert_id(session: Session) -> int:
    return int(session.execute(text("SELECT coalesce(max(id), 0) FROM alert")).scalar_one())


@dataclass
class HotspotFigures:
    i: np.ndarray
    j: np.ndarray
    counts: np.ndarray
    weights: np.ndarray
    z: np.ndarray


def hotspot_figures(session: Session, layer: str) -> HotspotFigures:
    counts = hotspot_cells(
        session=session,
        layer=layer,
        cell_m=2000.0,
        start=T0,
        end=T0 + dt.timedelta(days=DAYS),
    )
    result = analyse(counts)
    cells = result.cells
    return HotspotFigures(
        i=counts.i,
        j=counts.j,
        counts=counts.counts,
        weights=counts.weights,
        z=cells["gi_z"].to_numpy(dtype=float),
    )


# --- fixtures --------------------------------------------------------------------------------


@dataclass
class ShardNode:
    name: str
    dbname: str
    engine: Engine
    loaded: dict[str, int]
    alerts: set[AlertKey]


@dataclass
class Remote:
    cluster: EmbeddedCluster
    shards: dict[str, ShardNode]

    def attach(self, session: Session, name: str, **options: Any) -> None:
        node = self.shards[name]
        attach_shard(
            session=session,
            name=options.pop("as_name", name),
            host="127.0.0.1",
            port=self.cluster.port,
            dbname=node.dbname,
            user=SUPERUSER,
            password=self.cluster.password,
            **options,
        )


@pytest.fixture(scope="module")
def data(engine: Engine) -> Data:
    with Session(engine) as session:
        return make_data(session)


@pytest.fixture(scope="module")
def single_node(engine: Engine, data: Data) -> dict[str, Any]:
    """The whole data set on one node (the test database): figures taken, then rolled back
    (before the coordinator loads the same ids)."""
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            session = Session(bind=conn, join_transaction_mode="create_savepoint")
            loaded = load(session, data, None)
            after = max_alert_id(session)
            run_batch(session=session, today=TODAY)
            return {
                "loaded": loaded,
                "alerts": alert_keys(session, after=after),
                "incidents": hotspot_figures(session, "incidents"),
                "sightings": hotspot_figures(session, "sightings"),
            }
        finally:
            outer.rollback()


@pytest.fixture(scope="module")
def remote(settings: Settings, data: Data) -> Iterator[Remote]:
    """A second PostGIS cluster with one Timpora database per office shard, loaded and with
    each office's alerts evaluated where its data lives."""
    base = Path(tempfile.mkdtemp(prefix="timpora-shards-"))
    base.chmod(0o755)  # the postgres user must traverse it when tests run as root
    cluster = EmbeddedCluster(base, preferred_port=free_port_from(56_432), ephemeral=True)
    cluster.init()
    cluster.start()
    shards: dict[str, ShardNode] = {}
    try:
        admin = psycopg2.connect(
            host="127.0.0.1",
            port=cluster.port,
            user=SUPERUSER,
            password=cluster.password,
            dbname="postgres",
        )
        admin.autocommit = True
        with admin.cursor() as cur:
            for name in SHARDS:
                cur.execute(f'CREATE DATABASE "office_{name}"')
        admin.close()
        for name in SHARDS:
            dbname = f"office_{name}"
            eng = create_engine(cluster.url(dbname))
            upgrade(eng)
            with Session(eng) as session:
                load_reference_data(session=session, settings=settings)
                assign_id_block(session=session, office_no=OFFICE_NO[name])
                loaded = load(session, data, name)
                run_batch(session=session, today=TODAY)
                keys = alert_keys(session)
                session.commit()
            shards[name] = ShardNode(name, dbname, eng, loaded, keys)
        yield Remote(cluster, shards)
    finally:
        for node in shards.values():
            node.engine.dispose()
        cluster.destroy()


@pytest.fixture
def coordinator(session: Session, data: Data, remote: Remote) -> Session:
    """The test database as coordinator: office ``west`` loaded locally, both shards attached."""
    load(session, data, "west")
    for name in SHARDS:
        remote.attach(session, name)
    return session


# --- tests -----------------------------------------------------------------------------------


def test_each_office_holds_its_own_records(
    remote: Remote, single_node: dict[str, Any], coordinator: Session
) -> None:
    local = {
        t: int(coordinator.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
        for t in ("workplace", "foreigner", "incident", "sighting")
    }
    with national_scope(coordinator):
        national = {
            t: dict(
                coordinator.execute(text(f"SELECT office, count(*) FROM {t} GROUP BY office"))
                .tuples()
                .all()
            )
            for t in local
        }
    for table, total in single_node["loaded"].items():
        per_office = national[table]
        assert set(per_office) <= {"local", *SHARDS}
        assert all(remote.shards[s].loaded[table] == per_office.get(s, 0) for s in SHARDS)
        assert sum(per_office.values()) == total, table
        assert min(remote.shards[s].loaded[table] for s in SHARDS) > 0, table
    shards = {s.name: s for s in list_shards(session=coordinator)}
    assert set(shards) == set(SHARDS)
    for shard in shards.values():
        assert shard.reachable and shard.revision_matches and shard.reference_matches
        assert shard.extensions == ("postgis",) and shard.use_remote_estimate
        assert shard.user == SUPERUSER
        assert remote.cluster.password not in repr(shard)


def test_st_dwithin_is_pushed_down_to_every_shard(
    remote: Remote, data: Data, coordinator: Session
) -> None:
    px, py = data.split_point
    lon, lat = coordinator.execute(
        text(
            "SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(ST_SetSRID("
            "ST_MakePoint(:x, :y), 32649), 4326) AS g) q"
        ),
        {"x": px, "y": py},
    ).one()
    radius_m = 8000.0
    window = {"start": T0, "end": T0 + dt.timedelta(days=DAYS)}
    remote_sql = sightings_near_remote_sql(
        session=coordinator, lon=lon, lat=lat, radius_m=radius_m, **window
    )
    assert len(remote_sql) == len(SHARDS)
    for sql in remote_sql:
        assert "st_dwithin(geom_utm" in sql.lower(), sql
        assert "observed_at >=" in sql.lower(), sql
    near = sightings_near(session=coordinator, lon=lon, lat=lat, radius_m=radius_m, **window)
    assert all(n.distance_m <= radius_m for n in near)
    fo = {f["id"]: data.office(f["x"], f["y"]) for f in data.foreigners}

    def within(r: float) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in data.sightings:
            if (s["x"] - px) ** 2 + (s["y"] - py) ** 2 <= r**2:
                office = fo[s["f"]] if s["f"] else data.office(s["x"], s["y"])
                office = "local" if office == "west" else office
                out[office] = out.get(office, 0) + 1
        return out

    found: dict[str, int] = {}
    for n in near:
        found[n.office] = found.get(n.office, 0) + 1
    inner, outer = within(radius_m - 1), within(radius_m + 1)  # 1 m for the 4326 round trip
    assert len(inner) >= 2, inner  # the point lies where offices meet
    assert set(inner) <= set(found) <= set(outer)
    assert all(inner.get(o, 0) <= n <= outer.get(o, 0) for o, n in found.items())
    # The control: the same shard attached without extensions 'postgis' filters locally.
    remote.attach(coordinator, "north", as_name="north_plain", extensions=())
    plain = sightings_near_remote_sql(
        session=coordinator, lon=lon, lat=lat, radius_m=radius_m, **window
    )
    assert len(plain) == len(SHARDS) + 1
    assert sum("st_dwithin" in sql.lower() for sql in plain) == len(SHARDS)


@pytest.mark.parametrize("layer", ["incidents", "sightings"])
def test_hotspots_over_shards_equal_one_node(
    layer: str, single_node: dict[str, Any], coordinator: Session
) -> None:
    with national_scope(coordinator):
        federated = hotspot_figures(coordinator, layer)
    alone: HotspotFigures = single_node[layer]
    np.testing.assert_array_equal(federated.i, alone.i)
    np.testing.assert_array_equal(federated.j, alone.j)
    np.testing.assert_array_equal(federated.counts, alone.counts)
    np.testing.assert_array_equal(federated.weights, alone.weights)
    np.testing.assert_allclose(federated.z, alone.z, rtol=0, atol=1e-9)
    # Nearly every point lies in the regency's cells (a few jittered ones fall outside it).
    assert 0.95 * single_node["loaded"][layer[:-1]] < alone.counts.sum()
    assert np.nanmax(alone.z) > 3  # the data has hotspots to find


def test_alerts_over_shards_equal_one_node(
    remote: Remote, data: Data, single_node: dict[str, Any], coordinator: Session
) -> None:
    alone: set[AlertKey] = single_node["alerts"]
    kinds = {k[0] for k in alone}
    assert kinds >= {
        "incident_near_workplace",
        "incident_cluster",
        "sighting_near_border",
        "sighting_in_zone",
        "expired_permit_sighting",
        "plb_outside_area",
        "far_from_sponsor",
        "permit_expiring",
    }
    after = max_alert_id(coordinator)
    run_batch(session=coordinator, today=TODAY)  # office west, on its own node
    offices = alert_keys(coordinator, after=after)
    for node in remote.shards.values():
        assert offices.isdisjoint(node.alerts)
        offices |= node.alerts
    # Without the national pass: only alerts whose subjects span two offices are missing.
    missing = alone - offices
    assert offices <= alone
    assert {k[0] for k in missing} <= {"incident_near_workplace", "incident_cluster"}
    planted_pair, *planted_cluster = data.planted_cross_incidents
    assert any(k[0] == "incident_near_workplace" and k[1] == planted_pair for k in missing)
    assert any(k[0] == "incident_cluster" and k[1] in planted_cluster for k in missing)
    t0 = time.monotonic()
    counts = run_national_pass(session=coordinator, today=TODAY)
    elapsed = time.monotonic() - t0
    cross = alert_keys(coordinator, table="national.alert")
    assert sum(counts.values()) == len(cross) == len(missing)
    assert offices | cross == alone
    assert elapsed < 30
    # The national alert panel federates them all.
    panel = coordinator.execute(
        text("SELECT office, count(*) FROM national.all_alerts WHERE event_at >= :t GROUP BY 1"),
        {"t": T0 - dt.timedelta(days=400)},
    ).tuples()
    assert sum(n for _, n in panel) >= len(alone)


def test_detach_leaves_the_local_office(remote: Remote, coordinator: Session) -> None:
    detach_shard(session=coordinator, name="north")
    offices = coordinator.execute(
        text("SELECT DISTINCT office FROM national.sighting ORDER BY 1")
    ).scalars()
    assert list(offices) == ["local", "south"]
    assert coordinator.execute(text("SELECT to_regnamespace('shard_north')")).scalar() is None
    with pytest.raises(ConflictError):
        remote.attach(coordinator, "south")


def test_a_wrong_password_is_refused_without_being_repeated(
    remote: Remote, session: Session
) -> None:
    wrong = "not-the-shard-password-42"
    with pytest.raises(ShardError) as err:
        attach_shard(
            session=session,
            name="broken",
            host="127.0.0.1",
            port=remote.cluster.port,
            dbname="office_north",
            user=SUPERUSER,
            password=wrong,
        )
    assert "password authentication failed" in str(err.value)
    assert wrong not in str(err.value)
    log = remote.cluster.log_file.read_text(errors="replace")
    assert wrong not in log and remote.cluster.password not in log


def test_id_blocks_keep_ids_apart(remote: Remote) -> None:
    with Session(remote.shards["south"].engine) as session:
        new_id = session.execute(
            text(
                "INSERT INTO incident (kind, severity, occurred_at, geom) VALUES ('other', 1, "
                "now(), ST_SetSRID(ST_MakePoint(109.3, 1.3), 4326)) RETURNING id"
            )
        ).scalar_one()
        session.rollback()
    assert OFFICE_NO["south"] * 10_000_000 <= new_id < (OFFICE_NO["south"] + 1) * 10_000_000


def test_shards_cli(remote: Remote, engine: Engine, database_url: str) -> None:
    from cli.main import app

    env = {
        "TIMPORA_DATABASE_URL": database_url,
        "TIMPORA_SHARD_PASSWORD": remote.cluster.password,
        "COLUMNS": "200",
    }
    runner = CliRunner()
    add = [
        "shards",
        "add",
        "south",
        "--host",
        "127.0.0.1",
        "--port",
        str(remote.cluster.port),
        "--dbname",
        "office_south",
        "--user",
        SUPERUSER,
    ]
    try:
        result = runner.invoke(app, add, env=env)
        assert result.exit_code == 0, result.output
        assert remote.cluster.password not in result.output
        again = runner.invoke(app, add, env=env)
        assert again.exit_code == 1 and "already attached" in again.output
        listing = runner.invoke(app, ["shards", "list"], env=env)
        assert listing.exit_code == 0, listing.output
        assert "south" in listing.output and "office_south" in listing.output
        assert "yes" in listing.output
        assert remote.cluster.password not in listing.output
        removed = runner.invoke(app, ["shards", "remove", "south"], env=env)
        assert removed.exit_code == 0, removed.output
        listing = runner.invoke(app, ["shards", "list"], env=env)
        assert "office_south" not in listing.output
    finally:
        with Session(engine) as session:
            if any(s.name == "south" for s in list_shards(session=session, check=False)):
                detach_shard(session=session, name="south")
                session.commit()
    missing_pw = runner.invoke(
        app, add, env={k: v for k, v in env.items() if k != "TIMPORA_SHARD_PASSWORD"}, input="\n"
    )
    assert missing_pw.exit_code != 0
    assert os.environ.get("TIMPORA_SHARD_PASSWORD") is None


def test_scaling_bench_quick_mode_prints_its_table() -> None:
    """bench/scaling.py --quick (1e4, 1e5 rows in a throwaway cluster) keeps working."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, str(root / "bench" / "scaling.py"), "--quick", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = [ln for ln in proc.stdout.splitlines() if ln.startswith("| 10")]
    rows = {ln.split("|")[1].strip(): ln.split("|")[2:-1] for ln in table}
    assert set(rows) == {"10,000", "100,000"}, proc.stdout
    for cells in rows.values():
        assert float(cells[0].split()[0].replace(",", "")) > 0  # insert rows/s
        assert float(cells[-1].replace(",", "")) > 0  # index MB
    assert "location derivation" in proc.stdout
