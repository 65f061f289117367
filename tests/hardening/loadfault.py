"""Load with a database restart in the middle, loopback only, bounded in count and time.

N concurrent writers POST sightings to a real ``timpora serve`` process; part-way through, the
PostgreSQL cluster behind it is stopped for a few seconds and started again. The writers retry
(same ``Idempotency-Key`` and ``external_ref``) on 503 and on connection errors, honouring
``Retry-After``. Afterwards:

- the API answered 503 with ``Retry-After`` during the outage, never another 5xx;
- it recovered without being restarted;
- every sighting acknowledged with 201 (or 200, a retry of one already stored) is in the
  database exactly once, and nothing else is;
- no alert is duplicated.

Run by hand: ``.venv/bin/python -m tests.hardening.loadfault --writers 20 --per-writer 500``.
The test suite runs a small version (tests/hardening/test_loadfault.py).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from geo.boundaries import load_reference_data
from geo.cluster import EmbeddedCluster, free_port_from
from geo.migrate import upgrade
from geo.settings import AreaSettings, DatabaseSettings, Settings
from geo.users import create_user

ROOT = Path(__file__).resolve().parents[2]
TIMPORA = str(Path(sys.executable).parent / "timpora")


@dataclass
class Outcome:
    acknowledged: set[str] = field(default_factory=set)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    during_outage: collections.Counter[int] = field(default_factory=collections.Counter)
    missing_retry_after: int = 0
    connection_errors: int = 0
    gave_up: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Environment:
    cluster: EmbeddedCluster
    base_url: str
    token: str
    server: subprocess.Popen[bytes]
    log_path: Path

    def close(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.server.kill()
        self.cluster.destroy()


def start_environment(*, reference_dir: Path) -> Environment:
    base = Path(tempfile.mkdtemp(prefix="timpora-loadfault-"))
    base.chmod(0o755)
    cluster = EmbeddedCluster(base / "db", preferred_port=free_port_from(57100), ephemeral=True)
    try:
        cluster.init()
        cluster.start()
        url = cluster.url()
        token = _prepare_database(url, reference_dir)
        for _attempt in range(SERVER_ATTEMPTS):
            started = _start_server(base, url, reference_dir)
            if isinstance(started, tuple):
                server, base_url = started
                return Environment(cluster, base_url, token, server, base / "server.log")
            if started != "port taken":
                raise RuntimeError(f"the server did not start; log: {started}")
        raise RuntimeError(f"no free port for the server after {SERVER_ATTEMPTS} tries")
    except BaseException:
        cluster.destroy()  # a failed start leaves no cluster running
        raise


# A port found free can be taken before the server binds it (by another test's server, or as
# the local end of an outgoing connection: these ports lie in Linux's ephemeral range).
SERVER_ATTEMPTS = 3


def _prepare_database(url: str, reference_dir: Path) -> str:
    """Migrate, load the reference geography and the test's user; the user's token."""
    engine = create_engine(url)
    upgrade(engine)
    settings = Settings(
        database=DatabaseSettings(database_url=url),
        area=AreaSettings(reference_data_dir=reference_dir),
    )
    with Session(engine) as session:
        load_reference_data(session=session, settings=settings)
        _, token = create_user(session=session, name="loadfault", role="analyst")
        # A foreigner whose permit has expired: every sighting of them raises an alert, so
        # duplicated writes would show as duplicated alerts.
        session.execute(
            text(
                "INSERT INTO foreigner (full_name, nationality, permit_type, permit_expires_on, "
                "external_ref) VALUES ('Uji Beban (Sintetis)', 'MYS', 'KITAS', '2020-01-01', 'lf-1')"
            )
        )
        session.commit()
    engine.dispose()
    return token


def _start_server(
    base: Path, url: str, reference_dir: Path
) -> tuple[subprocess.Popen[bytes], str] | str:
    """``timpora serve`` on a free port and its URL once healthy; else "port taken" when its
    port was taken meanwhile, or the end of its log."""
    port = free_port_from(58100)
    log_path = base / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMPORA_")}
    env.update(
        {
            "TIMPORA_DATABASE_URL": url,
            "TIMPORA_REFERENCE_DATA_DIR": str(reference_dir),
            "TIMPORA_RATE_LIMIT_PER_MINUTE": "0",
            "TIMPORA_STARTUP_WAIT_S": "30",
            "TIMPORA_CONNECT_TIMEOUT_S": "2",
            "TIMPORA_LOG_LEVEL": "WARNING",
        }
    )
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [TIMPORA, "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return server, base_url
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.2)
    server.kill()
    server.wait()
    logged = log_path.read_text(errors="replace")
    return "port taken" if "address already in use" in logged else logged[-2000:]


def writer(
    *,
    env: Environment,
    index: int,
    count: int,
    writers: int,
    foreigner_id: int,
    outage: threading.Event,
    outcome: Outcome,
    deadline: float,
) -> None:
    rng = random.Random(index)
    headers = {"Authorization": f"Bearer {env.token}"}
    base_time = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with httpx.Client(base_url=env.base_url, timeout=10) as client:
        for n in range(count):
            ref = f"lf-w{index:02d}-{n:04d}"
            # The writers' times interleave minute by minute: whatever order the requests
            # arrive in, no two sightings of the person are further apart than the alert
            # rules' quiet windows, so on write they make the episodes a batch run makes.
            # (Times weeks apart arriving out of order open a new episode on write that the
            # batch, reading them in time order, continues: a real difference, not a fault.)
            observed = base_time + dt.timedelta(minutes=n * writers + index)
            body = {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [109.20 + rng.random() * 0.3, 1.30 + rng.random() * 0.3],
                },
                "properties": {
                    "observed_at": observed.isoformat(),
                    "source": "lodging",
                    "foreigner_id": foreigner_id,
                    "external_ref": ref,
                },
            }
            delay = 0.2
            while True:
                if time.monotonic() > deadline:
                    with outcome.lock:
                        outcome.gave_up.append(ref)
                    break
                try:
                    response = client.post(
                        "/api/v1/sightings", json=body, headers={**headers, "Idempotency-Key": ref}
                    )
                except httpx.TransportError:
                    with outcome.lock:
                        outcome.connection_errors += 1
                    time.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                with outcome.lock:
                    outcome.statuses[response.status_code] += 1
                    if outage.is_set():
                        outcome.during_outage[response.status_code] += 1
                if response.status_code in (200, 201):
                    with outcome.lock:
                        outcome.acknowledged.add(ref)
                    break
                if response.status_code == 503:
                    retry_after = response.headers.get("retry-after")
                    if retry_after is None:
                        with outcome.lock:
                            outcome.missing_retry_after += 1
                    time.sleep(min(float(retry_after or delay), 2.0))
                    continue
                with outcome.lock:
                    outcome.unexpected.append(
                        f"{ref}: {response.status_code} {response.text[:200]}"
                    )
                break


def run(
    *, writers: int, per_writer: int, outage_s: float, reference_dir: Path, time_limit_s: float
) -> dict[str, object]:
    env = start_environment(reference_dir=reference_dir)
    try:
        engine = create_engine(env.cluster.url(), pool_pre_ping=True)
        with engine.connect() as conn:
            foreigner_id = int(
                conn.execute(
                    text("SELECT id FROM foreigner WHERE external_ref = 'lf-1'")
                ).scalar_one()
            )
        outcome = Outcome()
        outage = threading.Event()
        deadline = time.monotonic() + time_limit_s
        threads = [
            threading.Thread(
                target=writer,
                kwargs={
                    "env": env,
                    "index": i,
                    "count": per_writer,
                    "writers": writers,
                    "foreigner_id": foreigner_id,
                    "outage": outage,
                    "outcome": outcome,
                    "deadline": deadline,
                },
                daemon=True,
            )
            for i in range(writers)
        ]
        started = time.monotonic()
        for t in threads:
            t.start()
        target = writers * per_writer
        while len(outcome.acknowledged) < target // 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        # The outage: stop PostgreSQL, wait, start it again. The API process keeps running.
        outage.set()
        env.cluster.stop(mode="fast")
        time.sleep(outage_s)
        env.cluster.start()
        outage.clear()
        for t in threads:
            t.join(timeout=max(1.0, deadline - time.monotonic()))
        elapsed = time.monotonic() - started
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT external_ref, count(*) FROM sighting GROUP BY external_ref")
            ).all()
            alerts = conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT dedup_key), "
                    "count(DISTINCT (rule_kind, sighting_id)) FROM alert"
                )
            ).one()
            # What the batch engine makes of the same sightings, with no fault in the way.
            batch = _batch_alert_count(engine)
        engine.dispose()
        healthy = httpx.get(f"{env.base_url}/healthz", timeout=5).status_code
    finally:
        env.close()
        log_tail = env.log_path.read_text(errors="replace")[-4000:] if env.log_path.exists() else ""
        shutil.rmtree(env.log_path.parent, ignore_errors=True)
    stored_refs = {ref: n for ref, n in stored}
    return {
        "writers": writers,
        "per_writer": per_writer,
        "elapsed_s": round(elapsed, 1),
        "acknowledged": len(outcome.acknowledged),
        "stored": len(stored_refs),
        "duplicated_sightings": sum(1 for n in stored_refs.values() if n > 1),
        "acknowledged_missing": sorted(outcome.acknowledged - set(stored_refs))[:10],
        "stored_unacknowledged": sorted(set(stored_refs) - outcome.acknowledged)[:10],
        "statuses": dict(outcome.statuses),
        "during_outage": dict(outcome.during_outage),
        "missing_retry_after": outcome.missing_retry_after,
        "connection_errors": outcome.connection_errors,
        "gave_up": len(outcome.gave_up),
        "unexpected": outcome.unexpected[:10],
        "alerts": alerts[0],
        "alerts_distinct_keys": alerts[1],
        "alerts_distinct_rule_sighting": alerts[2],
        "alerts_batch": batch,
        "healthz_after": healthy,
        "server_log_tail": log_tail if outcome.unexpected else "",
    }


def _batch_alert_count(engine: Engine) -> int:
    """Alerts the batch run creates from scratch on the stored data (rolled back afterwards)."""
    from geo.alerts import run_batch

    with Session(engine) as session:
        session.execute(text("DELETE FROM alert"))
        run_batch(session=session)
        count = int(session.execute(text("SELECT count(*) FROM alert")).scalar_one())
        session.rollback()
    return count


def main() -> None:  # pragma: no cover - by hand
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--per-writer", type=int, default=500)
    parser.add_argument("--outage-s", type=float, default=3.0)
    parser.add_argument("--time-limit-s", type=float, default=600.0)
    parser.add_argument("--reference-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if not shutil.which("runuser") and os.geteuid() == 0:
        raise SystemExit("runuser is needed to run PostgreSQL as root")
    result = run(
        writers=args.writers,
        per_writer=args.per_writer,
        outage_s=args.outage_s,
        reference_dir=args.reference_dir,
        time_limit_s=args.time_limit_s,
    )
    for key, value in result.items():
        print(f"{key:32} {value}")


if __name__ == "__main__":  # pragma: no cover
    main()
