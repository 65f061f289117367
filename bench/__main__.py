"""Run every benchmark and print one table: ``python -m bench [--quick] [--only NAME,...]``.

Each script runs as a subprocess of its own, one after the other (the scripts load the machine's
cores themselves), with ``TIMPORA_BENCH_RESULTS`` set so its ``report(...)`` appends its rows.
The table gives each workload our figure, the baseline measured in the same run, the ratio,
the target and whether it was met; every figure is what the script reports (the median of its
repetitions). A script that fails shows as "error" with its last stderr line, and the runner
exits non-zero. Logs of every script are kept under ``--logs``.

    .venv/bin/python -m bench --quick            # small sizes, the whole suite in a few minutes
    .venv/bin/python -m bench                    # full sizes, by hand (tens of minutes)
    .venv/bin/python -m bench --only alerts,heatmap --markdown
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    RESULTS_ENV,
    Row,
    cells,
    machine,
    number,
    read_results,
    table,
)


@dataclass(frozen=True)
class Bench:
    name: str
    quick: tuple[str, ...]
    full: tuple[str, ...] = ()
    repeat: bool = True  # takes --repeat
    parsed: bool = True  # its rows are read into the table


# In the order they run. Quick arguments keep the whole suite within a few minutes on 2 cores.
BENCHES: tuple[Bench, ...] = (
    Bench("hotspots", ("--quick", "--repeat", "3")),
    Bench("alerts", ("--quick", "--repeat", "1")),
    Bench("heatmap", ("--quick",)),
    Bench("snapshot", ("--quick",)),
    Bench("importer", ("--quick",), repeat=False),
    Bench("scaling", ("--quick", "--repeat", "1")),
    Bench("api", ("--quick", "--repeat", "1")),
    Bench("alert_quality", ("--quick",), repeat=False),
    Bench("risk_quality", ("--quick",), repeat=False),
)
NAMES = tuple(b.name for b in BENCHES)


@dataclass
class Outcome:
    bench: Bench
    returncode: int | None  # None: timed out
    seconds: float
    rows: list[dict[str, Any]]
    last_error: str


def last_stderr_line(path: Path) -> str:
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""


def run_one(
    bench: Bench, *, quick: bool, repeat: int | None, logs: Path, timeout_s: float
) -> Outcome:
    results = logs / f"{bench.name}.jsonl"
    results.unlink(missing_ok=True)
    args = list(bench.quick if quick else bench.full)
    if repeat is not None and bench.repeat:
        if "--repeat" in args:
            del args[args.index("--repeat") : args.index("--repeat") + 2]
        args += ["--repeat", str(repeat)]
    command = [sys.executable, str(ROOT / "bench" / f"{bench.name}.py"), *args]
    env = {**os.environ, RESULTS_ENV: str(results)}
    stdout, stderr = logs / f"{bench.name}.out", logs / f"{bench.name}.err"
    print(f"[bench] {bench.name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    with stdout.open("w") as out, stderr.open("w") as err:
        # A new session, so a timeout can stop the script with the clusters and servers it began.
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True
        )
        try:
            returncode: int | None = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=60)
            returncode = None
    seconds = time.perf_counter() - t0
    rows = read_results(results) if bench.parsed else []
    error = ""
    if returncode is None:
        error = f"timed out after {timeout_s:.0f} s"
    elif returncode != 0:
        error = last_stderr_line(stderr) or f"exit status {returncode}"
    elif bench.parsed and not rows:
        error = "reported no rows"
    state = "ok" if not error else f"ERROR: {error}"
    print(f"[bench] {bench.name}: {seconds:.0f} s, {state}", file=sys.stderr, flush=True)
    return Outcome(bench, returncode, seconds, rows, error)


def as_row(record: dict[str, Any]) -> Row:
    fields = Row.__dataclass_fields__
    return Row(**{k: v for k, v in record.items() if k in fields})


def summary(outcomes: list[Outcome]) -> list[tuple[str, ...]]:
    """The table's lines: one per reported row, and one per script that failed or went unread."""
    lines: list[tuple[str, ...]] = []
    for o in outcomes:
        for record in o.rows:
            lines.append((o.bench.name, *cells(as_row(record))))
        if o.last_error:
            lines.append((o.bench.name, "error", "-", "-", "-", "-", o.last_error[:160]))
        elif not o.bench.parsed:
            lines.append(
                (o.bench.name, f"ran in {o.seconds:.0f} s (rows not read)", "-", "-", "-", "-", "-")
            )
    return lines


def markdown(header: tuple[str, ...], lines: list[tuple[str, ...]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|").replace("*", "\\*")

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(esc(c) for c in line) + " |" for line in lines]
    return "\n".join(out)


def parse_only(text: str | None) -> list[Bench]:
    if not text:
        return list(BENCHES)
    wanted = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in NAMES]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(NAMES)}")
    return [b for b in BENCHES if b.name in wanted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (each script's quick mode)"
    )
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(NAMES)}")
    parser.add_argument("--repeat", type=int, help="runs per figure, for the scripts that take it")
    parser.add_argument("--logs", help="folder for each script's stdout/stderr/rows")
    parser.add_argument("--timeout", type=float, help="seconds per script (quick 300, full 5400)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown too")
    args = parser.parse_args(argv)

    chosen = parse_only(args.only)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    logs = Path(args.logs or f"/tmp/timpora-bench-logs/{stamp}{'-quick' if args.quick else ''}")
    logs.mkdir(parents=True, exist_ok=True)
    timeout_s = args.timeout or (300.0 if args.quick else 5400.0)
    host = machine()
    started = dt.datetime.now().astimezone()
    t0 = time.perf_counter()
    outcomes = [
        run_one(b, quick=args.quick, repeat=args.repeat, logs=logs, timeout_s=timeout_s)
        for b in chosen
    ]
    total_s = time.perf_counter() - t0

    header = ("bench", "workload", "ours", "baseline", "ratio", "target", "met/missed")
    lines = summary(outcomes)
    command = ".venv/bin/python -m bench" + "".join(
        f" {flag}" for flag in (argv if argv is not None else sys.argv[1:])
    )
    print()
    print(f"{command}  ({'quick sizes' if args.quick else 'full sizes'})")
    print(f"started {started:%Y-%m-%d %H:%M %Z}, {total_s:.0f} s in all; logs in {logs}")
    print(f"machine: {host} (load average at the start)")
    print(table(lines, header=header))
    if args.markdown:
        print()
        print(markdown(header, lines))
    judged = [r for o in outcomes for r in o.rows if r.get("met") is not None]
    missed = [r for r in judged if r["met"] is False]
    failed = [o.bench.name for o in outcomes if o.last_error]
    print(
        f"\n{len(judged) - len(missed)} of {len(judged)} judged targets met"
        + (f"; missed: {', '.join(r['workload'] for r in missed)}" if missed else "")
        + (" (quick sizes judge only size-independent targets)" if args.quick else "")
    )
    for o in outcomes:
        print(f"  {o.bench.name}: {number(o.seconds, 's')}")
    if failed:
        print(f"errors in: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
