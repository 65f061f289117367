"""What every benchmark shares: a result row, the report, the machine, medians of repeated runs.

Each ``bench/*.py`` script measures its own workloads and baselines in the same run and ends
with ``report(rows, title=...)``. That prints the rows as a table and, when the environment
variable ``TIMPORA_BENCH_RESULTS`` names a file, appends one JSON object per row to it; that is
how ``python -m bench`` collects one table from all the scripts.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import URL

    from geo.settings import Settings

RESULTS_ENV = "TIMPORA_BENCH_RESULTS"
T = TypeVar("T")


@dataclass(frozen=True)
class Row:
    """One measured workload: our figure, the baseline's in the same run, and the target.

    ``met`` is None where a row has no target (or the run was too small to judge it);
    ``ratio`` is baseline / ours for times, ours / baseline for rates: "how many times better".
    """

    workload: str
    ours: float | None
    baseline: float | None = None
    ratio: float | None = None
    target: str = "-"
    met: bool | None = None
    unit: str = ""
    note: str = ""


def number(value: float | None, unit: str = "") -> str:
    """A figure at a precision a reader can take in: 1,234,567 / 123 / 12.3 / 1.23 / 0.123."""
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        text = f"{value:,.0f}"
    elif magnitude >= 100:
        text = f"{value:.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    elif magnitude >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".rstrip() if unit else text


def verdict(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "MISSED")


def cells(row: Row) -> tuple[str, str, str, str, str, str]:
    """The row as the six printed columns."""
    workload = f"{row.workload} ({row.note})" if row.note else row.workload
    ratio = "-" if row.ratio is None else f"{row.ratio:.1f}x"
    return (
        workload,
        number(row.ours, row.unit),
        number(row.baseline, row.unit),
        ratio,
        row.target,
        verdict(row.met),
    )


HEADER = ("workload", "ours", "baseline", "ratio", "target", "met/missed")


def table(lines: Sequence[Sequence[str]], *, header: Sequence[str] = HEADER) -> str:
    """Left-aligned columns sized to their widest cell."""
    everything = [tuple(header), *(tuple(line) for line in lines)]
    widths = [max(len(line[k]) for line in everything) for k in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in everything
    )


def report(
    rows: Sequence[Row],
    *,
    title: str,
    bench: str | None = None,
    echo: bool = True,
    machine_text: str | None = None,
) -> None:
    """Print ``rows`` as a table (unless ``echo`` is off) and append them to the results file.

    ``bench`` names the script (default: the running file's stem). The results file, named by
    ``TIMPORA_BENCH_RESULTS``, gets one JSON object per row, so several scripts can append to
    one file and a crashed script leaves the rows written before it.
    """
    name = bench or Path(sys.argv[0]).stem
    if echo:
        print()
        print(title)
        print(table([cells(r) for r in rows]))
    target = os.environ.get(RESULTS_ENV)
    if not target:
        return
    with open(target, "a", encoding="utf-8") as out:
        for row in rows:
            record: dict[str, Any] = {"bench": name, "title": title, **asdict(row)}
            if machine_text:
                record["machine"] = machine_text
            out.write(json.dumps(record) + "\n")


def read_results(path: Path) -> list[dict[str, Any]]:
    """The rows a results file holds (what ``report`` appended), in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _server_versions_from_binaries() -> tuple[str, str]:
    """PostgreSQL and PostGIS versions of the installed server, without connecting to it."""
    from geo.cluster import find_bindir

    bindir = find_bindir()
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout  # "postgres (PostgreSQL) 15.18 (Debian ...)"
    pg = out.split(")")[1].strip().split()[0]
    gis = "?"
    for control in glob.glob(
        f"/usr/share/postgresql/{bindir.parent.name}/extension/postgis.control"
    ):
        for line in Path(control).read_text().splitlines():
            if line.startswith("default_version"):
                gis = line.split("=", 1)[1].strip().strip("'")
    return pg, gis


def machine(engine: Engine | None = None) -> str:
    """Cores, memory, architecture, load average now, and the PostgreSQL/PostGIS versions.

    With ``engine`` the versions are the server's own; without, those of the installed binaries
    (what every throwaway cluster of the benchmarks runs).
    """
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    if engine is not None:
        from sqlalchemy import text

        with engine.connect() as conn:
            pg = str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
            gis = str(conn.execute(text("SELECT postgis_lib_version()")).scalar_one())
    else:
        try:
            pg, gis = _server_versions_from_binaries()
        except Exception:  # no server installed: still describe the rest
            pg, gis = "?", "?"
    return (
        f"{os.cpu_count()} cores, {mem_gb:.0f} GB RAM, {platform.machine()}, "
        f"load {os.getloadavg()[0]:.1f}; Python {platform.python_version()}, "
        f"PostgreSQL {pg}, PostGIS {gis}"
    )


def proc_stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None (no /proc, or gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def tree_cpu_s(root: int, *, descendants: bool = True, reaped: bool = False) -> float:
    """CPU seconds (user + system) of process ``root`` and its live descendants, plus with
    ``reaped`` what its children that ended used (a postmaster's exited backends); 0 without
    /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        fields = proc_stat(entry.name) if entry.name.isdigit() else None
        if fields is not None:
            parents[int(entry.name)] = int(fields[1])
            times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [root]
    if reaped and (own := proc_stat(root)) is not None:
        total += (int(own[13]) + int(own[14])) / tick
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        if descendants:
            todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


def run_times(fn: Callable[[], object], repeat: int, *, warmup: bool = False) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn`` (after one untimed call if ``warmup``)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def median_of(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """The median seconds of ``repeat`` calls of ``fn`` and the last call's result."""
    times: list[float] = []
    result: T | None = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    assert result is not None, "median_of needs repeat >= 1 and a function that returns"
    return statistics.median(times), result


def wait_until_healthy(
    server: subprocess.Popen[bytes], base: str, *, timeout_s: float = 90.0
) -> None:
    """Return once ``base``/healthz answers 200; stop ``server`` and raise if it exits first or
    ``timeout_s`` passes (a benchmark must not measure a server that is still starting)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.terminate()
            raise RuntimeError("the server did not start")
        time.sleep(0.3)


def external_url() -> URL | None:
    """``TIMPORA_BENCH_DATABASE_URL`` if set; load goes to 127.0.0.1 only, so nothing else."""
    from sqlalchemy.engine import make_url

    external = os.environ.get("TIMPORA_BENCH_DATABASE_URL")
    if not external:
        return None
    url = make_url(external)
    if url.host not in ("127.0.0.1", "localhost"):
        sys.exit("TIMPORA_BENCH_DATABASE_URL must point at 127.0.0.1")
    return url


def bench_settings(url: str, *, reference_data_dir: Path | None = None) -> Settings:
    """Settings for a benchmark database: test environment, reference data where given."""
    from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings

    area = (
        AreaSettings()
        if reference_data_dir is None
        else AreaSettings(reference_data_dir=reference_data_dir)
    )
    return Settings(
        database=DatabaseSettings(database_url=url),
        area=area,
        service=ServiceSettings(environment="test"),
    )


@contextlib.contextmanager
def database_url(preferred_port: int) -> Iterator[str]:
    """``TIMPORA_BENCH_DATABASE_URL`` (127.0.0.1 only), else a throwaway cluster (destroyed)."""
    from geo.cluster import EmbeddedCluster, free_port_from

    external = external_url()
    if external is not None:
        yield external.render_as_string(hide_password=False)
        return
    base = Path(tempfile.mkdtemp(prefix="timpora-bench-"))
    base.chmod(0o755)
    cluster = EmbeddedCluster(base, preferred_port=free_port_from(preferred_port), ephemeral=True)
    cluster.init()
    cluster.start()
    try:
        yield cluster.url()
    finally:
        cluster.destroy()


def upgrade_reused(engine: Engine) -> None:
    """Migrate a database a benchmark keeps between runs; rebuild it empty when it no longer
    migrates (a run of another revision of the code left a migration this one does not know, or
    an object a renumbered migration makes again). Its data set is then seeded anew."""
    from sqlalchemy import create_engine, text

    from geo.migrate import upgrade

    try:
        upgrade(engine)
        return
    except Exception as exc:
        print(
            f"reused database {engine.url.database} does not migrate "
            f"({type(exc).__name__}): rebuilding it",
            file=sys.stderr,
        )
    engine.dispose()
    name = engine.url.database
    admin = create_engine(engine.url.set(database="postgres"))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))  # name from code
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    upgrade(engine)
