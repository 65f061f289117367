"""Evaluating the alert rules: on write for the written ids, and in batch since a time.

Both paths run the same statements (``geo.alerts.statements``) with a different scope, so
evaluating rows one by one as they are written (in time order) and evaluating them all at once
give the same episodes (docs/alerts.md). On-write evaluation also takes a transaction-level
advisory lock per foreigner (and one for incident clusters) so that rules reading earlier
sightings see each other's committed rows. Each evaluation says which episodes it opened (those
are delivered), which open ones it updated, and which it closed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.alerts.catalogue import BATCH_RULES, LAYER_RULES, LAYERS, Rule, load_rules
from geo.alerts.prepared import (
    BATCH_SETTINGS,
    ON_WRITE_SETTINGS,
    execute_prepared,
    prepared,
    session_settings,
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
from geo.roles import enter_service_scope, leave_service_scope
from geo.times import WIB, today_wib

PREPARED_LOCK_FOREIGNERS: Final = prepared("timpora_alert_lock_foreigners", LOCK_FOREIGNERS_SQL)

# Open episodes quiet for longer than their rule's window, as of a time, are closed as lapsed.
LAPSE_SQL: Final = text(
    """
    UPDATE alert a SET status = 'lapsed', closed_reason = 'quiet'
    FROM unnest(CAST(:kinds AS text[]), CAST(:quiet_s AS float8[])) AS q(kind, quiet_s)
    WHERE a.rule_kind = q.kind AND a.status IN ('new', 'acknowledged')
      AND a.last_seen_at < CAST(:now AS timestamptz) - make_interval(secs => q.quiet_s)
    RETURNING a.id
    """
)


@dataclass
class Evaluation:
    """What an evaluation did to the episodes: alert ids by change.

    ``opened``: new episodes (the ones delivered: stream, webhooks, notifications);
    ``updated``: open episodes that got more occurrences; ``closed``: episodes closed as
    lapsed (quiet, or ended by the subject, e.g. a PLB holder back inside the area), including
    past episodes a batch found already over.
    """

    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)

    def add(self, alert_id: int, change: str) -> None:
        getattr(self, change).append(int(alert_id))


def _enabled(session: Session, names: tuple[str, ...]) -> list[tuple[str, Rule]]:
    rules = load_rules(session)
    return [
        (name, rules[name.split("@", 1)[0]])
        for name in names
        if name.split("@", 1)[0] in rules and rules[name.split("@", 1)[0]].enabled
    ]


def evaluate_for(
    *, session: Session, layer: str, ids: list[int], today: dt.date | None = None
) -> Evaluation:
    """Evaluate the rules a write of ``ids`` in ``layer`` can trigger.

    Runs in the caller's transaction (no commit), right after the write, so the episodes commit
    or roll back with it. ``today`` (WIB) only matters for ``permit_expiring``.
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}; got {layer!r}")
    result = Evaluation()
    ids = sorted({int(i) for i in ids})
    if not ids:
        return result
    params: dict[str, Any] = {"ids": ids}
    # Generic nested-loop plans for our prepared statements, the caller's settings back after.
    with session_settings(session, ON_WRITE_SETTINGS):
        return _evaluate(session, layer, ids, params, today)


def _evaluate(
    session: Session, layer: str, ids: list[int], params: dict[str, Any], today: dt.date | None
) -> Evaluation:
    result = Evaluation()
    # The rules see every record, whatever its sharing and the writer's agency: alerts on write
    # equal the batch (who may then see an alert is the alert's own row policy).
    caller_agency = enter_service_scope(session)
    try:
        if layer == "sightings":
            ((at_min, at_max, _),) = execute_prepared(
                session, PREPARED_LOCK_FOREIGNERS, {"cls": LOCK_FOREIGNER, "ids": ids}
            )
            if at_min is None:
                return result
            params.update(at_min=at_min, at_max=at_max)
        elif layer == "incidents":
            session.execute(LOCK_CLUSTER_SQL, {"cls": LOCK_INCIDENT_CLUSTER})
        enabled = _enabled(session, LAYER_RULES[layer])
        if not enabled:
            return result
        day = today or today_wib()
        for _name, rule in enabled:
            params.update({f"{rule.kind}__{k}": v for k, v in bind_values(rule, day).items()})
        prep = combined(tuple(name for name, _ in enabled))
        for alert_id, change in execute_prepared(session, prep, params):
            result.add(alert_id, change)
        return result
    finally:
        leave_service_scope(session, caller_agency)


def lapse_quiet(
    *, session: Session, now: dt.datetime | None = None, kinds: tuple[str, ...] | None = None
) -> list[int]:
    """Close as lapsed the open episodes quiet for longer than their rule's ``quiet_days``
    as of ``now`` (of the rules ``kinds``, default all)."""
    rules = load_rules(session)
    kinds = tuple(sorted(k for k in rules if kinds is None or k in kinds))
    found = session.execute(
        LAPSE_SQL,
        {
            "kinds": list(kinds),
            "quiet_s": [float(rules[k].parameters["quiet_days"]) * 86400.0 for k in kinds],
            "now": now or dt.datetime.now(dt.UTC),
        },
    )
    return sorted(int(r[0]) for r in found)


@dataclass
class BatchResult:
    """A batch evaluation: per rule, episodes opened, updated and closed."""

    opened: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    lapsed: int = 0  # open episodes closed by the quiet sweep at the end


def run_batch(
    *,
    session: Session,
    since: dt.datetime | None = None,
    today: dt.date | None = None,
    rules: tuple[str, ...] | None = None,
    now: dt.datetime | None = None,
    lapse: bool = True,
) -> dict[str, int]:
    """Evaluate every enabled rule over all records (or those since ``since``).

    Returns the number of episodes opened per rule. With ``lapse``, episodes quiet for longer
    than their rule's window as of ``now`` (default: the end of ``today`` when given, else now)
    are closed: those the run would open are inserted lapsed (counted as closed, not opened, and
    not delivered), the open ones from before by the sweep at the end. Runs in the caller's
    transaction. ``run_batch_detailed`` also says what was updated and closed.
    """
    return run_batch_detailed(
        session=session, since=since, today=today, rules=rules, now=now, lapse=lapse
    ).opened


def run_batch_detailed(
    *,
    session: Session,
    since: dt.datetime | None = None,
    today: dt.date | None = None,
    rules: tuple[str, ...] | None = None,
    now: dt.datetime | None = None,
    lapse: bool = True,
) -> BatchResult:
    """``run_batch`` with the episodes updated and closed per rule as well."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=WIB)
    names = rules or BATCH_RULES
    unknown = [n for n in names if n not in BATCH_RULES]
    if unknown:
        raise ValidationError(f"unknown rule {unknown[0]!r}", field="rule", value=unknown[0])
    out = BatchResult(
        opened={n: 0 for n in names}, updated={n: 0 for n in names}, closed={n: 0 for n in names}
    )
    extra = {"since": since or dt.datetime(1900, 1, 1, tzinfo=dt.UTC)}
    day = today or today_wib(now)
    if now is None and today is not None:  # evaluating as of a day: quiet as of its end
        now = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), WIB)
    if lapse and now is None:  # one instant for the inserts' quiet test and the sweep
        now = dt.datetime.now(dt.UTC)
    with session_settings(session, BATCH_SETTINGS):
        _run_rules(session, out, names, day, extra, now, lapse)
    return out


def _run_rules(
    session: Session,
    out: BatchResult,
    names: tuple[str, ...],
    day: dt.date,
    extra: dict[str, Any],
    now: dt.datetime | None,
    lapse: bool,
) -> None:
    caller_agency = enter_service_scope(session)
    try:
        all_rules = load_rules(session)
        facts = batch_facts(all_rules, names)
        if facts is not None:
            stmt, params = facts
            session.execute(DROP_BATCH_FACTS_SQL)  # left by an earlier pass in this transaction
            session.execute(stmt, {**params, **extra})
        for name, rule in _enabled(session, names):
            params = {
                **bind_values(rule, day),
                **extra,
                # Episodes already quiet as of ``now`` are inserted lapsed (as the sweep below
                # would leave them); without the sweep they are inserted open.
                "lapse_at": now if lapse else None,
                "quiet_s": float(rule.parameters["quiet_days"]) * 86400.0,
            }
            for _alert_id, change in session.execute(STATEMENTS["since"][name], params):
                counts = getattr(out, change)
                counts[rule.kind] = counts.get(rule.kind, 0) + 1
        if facts is not None:
            session.execute(DROP_BATCH_FACTS_SQL)
        if lapse:
            kinds = tuple({n.split("@", 1)[0] for n in names})
            out.lapsed = len(lapse_quiet(session=session, now=now, kinds=kinds))
    finally:
        leave_service_scope(session, caller_agency)
