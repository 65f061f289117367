"""One 1,000-feature page statement, planned for each page against prepared once (geo/prepared.py).

    .venv/bin/python bench/page_statement.py            # the large demo set of bench/api.py
    .venv/bin/python bench/page_statement.py --runs 60

In-process, one connection, as the service's personal-data role without an agency (what
``bench/peers.py``'s admin reads), on the boxes of ``bench/peers.py``. For each box the page's
statement is taken from ``geo.registry.list_features`` and run ``--runs`` times each way,
alternated: planned each time (``session.execute``) and through a prepared statement
(``execute_prepared``, after five custom plans PostgreSQL keeps its generic plan). The service
prepares only the pages it collects from a small box by the spatial index; the key walk of the
other boxes is measured prepared too, with the generic plan forced, to show why it is not.
Prints the median statement time (wall, the whole result fetched) per box and way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import api as api_bench  # noqa: E402
from bench import peers  # noqa: E402
from bench.common import machine, table  # noqa: E402


def page_statement(
    session: Any, bbox: tuple[float, float, float, float]
) -> tuple[str, dict[str, Any], bool]:
    """The statement, parameters and way (by box or not) of the page the service makes."""
    from geo.registry import LAYERS, pages, parse_filters, reads, where_clause
    from geo.registry.cql import order_sql
    from geo.registry.features import feature_sql, row_columns, visible_fields

    captured: dict[str, Any] = {}

    def capture(_session: Any, sql: str, params: Any) -> Any:
        captured.update(sql=sql, params=dict(params))
        raise LookupError  # the statement only

    layer = LAYERS["sightings"]
    filters = parse_filters(layer=layer, bbox=",".join(map(repr, bbox)), limit=1000)
    where = where_clause(layer, filters, session=session)
    by_box = pages.collect_by_box(session=session, layer=layer, filters=filters, where=where)
    # The by-box statement, as list_features sends it (its parameters serve both ways).
    original = getattr(reads, "execute_prepared"), getattr(reads, "collect_by_box")  # noqa: B009
    setattr(reads, "execute_prepared", capture)  # noqa: B010
    setattr(reads, "collect_by_box", lambda **_: True)  # noqa: B010
    try:
        reads.list_features(session=session, layer=layer, filters=filters, role="admin")
    except LookupError:
        pass
    finally:
        setattr(reads, "execute_prepared", original[0])  # noqa: B010
        setattr(reads, "collect_by_box", original[1])  # noqa: B010
    if not by_box:  # the page as the service runs it there: the key walk
        captured["sql"] = pages.PAGE_SQL.format(
            feature=feature_sql(layer, visible_fields(layer, "admin")),
            table=layer.table,
            joins=layer.joins,
            where=where.sql,
            row_columns=row_columns(layer, "admin"),
            order=order_sql(filters.sort),
        )
    return captured["sql"], captured["params"], by_box


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40, help="runs per box and way (median)")
    parser.add_argument("--dir", default="/tmp/timpora-bench-api", help="cluster directory")
    args = parser.parse_args()
    args.size, args.fresh = "large", False

    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from geo.prepared import execute_prepared
    from geo.roles import PERSONAL_ROLE

    url, _cluster = api_bench.open_database(args)
    print(f"data: demo large: {api_bench.build(url, 'large')}", flush=True)
    engine = create_engine(url)
    print(machine(engine), flush=True)
    lines = []
    with Session(engine) as session:
        session.execute(text(f"SET LOCAL ROLE {PERSONAL_ROLE}"))
        session.execute(text("SELECT set_config('timpora.agency_id', '', true)"))
        for box in peers.boxes(url):
            sql, params, by_box = page_statement(session, box.bbox)
            if not by_box:
                session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
            planned: list[float] = []
            prepared: list[float] = []
            for _ in range(args.runs):
                for way, times in (("planned", planned), ("prepared", prepared)):
                    t0 = time.perf_counter()
                    if way == "planned":
                        session.execute(text(sql), params).all()
                    else:
                        execute_prepared(session, sql, params).all()
                    times.append(time.perf_counter() - t0)
                    if not by_box and len(prepared) == 1 and prepared[0] > 2:
                        break  # one generic walk of seconds says enough
                if not by_box and prepared and prepared[0] > 2:
                    break
            session.execute(text("SET LOCAL plan_cache_mode = auto"))
            p, q = statistics.median(planned) * 1e3, statistics.median(prepared) * 1e3
            lines.append(
                (
                    f"{box.name} ({box.rows:,} rows)",
                    "box collection (prepared by the service)"
                    if by_box
                    else "key walk (planned by the service)",
                    f"{p:.1f} ms",
                    f"{q:.1f} ms" + ("" if by_box else " (generic plan forced)"),
                    f"{p / q:.2f}x",
                )
            )
        session.rollback()
    engine.dispose()
    print(
        table(
            lines,
            header=(
                "box",
                "the service's way",
                "planned each time",
                "prepared",
                "planned / prepared",
            ),
        )
    )


if __name__ == "__main__":
    main()
