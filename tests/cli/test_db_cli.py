"""``timpora db``: the embedded cluster's life cycle and the errors a newcomer may meet."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from geo.cluster import free_port_from

TIMPORA = str(Path(sys.executable).parent / "timpora")


def run(
    args: list[str], env: dict[str, str], timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TIMPORA_")}
    return subprocess.run(
        [TIMPORA, *args], capture_output=True, text=True, env={**base, **env}, timeout=timeout
    )


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: its parent is 0700 root, which the postgres user cannot traverse.
    base = Path(tempfile.mkdtemp(prefix="timpora-cli-"))
    base.chmod(0o755)
    yield base / "data"
    shutil.rmtree(base, ignore_errors=True)


def test_embedded_cluster_up_status_stop(data_dir: Path) -> None:
    env = {"TIMPORA_DATA_DIR": str(data_dir), "TIMPORA_DB_PORT": str(free_port_from(56100))}
    try:
        up = run(["db", "up"], env)
        assert up.returncode == 0, up.stderr
        assert "created and started" in up.stdout
        status = run(["db", "status"], env)
        assert status.returncode == 0, status.stderr
        assert "postgresql: 15" in status.stdout
        assert "postgis: 3" in status.stdout
        assert str(data_dir / "pg") in status.stdout.replace("\n", "")
        assert "up to date" in status.stdout
        again = run(["db", "up"], env)  # idempotent
        assert again.returncode == 0 and "running" in again.stdout
        password = (data_dir / "password").read_text().strip()
        assert oct((data_dir / "password").stat().st_mode)[-3:] == "600"
        assert password not in status.stdout + up.stdout
    finally:
        stop = run(["db", "stop"], env)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    # Persistent: the data survives a stop and the cluster starts again on the same files.
    assert (data_dir / "pg" / "PG_VERSION").exists()
    assert run(["db", "status"], env).returncode == 1


def test_taken_port_moves_the_embedded_cluster(data_dir: Path) -> None:
    port = free_port_from(56200)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        env = {"TIMPORA_DATA_DIR": str(data_dir), "TIMPORA_DB_PORT": str(port)}
        try:
            up = run(["db", "up"], env)
            assert up.returncode == 0, up.stderr
            assert f":{port})" not in up.stdout
        finally:
            run(["db", "stop"], env)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("not a url at all", "not a valid database URL", id="malformed"),
        pytest.param("mysql://u:p@localhost/x", "must point at PostgreSQL", id="wrong-backend"),
        pytest.param(
            "postgresql://timpora:S3cretPassw0rd@127.0.0.1:{port}/timpora",
            "127.0.0.1:{port}",
            id="unreachable",
        ),
    ],
)
def test_bad_database_url_gives_one_clear_line(url: str, expected: str) -> None:
    port = free_port_from(59000)
    env = {
        "TIMPORA_DATABASE_URL": url.format(port=port),
        "TIMPORA_STARTUP_WAIT_S": "0",
        "TIMPORA_CONNECT_TIMEOUT_S": "1",
    }
    proc = run(["db", "status"], env)
    assert proc.returncode != 0
    assert expected.format(port=port) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "S3cretPassw0rd" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) <= 2


def test_data_dir_of_another_major_version_is_refused_and_kept(data_dir: Path) -> None:
    pg = data_dir / "pg"
    pg.mkdir(parents=True)
    (pg / "PG_VERSION").write_text("11\n")
    (pg / "base").mkdir()
    (data_dir / "password").write_text("x\n")
    proc = run(["db", "up"], {"TIMPORA_DATA_DIR": str(data_dir)})
    assert proc.returncode != 0
    assert "PostgreSQL 11" in proc.stderr and "Nothing was changed" in proc.stderr
    assert (pg / "PG_VERSION").read_text() == "11\n" and (pg / "base").exists()


def test_damaged_data_dir_is_refused_and_kept(data_dir: Path) -> None:
    pg = data_dir / "pg"
    pg.mkdir(parents=True)
    (pg / "global").mkdir()
    proc = run(["db", "up"], {"TIMPORA_DATA_DIR": str(data_dir)})
    assert proc.returncode != 0
    assert "damaged" in proc.stderr
    assert (pg / "global").exists()
