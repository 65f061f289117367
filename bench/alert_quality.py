"""Benchmark: alert quality against the demo data's planted violations (recall, precision, episodes
per week), for the small and the large demo set.

The demo generator plants violations with a known answer (docs/demo-data.md): overstays sighted,
PLB holders far outside the PLB area, crossings away from the crossing posts, work at a
workplace other than the sponsor, incident clusters; beside them ordinary life that must not
alert. This script seeds a set into a throwaway cluster, evaluates the rules as the service does
(``run_batch`` over everything; with ``--on-write`` also record by record in time order, as
writes arrive, on the small set), and compares the episodes (alert rows) with the answer key:

* recall: planted violations for which each rule the key expects raised a matching episode;
* precision: episodes explained by a planted violation or by a rule hit the key lists as expected
  (the hotspots' incidents, incidents reported at a workplace, permits about to expire);
* episodes per week: episodes first seen in the data's twelve months, per week, for the whole
  regency (each was open once: a coordinator had to read it), and those still open at the end.

An episode matches a key entry when its rule is one the entry names, its subjects (foreigner,
incident, workplace) are among the entry's, and its first..last seen overlaps the entry's period
(one day of slack: day-keyed rules). docs/performance/alerts-quality.md has the figures.

    .venv/bin/python bench/alert_quality.py            # small + large (large: ~10 min on 2 cores)
    .venv/bin/python bench/alert_quality.py --quick    # small only, batch only (< 2 min)
    .venv/bin/python bench/alert_quality.py --no-large --on-write
    .venv/bin/python bench/alert_quality.py --sizes large
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Row, database_url, machine, report, table  # noqa: E402

SEED: Final = 7
END: Final = dt.date(2025, 7, 1)
SLACK: Final = dt.timedelta(days=1)
OPEN: Final = ("new", "acknowledged")
TARGET_RECALL: Final = 1.0
TARGET_PRECISION: Final = 0.9
TARGET_PER_WEEK: Final = 30.0

EPISODES_SQL: Final = """
SELECT a.rule_kind, a.status, a.first_seen_at, a.last_seen_at,
       f.external_ref AS foreigner, i.external_ref AS incident, w.external_ref AS workplace
FROM alert a
LEFT JOIN foreigner f ON f.id = a.foreigner_id
LEFT JOIN incident i ON i.id = a.incident_id
LEFT JOIN workplace w ON w.id = a.workplace_id
ORDER BY a.id
"""


@dataclass(frozen=True)
class Episode:
    rule: str
    status: str
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    foreigner: str | None = None
    incident: str | None = None
    workplace: str | None = None


@dataclass
class RuleQuality:
    planted: int = 0  # violations the key expects this rule to raise
    recalled: int = 0
    episodes: int = 0
    explained: int = 0
    open_at_end: int = 0


@dataclass
class Quality:
    rules: dict[str, RuleQuality] = field(default_factory=dict)
    violations: int = 0
    recalled: int = 0
    episodes: int = 0
    explained: int = 0
    open_at_end: int = 0
    weeks: float = 52.0
    missed: list[str] = field(default_factory=list)  # ids of violations not (fully) recalled
    skipped: list[str] = field(default_factory=list)  # rules left out (over the time limit)

    @property
    def recall(self) -> float | None:
        return self.recalled / self.violations if self.violations else None

    @property
    def precision(self) -> float | None:
        return self.explained / self.episodes if self.episodes else None

    @property
    def per_week(self) -> float:
        return self.episodes / self.weeks


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def matches(episode: Episode, entry: dict[str, Any], slack: dt.timedelta = SLACK) -> bool:
    """Whether ``episode`` is one the key ``entry`` explains (rule, subjects, period)."""
    if episode.rule not in entry["rules"]:
        return False
    subject = entry["subject"]
    named = False
    for key, value in (
        ("foreigners", episode.foreigner),
        ("incidents", episode.incident),
        ("workplaces", episode.workplace),
    ):
        refs = subject.get(key)
        if refs and value is not None:
            if value not in refs:
                return False
            named = True
    if not named:
        return False
    start, end = _when(entry["start"]) - slack, _when(entry["end"]) + slack
    return episode.first_seen_at <= end and episode.last_seen_at >= start


SUBJECT_KEYS: Final = ("foreigners", "incidents", "workplaces")


def _refs(episode: Episode) -> list[tuple[str, str]]:
    values = (episode.foreigner, episode.incident, episode.workplace)
    return [(k, v) for k, v in zip(SUBJECT_KEYS, values, strict=True) if v is not None]


def score(truth: dict[str, Any], episodes: Sequence[Episode]) -> Quality:
    """Recall, precision and episodes per week of ``episodes`` against the answer key.

    Both directions look candidates up by (rule, subject) first, so the large set's hundreds
    of thousands of episodes against thousands of key entries stay a matter of seconds.
    """
    window = truth["window"]
    start, end = _when(window["start"]), _when(window["end"])
    quality = Quality(weeks=(end - start).total_seconds() / (7 * 86400))
    violations = truth.get("violations", [])
    explainers = [*violations, *truth.get("expected", [])]
    episodes_by: dict[tuple[str, str, str], list[Episode]] = {}
    for e in episodes:
        for k, v in _refs(e):
            episodes_by.setdefault((e.rule, k, v), []).append(e)
    entries_by: dict[tuple[str, str, str], list[int]] = {}
    for n, x in enumerate(explainers):
        for name in x["rules"]:
            for k in SUBJECT_KEYS:
                for ref in x["subject"].get(k) or ():
                    entries_by.setdefault((name, k, ref), []).append(n)

    def rule(name: str) -> RuleQuality:
        return quality.rules.setdefault(name, RuleQuality())

    for v in violations:
        quality.violations += 1
        raised_all = True
        for name in v["rules"]:
            r = rule(name)
            r.planted += 1
            candidates = (
                e
                for k in SUBJECT_KEYS
                for ref in v["subject"].get(k) or ()
                for e in episodes_by.get((name, k, ref), ())
            )
            if any(matches(e, v) for e in candidates):
                r.recalled += 1
            else:
                raised_all = False
        if raised_all:
            quality.recalled += 1
        else:
            quality.missed.append(v["id"])
    for e in episodes:
        if not start - SLACK <= e.first_seen_at < end + dt.timedelta(days=31):
            continue  # outside the data's year (notices may look a month ahead)
        r = rule(e.rule)
        r.episodes += 1
        quality.episodes += 1
        if e.status in OPEN:
            r.open_at_end += 1
            quality.open_at_end += 1
        near = {n for k, v in _refs(e) for n in entries_by.get((e.rule, k, v), ())}
        if any(matches(e, explainers[n]) for n in sorted(near)):
            r.explained += 1
            quality.explained += 1
    return quality


def load_episodes(session: Any) -> list[Episode]:
    from sqlalchemy import text

    return [Episode(*row) for row in session.execute(text(EPISODES_SQL)).all()]


def percent(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def rows_for(quality: Quality, label: str, *, judged: bool) -> list[Row]:
    """The report's rows: totals with their targets (judged on the small set only)."""

    def met(ok: bool) -> bool | None:
        return ok if judged else None

    recall, precision = quality.recall, quality.precision
    left_out = f"; without {', '.join(quality.skipped)} (too slow)" if quality.skipped else ""
    rows = [
        Row(
            f"alert recall, {label}",
            percent(recall),
            target="100 %",
            met=met(recall is not None and recall >= TARGET_RECALL),
            unit="%",
            note=f"{quality.recalled} of {quality.violations} planted violations",
        ),
        Row(
            f"alert precision, {label}",
            percent(precision),
            target=">= 90 %",
            met=met(precision is not None and precision >= TARGET_PRECISION),
            unit="%",
            note=f"{quality.explained:,} of {quality.episodes:,} episodes explained",
        ),
        Row(
            f"episodes per week, {label}",
            quality.per_week,
            target="<= 30",
            met=met(quality.per_week <= TARGET_PER_WEEK),
            unit="/week",
            note=f"{quality.episodes:,} in {quality.weeks:.1f} weeks; "
            f"{quality.open_at_end:,} open at the end",
        ),
    ]
    return [replace(r, note=r.note + left_out) for r in rows]


def rule_table(quality: Quality) -> str:
    def pct(a: int, b: int) -> str:
        return "-" if b == 0 else f"{100 * a / b:.0f} %"

    lines = [
        (
            name,
            str(r.planted),
            pct(r.recalled, r.planted),
            f"{r.episodes:,}",
            f"{r.episodes / quality.weeks:.1f}",
            pct(r.explained, r.episodes),
            f"{r.open_at_end:,}",
        )
        for name, r in sorted(quality.rules.items())
    ]
    lines.append(
        (
            "all rules",
            str(quality.violations),
            pct(quality.recalled, quality.violations),
            f"{quality.episodes:,}",
            f"{quality.per_week:.1f}",
            pct(quality.explained, quality.episodes),
            f"{quality.open_at_end:,}",
        )
    )
    header = ("rule", "planted", "recall", "episodes", "per week", "precision", "open at end")
    return table(lines, header=header)


def _connect(url: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    return create_engine(make_url(url).set(drivername="postgresql+psycopg2"))


def seed_set(engine: Any, size: str) -> tuple[dict[str, Any], float]:
    """Reference geography and the demo set (no alerts yet); the answer key and seconds."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from geo.boundaries import load_reference_data
    from geo.demo import seed
    from geo.migrate import upgrade
    from geo.partitions import ensure_range
    from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings

    area = AreaSettings()
    if not (area.reference_data_dir / "sambas-admin").is_dir():
        sys.exit(
            f"no reference geography at {area.reference_data_dir}; "
            "set TIMPORA_REFERENCE_DATA_DIR (e.g. /work/shared/data)"
        )
    settings = Settings(
        database=DatabaseSettings(database_url=engine.url.render_as_string(hide_password=False)),
        area=area,
        service=ServiceSettings(environment="test"),
    )
    t0 = time.perf_counter()
    upgrade(engine)
    with Session(engine) as session:
        load_reference_data(session=session, settings=settings)
        session.commit()
    with Session(engine) as session:
        stop = dt.datetime.combine(END, dt.time(), dt.UTC)
        ensure_range(session=session, start=stop - dt.timedelta(days=400), end=stop)
        session.commit()
        done = seed(
            session=session, seed=SEED, size=size, end=END, area=area, evaluate_alerts=False
        )
        session.execute(text("DELETE FROM alert"))
        session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return done.ground_truth, time.perf_counter() - t0


def _timed_out(exc: BaseException | None) -> bool:
    """Whether ``exc`` or an exception it arose from is a statement timeout."""
    while exc is not None:
        if "statement timeout" in str(exc):
            return True
        exc = exc.__context__
    return False


def evaluate_batch(
    engine: Any, *, rule_timeout_s: float | None = None
) -> tuple[list[Episode], float, list[str]]:
    """Every rule over all data in one batch pass (as ``timpora alerts run``), today = END.

    With ``rule_timeout_s`` the rules run one by one, each in a savepoint under that statement
    timeout; a rule that takes longer is left out and named (the large set's incident rules can
    take very long on a loaded machine). Rolled back afterwards.
    """
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.orm import Session

    from geo.alerts import run_batch
    from geo.alerts.catalogue import BATCH_RULES

    skipped: list[str] = []
    with Session(engine) as session:
        t0 = time.perf_counter()
        if rule_timeout_s is None:
            run_batch(session=session, today=END)
        else:
            for name in BATCH_RULES:
                try:
                    with session.begin_nested():
                        session.execute(
                            text("SELECT set_config('statement_timeout', :ms, true)"),
                            {"ms": str(int(rule_timeout_s * 1000))},
                        )
                        run_batch(session=session, today=END, rules=(name,))
                except DBAPIError as exc:
                    if not _timed_out(exc):
                        raise
                    skipped.append(name)
                    print(f"{name}: over {rule_timeout_s:.0f} s, left out", flush=True)
            session.execute(text("SELECT set_config('statement_timeout', '0', true)"))
        seconds = time.perf_counter() - t0
        episodes = load_episodes(session)
        session.rollback()
    return episodes, seconds, skipped


def evaluate_on_write(engine: Any) -> tuple[list[Episode], float]:
    """Each incident and sighting evaluated on its own, in time order, as writes arrive; the
    daily permit notices in batch (today = END). Rolled back afterwards."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from geo.alerts import evaluate_for, run_batch

    with Session(engine) as session:
        t0 = time.perf_counter()
        for layer, sql in (
            ("incidents", "SELECT id FROM incident ORDER BY occurred_at, id"),
            ("sightings", "SELECT id FROM sighting ORDER BY observed_at, id"),
        ):
            for (record_id,) in session.execute(text(sql)).all():
                evaluate_for(session=session, layer=layer, ids=[int(record_id)], today=END)
        run_batch(session=session, today=END, rules=("permit_expiring",))
        seconds = time.perf_counter() - t0
        episodes = load_episodes(session)
        session.rollback()
    return episodes, seconds


def measure(
    url: str, size: str, *, on_write: bool, rule_timeout_s: float | None
) -> list[tuple[str, Quality, float]]:
    engine = _connect(url)
    try:
        truth, seeded_s = seed_set(engine, size)
        print(f"demo {size} (seed {SEED}, to {END}) seeded in {seeded_s:.0f} s", flush=True)
        episodes, seconds, skipped = evaluate_batch(engine, rule_timeout_s=rule_timeout_s)
        batch = score(truth, episodes)
        batch.skipped = skipped
        runs = [("batch", batch, seconds)]
        if on_write:
            episodes, seconds = evaluate_on_write(engine)
            runs.append(("on write", score(truth, episodes), seconds))
        return runs
    finally:
        engine.dispose()


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small set, batch only")
    parser.add_argument(
        "--large",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also the large set (default: on, off with --quick)",
    )
    parser.add_argument(
        "--on-write", action="store_true", help="small set also record by record (minutes)"
    )
    parser.add_argument("--sizes", help="comma-separated demo sizes, instead of --large")
    parser.add_argument(
        "--rule-timeout-s",
        type=float,
        default=900.0,
        help="large set: rules one by one, each left out past this many seconds",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    large = args.large if args.large is not None else not args.quick
    sizes = args.sizes.split(",") if args.sizes else ["small"] + (["large"] if large else [])
    unknown = [s for s in sizes if s not in ("small", "large")]
    if unknown:
        parser.error(f"--sizes takes small and/or large, not {', '.join(unknown)}")
    host = machine()
    print(f"machine: {host}", flush=True)
    rows: list[Row] = []
    for i, size in enumerate(sizes):
        with database_url(56700 + 10 * i) as url:
            results = measure(
                url,
                size,
                on_write=args.on_write and size == "small",
                rule_timeout_s=args.rule_timeout_s if size == "large" else None,
            )
        for how, quality, seconds in results:
            label = f"{size}, {how}"
            print(f"\nper rule, {label} (evaluated in {seconds:.1f} s)")
            print(rule_table(quality))
            if quality.missed:
                print(f"missed: {', '.join(quality.missed)}")
            if quality.skipped:
                print(f"left out (over {args.rule_timeout_s:.0f} s): {', '.join(quality.skipped)}")
            rows += rows_for(quality, label, judged=size == "small")
    report(rows, title="alert quality against the planted violations", machine_text=host)


if __name__ == "__main__":
    main()
