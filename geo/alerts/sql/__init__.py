"""The alert rules as set-based SQL, one module per rule family (docs/alerts.md).

A rule is a *trigger query*: one row per record that trips it, with the episode it belongs to
(``episode_key``: rule + subject, and for a sighting not shared with the whole Timpora its
sharing, ``sightings.SHARING_SCOPE``) and the columns the alert carries. ``EPISODE_CTES`` turns the
triggers into episodes in one statement: triggers of a key are ordered in time; a gap longer
than the rule's quiet window (or a trigger that says the previous episode ended) starts a new
episode; the first episode continues the key's open episode (``last_seen_at``,
``occurrences``, ``worst_distance_m``, ``last_sighting_id``) or the open one is closed as
``lapsed`` first; the others are inserted, all but the newest as ``lapsed``. In batch the newest
is inserted as ``lapsed`` (``quiet``) too when it is already quiet past the rule's window as of
the run's instant and no other episode of its key is open: the row the quiet sweep would have
left, written once (``QUIET_NOW``). The insert is
``ON CONFLICT (episode_key) WHERE status IN ('new', 'acknowledged') DO UPDATE``, so concurrent
writers merge into one open episode. Only triggers after the key's latest episode count, so a
re-run adds nothing. The same statement serves both paths: on write the trigger query is
restricted to the written ids, in batch to records since a time (``geo.alerts.statements`` fills
the placeholders, always from code, never from users).

Each trigger depends only on the data at or before the triggering record (previous sightings,
earlier incidents), never on which alerts exist, so evaluating rows one by one as they are
written (in time order) and evaluating them all at once give the same episodes.

Distances are exact, in EPSG:32649, with ``ST_DWithin``/``ST_Distance`` on ``geom_utm`` (the
border distance is the column ``distance_to_border_m`` the location trigger filled with
``ST_Distance`` on the same pieces). No buffer polygons are used for a distance test.

- ``incidents``: ``incident_near_workplace``, ``incident_cluster``;
- ``sightings``: the per-sighting rules, on write and in batch (``sightings_batch`` holds the
  one pass over the sightings the batch reads);
- ``foreigners``: ``permit_expiring``;
- ``locks``: the advisory locks on-write evaluation takes.
"""

from __future__ import annotations

from typing import Final

# What every trigger query selects, in this order and with these names.
TRIGGER_COLUMNS: Final = (
    "episode_key",  # rule + subject (+ a restricted sighting's sharing): the trigger's episode
    "ord",  # tie-break of triggers at the same instant (the record's id)
    "restart",  # why the previous episode ended, when the trigger itself says so; else NULL
    "incident_id",
    "sighting_id",
    "foreigner_id",
    "workplace_id",
    "zone_id",
    "subjects",
    "distance_m",
    "geom",
    "kecamatan_code",
    "kecamatan_name",
    "desa_code",
    "desa_name",
    "details",
    "event_at",
)

OPEN: Final = "('new', 'acknowledged')"

# ``{p}`` prefixes the CTE names (several rules share one statement on write), ``{rule}`` is the
# rule kind, ``{triggers}`` its trigger query, ``{worst}`` ``least`` (a distance that is worse
# when smaller: to the border, to a workplace) or ``greatest`` (further from the sponsor or the
# PLB area). ``{p}ins`` waits for ``{p}cont`` (its one-time filter reads it), so an open episode
# is closed before its successor is inserted under the same key.
# ``{p}latest`` is written as one index probe per distinct key rather than ``episode_key IN
# (...)``: with the statistics of an ``alert`` table that was empty when last analysed, the
# planner turned the IN into a nested loop scanning every trigger for each of 73,000 alerts
# (144 s for one rule over the 1e6 benchmark set instead of 1 s).
EPISODE_CTES: Final = """
{p}trig AS MATERIALIZED (
    {triggers}
),
{p}latest AS MATERIALIZED (  -- one probe of ix_alert_episode_latest per key
    SELECT l.*
    FROM (SELECT DISTINCT t.episode_key FROM {p}trig t) k
    CROSS JOIN LATERAL (
        SELECT a.episode_key, a.id, a.status, a.last_seen_at, a.last_sighting_id
        FROM alert a
        WHERE a.episode_key = k.episode_key
        ORDER BY a.last_seen_at DESC, a.id DESC
        LIMIT 1
    ) l
),
{p}step AS (  -- triggers after the key's latest episode, each with the time of the one before
    SELECT t.*, CASE WHEN l.status IN {open} THEN l.id END AS open_id,
           coalesce(lag(t.event_at) OVER w,
                    CASE WHEN l.status IN {open} THEN l.last_seen_at END) AS prev_at
    FROM {p}trig t
    LEFT JOIN {p}latest l ON l.episode_key = t.episode_key
    WHERE l.id IS NULL
       OR (t.event_at, t.ord) > (l.last_seen_at,
                                 coalesce(l.last_sighting_id, 9223372036854775807))
    WINDOW w AS (PARTITION BY t.episode_key ORDER BY t.event_at, t.ord)
),
{p}isl AS (  -- episode number per key: 0 continues the open episode
    SELECT s.*,
           count(*) FILTER (WHERE s.prev_at IS NOT NULL
                              AND (s.restart IS NOT NULL OR s.prev_at < s.event_at - :quiet))
               OVER (PARTITION BY s.episode_key ORDER BY s.event_at, s.ord)
           + CASE WHEN s.open_id IS NULL THEN 1 ELSE 0 END AS island
    FROM {p}step s
),
{p}ep AS MATERIALIZED (  -- one row per episode: its first trigger and the aggregates
    SELECT e.*, lead(e.opened_because) OVER (PARTITION BY e.episode_key ORDER BY e.island)
                    AS closed_because
    FROM (
        SELECT i.*, coalesce(i.restart, 'quiet') AS opened_because,
               row_number() OVER wo AS rn,
               count(*) OVER wa AS n,
               max(i.event_at) OVER wa AS last_at,
               {worst_agg}(i.distance_m) OVER wa AS worst_m,
               last_value(i.sighting_id) OVER (wo ROWS BETWEEN UNBOUNDED PRECEDING
                                                AND UNBOUNDED FOLLOWING) AS last_sid
        FROM {p}isl i
        WINDOW wa AS (PARTITION BY i.episode_key, i.island),
               wo AS (PARTITION BY i.episode_key, i.island ORDER BY i.event_at, i.ord)
    ) e
    WHERE e.rn = 1
),
{p}cont AS (  -- the open episodes: continued by episode 0, closed when a later one starts
    UPDATE alert a
    SET last_seen_at = greatest(a.last_seen_at, c.last_at),
        occurrences = a.occurrences + coalesce(c.n, 0),
        worst_distance_m = {worst}(a.worst_distance_m, c.worst_m),
        last_sighting_id = coalesce(c.last_sid, a.last_sighting_id),
        status = CASE WHEN c.closed_because IS NULL THEN a.status ELSE 'lapsed' END,
        closed_reason = coalesce(c.closed_because, a.closed_reason)
    FROM (
        SELECT e.open_id,
               max(e.n) FILTER (WHERE e.island = 0) AS n,
               max(e.last_at) FILTER (WHERE e.island = 0) AS last_at,
               max(e.worst_m) FILTER (WHERE e.island = 0) AS worst_m,
               max(e.last_sid) FILTER (WHERE e.island = 0) AS last_sid,
               (array_agg(e.opened_because ORDER BY e.island)
                   FILTER (WHERE e.island > 0))[1] AS closed_because
        FROM {p}ep e
        WHERE e.open_id IS NOT NULL
        GROUP BY e.open_id
    ) c
    WHERE a.id = c.open_id AND a.status IN {open}
    RETURNING a.id, a.status
),
{p}ins AS (  -- dedup_key: the key and the first trigger's instant (UTC), unique per episode
    INSERT INTO alert (rule_id, rule_kind, severity, status, closed_reason, dedup_key,
                       episode_key, incident_id, sighting_id, foreigner_id, workplace_id,
                       zone_id, subjects, distance_m, geom, kecamatan_code, kecamatan_name,
                       desa_code, desa_name, details, event_at, first_seen_at, last_seen_at,
                       occurrences, worst_distance_m, last_sighting_id)
    SELECT :rule_id, '{rule}', :severity,
           CASE WHEN e.closed_because IS NULL AND NOT q.quiet_now THEN 'new' ELSE 'lapsed' END,
           coalesce(e.closed_because, CASE WHEN q.quiet_now THEN 'quiet' END),
           e.episode_key || '\\:from='
               || to_char(e.event_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISSUS'),
           e.episode_key,
           e.incident_id, e.sighting_id, e.foreigner_id, e.workplace_id, e.zone_id, e.subjects,
           e.distance_m, e.geom, e.kecamatan_code, e.kecamatan_name, e.desa_code, e.desa_name,
           e.details, e.event_at, e.event_at, e.last_at, e.n, e.worst_m, e.last_sid
    FROM {p}ep e
    CROSS JOIN LATERAL (SELECT {quiet_now} AS quiet_now) q
    WHERE e.island > 0 AND (SELECT count(*) FROM {p}cont) >= 0
    ORDER BY e.event_at, e.ord
    ON CONFLICT (episode_key) WHERE status IN {open} DO UPDATE
    SET last_seen_at = greatest(alert.last_seen_at, EXCLUDED.last_seen_at),
        occurrences = alert.occurrences + EXCLUDED.occurrences,
        worst_distance_m = {worst}(alert.worst_distance_m, EXCLUDED.worst_distance_m),
        last_sighting_id = CASE WHEN EXCLUDED.last_seen_at >= alert.last_seen_at
                                THEN coalesce(EXCLUDED.last_sighting_id, alert.last_sighting_id)
                                ELSE alert.last_sighting_id END
    RETURNING alert.id, alert.status, alert.xmax = 0 AS inserted
)"""

# What each rule's part of a statement returns: the alert id and what happened to it.
EPISODE_RESULT: Final = """
SELECT i.id, CASE WHEN i.inserted AND i.status = 'new' THEN 'opened'
                  WHEN i.status = 'lapsed' THEN 'closed' ELSE 'updated' END AS change
FROM {p}ins i
UNION ALL
SELECT c.id, CASE WHEN c.status = 'lapsed' THEN 'closed' ELSE 'updated' END FROM {p}cont c"""

WORST: Final = {"least": "min", "greatest": "max"}

# In batch, whether an episode the statement inserts as its key's newest is already over as of
# ``:lapse_at`` (NULL: the run does not sweep): quiet for longer than the rule's window (the
# sweep's own test, ``geo.alerts.evaluation.LAPSE_SQL``, on the same ``:quiet_s`` seconds), and
# no episode of the key open besides the one this statement closes (``open_id``). Such an open
# one (a reopened older episode) takes the insert by ON CONFLICT, as on write, and the sweep
# then judges the merged episode. A historical import opens ~30,000 episodes quiet as of now:
# inserting them open and updating them all again in the sweep cost 0.7-2.6 s of one core. On
# write nothing is judged quiet: a write's episode opens, is delivered, and lapses later.
QUIET_NOW: Final = """(e.closed_because IS NULL
    AND coalesce(e.last_at < CAST(:lapse_at AS timestamptz)
                             - make_interval(secs => CAST(:quiet_s AS float8)), false)
    AND NOT EXISTS (SELECT 1 FROM alert o
                    WHERE o.episode_key = e.episode_key AND o.status IN {open}
                      AND o.id IS DISTINCT FROM e.open_id))"""

# The episodes of alias ``a`` that a period [:start, :end) shows (either bound may be NULL):
# those open at some time in it: first seen before its end, and open now or closed (resolved,
# or last seen for a lapsed one) at or after its start. Without a period: the open ones.
EPISODE_IN_PERIOD: Final = """CASE
    WHEN CAST(:start AS timestamptz) IS NULL AND CAST(:end AS timestamptz) IS NULL
    THEN a.status IN ('new', 'acknowledged')
    ELSE a.first_seen_at < coalesce(CAST(:end AS timestamptz), 'infinity')
         AND (a.status IN ('new', 'acknowledged')
              OR coalesce(a.resolved_at, a.last_seen_at)
                 >= coalesce(CAST(:start AS timestamptz), '-infinity'))
END"""
# ...and those of them first seen in the period (all of them without a period).
EPISODE_FIRST_SEEN_IN_PERIOD: Final = """(
    a.first_seen_at >= coalesce(CAST(:start AS timestamptz), '-infinity')
    AND a.first_seen_at < coalesce(CAST(:end AS timestamptz), 'infinity'))"""


def episode_ctes(
    *, prefix: str, rule: str, triggers: str, worst: str = "least", quiet_now: bool = False
) -> str:
    """The CTEs that merge ``triggers`` of ``rule`` into episodes (see the module docstring).

    ``quiet_now`` (batch): insert an episode already quiet as of ``:lapse_at`` as lapsed
    (``QUIET_NOW``); the statement then binds ``:lapse_at`` and ``:quiet_s``.
    """
    return EPISODE_CTES.format(
        p=prefix,
        rule=rule,
        triggers=triggers.strip(),
        worst=worst,
        worst_agg=WORST[worst],
        open=OPEN,
        quiet_now=QUIET_NOW.format(open=OPEN) if quiet_now else "false",
    )


def episode_statement(
    *, rule: str, triggers: str, worst: str = "least", quiet_now: bool = False
) -> str:
    """One rule's triggers merged into episodes, as a statement of its own."""
    return (
        "WITH "
        + episode_ctes(
            prefix="", rule=rule, triggers=triggers, worst=worst, quiet_now=quiet_now
        ).strip()
        + "\n"
        + EPISODE_RESULT.format(p="").strip()
    )
