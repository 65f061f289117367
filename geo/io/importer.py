"""All-or-nothing bulk import, as a pipeline of named steps (docs/import-export.md):

1. **read** the file (``geo.io.readers``) into an :class:`ImportSource`;
2. **validate** every row's values (``geo.io.validate``);
3. **derive**: test the area of interest with the location index that derives kecamatan, desa
   and border distance for all rows at once (``geo.io.checks``, ``geo.io.derive``, the
   vectorised twin of ``timpora_locate``), and resolve the references (``sponsor_ref``,
   ``foreigner_ref``, ``workplace_ref``) in one query each; any problem:
   :class:`ImportRejectedError` with the per-row report, and nothing is written;
4. **load**, inside a savepoint: partition exchange for large new sighting months, staging
   table and one set-based upsert for the rest (``geo.io.load``);
5. **alerts**: the proximity rules on the written rows, in the same transaction;
6. **report**: one audit row and the :class:`ImportReport`. A dry run does the same up to the
   load and rolls the savepoint back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import pandas as pd
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from geo import audit
from geo.alerts import LAYER_RULES, evaluate_for, run_batch
from geo.errors import ImportRejectedError, ValidationError
from geo.io import exchange
from geo.io.checks import check_references, place_rows
from geo.io.headers import GEOMETRY
from geo.io.layers import LayerSpec, layer_spec
from geo.io.load import Loaded, LoadOptions, load_rows
from geo.io.progress import Progress, step
from geo.io.readers import ReadLimits, read_table
from geo.io.upsert import AGENCY_TABLES, DROP_TABLES_SQL, changed_ids
from geo.io.validate import MAX_PROBLEMS_REPORTED, Problem, validate_frame
from geo.settings import AreaSettings
from geo.sharing import WHOLE_TIMPORA, Sharing
from geo.users import Principal

__all__ = [
    "ImportOptions",
    "ImportReport",
    "ImportSource",
    "LoadOptions",
    "Progress",
    "check_sharing",
    "import_file",
    "import_frame",
]

# From this many written rows, alerts are evaluated by one set-based batch pass over the
# written time range when that range holds exactly the written rows (see _evaluate_alerts).
BATCH_ALERTS_MIN_ROWS: Final = 20_000


@dataclass(frozen=True)
class ImportSource:
    """The rows to import (column names as in files, raw values) and where they came from."""

    frame: pd.DataFrame
    name: str = "data"
    first_row: int = 2  # the file row of the frame's first row, for the per-row report
    notes: tuple[str, ...] = ()
    checksum: str | None = None  # sha256 of the file, for the audit row


@dataclass(frozen=True)
class ImportOptions:
    """What the caller decides about an import besides its rows."""

    dry_run: bool = False
    evaluate_alerts: bool = True
    batch_alerts_min_rows: int = BATCH_ALERTS_MIN_ROWS
    load: LoadOptions = field(default_factory=LoadOptions)
    limits: ReadLimits = field(default_factory=ReadLimits)  # caps on the file (HTTP imports)
    # Whom the new rows are shared with (incidents and sightings; docs/privacy.md).
    sharing: Sharing = WHOLE_TIMPORA


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
    # The new rows' sharing, for layers whose records carry one; else None.
    sharing: dict[str, Any] | None = None

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
            "sharing": self.sharing,
        }


def read_source(
    path: Path, *, name: str | None = None, limits: ReadLimits | None = None
) -> ImportSource:
    """Step 1: read a CSV, XLSX, GeoJSON, GeoPackage or zipped Shapefile."""
    raw = read_table(path, limits)
    return ImportSource(
        frame=raw.frame,
        name=name or path.name,
        first_row=raw.first_row,
        notes=tuple(raw.notes),
        checksum=_sha256(path),
    )


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
    options: ImportOptions | None = None,
) -> ImportReport:
    """Import one file (CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile) into ``layer``.

    ``dry_run`` is a shortcut for ``options.dry_run``.
    """
    spec = layer_spec(layer)
    options = options or ImportOptions()
    step(progress, "read", 0, 1)
    source = read_source(path, name=source_name, limits=options.limits)
    step(progress, "read", 1, 1)
    if dry_run:
        options = replace(options, dry_run=True)
    return import_frame(
        session=session,
        layer=spec.layer,
        source=source,
        area=area,
        principal=principal,
        client=client,
        options=options,
        progress=progress,
    )


def import_frame(
    *,
    session: Session,
    layer: str,
    source: ImportSource,
    area: AreaSettings,
    principal: Principal | None = None,
    client: str | None = None,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate and load a table of raw values (steps 2 to 6); all or nothing."""
    started = time.perf_counter()
    options = options or ImportOptions()
    spec = layer_spec(layer)
    n = len(source.frame)
    check_sharing(spec.layer, options.sharing)

    step(progress, "validate", 0, n)
    checked = validate_frame(spec, source.frame, first_row=source.first_row)
    clean = checked.frame
    report = ImportReport(
        layer=spec.layer,
        source=source.name,
        rows=n,
        dry_run=options.dry_run,
        notes=[*source.notes, *checked.notes],
        sharing=options.sharing.as_dict() if spec.table in AGENCY_TABLES else None,
    )
    problems = list(checked.problems)
    total_problems = checked.total_problems
    step(progress, "validate", n, n)

    step(progress, "locate", 0, n)
    placement, outside = place_rows(session=session, spec=spec, clean=clean, area=area)
    references = check_references(session=session, spec=spec, clean=clean)
    for found in (outside, references):
        problems.extend(found.problems)
        total_problems += found.total
    report.out_of_area = placement.out_of_area_count
    if problems:
        problems.sort(key=lambda p: (p.row, p.field))
        raise _rejected(report, problems, total_problems)
    step(progress, "locate", n, n)

    loaders: list[str] = []  # loading tables committed by parallel sessions (see load_rows)
    finished = False
    nested = session.begin_nested()
    try:
        loaded = load_rows(
            session=session,
            spec=spec,
            clean=clean,
            placement=placement,
            present=checked.present,
            options=options.load,
            dry_run=options.dry_run,
            loaders=loaders,
            progress=progress,
            sharing=options.sharing,
        )
        report.inserted, report.updated = loaded.inserted, loaded.updated
        report.unchanged = loaded.unchanged
        report.notes.extend(loaded.notes)
        absent = [c for c in _columns(spec) if c not in checked.present]
        if absent and report.updated + report.unchanged:
            report.notes.append("stored values kept (not in the file): " + ", ".join(absent))
        if not options.dry_run:
            if options.evaluate_alerts:
                step(progress, "alerts", 0, 1)
                _evaluate_alerts(session, spec, report, loaded, options.batch_alerts_min_rows)
                step(progress, "alerts", 1, 1)
            _audit(session, spec, report, source, principal, client)
        session.execute(DROP_TABLES_SQL)
        finished = True
    except (IntegrityError, DataError) as exc:
        nested.rollback()
        raise _constraint_broken(spec, source, n, exc) from None
    except BaseException:
        nested.rollback()
        raise
    finally:
        if loaders and not finished:
            # Committed by their own sessions: this rollback does not remove them.
            exchange.drop_loaders(session, loaders)
    if options.dry_run:
        nested.rollback()
    else:
        nested.commit()
    report.seconds = time.perf_counter() - started
    return report


def check_sharing(layer: str, sharing: Sharing) -> bool:
    """Whether ``layer``'s records carry a sharing level (incidents and sightings,
    docs/privacy.md); ValidationError when another layer is asked for a narrower one."""
    spec = layer_spec(layer)
    shared = spec.table in AGENCY_TABLES
    if sharing.restricted and not shared:
        raise ValidationError(
            f"sharing: {spec.layer} are not shared by agency (only incidents and sightings); "
            f"got {sharing.level!r}",
            field="sharing",
            value=sharing.level,
        )
    return shared


def _columns(spec: LayerSpec) -> list[str]:
    """The columns a file may carry besides the key, the location as ``lon/lat``."""
    return [c.name for c in spec.columns if c.name != "external_ref"] + [GEOMETRY]


def _evaluate_alerts(
    session: Session, spec: LayerSpec, report: ImportReport, loaded: Loaded, batch_min_rows: int
) -> None:
    """Step 5: run the proximity rules on the written rows, in this transaction.

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
        and loaded.earliest
    ):
        since = min(loaded.earliest)
        if _rows_since(session, spec, since, loaded.plans) == written:
            report.alerts_result = run_batch(
                session=session, since=since, rules=LAYER_RULES[spec.layer]
            )
            report.notes.append(f"alerts: one batch pass over the {written:,} written rows")
            return
    ids = changed_ids(session)
    for p in loaded.plans:
        # Through ``sighting`` by the month's bounds: a partition read by name shows a request's
        # role no row (docs/privacy.md); the month held no row before the exchange.
        start = dt.datetime(p.month.year, p.month.month, 1, tzinfo=dt.UTC)
        end = (start + dt.timedelta(days=32)).replace(day=1)
        exchanged = session.execute(
            text("SELECT id FROM sighting WHERE observed_at >= :a AND observed_at < :b"),
            {"a": start, "b": end},
        ).scalars()
        ids += [int(i) for i in exchanged]
    report.alerts_result = evaluate_for(session=session, layer=spec.layer, ids=ids)


def _rows_since(
    session: Session, spec: LayerSpec, since: Any, plans: list[exchange.MonthPlan]
) -> int:
    """Rows of the layer at or after ``since``. The months loaded by exchange hold exactly the
    rows just loaded (they were empty, and ``sighting`` is locked), all at or after ``since``:
    they are counted from the plans, and only the other ranges are scanned (a million rows'
    count cost ~0.2 s of server CPU)."""
    column = spec.time_column
    ranges: list[tuple[dt.datetime, dt.datetime | None]] = []
    start = since
    for p in sorted(plans, key=lambda p: p.month):
        month = dt.datetime(p.month.year, p.month.month, 1, tzinfo=dt.UTC)
        if month > start:
            ranges.append((start, month))
        following = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
        start = max(start, following)
    ranges.append((start, None))
    params: dict[str, Any] = {}
    tests = []
    for k, (low, high) in enumerate(ranges):
        params[f"a{k}"] = low
        if high is None:
            tests.append(f"{column} >= :a{k}")
        else:
            params[f"b{k}"] = high
            tests.append(f"({column} >= :a{k} AND {column} < :b{k})")
    scanned = session.execute(
        text(f"SELECT count(*) FROM {spec.table} WHERE {' OR '.join(tests)}"), params
    ).scalar_one()
    return int(scanned) + sum(p.rows for p in plans)


def _audit(
    session: Session,
    spec: LayerSpec,
    report: ImportReport,
    source: ImportSource,
    principal: Principal | None,
    client: str | None,
) -> None:
    """Step 6: the import's audit row."""
    audit.record(
        session=session,
        principal=principal,
        action="import",
        resource=spec.layer,
        record_count=report.inserted + report.updated,
        client=client,
        details={
            "source": source.name[:200],
            "sha256": source.checksum,
            "rows": report.rows,
            "inserted": report.inserted,
            "updated": report.updated,
            "unchanged": report.unchanged,
            **(report.sharing or {}),
        },
    )


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


def _constraint_broken(
    spec: LayerSpec, source: ImportSource, rows: int, exc: IntegrityError | DataError
) -> ImportRejectedError:
    """A database constraint the checks could not foresee, as a rejection naming it."""
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    constraint = getattr(diag, "constraint_name", None) or "a rule of the data model"
    return ImportRejectedError(
        f"{spec.layer}: the rows break {constraint}; nothing was imported",
        field=None,
        details={
            "layer": spec.layer,
            "source": source.name,
            "rows": rows,
            "problems": [],
            "total_problems": 1,
            "constraint": constraint,
        },
    )
