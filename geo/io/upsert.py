"""Loading rows by upsert: binary ``COPY`` into a temporary staging table, then one set-based
``INSERT … SELECT … ON CONFLICT (external_ref…) DO UPDATE … WHERE … IS DISTINCT FROM …``.

A re-import changes nothing and a changed row is updated. An update changes only the columns the
file carries (``present``): a file without a passport column leaves stored passports alone, and
one without a location leaves the stored point and its derived columns. A blank cell of a column
the file carries does clear the value. The per-row location trigger is
deferred because the derived columns come with the rows. The ids (and, for sightings, times) of
the rows written land in a second temporary table, which alert evaluation reads.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.io import copybin as codec
from geo.io.derive import DERIVED_COLUMNS, DESA_TEXT_COLUMNS, SIDES, Located
from geo.io.headers import GEOMETRY
from geo.io.layers import LayerSpec
from geo.io.progress import Progress, step
from geo.locate import defer_location, resume_location
from geo.sharing import WHOLE_TIMPORA, Sharing

STAGE_TABLE: Final = "_import_stage"
CHANGED_TABLE: Final = "_import_changed"
COPY_CHUNK_ROWS: Final = 200_000
TIMESTAMPED_TABLES: Final = frozenset({"workplace", "foreigner", "incident"})

_SQL_TYPES: Final = {
    "text": "text",
    "ref": "text",
    "enum": "text",
    "nationality": "text",
    "int": "integer",
    "date": "date",
    "datetime": "timestamptz",
}
BINARY_TYPES: Final[dict[str, codec.BinaryType]] = {
    "text": "text",
    "ref": "text",
    "enum": "text",
    "nationality": "text",
    "int": "int4",
    "date": "date",
    "datetime": "timestamptz",
}
DROP_TABLES_SQL: Final = text(f"DROP TABLE IF EXISTS {STAGE_TABLE}, {CHANGED_TABLE}")


@dataclass(frozen=True)
class Upserted:
    """What the upsert did: rows sent, rows whose key existed, rows written; the earliest time."""

    rows: int
    existing: int
    changed: int
    earliest: Any

    @property
    def inserted(self) -> int:
        return self.rows - self.existing

    @property
    def updated(self) -> int:
        return self.changed - self.inserted

    @property
    def unchanged(self) -> int:
        return self.rows - self.changed


def upsert_rows(
    *,
    session: Session,
    spec: LayerSpec,
    clean: pd.DataFrame,
    locate: Callable[[np.ndarray], Located],
    out_of_area: np.ndarray,
    mask: np.ndarray,
    present: frozenset[str],
    chunk_rows: int = COPY_CHUNK_ROWS,
    progress: Progress | None = None,
    sharing: Sharing = WHOLE_TIMPORA,
) -> Upserted:
    """Stage the rows in ``mask`` (``chunk_rows`` at a time) and upsert them into the layer;
    new rows of incidents and sightings are shared as ``sharing`` says."""
    n = len(clean)
    rows = int(mask.sum())
    _create_stage(session, spec)
    _copy_stage(session, spec, clean, locate, out_of_area, mask, chunk_rows, progress)
    step(progress, "upsert", 0, n)
    existing = _mark_existing(session, spec)
    defer_location(session)
    session.execute(
        text(_upsert_sql(spec, present)),
        {"sharing": sharing.level, "shared_with": list(sharing.shared_with)},
    )
    resume_location(session)
    changed = int(session.execute(text(f"SELECT count(*) FROM {CHANGED_TABLE}")).scalar_one())
    earliest = None
    if spec.time_column is not None and changed:
        same_row = " AND c.observed_at = t.observed_at" if spec.table == "sighting" else ""
        earliest = session.execute(
            text(
                f"SELECT min(t.{spec.time_column}) FROM {spec.table} t "
                f"JOIN {CHANGED_TABLE} c ON c.id = t.id{same_row}"
            )
        ).scalar_one()
    step(progress, "upsert", n, n)
    return Upserted(rows=rows, existing=existing, changed=changed, earliest=earliest)


def changed_ids(session: Session) -> list[int]:
    """The ids the upsert wrote in this transaction (none when it did not run)."""
    if not session.execute(text(f"SELECT to_regclass('{CHANGED_TABLE}')")).scalar_one():
        return []
    return [int(i) for i in session.execute(text(f"SELECT id FROM {CHANGED_TABLE}")).scalars()]


def derived_fields(located: Located) -> list[codec.Field]:
    """The derived location columns (``DERIVED_COLUMNS``, in order) as COPY fields."""
    sides = np.array(SIDES, dtype=object)
    return [
        *(codec.field_of_codes(located.piece, located.desa[c]) for c in DESA_TEXT_COLUMNS),
        codec.field_of("float8", located.distance_m),
        codec.field_of_codes(located.side, sides),
    ]


def _stage_columns(spec: LayerSpec) -> list[tuple[str, str]]:
    cols = [("rownum", "bigint")]
    cols += [(c.name, _SQL_TYPES[c.kind]) for c in spec.columns]
    cols += [("lon", "double precision"), ("lat", "double precision")]
    cols += [
        (c, "double precision" if c == "distance_to_border_m" else "text") for c in DERIVED_COLUMNS
    ]
    if spec.table == "sighting":
        cols.append(("out_of_area", "boolean"))
    cols.append(("existed", "boolean"))
    return cols


def _create_stage(session: Session, spec: LayerSpec) -> None:
    session.execute(DROP_TABLES_SQL)
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in _stage_columns(spec))
    session.execute(text(f"CREATE TEMP TABLE {STAGE_TABLE} ({columns}) ON COMMIT DROP"))
    key = "id bigint, observed_at timestamptz" if spec.table == "sighting" else "id bigint"
    session.execute(text(f"CREATE TEMP TABLE {CHANGED_TABLE} ({key}) ON COMMIT DROP"))


def _copy_stage(
    session: Session,
    spec: LayerSpec,
    clean: pd.DataFrame,
    locate: Callable[[np.ndarray], Located],
    out_of_area: np.ndarray,
    mask: np.ndarray,
    chunk_rows: int,
    progress: Progress | None,
) -> None:
    """Binary COPY of the rows in ``mask`` into the staging table (in chunks, for progress)."""
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    names = [name for name, _ in _stage_columns(spec) if name != "existed"]
    sql = f"COPY {STAGE_TABLE} ({', '.join(names)}) FROM STDIN WITH (FORMAT binary)"
    rows_all = np.flatnonzero(mask)
    n = len(rows_all)
    step(progress, "copy", 0, n)
    cur = dbapi.cursor()
    try:
        for start in range(0, max(n, 1), chunk_rows):
            rows = rows_all[start : start + chunk_rows]
            part = clean.iloc[rows].reset_index(drop=True)
            fields = [codec.field_of("int8", part["rownum"])]
            fields += [codec.field_of(BINARY_TYPES[c.kind], part[c.name]) for c in spec.columns]
            fields += [codec.field_of("float8", part["lon"]), codec.field_of("float8", part["lat"])]
            fields += derived_fields(locate(rows))
            if spec.table == "sighting":
                fields.append(codec.field_of("bool", out_of_area[rows]))
            cur.copy_expert(sql, io.BytesIO(codec.encode(fields)), size=1 << 20)
            step(progress, "copy", min(start + chunk_rows, n), n)
    finally:
        cur.close()
    session.execute(text(f"ANALYZE {STAGE_TABLE}"))


def _mark_existing(session: Session, spec: LayerSpec) -> int:
    """Flag staged rows whose key is already stored; returns how many.

    (``xmax = 0`` would tell inserts from updates in RETURNING, but system columns cannot be
    returned from a partitioned table such as ``sighting``.)
    """
    match = " AND ".join(f"t.{k} = s.{k}" for k in spec.conflict_key)
    result = session.execute(
        text(f"UPDATE {STAGE_TABLE} s SET existed = true FROM {spec.table} t WHERE {match}")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# Tables whose rows record the agency that made them (migration 0027, docs/privacy.md).
AGENCY_TABLES = frozenset({"sighting", "incident"})


def _upsert_sql(spec: LayerSpec, present: frozenset[str]) -> str:
    """INSERT … SELECT from staging with refs resolved; update only rows that differ, and only
    in the columns ``present`` in the file."""
    t = spec.table
    target: list[str] = []
    select: list[str] = []
    joins: list[str] = []
    kept: set[str] = set()  # stored columns an update leaves alone
    located = GEOMETRY in present
    if not located:
        kept.update({"geom", "out_of_area", *DERIVED_COLUMNS})
    for i, col in enumerate(spec.columns):
        if col.name not in present:
            kept.add(col.ref_column if col.kind == "ref" and col.ref_column else col.name)
        if col.kind == "ref":
            alias = f"r{i}"
            joins.append(
                f"LEFT JOIN {col.ref_table} {alias} ON {alias}.external_ref = s.{col.name}"
            )
            assert col.ref_column is not None
            target.append(col.ref_column)
            select.append(f"{alias}.id")
        else:
            target.append(col.name)
            select.append(f"s.{col.name}")
    target.append("geom")
    select.append(
        "CASE WHEN s.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) END"
    )
    if t == "sighting":
        target.append("out_of_area")
        select.append("s.out_of_area")
    updatable = [c for c in target if c not in spec.conflict_key and c not in kept]
    compared = [c for c in updatable if c != "geom"]
    target_all = [*target, *DERIVED_COLUMNS]
    select_all = [*select, *(f"s.{c}" for c in DERIVED_COLUMNS)]
    if t in AGENCY_TABLES:
        # New rows record the importing user's agency (never changed by an update): read once
        # per statement (an InitPlan), not once per row as the column's default would.
        target_all.append("agency_id")
        select_all.append("(SELECT timpora_request_agency())")
        # The import's sharing (docs/privacy.md): new rows only, as it is not in ``updatable``.
        target_all += ["sharing", "shared_with"]
        select_all += ["CAST(:sharing AS varchar)", "CAST(:shared_with AS integer[])"]
    changing = [c for c in (*updatable, *DERIVED_COLUMNS) if c not in kept]
    updates = [f"{c} = excluded.{c}" for c in changing]
    old = [f"{t}.{c}" for c in compared]
    new = [f"excluded.{c}" for c in compared]
    if located:
        old.append(f"ST_AsEWKB({t}.geom)")
        new.append("ST_AsEWKB(excluded.geom)")
    if old:
        if t in TIMESTAMPED_TABLES:
            updates.append("updated_at = now()")
        action = (
            f"UPDATE SET {', '.join(updates)} "
            f"WHERE ({', '.join(old)}) IS DISTINCT FROM ({', '.join(new)})"
        )
    else:  # the file carries the key alone: nothing to update
        action = "NOTHING"
    returning = "id, observed_at" if t == "sighting" else "id"
    return f"""
        WITH up AS (
            INSERT INTO {t} ({", ".join(target_all)})
            SELECT {", ".join(select_all)}
            FROM {STAGE_TABLE} s {" ".join(joins)}
            ORDER BY s.rownum
            ON CONFLICT ({", ".join(spec.conflict_key)}) DO {action}
            RETURNING {returning}
        )
        INSERT INTO {CHANGED_TABLE} SELECT * FROM up
    """
