"""Evaluating the alert rules: on write for the written ids, and in batch since a time.

Both paths run the same statements (``geo.alerts.statements``) with a different scope, so
evaluating rows one by one as they are written (in time order) and evaluating them all at once
give the same alert set (docs/alerts.md). On-write evaluation also takes a transaction-level
advisory lock per foreigner (and one for incident clusters) so that state-based rules see each
other's committed rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from sqlalchemy.orm import Session

from geo.alerts.catalogue import BATCH_RULES, LAYER_RULES, LAYERS, load_rules
from geo.alerts.prepared import (
    BATCH_SETTINGS_SQL,
    FORCE_GENERIC_SQL,
    RESTORE_BATCH_SETTINGS_SQL,
    RESTORE_PLAN_MODE_SQL,
    execute_prepared,
    prepared,
)
from geo.alerts.sql.locks import (
    LOCK_CLUSTER_SQL,
    LOCK_FOREIGNER,
    LOCK_FOREIGNERS_SQL,
    LOCK_INCIDENT_CLUSTER,
)
from geo.alerts.sql.sightings_batch import DROP_BATCH_FACTS_SQL
from geo.alerts.statements import STATEMENTS, batch_facts, bind_values, combined
from geo.errors import ValidationError
from geo.times import WIB

PREPARED_LOCK_FOREIGNERS: Final = prepared("timpora_alert_lock_foreigners", LOCK_FOREIGNERS_SQL)


def today_wib(now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(WIB).date()


def _run(
    session: Session,
    mode: str,
    names: tuple[str, ...],
    extra: dict[str, Any],
    today: dt.date,
    counts: dict[str, int] | None = None,
) -> list[int]:
    rules = load_rules(session)
    enabled = [
        (name, rules[name.split("@", 1)[0]])
        for name in names
        if name.split("@", 1)[0] in rules and rules[name.split("@", 1)[0]].enabled
    ]
    if mode == "ids":
        if not enabled:
            return []
        params = dict(extra)
        for _name, rule in enabled:
            params.update({f"{rule.kind}__{k}": v for k, v in bind_values(rule, today).items()})
        prep = combined(tuple(name for name, _ in enabled))
        return [int(r[0]) for r in execute_prepared(session, prep, params)]
    created: list[int] = []
    facts = batch_facts(rules, names) if mode == "since" else None
    if facts is not None:
        stmt, params = facts
        session.execute(DROP_BATCH_FACTS_SQL)  # left by an earlier pass in this transaction
        session.execute(stmt, {**params, **extra})
    for name, rule in enabled:
        params = {**bind_values(rule, today), **extra}
        n = 0
        for stmt in STATEMENTS[mode][name]:
            ids = list(session.execute(stmt, params).scalars())
            created.extend(ids)
            n += len(ids)
        if counts is not None:
            counts[rule.kind] = counts.get(rule.kind, 0) + n
    if facts is not None:
        session.execute(DROP_BATCH_FACTS_SQL)
    return created


def evaluate_for(
    *, session: Session, layer: str, ids: list[int], today: dt.date | None = None
) -> list[int]:
    """Evaluate the rules a write of ``ids`` in ``layer`` can trigger; return new alert ids.

    Runs in the caller's transaction (no commit), right after the write, so the alerts commit or
    roll back with it. ``today`` (WIB) only matters for ``permit_expiring``.
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}; got {layer!r}")
    ids = sorted({int(i) for i in ids})
    if not ids:
        return []
    extra: dict[str, Any] = {"ids": ids}
    # Generic plans for our prepared statements, the caller's setting back afterwards.
    caller_mode = session.execute(FORCE_GENERIC_SQL).one()[0]
    try:
        if layer == "sightings":
            ((at_min, at_max, _),) = execute_prepared(
                session, PREPARED_LOCK_FOREIGNERS, {"cls": LOCK_FOREIGNER, "ids": ids}
            )
            if at_min is None:
                return []
            extra.update(at_min=at_min, at_max=at_max)
        elif layer == "incidents":
            session.execute(LOCK_CLUSTER_SQL, {"cls": LOCK_INCIDENT_CLUSTER})
        return _run(session, "ids", LAYER_RULES[layer], extra, today or today_wib())
    finally:
        session.execute(RESTORE_PLAN_MODE_SQL, {"mode": caller_mode})


def run_batch(
    *,
    session: Session,
    since: dt.datetime | None = None,
    today: dt.date | None = None,
    rules: tuple[str, ...] | None = None,
) -> dict[str, int]:
    """Evaluate every enabled rule over all records (or those since ``since``).

    Returns the number of new alerts per rule. Runs in the caller's transaction.
    """
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=WIB)
    names = rules or BATCH_RULES
    unknown = [n for n in names if n not in BATCH_RULES]
    if unknown:
        raise ValidationError(f"unknown rule {unknown[0]!r}", field="rule", value=unknown[0])
    counts: dict[str, int] = {n: 0 for n in names}
    extra = {"since": since or dt.datetime(1900, 1, 1, tzinfo=dt.UTC)}
    caller = session.execute(BATCH_SETTINGS_SQL).one()
    try:
        _run(session, "since", names, extra, today or today_wib(), counts)
    finally:
        session.execute(RESTORE_BATCH_SETTINGS_SQL, {"work_mem": caller[0], "jit": caller[1]})
    return counts
