"""The domain counters ``/metrics`` publishes, read from the database at scrape time (so they
survive restarts and count every worker): alerts raised, alerts still open, rows imported,
notifications waiting or failed."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text

DOMAIN_COUNTS_SQL = text(
    """
    SELECT 'alert' AS what, rule_kind AS label, count(*) AS n FROM alert GROUP BY rule_kind
    UNION ALL
    SELECT 'import', resource, coalesce(sum(record_count), 0) FROM audit_log
    WHERE action = 'import' GROUP BY resource
    UNION ALL
    SELECT 'open_alert', status, count(*) FROM alert WHERE status <> 'resolved' GROUP BY status
    UNION ALL
    SELECT 'notify', status, count(*) FROM notify_outbox WHERE status <> 'delivered'
    GROUP BY status
    """
)


@dataclass(frozen=True)
class DomainCounts:
    alerts_by_rule: dict[str, int] = field(default_factory=dict)
    open_alerts_by_status: dict[str, int] = field(default_factory=dict)
    imported_rows_by_layer: dict[str, int] = field(default_factory=dict)
    # Notifications waiting (pending) or given up on (failed): a channel that is down shows here.
    notifications_by_status: dict[str, int] = field(default_factory=dict)


def domain_counts(*, connection: Connection) -> DomainCounts:
    """One query for every counter (a scrape must stay cheap)."""
    counts = DomainCounts()
    target = {
        "alert": counts.alerts_by_rule,
        "open_alert": counts.open_alerts_by_status,
        "import": counts.imported_rows_by_layer,
        "notify": counts.notifications_by_status,
    }
    for what, label, n in connection.execute(DOMAIN_COUNTS_SQL):
        target[what][label] = int(n)
    return counts
