"""Workplace risk ranking against the demo's planted violating workplaces.

The demo generator plants violating workplaces (over their RPTKA quota, employing overstayers,
or where workers sponsored by another company are seen working) and lists them in its answer
key (docs/demo-data.md, ``workplaces``). This script seeds the small set into a throwaway
cluster (as ``bench/alert_quality.py`` does), ranks every workplace with ``geo.risk`` at the
set's end date, and reports how many of the top 10 and top 20 are planted violators, beside a
ranking by incident count alone (incidents at the workplace or within the same radius, the
same window) in the same run. Target: at least 8 of the top 10 (docs/risk.md).

    TIMPORA_REFERENCE_DATA_DIR=/work/shared/data .venv/bin/python bench/risk_quality.py
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

TOPS: Final = (10, 20)
TARGET_TOP10: Final = 8
WINDOW_DAYS: Final = 365  # the demo's whole year


def measure(url: str, size: str) -> tuple[dict[str, Any], float, float]:
    """(hits per ranking and k, seed seconds, ranking seconds)."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from geo import risk
    from geo.users import Principal

    engine = _connect(url)
    try:
        truth, seeded_s = seed_set(engine, size)
        planted = {ref for w in truth["workplaces"] for ref in w["subject"]["workplaces"]}
        query = risk.parse_query(
            limit=risk.MAX_LIMIT, as_of=END.isoformat(), window_days=WINDOW_DAYS
        )
        principal = Principal(name="bench", role="analyst")  # counts unsuppressed
        with Session(engine) as session:
            rows = session.execute(text("SELECT id, external_ref FROM workplace"))
            refs = {int(row.id): str(row.external_ref) for row in rows}
            t0 = time.perf_counter()
            body = risk.rank(session=session, query=query, principal=principal)
            ranked_s = time.perf_counter() - t0
            only_incidents = {name: 0.0 for name in risk.FACTOR_NAMES} | {"incidents": 1.0}
            baseline = risk.rank(
                session=session, query=query, principal=principal, weight=only_incidents
            )
            session.rollback()
    finally:
        engine.dispose()
    hits: dict[str, Any] = {"planted": len(planted), "workplaces": len(refs)}
    for name, result in (("risk", body), ("incidents", baseline)):
        order = [refs[w["workplace_id"]] for w in result["workplaces"]]
        for k in TOPS:
            hits[f"{name}@{k}"] = sum(ref in planted for ref in order[:k])
        hits[f"{name}_top"] = [
            (
                refs[w["workplace_id"]],
                w["score"],
                refs[w["workplace_id"]] in planted,
                " ".join(f"{f['factor']}={f['value']:g}" for f in w["factors"] if f["value"]),
            )
            for w in result["workplaces"][:20]
        ]
    return hits, seeded_s, ranked_s


def rows_for(hits: dict[str, Any], size: str) -> list[Row]:
    rows = []
    for k in TOPS:
        ours, base = hits[f"risk@{k}"], hits[f"incidents@{k}"]
        judged = size == "small" and k == 10
        rows.append(
            Row(
                workload=f"planted violators in the top {k}",
                ours=float(ours),
                baseline=float(base) if base else None,  # none of them: no ratio
                ratio=ours / base if base else None,
                target=f">= {TARGET_TOP10}" if k == 10 else "-",
                met=(ours >= TARGET_TOP10) if judged else None,
                unit="workplaces",
                note=f"{size} set, {hits['planted']} planted of {hits['workplaces']}; "
                f"baseline: incident count alone ({base})",
            )
        )
    return rows


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small set (the default)")
    parser.add_argument("--size", default="small", choices=("small", "large"))
    args = parser.parse_args(list(argv) if argv is not None else None)
    host = machine()
    print(f"machine: {host}", flush=True)
    with database_url(56800) as url:
        hits, seeded_s, ranked_s = measure(url, args.size)
    print(
        f"\nseeded in {seeded_s:.1f} s; ranked {hits['workplaces']} workplaces in {ranked_s:.2f} s"
    )
    for name in ("risk", "incidents"):
        print(f"\ntop 20 by {name} (external ref, score, planted):")
        for i, (ref, score, planted, factors) in enumerate(hits[f"{name}_top"], start=1):
            print(
                f"  {i:2d}. {ref}  {score:8.2f}  {'planted' if planted else '       '}  {factors}"
            )
    report(
        rows_for(hits, args.size),
        title="workplace risk ranking against the planted violators",
        machine_text=host,
    )


if __name__ == "__main__":
    main()
