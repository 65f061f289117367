"""The load step of an import: which rows go by partition exchange, which by upsert, and both.

Sighting months with many rows and an empty partition are loaded by partition exchange
(``geo.io.exchange``: COPY into a loading table, indexes built once, swapped in); every other row
goes through the staging table and the upsert (``geo.io.upsert``). A dry run plans the exchange
months and counts their rows as inserts without writing them.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from geo.io import copybin as codec
from geo.io import exchange, gridload
from geo.io.checks import Placement, ref_columns, reference_ids
from geo.io.derive import DERIVED_COLUMNS
from geo.io.layers import LayerSpec
from geo.io.progress import Progress, step
from geo.io.upsert import BINARY_TYPES, COPY_CHUNK_ROWS, derived_fields, upsert_rows
from geo.sharing import WHOLE_TIMPORA, Sharing

_T = TypeVar("_T")
_K = TypeVar("_K")

LOCATE_THREADS: Final = 2
# Sessions loading exchanged months side by side (one server backend each); 1 = in the
# import's own session only.
LOAD_WORKERS: Final = 2
# A month with at least this many rows and an empty partition is loaded by partition exchange
# (geo.io.exchange); below it the per-row index maintenance of the upsert costs less than the
# DDL, and the upsert takes no lock beyond what any writer takes.
EXCHANGE_MIN_ROWS: Final = 20_000


@dataclass(frozen=True)
class LoadOptions:
    """How rows are loaded: the fast path's threshold, chunk size and parallel sessions."""

    exchange_min_rows: int = EXCHANGE_MIN_ROWS
    chunk_rows: int = COPY_CHUNK_ROWS
    load_workers: int = LOAD_WORKERS


@dataclass
class Loaded:
    """What the load step wrote, for the report and for alert evaluation."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    plans: list[exchange.MonthPlan] = field(default_factory=list)
    # The earliest time column value written by each path (for a batch alert pass).
    earliest: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def load_rows(
    *,
    session: Session,
    spec: LayerSpec,
    clean: pd.DataFrame,
    placement: Placement,
    present: frozenset[str],
    options: LoadOptions,
    dry_run: bool,
    loaders: list[str],
    progress: Progress | None = None,
    sharing: Sharing = WHOLE_TIMPORA,
) -> Loaded:
    """Load ``clean`` into the layer's table, in the caller's transaction; updates change only
    the columns ``present`` in the file (new exchanged months hold no row to update). New rows
    of incidents and sightings are shared as ``sharing`` says; stored rows keep theirs (only
    the reporting agency widens a record, docs/privacy.md).

    Loading tables committed by parallel sessions are appended to ``loaders`` as they are made:
    the caller drops them if the import fails after this step (a rollback does not).
    """
    n = len(clean)
    loaded = Loaded()
    plans: list[exchange.MonthPlan] = []
    in_exchange = np.zeros(n, dtype=bool)
    months = np.empty(0, dtype="datetime64[M]")
    observed = np.empty(0, dtype="datetime64[us]")
    # A request's database role may not do the exchange's DDL; the owner's login that took the
    # role of a registered user (the command line's --author) does it as the owner.
    owner = exchange.OwnerScope(session)
    if spec.table == "sighting" and n >= options.exchange_min_rows:
        observed = _utc_instants(clean["observed_at"])
        months = exchange.months_of(observed)
        with owner:
            plans = exchange.plan(
                session=session,
                months=months,
                min_rows=options.exchange_min_rows,
                lock=not dry_run,
            )
        if plans:
            in_exchange = np.isin(months, [np.datetime64(p.month, "M") for p in plans])
    rest = ~in_exchange
    if rest.any() or not plans:
        upserted = upsert_rows(
            session=session,
            spec=spec,
            clean=clean,
            locate=placement.locate,
            out_of_area=placement.out_of_area,
            mask=rest,
            present=present,
            chunk_rows=options.chunk_rows,
            progress=progress,
            sharing=sharing,
        )
        loaded.inserted = upserted.inserted
        loaded.updated = upserted.updated
        loaded.unchanged = upserted.unchanged
        if upserted.earliest is not None:
            loaded.earliest.append(upserted.earliest)
    if plans:
        n_ex = int(in_exchange.sum())
        loaded.plans = plans
        loaded.inserted += n_ex
        loaded.notes.append(
            f"{n_ex:,} rows loaded by partition exchange into "
            + ", ".join(p.partition_name for p in plans)
        )
        if not dry_run:
            rows_ex = np.flatnonzero(in_exchange)
            with owner:
                _exchange(
                    session,
                    spec,
                    clean,
                    placement,
                    plans,
                    rows_ex,
                    months,
                    options,
                    loaders,
                    progress,
                    sharing,
                )
            loaded.earliest.append(codec.utc_datetime(observed[in_exchange].min()))
    return loaded


def _exchange(
    session: Session,
    spec: LayerSpec,
    clean: pd.DataFrame,
    placement: Placement,
    plans: list[exchange.MonthPlan],
    rows_ex: np.ndarray,
    months: np.ndarray,
    options: LoadOptions,
    loaders: list[str],
    progress: Progress | None,
    sharing: Sharing,
) -> None:
    """Load the rows ``rows_ex`` (of the planned months) by partition exchange."""
    n_ex = len(rows_ex)
    step(progress, "exchange", 0, n_ex)
    ref_names = [c.name for c in ref_columns(spec)]
    refs = reference_ids(session=session, spec=spec, rows=clean[ref_names].iloc[rows_ex])
    # The exchanged rows' ids: a block of the sequence numbered in file order (both sessions),
    # or, failing that, the loading tables' default.
    first_id = exchange.reserve_ids(session, n_ex)
    columns = _final_columns(spec)
    if first_id is not None:
        columns = ["id", *columns]
    months_ex = months[rows_ex]
    sent = [0]

    def make(positions: np.ndarray) -> list[codec.Field]:
        rows = rows_ex[positions]
        fields = _final_fields(spec, clean, placement, rows, refs, positions)
        if first_id is None:
            return fields
        return [codec.field_of("int8", first_id + positions.astype(np.int64)), *fields]

    def chunks(group: list[exchange.MonthPlan]) -> Iterator[list[codec.Field]]:
        """The group's rows in file order, chunk by chunk; chunks are located and encoded ahead
        by threads (shapely, scipy and numpy release the GIL) while the COPY sends the previous
        ones."""
        mine = np.flatnonzero(np.isin(months_ex, [np.datetime64(p.month, "M") for p in group]))
        size = options.chunk_rows
        pieces = [mine[k : k + size] for k in range(0, len(mine), size)]
        for piece, fields in _ordered(make, pieces):
            yield fields
            sent[0] += len(piece)
            step(progress, "exchange", min(sent[0], n_ex), n_ex + 1)

    # The tile count grid of the loaded months: counted here and written in bulk
    # (geo.io.gridload) instead of by the trigger, when the server agrees on cells.
    lon, lat = placement.lon[rows_ex], placement.lat[rows_ex]
    counted_here = gridload.bulk_capable(session) and gridload.agrees_with_server(session, lon, lat)
    skip = frozenset({gridload.GRID_FUNCTION} if counted_here else ())

    def write_grid() -> None:
        # Counted here too, not before: the loads need only the decision, and with two
        # sessions this runs while they load (~0.2 s a million rows off the critical path).
        if counted_here:
            gridload.write(session, gridload.count(lon, lat, months_ex))

    workers = options.load_workers
    if exchange.can_load_in_parallel(session, plans, skip, workers):
        # Months split over load_workers sessions of their own (COPY, indexes and ANALYZE on as
        # many server backends), committed unattached; attached here.
        made = exchange.load_parallel(
            session=session,
            plans=plans,
            columns=columns,
            chunks_for=chunks,
            skip_functions=skip,
            workers=workers,
            meanwhile=write_grid,  # the grid does not depend on the loads
            sharing=sharing,
        )
        loaders.extend(name for name, _ in made)
    else:
        name = exchange.load(
            session=session,
            plans=plans,
            columns=columns,
            chunks=chunks(plans),
            skip_functions=skip,
            sharing=sharing,
        )
        made = [(name, plans)]
        write_grid()
    for name, group in made:
        exchange.swap_in(session=session, loader=name, plans=group)
    step(progress, "exchange", n_ex, n_ex)


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


def _utc_instants(values: pd.Series) -> np.ndarray:
    """UTC datetime64[us] of a tz-aware column (NaT stays NaT)."""
    return np.asarray(values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]"))


def _final_columns(spec: LayerSpec) -> list[str]:
    """The stored columns the upsert's SELECT fills, in :func:`_final_fields` order."""
    columns = [c.ref_column if c.kind == "ref" else c.name for c in spec.columns]
    return [*(c for c in columns if c is not None), "geom", "out_of_area", *DERIVED_COLUMNS]


def _final_fields(
    spec: LayerSpec,
    clean: pd.DataFrame,
    placement: Placement,
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
            fields.append(codec.field_of(BINARY_TYPES[col.kind], part[col.name]))
    fields.append(codec.field_of("ewkb_point", (part["lon"].to_numpy(), part["lat"].to_numpy())))
    fields.append(codec.field_of("bool", placement.out_of_area[rows]))
    fields += derived_fields(placement.locate(rows))
    return fields
