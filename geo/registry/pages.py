"""How a page of a registry layer is collected: the page statements and the cost model.

A page is one statement: rows in primary-key order, each turned into a Feature and joined into
one text in PostgreSQL. It either walks the primary key, or the ``sortby`` order then the primary
key (:data:`PAGE_SQL`) or collects the box's
rows by the spatial index (:data:`PAGE_BY_BOX_SQL`); :func:`collect_by_box` chooses from the
count grid.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.registry.filters import ListFilters
from geo.registry.layers import Layer
from geo.registry.where import Where
from geo.tiles import GRID_COARSEST, grid_cells

# One statement per page: the rows in primary-key order (LIMIT one more than the page, to know
# whether more remain), each turned into a Feature in PostgreSQL and joined there into one text.
# ``row_number`` marks the page's rows; features are built above the LIMIT, for page rows only.
# ``string_agg`` takes the rows in the order the subquery returns them (the PostgreSQL manual's
# "supplying the input values from a sorted subquery"; a plain Aggregate over a Limit keeps it):
# an ``ORDER BY`` inside the aggregate sorted the 1,000 feature texts a second time, ~10 % of a
# page (PostgreSQL 15 does not see that its input is sorted already). Tests check the order.
# The page's text, its size, whether more rows follow, and its last id, from rows ``p`` (id, n
# = position from 1, feature) in page order.
PAGE_OF_ROWS: Final = """
SELECT coalesce(string_agg(p.feature, ',') FILTER (WHERE p.n <= :last_n), ''),
       count(*) FILTER (WHERE p.n <= :last_n),
       count(*) > :limit,
       max(p.id) FILTER (WHERE p.n <= :last_n)
FROM ({rows}) p
"""
PAGE_SQL: Final = PAGE_OF_ROWS.replace(
    "{rows}",
    """
    SELECT t.id, row_number() OVER (ORDER BY {order}) - :offset AS n, {feature} AS feature
    FROM {table} t {joins}
    WHERE {where}
    ORDER BY {order}
    LIMIT :fetch OFFSET :offset
""",
)

# The same page when the box holds few rows: PAGE_SQL walks the primary key and tests every
# row against the box until the page is full, which costs ~0.15 µs per row walked, ~1,000 /
# (share of the rows inside the box) of them; collecting the box's rows by the spatial index
# and keeping the first ones by id (``t.id + 0`` hides the key's order from the planner, so it
# cannot walk it) costs ~0.65 µs per row in the box. PostgreSQL estimates the rows in the box
# well but prices the walk too cheaply (the ``&&`` test reads every row), so it always walks:
# 24 ms instead of 4 for a page from a box of 6,350 rows out of 1e6. The join runs after the
# LIMIT, so the page's rows only are joined.
PAGE_BY_BOX_SQL: Final = PAGE_OF_ROWS.replace(
    "{rows}",
    """
    SELECT t.id, row_number() OVER (ORDER BY t.id) AS n, {feature} AS feature
    FROM (
        SELECT {row_columns} FROM {table} t
        WHERE {where}
        ORDER BY t.id + 0
        LIMIT :fetch OFFSET :offset
    ) t {joins}
    ORDER BY t.id
""",
)

# Rows of a point layer inside a box, all time (an upper bound for any filter), from the count
# grid of migration 0010 at level 15 (cells of ~1.2 km: a few dozen for a 5 km box), and the
# table's total from level 12.
BOX_GRID_LEVEL: Final = 15
BOX_ROWS_SQL: Final = """
SELECT coalesce(sum(n) FILTER (WHERE level = {level}), 0),
       coalesce(sum(n) FILTER (WHERE level = {coarsest}), 0)
FROM {table}_grid
WHERE month = '-infinity'
  AND (level = {coarsest}
       OR (level = {level} AND cx BETWEEN :gx0 AND :gx1 AND cy BETWEEN :gy0 AND :gy1))
"""
GRID_TABLES: Final = frozenset({"sighting", "incident"})
# Collect by box when (rows in box)^2 < BOX_WALK_RATIO * rows wanted * rows in table: the cost
# model above (0.65 µs per row in the box against 0.15 µs per row walked, with the rows inside
# the box spread evenly over the ids), which crosses over at ~15,000 rows in the box for a
# 1,000-feature page of 1e6 rows, as measured.
BOX_WALK_RATIO: Final = 0.15 / 0.65


def collect_by_box(*, session: Session, layer: Layer, filters: ListFilters, where: Where) -> bool:
    """Whether a page is cheaper collected from the box by the spatial index (see
    PAGE_BY_BOX_SQL) than by walking the primary key; only point layers with a count grid."""
    # A filter on the joined table is left to the key walk: the box collection joins after its
    # LIMIT, for the page's rows only. So is a page in another order than the primary key's.
    if filters.bbox is None or layer.table not in GRID_TABLES or where.joins or filters.sort:
        return False
    minx, miny, maxx, maxy = filters.bbox
    # Web Mercator is undefined at the poles: clamp the box to where the grid has cells.
    cx, cy = grid_cells(
        np.array([minx, maxx]), np.clip([miny, maxy], -85.05, 85.05), BOX_GRID_LEVEL
    )
    gx0, gx1, gy0, gy1 = (int(v) for v in (*cx, *cy))
    sql = BOX_ROWS_SQL.format(level=BOX_GRID_LEVEL, coarsest=GRID_COARSEST, table=layer.table)
    in_box, total = session.execute(
        text(sql), {"gx0": gx0, "gx1": gx1, "gy0": gy0, "gy1": gy1}
    ).one()
    wanted = filters.limit + 1 + filters.offset
    return bool(int(in_box) ** 2 < BOX_WALK_RATIO * wanted * int(total))
