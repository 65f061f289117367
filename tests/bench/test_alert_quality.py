"""The alert-quality benchmark scores episodes against an answer key correctly, on hand-made
episodes, on a tiny planted set evaluated by the real rules in PostGIS, and in its quick run."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.alert_quality import Episode, load_episodes, rows_for, rule_table, score
from bench.common import RESULTS_ENV, read_results
from geo.alerts import run_batch
from geo.partitions import ensure_range

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, tzinfo=UTC)


def key(violations: list[dict[str, Any]], expected: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "window": {"start": at(1, 0).isoformat(), "end": at(15, 0).isoformat()},
        "violations": violations,
        "expected": expected,
    }


def entry(
    ident: str, rules: list[str], subject: dict[str, list[str]], start: int, end: int
) -> dict[str, Any]:
    return {
        "id": ident,
        "kind": "test",
        "rules": rules,
        "subject": subject,
        "start": at(start).isoformat(),
        "end": at(end).isoformat(),
    }


def episode(rule: str, day: int, **subjects: str) -> Episode:
    return Episode(rule, "new", at(day), at(day), **subjects)


def test_score_counts_recall_precision_and_episodes_per_week() -> None:
    truth = key(
        [
            entry("V1", ["expired_permit_sighting"], {"foreigners": ["F1"]}, 3, 6),
            entry("V2", ["plb_outside_area"], {"foreigners": ["F2"]}, 4, 4),
        ],
        [
            entry(
                "E1",
                ["incident_near_workplace"],
                {"incidents": ["I1"], "workplaces": ["W1"]},
                1,
                14,
            )
        ],
    )
    episodes = [
        episode("expired_permit_sighting", 5, foreigner="F1"),  # V1
        episode("plb_outside_area", 4, foreigner="F3"),  # someone else: not V2
        episode("incident_near_workplace", 2, incident="I1", workplace="W2"),  # other workplace
        episode("incident_near_workplace", 2, incident="I1", workplace="W1"),  # E1
        episode("expired_permit_sighting", 12, foreigner="F1"),  # after V1's period + slack
    ]
    quality = score(truth, episodes)
    assert (quality.violations, quality.recalled, quality.missed) == (2, 1, ["V2"])
    assert (quality.episodes, quality.explained) == (5, 2)
    assert quality.recall == 0.5 and quality.precision == 0.4
    assert quality.weeks == 2.0 and quality.per_week == 2.5
    rules = quality.rules
    assert (rules["plb_outside_area"].planted, rules["plb_outside_area"].recalled) == (1, 0)
    assert (
        rules["incident_near_workplace"].episodes,
        rules["incident_near_workplace"].explained,
    ) == (2, 1)
    assert "plb_outside_area" in rule_table(quality)
    recall, precision, per_week = rows_for(quality, "tiny", judged=True)
    assert recall.ours == 50.0 and recall.met is False
    assert precision.ours == 40.0 and precision.met is False
    assert per_week.ours == 2.5 and per_week.met is True
    # A day of slack either side: an episode the day after the period still counts.
    assert score(truth, [episode("plb_outside_area", 5, foreigner="F2")]).recalled == 1


def test_recall_on_a_tiny_planted_set_evaluated_in_postgis(session: Session) -> None:
    """Two planted violations the rules must raise, one the data does not hold."""
    ensure_range(session=session, start=at(1, 0), end=at(28, 0))
    ids = session.execute(
        text(
            """
            WITH w AS (
                INSERT INTO workplace (name, sector, external_ref, geom)
                VALUES ('PT Uji Kualitas', 'trade', 'Q-W-1',
                        ST_SetSRID(ST_MakePoint(109.31, 1.36), 4326))
                RETURNING id
            )
            INSERT INTO foreigner (full_name, nationality, permit_type, permit_expires_on,
                                   sponsor_workplace_id, external_ref, geom)
            SELECT v.name, 'CHN', 'KITAS', CAST(v.expires AS date), w.id, v.ref,
                   ST_SetSRID(ST_MakePoint(109.312, 1.362), 4326)
            FROM w, (VALUES ('Uji Satu (Sintetis)', '2025-01-01', 'Q-F-1'),
                            ('Uji Dua (Sintetis)', '2027-01-01', 'Q-F-2'),
                            ('Uji Tiga (Sintetis)', '2027-01-01', 'Q-F-3')) v(name, expires, ref)
            RETURNING id, external_ref
            """
        )
    ).all()
    person = {ref: fid for fid, ref in ids}
    sightings = [
        ("Q-F-1", at(10), 109.313, 1.361),  # overstay, near the sponsor
        ("Q-F-2", at(11), 108.975, 1.170),  # 43 km from the sponsor: works elsewhere
        ("Q-F-3", at(12), 109.311, 1.359),  # ordinary: valid permit, at work
    ]
    for ref, when, lon, lat in sightings:
        session.execute(
            text(
                "INSERT INTO sighting (foreigner_id, observed_at, source, geom) "
                "VALUES (:f, :t, 'patrol', ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
            ),
            {"f": person[ref], "t": when, "x": lon, "y": lat},
        )
    session.execute(text("DELETE FROM alert"))
    run_batch(session=session, today=dt.date(2025, 3, 20))
    truth = key(
        [
            entry("V1", ["expired_permit_sighting"], {"foreigners": ["Q-F-1"]}, 10, 10),
            entry("V2", ["far_from_sponsor"], {"foreigners": ["Q-F-2"]}, 11, 11),
            entry("V3", ["expired_permit_sighting"], {"foreigners": ["Q-F-3"]}, 12, 12),
        ],
        [],
    )
    quality = score(truth, load_episodes(session))
    assert quality.missed == ["V3"] and quality.recalled == 2
    assert quality.recall == pytest.approx(2 / 3)
    assert quality.episodes == 2 and quality.precision == 1.0


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_run_reports_recall_precision_and_rate(tmp_path: Path) -> None:
    """``bench/alert_quality.py --quick``: the small demo set, every planted violation raised."""
    results = tmp_path / "rows.jsonl"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "alert_quality.py"), "--quick"],
        cwd=ROOT,
        env={**os.environ, RESULTS_ENV: str(results)},
        capture_output=True,
        text=True,
        timeout=880,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["workload"]: r for r in read_results(results)}
    assert set(rows) == {
        "alert recall, small, batch",
        "alert precision, small, batch",
        "episodes per week, small, batch",
    }
    for r in rows.values():
        assert isinstance(r["ours"], float) and math.isfinite(r["ours"]) and r["ours"] > 0, r
        assert r["met"] in (True, False) and "PostgreSQL" in r["machine"], r
    assert rows["alert recall, small, batch"]["ours"] == 100.0, proc.stdout[-3000:]
    assert "per rule, small, batch" in proc.stdout and "all rules" in proc.stdout
    assert json.dumps(rows)  # plain JSON, as python -m bench reads it
