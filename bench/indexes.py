"""Which query needs each of ``sighting``'s indexes: the real code paths, their plans.

    .venv/bin/python bench/indexes.py              # the large demo set of bench/api.py
    .venv/bin/python bench/indexes.py --markdown   # the table and the plans as Markdown

Each scenario calls the service a request or a job calls (a bbox page, one sighting by id, the
proximity query, a write with its alerts, a tile, the batch alerts of a day, ...) on the
1,000,000-sighting demo set of ``bench/api.py``, inside a transaction that is rolled back. Every
statement it sent that reads ``sighting`` is then explained in the same transaction with the
same parameters (``EXPLAIN (ANALYZE, COSTS OFF)`` for reads; plain ``EXPLAIN`` for writes, which
would otherwise run twice), and the indexes of the monthly partitions that the plans use are
mapped to the parent's index they were made from. The table says, for every index of
``sighting``, which scenarios used it; an index no scenario uses has no query to justify it.
The script asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import api as bench_api  # noqa: E402

SAMBAS_TOWN = (109.3021, 1.3549)
INDEX_IN_PLAN = re.compile(
    r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? on (\S+)"
)
EXPLAINABLE = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "EXECUTE")
INDEX_USING = re.compile(r"using (\S+) on")
# An INSERT ... ON CONFLICT names the unique index that decides the conflict (plain EXPLAIN).
ARBITER = re.compile(r"Conflict Arbiter Indexes: (.+)")


@dataclass
class Explained:
    scenario: str
    statement: str
    plan: list[str]
    indexes: set[str] = field(default_factory=set)  # parent index names


def parent_indexes(conn: Any) -> dict[str, str]:
    """Every index of sighting's partitions (and its own) -> the parent index's name."""
    rows = conn.exec_driver_sql(
        """
        WITH RECURSIVE tree(idx, root) AS (
            SELECT i.indexrelid, i.indexrelid FROM pg_index i
            WHERE i.indrelid = 'sighting'::regclass
            UNION ALL
            SELECT h.inhrelid, t.root FROM tree t JOIN pg_inherits h ON h.inhparent = t.idx
        )
        SELECT c.relname, r.relname FROM tree t
        JOIN pg_class c ON c.oid = t.idx JOIN pg_class r ON r.oid = t.root
        """
    ).all()
    return {child: root for child, root in rows}


def sighting_indexes(conn: Any) -> list[tuple[str, str]]:
    return [
        (name, ddl)
        for name, ddl in conn.exec_driver_sql(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'sighting'::regclass "
            "ORDER BY c.relname"
        ).all()
    ]


def scenarios(settings: Any) -> dict[str, Callable[[Any], object]]:
    """Name -> a call of the code a request or job runs (given a session)."""
    from geo import tiles
    from geo.alerts.evaluation import run_batch
    from geo.proximity import nearby, parse_query
    from geo.registry import LAYERS, create_feature, get_feature, list_features, parse_filters
    from geo.users import Principal

    admin = Principal(name="bench-indexes", role="admin")
    layer = LAYERS["sightings"]
    lon, lat = SAMBAS_TOWN

    def page(**filters: Any) -> Callable[[Any], object]:
        return lambda s: list_features(
            session=s, layer=layer, filters=parse_filters(layer=layer, **filters), role="admin"
        )

    def by_id(s: Any) -> object:
        some = s.execute(_sql("SELECT max(id) - 12345 FROM sighting")).scalar_one()
        return get_feature(session=s, layer=layer, record_id=int(some), role="admin")

    def write(s: Any) -> object:
        # A sighting of a known foreigner, with the external_ref of an existing report: the
        # retry path (ON CONFLICT on the unique key) and, for the new one, the alert rules.
        fid, ref, at = s.execute(
            _sql(
                "SELECT foreigner_id, external_ref, observed_at FROM sighting "
                "WHERE foreigner_id IS NOT NULL AND external_ref IS NOT NULL "
                "ORDER BY id DESC LIMIT 1"
            )
        ).one()
        props = {"source": "patrol", "foreigner_id": fid}
        geometry = {"type": "Point", "coordinates": [lon, lat]}
        for extra in ({"external_ref": ref, "observed_at": at.isoformat()},
                      {"observed_at": (at + dt.timedelta(minutes=5)).isoformat()}):  # fmt: skip
            body = {"type": "Feature", "geometry": geometry, "properties": {**props, **extra}}
            create_feature(session=s, layer=layer, body=body, principal=admin, area=settings.area)
        return None

    def foreigner_delete(s: Any) -> object:
        # Deleting a foreigner sets its sightings' foreigner_id to NULL (the foreign key's
        # ON DELETE SET NULL): PostgreSQL finds them with this query on each partition.
        fid = s.execute(_sql("SELECT foreigner_id FROM sighting WHERE foreigner_id IS NOT NULL "
                             "LIMIT 1")).scalar_one()  # fmt: skip
        return s.execute(
            _sql("SELECT 1 FROM sighting WHERE foreigner_id = :f FOR KEY SHARE"), {"f": fid}
        ).all()

    def tile(z: int) -> Callable[[Any], object]:
        x, y = bench_api.tile_of(lon, lat, z)
        request = tiles.TileRequest("sightings", z, x, y)
        return lambda s: tiles.render(session=s, request=request, role="admin")

    def near(s: Any) -> object:
        query = parse_query(lon=lon, lat=lat, radius_m=2000, layers="sightings", limit=1000)
        return nearby(session=s, query=query, principal=admin)

    def sparse_cell(s: Any, level: int, low: int, high: int) -> tuple[int, int]:
        """The count grid's cell of ``level`` holding most sightings of all time, up to
        ``high`` and at least ``low``: a place where the spatial index, not the key, serves."""
        cx, cy = s.execute(
            _sql(
                "SELECT cx, cy FROM sighting_grid WHERE level = :l AND month = '-infinity' "
                "AND n BETWEEN :lo AND :hi ORDER BY n DESC, cx, cy LIMIT 1"
            ),
            {"l": level, "lo": low, "hi": high},
        ).one()
        return int(cx), int(cy)

    def small_box(s: Any) -> object:
        # A level-13 cell (~4.9 km) with at most 10,000 sightings: the page's cost model
        # (geo/registry/pages.py) collects such a box by the spatial index.
        cx, cy = sparse_cell(s, 13, 2_000, 10_000)
        west, north = cell_corner(cx, cy + 1, 13)
        east, south = cell_corner(cx + 1, cy, 13)
        return page(bbox=f"{west},{south},{east},{north}", limit=1000)(s)

    def sparse_tile(s: Any) -> object:
        # A z14 tile with at most 5,000 sightings is drawn from the rows (tiles.RAW_MAX_POINTS).
        cx, cy = sparse_cell(s, 14, 500, tiles.RAW_MAX_POINTS)
        request = tiles.TileRequest("sightings", 14, cx, 2**14 - 1 - cy)  # tiles count y down
        return tiles.render(session=s, request=request, role="admin")

    def batch_day(s: Any) -> object:
        latest = s.execute(_sql("SELECT max(observed_at) FROM sighting")).scalar_one()
        return run_batch(session=s, since=latest - dt.timedelta(days=1))

    box = f"{lon - 0.0225},{lat - 0.0225},{lon + 0.0225},{lat + 0.0225}"
    return {
        "bbox page, 5 km box (GET /api/v1/sightings?bbox=)": page(bbox=box, limit=1000),
        "bbox page, whole regency": page(bbox="108.9,0.8,109.9,2.2", limit=1000),
        "page of one day (start/end)": page(
            start="2025-06-20T00:00:00", end="2025-06-21T00:00:00", limit=1000
        ),
        "page of one kecamatan, one week": page(
            kecamatan="61.01.09", start="2025-06-01", end="2025-06-08", limit=1000
        ),
        "one sighting by id (GET /api/v1/sightings/{id})": by_id,
        "proximity 2 km (GET /api/v1/proximity)": near,
        "write: retry of a known report, and a new one with its alerts": write,
        "foreigner deleted (ON DELETE SET NULL)": foreigner_delete,
        "bbox page, small box of a sparse area (collected by the spatial index)": small_box,
        "tile z14 raw points": tile(14),
        "tile z14 raw points, sparse area": sparse_tile,
        "tile z12 raw points": tile(12),
        "batch alerts over the last day (timpora alerts run --since)": batch_day,
    }


def cell_corner(cx: int, cy: int, level: int) -> tuple[float, float]:
    """Lon/lat of the south-west corner of a count-grid cell (Web Mercator, y up)."""
    half = 20037508.342789244
    size = 2 * half / 2**level
    x, y = cx * size - half, cy * size - half
    lon = math.degrees(x / 6378137.0)
    lat = math.degrees(2 * math.atan(math.exp(y / 6378137.0)) - math.pi / 2)
    return round(lon, 6), round(lat, 6)


def _sql(statement: str) -> Any:
    from sqlalchemy import text

    return text(statement)


def explain_all(url: str) -> tuple[list[tuple[str, str]], list[Explained]]:
    from sqlalchemy import create_engine, event
    from sqlalchemy.orm import Session

    from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings

    settings = Settings(
        database=DatabaseSettings(database_url=url),
        area=AreaSettings(reference_data_dir=ROOT.parent / "shared" / "data"),
        service=ServiceSettings(environment="test"),
    )
    engine = create_engine(url)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    results: list[Explained] = []
    with engine.connect() as conn:
        parents = parent_indexes(conn)
        indexes = sighting_indexes(conn)
        conn.rollback()
    for name, call in scenarios(settings).items():
        with Session(engine) as session:
            sent.clear()
            try:
                call(session)
            except Exception as exc:  # reported, and the other scenarios still run
                print(f"{name}: failed: {str(exc).splitlines()[0]}", flush=True)
                session.rollback()
                continue
            mine = [(st, p) for st, p in sent if re.search(r"\bsighting\b", st)]
            sent_count = len(mine)
            for statement, params in mine:
                stripped = statement.lstrip().upper()
                if not stripped.startswith(EXPLAINABLE):
                    continue  # PREPARE, SET, LOCK ...: their EXECUTE is explained instead
                reads = stripped.startswith(("SELECT", "WITH")) and " FOR KEY SHARE" not in stripped
                head = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " if reads else (
                    "EXPLAIN (COSTS OFF) ")  # fmt: skip
                cursor = session.connection().connection.dbapi_connection.cursor()
                cursor.execute("SAVEPOINT explain")
                try:
                    cursor.execute(head + statement, params)
                    plan = [row[0] for row in cursor.fetchall()]
                except Exception as exc:  # a temporary table the job dropped, say
                    cursor.execute("ROLLBACK TO SAVEPOINT explain")
                    plan = [f"(not explained afterwards: {str(exc).splitlines()[0]})"]
                cursor.close()
                used = {parents.get(m, m) for m in INDEX_IN_PLAN.findall("\n".join(plan))}
                used |= {parents.get(m, m) for m in INDEX_USING.findall("\n".join(plan))}
                for names in ARBITER.findall("\n".join(plan)):
                    used |= {parents.get(m, m) for m in names.replace(" ", "").split(",")}
                used = {u for u in used if u in dict(indexes)}
                results.append(Explained(name, statement, plan, used))
            session.rollback()
            print(f"{name}: {sent_count} statement(s) on sighting", flush=True)
    engine.dispose()
    return indexes, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the small demo set")
    parser.add_argument("--dir", default="/tmp/timpora-bench-api", help="cluster directory")
    parser.add_argument("--fresh", action="store_true", help="rebuild the data set")
    parser.add_argument("--markdown", action="store_true", help="Markdown table and plans")
    args = parser.parse_args()
    args.size = "small" if args.quick else "large"
    url, cluster = bench_api.open_database(args)
    try:
        print(f"data: demo {args.size}: {bench_api.build(url, args.size)}", flush=True)
        indexes, results = explain_all(url)
    finally:
        cluster.stop()
    print()
    rows = []
    for name, ddl in indexes:
        users = sorted({r.scenario for r in results if name in r.indexes})
        rows.append((name, ddl.split(" USING ")[1], users))
        print(f"{name} ({ddl.split(' USING ')[1]}): {'; '.join(users) or 'NO SCENARIO USES IT'}")
    if args.markdown:
        print("\n| index | columns | used by |\n|---|---|---|")
        for name, cols, users in rows:
            print(f"| `{name}` | `{cols}` | {'; '.join(users) or '**none**'} |")
    print("\nplans (the lines naming an index of sighting, and each plan's first line):")
    for r in results:
        if not r.indexes:
            continue
        keys = ("Index", "Bitmap", "Append", "Subplans Removed", "Arbiter")
        shown = [r.plan[0], *(ln for ln in r.plan[1:] if any(k in ln for k in keys))]
        print(f"\n-- {r.scenario}: {', '.join(sorted(r.indexes))}")
        print("   " + re.sub(r"\s+", " ", r.statement)[:300])
        for ln in shown[:14]:
            print("   " + ln)


if __name__ == "__main__":
    main()
