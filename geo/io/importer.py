"""All-or-nothing bulk import through a COPY staging table and one set-based upsert.

1. read the file (``geo.io.readers``) and validate every row (``geo.io.validate``);
2. check the area of interest and derive kecamatan/desa/border distance for all rows at once
   (``geo.io.derive``, the vectorised twin of ``timpora_locate``), and resolve references
   (``sponsor_ref``, ``foreigner_ref``, ``workplace_ref``) in one query each;
3. any problem: :class:`ImportRejectedError` with the per-row report; nothing is written;
4. otherwise, inside a savepoint: ``COPY`` into a temporary staging table, then one
   ``INSERT … SELECT … ON CONFLICT (external_ref…) DO UPDATE … WHERE … IS DISTINCT FROM …`` so a
   re-import changes nothing and a changed row is updated; the per-row trigger is deferred
   because the derived columns come with the rows; alerts are evaluated for the written ids;
   one audit row. A dry run does the same and rolls the savepoint back.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from geo import audit
from geo.alerts import LAYER_RULES, evaluate_for, run_batch
from geo.errors import ImportRejectedError
from geo.io import copybin as codec
from geo.io import exchange, gridload
from geo.io.derive import DERIVED_COLUMNS, location_index
from geo.io.layers import Column, LayerSpec, layer_spec
from geo.io.readers import read_table
from geo.io.validate import MAX_PROBLEMS_REPORTED, Problem, validate_frame
from geo.locate import FALLBACK_AOI_BBOX, defer_location, resume_location
from geo.settings import AreaSettings
from geo.users import Principal

Progress = Callable[[str, int, int], None]
_T = TypeVar("_T")
_K = TypeVar("_K")

STAGE_TABLE: Final = "_import_stage"
CHANGED_TABLE: Final = "_import_changed"
COPY_CHUNK_ROWS: Final = 200_000
LOCATE_THREADS: Final = 2
# Sessions loading exchanged months side by side (one server backend each); 1 = in the
# import's own session only.
LOAD_WORKERS: Final = 2
# A month with at least this many rows and an empty partition is loaded by partition exchange
# (geo.io.exchange); below it the per-row index maintenance of the upsert costs less than the
# DDL, and the upsert takes no lock beyond what any writer takes.
EXCHANGE_MIN_ROWS: Final = 20_000
# From this many written rows, alerts are evaluated by one set-based batch pass over the
# written time range when that range holds exactly the written rows (see _evaluate_alerts).
BATCH_ALERTS_MIN_ROWS: Final = 20_000
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
_BINARY_TYPES: Final[dict[str, codec.BinaryType]] = {
    "text": "text",
    "ref": "text",
    "enum": "text",
    "nationality": "text",
    "int": "int4",
    "date": "date",
    "datetime": "timestamptz",
}


@dataclass
class ImportReport:
    layer: str
    source: str
    rows: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    out_of_area: int = 0
    alerts_evaluated: bool = False
    alerts_result: Any = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "source": self.source,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "dry_run": self.dry_run,
            "out_of_area": self.out_of_area,
            "alerts_evaluated": self.alerts_evaluated,
            "seconds": round(self.seconds, 3),
            "notes": self.notes,
        }


def import_file(
    *,
    session: Session,
    layer: str,
    path: Path,
    area: AreaSettings,
    principal: Principal | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    client: str | None = None,
    source_name: str | None = None,
    exchange_min_rows: int = EXCHANGE_MIN_ROWS,
    batch_min_rows: int = BATCH_ALERTS_MIN_ROWS,
) -> ImportReport:
    """Import one file (CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile) into ``layer``."""
    spec = layer_spec(layer)
    _step(progress, "read", 0, 1)
    raw = read_table(path)
    _step(progress, "read", 1, 1)
    return import_frame(
        session=session,
        layer=spec.layer,
        frame=raw.frame,
        area=area,
        principal=principal,
        dry_run=dry_run,
        first_row=raw.first_row,
        source=source_name or path.name,
        notes=raw.notes,
        progress=progress,
        client=client,
        checksum=_sha256(path),
        exchange_min_rows=exchange_min_rows,
        batch_min_rows=batch_min_rows,
    )


def import_frame(
    *,
    session: Session,
    layer: str,
    frame: pd.DataFrame,
    area: AreaSettings,
    principal: Principal | None = None,
    dry_run: bool = False,
    first_row: int = 2,
    source: str = "data",
    notes: list[str] | None = None,
    progress: Progress | None = None,
    client: str | None = None,
    checksum: str | None = None,
    evaluate_alerts: bool = True,
    exchange_min_rows: int = EXCHANGE_MIN_ROWS,
    batch_min_rows: int = BATCH_ALERTS_MIN_ROWS,
    load_workers: int | None = None,
) -> ImportReport:
    """Validate and load a table of raw values (column names as in files); all or nothing."""
    started = time.perf_counter()
    spec = layer_spec(layer)
    n = len(frame)
    _step(progress, "validate", 0, n)
    checked = validate_frame(spec, frame, first_row=first_row)
    clean = checked.frame
    problems = list(checked.problems)
    total_problems = checked.total_problems
    report = ImportReport(
        layer=spec.layer,
        source=source,
        rows=n,
        dry_run=dry_run,
        notes=[*(notes or []), *checked.notes],
    )
    _step(progress, "validate", n, n)

    _step(progress, "locate", 0, n)
    lon = clean["lon"].to_numpy(dtype=float)
    lat = clean["lat"].to_numpy(dtype=float)
    index = location_index(session)
    has_point = ~np.isnan(lon)
    if index.kabupaten is None:
        minx, miny, maxx, maxy = FALLBACK_AOI_BBOX
        inside = (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
    else:
        inside = index.inside_area(lon, lat, area.aoi_margin_m)
    outside = has_point & ~inside
    flag_out_of_area = spec.table == "sighting" and area.allow_out_of_area_sightings
    rownums = clean["rownum"].to_numpy(dtype=np.int64)
    if outside.any() and not flag_out_of_area:
        for i in np.flatnonzero(outside)[:MAX_PROBLEMS_REPORTED]:
            problems.append(
                Problem(
                    int(rownums[i]),
                    "lon/lat",
                    f"{lon[i]} {lat[i]}",
                    f"outside Kabupaten Sambas plus the {area.aoi_margin_m / 1000:g} km margin",
                )
            )
        total_problems += int(outside.sum())
    report.out_of_area = int(outside.sum()) if flag_out_of_area else 0
    ref_problems, ref_total = _check_references(session, spec, clean)
    problems.extend(ref_problems)
    total_problems += ref_total
    if problems:
        problems.sort(key=lambda p: (p.row, p.field))
        raise _rejected(report, problems, total_problems)

    def locate(rows: np.ndarray) -> pd.DataFrame:
        """The derived columns of these rows (computed chunk by chunk, as they are written)."""
        return index.locate(lon[rows], lat[rows])

    _step(progress, "locate", n, n)

    out_flags = outside if flag_out_of_area else np.zeros(n, dtype=bool)
    made_loaders: list[str] = []
    loaded = False
    nested = session.begin_nested()
    try:
        plans: list[exchange.MonthPlan] = []
        in_exchange = np.zeros(n, dtype=bool)
        if spec.table == "sighting" and n >= exchange_min_rows:
            observed = _utc_instants(clean["observed_at"])
            months = exchange.months_of(observed)
            plans = exchange.plan(
                session=session, months=months, min_rows=exchange_min_rows, lock=not dry_run
            )
            if plans:
                in_exchange = np.isin(months, [np.datetime64(p.month, "M") for p in plans])
        rest = ~in_exchange
        n_rest = int(rest.sum())
        changed_min: list[Any] = []
        if n_rest or not plans:
            _create_stage(session, spec)
            _copy_stage(session, spec, clean, locate, out_flags, rest, progress)
            _step(progress, "upsert", 0, n)
            existing = _mark_existing(session, spec)
            defer_location(session)
            session.execute(text(_upsert_sql(spec)))
            resume_location(session)
            changed = int(
                session.execute(text(f"SELECT count(*) FROM {CHANGED_TABLE}")).scalar_one()
            )
            report.inserted = n_rest - existing
            report.updated = changed - report.inserted
            report.unchanged = n_rest - changed
            if spec.time_column is not None and changed:
                changed_min.append(
                    session.execute(
                        text(
                            f"SELECT min(t.{spec.time_column}) FROM {spec.table} t "
                            f"JOIN {CHANGED_TABLE} c ON c.id = t.id"
                            + (
                                " AND c.observed_at = t.observed_at"
                                if spec.table == "sighting"
                                else ""
                            )
                        )
                    ).scalar_one()
                )
            _step(progress, "upsert", n, n)
        if plans:
            n_ex = int(in_exchange.sum())
            report.inserted += n_ex
            report.notes.append(
                f"{n_ex:,} rows loaded by partition exchange into "
                + ", ".join(p.partition_name for p in plans)
            )
            if not dry_run:
                _step(progress, "exchange", 0, n_ex)
                refs = _reference_ids(session, spec, clean[in_exchange])
                rows_ex = np.flatnonzero(in_exchange)
                columns = _final_columns(spec)

                months_ex = months[rows_ex]
                sent = [0]

                def make(positions: np.ndarray) -> list[codec.Field]:
                    rows = rows_ex[positions]
                    return _final_fields(
                        spec, clean, locate(rows), out_flags, rows, refs, positions
                    )

                def chunks(group: list[exchange.MonthPlan]) -> Iterator[list[codec.Field]]:
                    """The group's rows in file order, chunk by chunk; chunks are located and
                    encoded ahead by threads (shapely, scipy and numpy release the GIL) while
                    the COPY sends the previous ones."""
                    mine = np.flatnonzero(
                        np.isin(months_ex, [np.datetime64(p.month, "M") for p in group])
                    )
                    pieces = [
                        mine[k : k + COPY_CHUNK_ROWS] for k in range(0, len(mine), COPY_CHUNK_ROWS)
                    ]
                    for piece, fields in _ordered(make, pieces):
                        yield fields
                        sent[0] += len(piece)
                        _step(progress, "exchange", min(sent[0], n_ex), n_ex + 1)

                # The tile count grid of the loaded months: counted here and written in bulk
                # (geo.io.gridload) instead of by the trigger, when the server agrees on cells.
                grid: gridload.GridRows | None = None
                if gridload.bulk_capable(session) and gridload.agrees_with_server(
                    session, lon[rows_ex], lat[rows_ex]
                ):
                    grid = gridload.count(lon[rows_ex], lat[rows_ex], months[rows_ex])
                skip = frozenset({gridload.GRID_FUNCTION} if grid is not None else ())

                def write_grid() -> None:
                    if grid is not None:
                        gridload.write(session, grid)

                workers = LOAD_WORKERS if load_workers is None else load_workers
                if exchange.can_load_in_parallel(session, plans, skip, workers):
                    # Months split over load_workers sessions of their own (COPY, indexes and
                    # ANALYZE on as many server backends), committed unattached; attached here.
                    loaders = exchange.load_parallel(
                        session=session,
                        plans=plans,
                        columns=columns,
                        chunks_for=chunks,
                        skip_functions=skip,
                        workers=workers,
                        meanwhile=write_grid,  # the grid does not depend on the loads
                    )
                    made_loaders.extend(name for name, _ in loaders)
                else:
                    name = exchange.load(
                        session=session,
                        plans=plans,
                        columns=columns,
                        chunks=chunks(plans),
                        skip_functions=skip,
                    )
                    loaders = [(name, plans)]
                    write_grid()
                for name, group in loaders:
                    exchange.swap_in(session=session, loader=name, plans=group)
                changed_min.append(codec.utc_datetime(observed[in_exchange].min()))
                _step(progress, "exchange", n_ex, n_ex)
        if not dry_run:
            if evaluate_alerts:
                _step(progress, "alerts", 0, 1)
                _evaluate_alerts(session, spec, report, plans, changed_min, batch_min_rows)
                _step(progress, "alerts", 1, 1)
            audit.record(
                session=session,
                principal=principal,
                action="import",
                resource=spec.layer,
                record_count=report.inserted + report.updated,
                client=client,
                details={
                    "source": source[:200],
                    "sha256": checksum,
                    "rows": n,
                    "inserted": report.inserted,
                    "updated": report.updated,
                    "unchanged": report.unchanged,
                },
            )
        session.execute(text(f"DROP TABLE IF EXISTS {STAGE_TABLE}, {CHANGED_TABLE}"))
        loaded = True
    except (IntegrityError, DataError) as exc:
        nested.rollback()
        diag = getattr(getattr(exc, "orig", None), "diag", None)
        constraint = getattr(diag, "constraint_name", None) or "a rule of the data model"
        raise ImportRejectedError(
            f"{spec.layer}: the rows break {constraint}; nothing was imported",
            field=None,
            details={
                "layer": spec.layer,
                "source": source,
                "rows": n,
                "problems": [],
                "total_problems": 1,
                "constraint": constraint,
            },
        ) from None
    except BaseException:
        nested.rollback()
        raise
    finally:
        if made_loaders and not loaded:
            # Committed by their own sessions: this rollback does not remove them.
            exchange.drop_loaders(session, made_loaders)
    if dry_run:
        nested.rollback()
    else:
        nested.commit()
    report.seconds = time.perf_counter() - started
    return report


def _ordered(
    work: Callable[[_K], _T], items: Iterable[_K], threads: int = LOCATE_THREADS
) -> Iterator[tuple[_K, _T]]:
    """``(item, work(item))`` in order, computed ``threads`` at a time ahead of the consumer."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        todo = iter(items)
        pending = deque((k, pool.submit(work, k)) for k in itertools.islice(todo, threads))
        try:
            while pending:
                start, done = pending.popleft()
                result = done.result()
                following = next(todo, None)
                if following is not None:
                    pending.append((following, pool.submit(work, following)))
                yield start, result
        finally:
            for _, left in pending:
                left.cancel()


def _step(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _rejected(report: ImportReport, problems: list[Problem], total: int) -> ImportRejectedError:
    rows = sorted({p.row for p in problems})
    first = problems[0]
    message = (
        f"{report.layer}: {total} problem(s) in {report.source}; nothing was imported. "
        f"First: row {first.row}, {first.field}"
        + (f" = {first.value!r}" if first.value is not None else "")
        + f": {first.reason}"
    )
    return ImportRejectedError(
        message,
        field=first.field,
        value=first.value,
        details={
            "layer": report.layer,
            "source": report.source,
            "rows": report.rows,
            "rejected_rows": len(rows),
            "total_problems": total,
            "problems": [p.as_dict() for p in problems[:MAX_PROBLEMS_REPORTED]],
        },
    )


def _ref_columns(spec: LayerSpec) -> list[Column]:
    return [c for c in spec.columns if c.kind == "ref"]


def _check_references(
    session: Session, spec: LayerSpec, clean: pd.DataFrame
) -> tuple[list[Problem], int]:
    problems: list[Problem] = []
    total = 0
    for col in _ref_columns(spec):
        values = clean[col.name]
        wanted = [str(v) for v in values.dropna().unique()]
        if not wanted:
            continue
        stmt = text(
            f"SELECT external_ref FROM {col.ref_table} WHERE external_ref IN :refs"
        ).bindparams(bindparam("refs", expanding=True))
        found: set[str] = set()
        for start in range(0, len(wanted), 10_000):
            chunk = wanted[start : start + 10_000]
            found.update(session.execute(stmt, {"refs": chunk}).scalars())
        rownums = clean["rownum"].to_numpy(dtype=np.int64)
        missing = values.notna() & ~values.isin(found)
        if missing.any():
            total += int(missing.sum())
            for i in np.flatnonzero(missing.to_numpy())[:MAX_PROBLEMS_REPORTED]:
                problems.append(
                    Problem(
                        int(rownums[i]),
                        col.name,
                        str(values.iat[i]),
                        f"no {col.ref_table} with this external_ref",
                    )
                )
    return problems, total


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


def _utc_instants(values: pd.Series) -> np.ndarray:
    """UTC datetime64[us] of a tz-aware column (NaT stays NaT)."""
    return np.asarray(values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]"))


def _create_stage(session: Session, spec: LayerSpec) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS {STAGE_TABLE}, {CHANGED_TABLE}"))
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in _stage_columns(spec))
    session.execute(text(f"CREATE TEMP TABLE {STAGE_TABLE} ({columns}) ON COMMIT DROP"))
    key = "id bigint, observed_at timestamptz" if spec.table == "sighting" else "id bigint"
    session.execute(text(f"CREATE TEMP TABLE {CHANGED_TABLE} ({key}) ON COMMIT DROP"))


def _derived_fields(derived: pd.DataFrame) -> list[codec.Field]:
    return [
        codec.field_of(
            "float8" if name == "distance_to_border_m" else "text",
            derived[name].reset_index(drop=True),
        )
        for name in DERIVED_COLUMNS
    ]


def _copy_stage(
    session: Session,
    spec: LayerSpec,
    clean: pd.DataFrame,
    locate: Callable[[np.ndarray], pd.DataFrame],
    out_of_area: np.ndarray,
    mask: np.ndarray,
    progress: Progress | None,
) -> None:
    """Binary COPY of the rows in ``mask`` into the staging table (in chunks, for progress)."""
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    names = [name for name, _ in _stage_columns(spec) if name != "existed"]
    sql = f"COPY {STAGE_TABLE} ({', '.join(names)}) FROM STDIN WITH (FORMAT binary)"
    rows_all = np.flatnonzero(mask)
    n = len(rows_all)
    _step(progress, "copy", 0, n)
    cur = dbapi.cursor()
    try:
        for start in range(0, max(n, 1), COPY_CHUNK_ROWS):
            rows = rows_all[start : start + COPY_CHUNK_ROWS]
            part = clean.iloc[rows].reset_index(drop=True)
            fields = [codec.field_of("int8", part["rownum"])]
            fields += [codec.field_of(_BINARY_TYPES[c.kind], part[c.name]) for c in spec.columns]
            fields += [codec.field_of("float8", part["lon"]), codec.field_of("float8", part["lat"])]
            fields += _derived_fields(locate(rows))
            if spec.table == "sighting":
                fields.append(codec.field_of("bool", out_of_area[rows]))
            cur.copy_expert(sql, io.BytesIO(codec.encode(fields)), size=1 << 20)
            _step(progress, "copy", min(start + COPY_CHUNK_ROWS, n), n)
    finally:
        cur.close()
    session.execute(text(f"ANALYZE {STAGE_TABLE}"))


def _reference_ids(session: Session, spec: LayerSpec, rows: pd.DataFrame) -> dict[str, pd.Series]:
    """Each ref column's values resolved to ids (as the upsert's LEFT JOIN does)."""
    out: dict[str, pd.Series] = {}
    for col in _ref_columns(spec):
        wanted = [str(v) for v in rows[col.name].dropna().unique()]
        found: dict[str, int] = {}
        stmt = text(f"SELECT external_ref, id FROM {col.ref_table} WHERE external_ref = ANY(:refs)")
        for start in range(0, len(wanted), 10_000):
            chunk = wanted[start : start + 10_000]
            found.update({str(r): int(i) for r, i in session.execute(stmt, {"refs": chunk})})
        out[col.name] = rows[col.name].map(found).astype("Int64").reset_index(drop=True)
    return out


def _final_columns(spec: LayerSpec) -> list[str]:
    """The stored columns the upsert's SELECT fills, in :func:`_final_fields` order."""
    columns = [c.ref_column if c.kind == "ref" else c.name for c in spec.columns]
    return [*(c for c in columns if c is not None), "geom", "out_of_area", *DERIVED_COLUMNS]


def _final_fields(
    spec: LayerSpec,
    clean: pd.DataFrame,
    derived: pd.DataFrame,
    out_of_area: np.ndarray,
    rows: np.ndarray,
    refs: dict[str, pd.Series],
    positions: np.ndarray,
) -> list[codec.Field]:
    """These rows as the stored columns (what the upsert's SELECT produces); ``refs`` are the
    resolved ids of all exchanged rows, of which these are at ``positions``."""
    part = clean.iloc[rows].reset_index(drop=True)
    fields: list[codec.Field] = []
    for col in spec.columns:
        if col.kind == "ref":
            ids = refs[col.name].iloc[positions]
            fields.append(codec.field_of("int4", ids.reset_index(drop=True)))
        else:
            fields.append(codec.field_of(_BINARY_TYPES[col.kind], part[col.name]))
    fields.append(codec.field_of("ewkb_point", (part["lon"].to_numpy(), part["lat"].to_numpy())))
    fields.append(codec.field_of("bool", out_of_area[rows]))
    fields += _derived_fields(derived)
    return fields


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


def _upsert_sql(spec: LayerSpec) -> str:
    """INSERT … SELECT from staging with refs resolved; update only rows that differ."""
    t = spec.table
    target: list[str] = []
    select: list[str] = []
    joins: list[str] = []
    for i, col in enumerate(spec.columns):
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
    compared = [c for c in target if c not in spec.conflict_key and c != "geom"]
    target_all = [*target, *DERIVED_COLUMNS]
    select_all = [*select, *(f"s.{c}" for c in DERIVED_COLUMNS)]
    updates = [f"{c} = excluded.{c}" for c in target_all if c not in spec.conflict_key]
    if t in TIMESTAMPED_TABLES:
        updates.append("updated_at = now()")
    old = ", ".join([*(f"{t}.{c}" for c in compared), f"ST_AsEWKB({t}.geom)"])
    new = ", ".join([*(f"excluded.{c}" for c in compared), "ST_AsEWKB(excluded.geom)"])
    returning = "id, observed_at" if t == "sighting" else "id"
    return f"""
        WITH up AS (
            INSERT INTO {t} ({", ".join(target_all)})
            SELECT {", ".join(select_all)}
            FROM {STAGE_TABLE} s {" ".join(joins)}
            ORDER BY s.rownum
            ON CONFLICT ({", ".join(spec.conflict_key)}) DO UPDATE
            SET {", ".join(updates)}
            WHERE ({old}) IS DISTINCT FROM ({new})
            RETURNING {returning}
        )
        INSERT INTO {CHANGED_TABLE} SELECT * FROM up
    """


def _evaluate_alerts(
    session: Session,
    spec: LayerSpec,
    report: ImportReport,
    plans: list[exchange.MonthPlan],
    changed_min: list[Any],
    batch_min_rows: int,
) -> None:
    """Run the proximity rules on the written rows, in this transaction.

    A large import whose written rows are exactly the rows at or after the earliest of them
    (typically a bulk load of new data) is evaluated by the engine's batch pass since that
    instant: the same statements with the same scope, one set-based pass instead of id lists
    (the engine guarantees batch = on-write; the tests compare both). Otherwise, and for
    layers without a time column, ``evaluate_for`` gets the written ids as on any write.
    """
    written = report.inserted + report.updated
    report.alerts_evaluated = True
    if written == 0:
        return
    if (
        written >= batch_min_rows
        and spec.time_column is not None
        and spec.layer in LAYER_RULES
        and changed_min
    ):
        since = min(changed_min)
        in_range = session.execute(
            text(f"SELECT count(*) FROM {spec.table} WHERE {spec.time_column} >= :since"),
            {"since": since},
        ).scalar_one()
        if int(in_range) == written:
            report.alerts_result = run_batch(
                session=session, since=since, rules=LAYER_RULES[spec.layer]
            )
            report.notes.append(f"alerts: one batch pass over the {written:,} written rows")
            return
    ids: list[int] = []
    if session.execute(text(f"SELECT to_regclass('{CHANGED_TABLE}')")).scalar_one():
        ids += [int(i) for i in session.execute(text(f"SELECT id FROM {CHANGED_TABLE}")).scalars()]
    for p in plans:
        loaded = session.execute(text(f"SELECT id FROM {p.partition_name}")).scalars()
        ids += [int(i) for i in loaded]
    report.alerts_result = evaluate_for(session=session, layer=spec.layer, ids=ids)
