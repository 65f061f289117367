"""Workplace-sighting pairs within a distance over the whole (partitioned) sighting table.

The set-based proximity join the batch benchmark measures against the planner's plain join and a
shapely STRtree (same pairs required). Distances in EPSG:32649 on ``geom_utm``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from geo.alerts.prepared import session_settings
from geo.errors import ValidationError

# Workplace-sighting pairs within R over the whole sighting table (the proximity join of the
# batch benchmark, checked against the planner's plain join and a shapely STRtree).
#
# A plain ``JOIN ... ON ST_DWithin`` runs as 10,000 workplaces x every monthly partition GiST
# probes, each followed by random heap fetches and an exact recheck. This is a hash join on a
# grid of R/2 cells instead: each workplace is copied into the cells whose nearest point lies
# within R (+1 mm) of it, about 22 of the 6 x 6 cells that cover its box widened by R + 1 mm
# (the 1 mm keeps a cell at the box's edge in despite rounding); that small table is hashed, and
# the sightings stream past it in one sequential pass, each looking up its own cell.
#
# Every value a comparison reads is computed once per row, below the join: each side's point
# (``geom_utm::point``, exact doubles) and its cell key. A hash join re-evaluates the whole
# equality clause for every entry of the bucket a row hashes to, so a key written as an
# expression of the geometry was recomputed for each of the ~2.1 M candidates (a third of the
# statement's time). The single-element ``unnest(ARRAY[...])`` in a subquery's select list
# keeps the planner from flattening the subquery (a set-returning select list is never pulled
# up), so the values come out of a ProjectSet once; unlike an ``OFFSET 0`` fence it is parallel
# safe, so the partitions' scans run as a Parallel Append. Distances clearly inside or outside R
# (by 1 mm, far above float error at these coordinates) decide at once; the rest go to
# ST_DWithin on the same points, so the pairs are exactly ST_DWithin's. R/2 cells: R/4 compared
# ~25 % fewer candidates but hashed 3x the workplace-cell rows, which missed the CPU caches and
# cost more than it saved.
PAIRS_SQL: Final = text(
    """
    SELECT wc.id AS workplace_id, s.id AS sighting_id
    FROM (SELECT s.id, unnest(ARRAY[s.geom_utm::point]) AS p,
                 unnest(ARRAY[floor(ST_X(s.geom_utm) / (:radius_m / 2))::bigint * 4194304
                              + floor(ST_Y(s.geom_utm) / (:radius_m / 2))::bigint]) AS cell
          FROM sighting s) s
    JOIN (
        SELECT w.id, w.p, unnest(ARRAY[(w.cx + i)::bigint * 4194304 + (w.cy + j)::bigint]) AS cell
        FROM (SELECT w.id, w.p, floor((w.p[0] - :radius_m - 0.001) / (:radius_m / 2)) AS cx,
                     floor((w.p[1] - :radius_m - 0.001) / (:radius_m / 2)) AS cy
              FROM (SELECT w.id, unnest(ARRAY[w.geom_utm::point]) AS p FROM workplace w) w) w
        CROSS JOIN generate_series(0, 5) i
        CROSS JOIN generate_series(0, 5) j
        WHERE greatest((w.cx + i) * (:radius_m / 2) - w.p[0],
                       w.p[0] - (w.cx + i + 1) * (:radius_m / 2), 0) ^ 2
            + greatest((w.cy + j) * (:radius_m / 2) - w.p[1],
                       w.p[1] - (w.cy + j + 1) * (:radius_m / 2), 0) ^ 2
              <= (:radius_m + 0.001) ^ 2
    ) wc ON wc.cell = s.cell
    WHERE CASE WHEN s.p <-> wc.p <= :radius_m - 0.001 THEN true
               WHEN s.p <-> wc.p > :radius_m + 0.001 THEN false
               ELSE ST_DWithin(ST_SetSRID(ST_MakePoint(s.p[0], s.p[1]), 32649),
                               ST_SetSRID(ST_MakePoint(wc.p[0], wc.p[1]), 32649), :radius_m) END
    """
)
# A sort-merge join of 1e6 computed cell keys costs 2-3x the hash join; the planner's estimate
# of the cell join is poor, so the statement runs with merge joins off. ``work_mem`` is small on
# purpose: the workplace-cell table (216,000 rows for 10,000 workplaces, 14 MB hashed) is then
# split into batches that each fit a core's 2 MB L2 cache, and the sightings are partitioned to
# match. Probing one big table was bound by cache misses (perf: 43 % of the time walking hash
# buckets); the batches cost a pass over the sightings' spill files and still win: 0.55 s with
# 1 MB (0.56 s with 512 kB or 2 MB) against 0.66-0.71 s with 256 MB, alternated, on the 1e6 set.
# Cheap parallel setup and tuple costs (and no minimum table size, so the 10,000-workplace side
# may be scanned in parallel too) let it run as a parallel hash join over the partitions' scans,
# with one process per core: the leader scans and probes too, so it asks for one worker fewer
# than the cores (on two cores one worker, 0.51 s, against two, 0.56 s, alternated).
# JIT is off: each parallel worker compiles its own copy of the per-row arithmetic, and on the
# 1e6 set that cost more than it saved (1.18-1.22 s without, 1.26-1.28 s with, alternated). The
# caller's values are restored afterwards (``session_settings``).
PAIRS_SETTINGS: Final = {
    "enable_mergejoin": "off",
    "work_mem": "1MB",
    "jit": "off",
    "max_parallel_workers_per_gather": str(min(4, max(1, (os.cpu_count() or 2) - 1))),
    "parallel_setup_cost": "10",
    "parallel_tuple_cost": "0.001",
    "min_parallel_table_scan_size": "0",
}

# The planner's join: each workplace probes every partition's GiST. Cheaper than the grid while
# there are few sightings per workplace (the grid's cost is fixed per workplace).
PAIRS_BY_INDEX_SQL: Final = text(
    """
    SELECT w.id AS workplace_id, s.id AS sighting_id
    FROM workplace w
    JOIN sighting s ON ST_DWithin(s.geom_utm, w.geom_utm, :radius_m)
    """
)
# Row estimates from the statistics (ANALYZE), summed over the sighting partitions (or the
# plain table, before migration 0007).
PAIRS_SIZES_SQL: Final = text(
    """
    SELECT (SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sighting'::regclass)
           + coalesce((SELECT greatest(reltuples, 0) FROM pg_class
                       WHERE oid = 'sighting'::regclass AND relkind = 'r'), 0),
           (SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'workplace'::regclass)
    """
)
GRID_MIN_SIGHTINGS_PER_WORKPLACE: Final = 25


def pairs_statement(session: Session) -> TextClause:
    """The pair join to use for the current table sizes (grid hash join or index probes)."""
    sightings, workplaces = session.execute(PAIRS_SIZES_SQL).one()
    if float(sightings or 0) >= GRID_MIN_SIGHTINGS_PER_WORKPLACE * max(float(workplaces or 0), 1):
        return PAIRS_SQL
    return PAIRS_BY_INDEX_SQL


@contextmanager
def pairs_settings(session: Session, stmt: TextClause) -> Iterator[None]:
    """Run ``stmt`` (from ``pairs_statement``) with the settings it needs; the caller's after."""
    if stmt is not PAIRS_SQL:
        yield
        return
    with session_settings(session, PAIRS_SETTINGS):
        yield


def workplace_sighting_pairs(*, session: Session, radius_m: float) -> list[tuple[int, int]]:
    """(workplace id, sighting id) for every pair within ``radius_m`` metres (EPSG:32649)."""
    if not 0 < radius_m <= 50_000:
        raise ValidationError(
            f"radius_m must be in (0, 50000]; got {radius_m!r}", field="radius_m", value=radius_m
        )
    stmt = pairs_statement(session)
    with pairs_settings(session, stmt):
        rows = session.execute(stmt, {"radius_m": float(radius_m)}).all()
    return [(int(w), int(s)) for w, s in rows]
