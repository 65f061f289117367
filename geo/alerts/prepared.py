"""Server-side prepared statements for the on-write path, and the session settings around them.

The statements are written with ``:name`` binds (as everywhere in ``geo``); ``prepared`` turns
one into ``PREPARE name (types) AS ...`` with positional parameters, typed from ``PARAM_TYPES``
by the bind's name (a ``rule__`` prefix is ignored). Each pooled connection prepares a statement
once and remembers it in its ``info``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from geo.prepared import positional

# On write the same few statements run for every written row: prepared once per connection
# (server-side, PREPARE/EXECUTE) with generic plans, they skip planning against every monthly
# partition of sighting each time; the partitions are pruned at executor start-up from the
# bound time range instead. Batch statements run once and keep custom plans.
PARAM_TYPES: Final[dict[str, str]] = {
    "cls": "integer",
    "rule_id": "integer",
    "severity": "integer",
    "today": "date",
    "ids": "integer[]",
    "at_min": "timestamptz",
    "at_max": "timestamptz",
    "radius_m": "float8",
    "distance_m": "float8",
    "near_distance_m": "float8",
    "far_distance_m": "float8",
    "routine_m": "float8",
    "crossing_post_m": "float8",
    "home_m": "float8",
    "usual_radius_m": "float8",
    "usual_min": "integer",
    "usual_window": "interval",
    "quiet": "interval",
    "zone_kinds": "text[]",
    "min_incidents": "integer",
    "window_days": "float8",
    "window": "interval",
    "cell_m": "float8",
    "windows_days": "integer[]",
}
PREPARED_KEY: Final = "timpora_alert_prepared"


@contextmanager
def session_settings(session: Session, values: dict[str, str]) -> Iterator[None]:
    """Run the block with the settings ``values`` (transaction-local), the caller's after.

    One round trip each way: the caller's values are read in a materialised CTE, before the
    ``set_config`` calls in the select list. Not restored after an error: the transaction is
    aborted then, and its settings go with it.
    """
    names = list(values)
    caller = session.execute(
        text(
            "WITH o AS MATERIALIZED (SELECT "
            + ", ".join(f"current_setting('{n}') AS {n}" for n in names)
            + ") SELECT "
            + ", ".join(f"o.{n}" for n in names)
            + ", "
            + ", ".join(f"set_config('{n}', '{v}', true)" for n, v in values.items())
            + " FROM o"
        )
    ).one()
    yield
    session.execute(
        text("SELECT " + ", ".join(f"set_config('{n}', :{n}, true)" for n in names)),
        dict(zip(names, caller[: len(names)], strict=True)),
    )


# On write every statement joins a handful of written rows to foreigners, workplaces and
# alerts: nested loops over primary keys are always right there, but a generic plan cannot see
# how few rows the bound ids are and hashed whole tables (a seq scan of 10,000 workplaces per
# write). Generic plans (prepared once per connection), hash and merge joins off.
ON_WRITE_SETTINGS: Final = {
    "plan_cache_mode": "force_generic_plan",
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
}
# Batch statements sort and hash up to ~1e6 narrow rows (window passes, per-day dedup): give
# them memory so nothing spills, and no JIT (compiling costs more than it saves here). The facts
# pass may run in parallel workers: the planner cannot know how few sightings its OR of facts
# keeps (it estimated 731,968 of the large demo set's 1e6, 9,806 are kept) and charged their
# transfer from the workers as if all came back, which kept it serial. With that charge at 0
# the scan, the joins and the facts run in two workers (the whole batch over the large demo set
# 1.16 -> 0.72 s at load 0.9; the facts have no correlated subquery in batch, see
# ``geo.alerts.sql.sightings_batch``). The rule statements insert, so they run serially anyway.
BATCH_SETTINGS: Final = {"work_mem": "256MB", "jit": "off", "parallel_tuple_cost": "0"}


@dataclass(frozen=True)
class Prepared:
    name: str
    prepare: str
    params: tuple[str, ...]


def prepared(name: str, stmt: TextClause) -> Prepared:
    """``stmt`` as PREPARE text with positional, typed parameters."""
    body, order = positional(stmt.text)
    types = ", ".join(PARAM_TYPES[p.rsplit("__", 1)[-1]] for p in order)
    return Prepared(name, f"PREPARE {name} ({types}) AS {body}", order)


def execute_prepared(session: Session, prep: Prepared, params: dict[str, Any]) -> list[Any]:
    conn = session.connection()
    done: set[str] = conn.connection.info.setdefault(PREPARED_KEY, set())
    if prep.name not in done:
        conn.exec_driver_sql(prep.prepare)
        done.add(prep.name)
    args = ", ".join(f"%({p})s" for p in prep.params)
    result = conn.exec_driver_sql(
        f"EXECUTE {prep.name} ({args})", {p: params[p] for p in prep.params}
    )
    return list(result)
