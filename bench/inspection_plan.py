"""Inspection plans over the whole regency: how long a plan takes and what it picks.

Seeds the small demo set into a throwaway cluster (as ``bench/risk_quality.py`` does), then
makes plans with ``geo.inspection_plan`` from the office (Sambas town) and from PLBN Aruk, for a
day (12 stops, 150 km) and a week (4 stops a day, 150 km a day), and reports the time of each
(ranking, heuristic, saving) and how many of the stops are planted violating workplaces of the
demo's answer key. Every plan is checked against its limits (length, stops, return to start).

    TIMPORA_REFERENCE_DATA_DIR=/work/shared/data .venv/bin/python bench/inspection_plan.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.alert_quality import END, _connect, seed_set  # noqa: E402
from bench.common import Row, database_url, machine, report  # noqa: E402

PLANS: Final = (
    ("office, day, 12 stops, 150 km", {"period": "day", "max_stops": 12, "max_route_km": 150}),
    ("office, week, 4/day, 150 km", {"period": "week", "max_stops": 4, "max_route_km": 150}),
    (
        "PLBN Aruk, day, 6 stops, 80 km",
        {"period": "day", "max_stops": 6, "max_route_km": 80, "start_place": "PLBN Aruk"},
    ),
)
REPEATS: Final = 3


def measure(url: str, size: str) -> list[dict[str, Any]]:
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from geo import inspection_plan, risk
    from geo.users import Principal

    engine = _connect(url)
    results = []
    try:
        truth, _seeded_s = seed_set(engine, size)
        planted = {ref for w in truth["workplaces"] for ref in w["subject"]["workplaces"]}
        principal = Principal(name="bench", role="analyst")
        with Session(engine) as session:
            refs = {
                int(r.id): str(r.external_ref)
                for r in session.execute(text("SELECT id, external_ref FROM workplace"))
            }
            for name, kw in PLANS:
                times = []
                plan: dict[str, Any] = {}
                for _ in range(REPEATS):
                    t0 = time.perf_counter()
                    request = inspection_plan.parse_request(
                        session=session, date=END.isoformat(), window_days=365, **kw
                    )
                    plan = inspection_plan.make_plan(
                        session=session, request=request, principal=principal
                    )
                    times.append(time.perf_counter() - t0)
                    session.rollback()
                # The ranking statement alone, as the plan runs it (its share of the time).
                t0 = time.perf_counter()
                risk.scored_workplaces(
                    session=session,
                    query=request.risk_query,
                    weight=risk.weights(session=session),
                    personal=True,
                )
                ranking_s = time.perf_counter() - t0
                session.rollback()
                meta = plan["plan"]
                stops = [
                    f["properties"] for f in plan["features"] if f["properties"]["kind"] == "stop"
                ]
                per_day: dict[str, int] = {}
                for s in stops:
                    per_day[s["visit_on"]] = per_day.get(s["visit_on"], 0) + 1
                assert all(n <= kw["max_stops"] for n in per_day.values()), per_day
                assert (
                    meta["route_length_km"]
                    <= kw["max_route_km"] * len(meta["parameters"]["days"]) + 1e-6
                )
                results.append(
                    {
                        "name": name,
                        "seconds": sorted(times)[len(times) // 2],
                        "ranking_seconds": ranking_s,
                        "stops": len(stops),
                        "planted": sum(refs[s["workplace_id"]] in planted for s in stops),
                        "km": meta["route_length_km"],
                        "workplaces": len(refs),
                        "planted_total": len(planted),
                    }
                )
    finally:
        engine.dispose()
    return results


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", default="small", choices=("small", "large"))
    args = parser.parse_args(list(argv) if argv is not None else None)
    host = machine()
    print(f"machine: {host}", flush=True)
    with database_url(56810) as url:
        results = measure(url, args.size)
    rows = [
        Row(
            workload=f"plan: {r['name']}",
            ours=r["seconds"],
            baseline=None,
            ratio=None,
            target="-",
            met=None,
            unit="s (median of 3)",
            note=f"ranking alone {r['ranking_seconds']:.2f} s; "
            f"{r['stops']} stops, {r['planted']} planted violators, {r['km']:.1f} km; "
            f"{r['workplaces']} workplaces, {r['planted_total']} planted",
        )
        for r in results
    ]
    report(rows, title="inspection plans over the regency", machine_text=host)


if __name__ == "__main__":
    main()
