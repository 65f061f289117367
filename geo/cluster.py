"""The embedded PostgreSQL + PostGIS cluster the project runs when no database URL is set.

The cluster lives under ``DATA_DIR/pg`` and listens on 127.0.0.1 on a port chosen once (the
preferred one, or the next free one) and remembered in ``DATA_DIR/port``. Authentication is
scram-sha-256 with random passwords kept in ``DATA_DIR/password`` (the superuser, who owns the
schema and runs migrations and maintenance) and ``DATA_DIR/app-password`` (the service's login,
``timpora_app``, see ``geo.roles``), both mode 0600: the cluster holds personal data, so
``trust`` is never used. As root, every server binary runs through
``runuser -u postgres`` because ``initdb`` refuses to run as root.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

from geo.errors import ClusterError

log = logging.getLogger(__name__)

SUPERUSER = "timpora"
SERVICE_LOGIN = "timpora_app"  # geo.roles.SERVICE_LOGIN; made by geo.roles.provision_service_login
DATABASE = "timpora"
SUPPORTED_MAJORS = ("17", "16", "15")


def find_bindir() -> Path:
    """The directory of ``initdb``/``pg_ctl``/``postgres`` (Debian keeps them off PATH)."""
    env = os.environ.get("TIMPORA_PG_BINDIR")
    candidates = [Path(env)] if env else []
    for major in SUPPORTED_MAJORS:
        candidates.append(Path(f"/usr/lib/postgresql/{major}/bin"))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            candidates.append(Path(out))
    for cand in candidates:
        if (cand / "initdb").exists() and (cand / "pg_ctl").exists():
            return cand
    raise ClusterError(
        "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin); "
        "install them with: apt-get install postgresql-15 postgresql-15-postgis-3"
    )


def server_major(bindir: Path) -> str:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    # "postgres (PostgreSQL) 15.18 (Debian ...)"
    version = out.split(")")[1].strip().split()[0]
    return version.split(".")[0]


def postgis_available(bindir: Path) -> bool:
    major = bindir.parent.name
    return bool(glob.glob(f"/usr/share/postgresql/{major}/extension/postgis.control"))


# Starts tried when the chosen port is taken by another server starting at the same moment.
PORT_ATTEMPTS: Final = 5


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port_from(preferred: int) -> int:
    for port in range(preferred, preferred + 200):
        if port_is_free(port):
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ClusterStatus:
    data_dir: Path
    initialised: bool
    running: bool
    port: int | None
    server_version: str | None


class EmbeddedCluster:
    """A private cluster under ``base_dir``; ``ephemeral`` trades durability for speed (tests)."""

    def __init__(self, base_dir: Path, *, preferred_port: int = 54329, ephemeral: bool = False):
        self.base_dir = Path(base_dir).resolve()
        self.pgdata = self.base_dir / "pg"
        self.socket_dir = self.base_dir / "run"
        self.log_file = self.base_dir / "postgresql.log"
        self.password_file = self.base_dir / "password"
        self.app_password_file = self.base_dir / "app-password"
        self.port_file = self.base_dir / "port"
        self.preferred_port = preferred_port
        self.ephemeral = ephemeral
        self._bindir: Path | None = None

    # -- helpers ---------------------------------------------------------------------------
    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            tail = detail[-1] if detail else f"exit code {proc.returncode}"
            raise ClusterError(f"{args[0]} failed: {tail} (log: {self.log_file})")
        return proc

    def _chown_to_postgres(self, path: Path) -> None:
        if not self.as_root:
            return
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ClusterError(
                "running as root but there is no 'postgres' system user; "
                "install postgresql-15 (it creates the user) or run as a normal user"
            ) from exc
        os.chown(path, pw.pw_uid, pw.pw_gid)

    def _check_reachable(self) -> None:
        if not self.as_root:
            return
        probe = subprocess.run(
            ["runuser", "-u", "postgres", "--", "test", "-x", str(self.base_dir)], check=False
        )
        if probe.returncode != 0:
            raise ClusterError(
                f"the postgres user cannot reach {self.base_dir}: a parent folder is not "
                "traversable; choose another TIMPORA_DATA_DIR or chmod o+x its parents"
            )

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()

    @property
    def app_password(self) -> str:
        return self.app_password_file.read_text().strip()

    def ensure_app_password(self) -> None:
        """The service login's password, made once (clusters made before it existed get one)."""
        if self.app_password_file.exists():
            return
        fd = os.open(self.app_password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24) + "\n")

    @property
    def port(self) -> int:
        if self.port_file.exists():
            return int(self.port_file.read_text().strip())
        return self.preferred_port

    def url(self, database: str = DATABASE) -> str:
        """The superuser's URL: migrations and maintenance commands."""
        return (
            f"postgresql+psycopg2://{SUPERUSER}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{database}"
        )

    def service_url(self, database: str = DATABASE) -> str:
        """The service login's URL (``timpora serve``, the API)."""
        return (
            f"postgresql+psycopg2://{SERVICE_LOGIN}:{quote(self.app_password, safe='')}"
            f"@127.0.0.1:{self.port}/{database}"
        )

    # -- state -----------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def check_data_dir(self) -> None:
        """Refuse a data directory of another major version or one that looks damaged."""
        if not self.pgdata.exists():
            return
        if not (self.pgdata / "PG_VERSION").exists():
            if any(self.pgdata.iterdir()):
                raise ClusterError(
                    f"{self.pgdata} is not empty but has no PG_VERSION: it is damaged or not a "
                    "PostgreSQL data directory. Nothing was changed; move it away to start afresh."
                )
            return
        data_major = (self.pgdata / "PG_VERSION").read_text().strip()
        bin_major = self.bindir.parent.name
        if data_major != bin_major:
            raise ClusterError(
                f"{self.pgdata} was made by PostgreSQL {data_major}, but the server here is "
                f"PostgreSQL {bin_major}. Nothing was changed: upgrade it with pg_upgrade, or "
                "point TIMPORA_DATA_DIR elsewhere."
            )
        if not self.password_file.exists():
            raise ClusterError(
                f"{self.password_file} is missing, so the cluster in {self.pgdata} cannot be "
                "reached. Nothing was changed; restore the file or move the data directory away."
            )

    def is_running(self) -> bool:
        if not self.initialised:
            return False
        proc = self._run(["pg_ctl", "status", "-D", str(self.pgdata)], check=False)
        return proc.returncode == 0

    # -- lifecycle -------------------------------------------------------------------------
    def init(self) -> bool:
        """Create the cluster if there is none. Returns True when it was created now."""
        self.check_data_dir()
        if self.initialised:
            return False
        if not postgis_available(self.bindir):
            raise ClusterError(
                "PostGIS is not installed for PostgreSQL "
                f"{self.bindir.parent.name}: apt-get install "
                f"postgresql-{self.bindir.parent.name}-postgis-3"
            )
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._check_reachable()
        self.socket_dir.mkdir(exist_ok=True)
        self._chown_to_postgres(self.socket_dir)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self._chown_to_postgres(self.pgdata)
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        pwfile = self.base_dir / ".initdb-pw"
        pwfile.write_text(password + "\n")
        self._chown_to_postgres(pwfile)
        pwfile.chmod(0o600)
        try:
            self._run(
                [
                    "initdb",
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    *(["--no-sync"] if self.ephemeral else []),
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self.ensure_app_password()
        port = free_port_from(self.preferred_port)
        self.port_file.write_text(f"{port}\n")
        conf = [
            "listen_addresses = '127.0.0.1'",
            f"port = {port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            "max_connections = 200",
            "shared_buffers = '512MB'",
            "work_mem = '32MB'",
            "maintenance_work_mem = '256MB'",
            "timezone = 'UTC'",
            "log_timezone = 'UTC'",
            "jit = off",
            # Backups are pg_dump (geo.backup) and nothing replicates from this node, so the WAL
            # need only make it crash-safe: tables created and filled in one transaction (the
            # importer's month loads, index builds on them) then skip the WAL entirely.
            "wal_level = minimal",
            "max_wal_senders = 0",
        ]
        if self.ephemeral:
            conf += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.pgdata / "postgresql.auto.conf").open("a") as fh:
            fh.write("\n".join(conf) + "\n")
        return True

    def start(self, timeout_s: float = 60.0) -> None:
        self.check_data_dir()
        if self.initialised:
            self.ensure_app_password()
        if self.is_running():
            return
        self.log_file.touch(exist_ok=True)
        self._chown_to_postgres(self.log_file)
        port = self.port
        for attempt in range(PORT_ATTEMPTS):
            if not port_is_free(port):
                new_port = free_port_from(port + 1)
                log.warning(
                    "port %s is taken; the embedded database moves to port %s", port, new_port
                )
                port = new_port
            if port != self.port:
                self.port_file.write_text(f"{port}\n")
            log_size = self.log_file.stat().st_size
            try:
                self._pg_ctl_start(port, timeout_s)
                break
            except ClusterError:
                # Another process may have bound the port between the check and the server's
                # start (two clusters starting at once): try the next free one.
                if attempt + 1 == PORT_ATTEMPTS or not self._lost_port_race(log_size):
                    raise
                log.warning("port %s was taken while starting; trying another", port)
                port = free_port_from(port + 1)
        self._wait_ready(timeout_s)
        self._ensure_database()

    def _pg_ctl_start(self, port: int, timeout_s: float) -> None:
        self._run(
            [
                "pg_ctl",
                "start",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-o",
                f"-p {port}",
                "-w",
                "-t",
                str(int(timeout_s)),
            ]
        )

    def _lost_port_race(self, log_offset: int) -> bool:
        """Whether the server's log since ``log_offset`` says its port was already in use."""
        with self.log_file.open("rb") as fh:
            fh.seek(log_offset)
            tail = fh.read().decode("utf-8", "replace")
        return "Address already in use" in tail or "could not create any TCP/IP sockets" in tail

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            proc = self._run(
                ["pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-q"], check=False
            )
            if proc.returncode == 0:
                return
            time.sleep(0.2)
        raise ClusterError(f"the embedded database did not accept connections; see {self.log_file}")

    def _ensure_database(self) -> None:
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self.password,
            dbname="postgres",
            connect_timeout=10,
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            conn.close()

    def stop(self, mode: str = "fast") -> bool:
        """Stop the server. Returns False when it was not running."""
        if not self.is_running():
            return False
        self._run(["pg_ctl", "stop", "-D", str(self.pgdata), "-m", mode, "-w"])
        return True

    def restart(self) -> None:
        self._run(["pg_ctl", "restart", "-D", str(self.pgdata), "-m", "fast", "-w"])

    def status(self) -> ClusterStatus:
        running = self.is_running()
        version = None
        if self.initialised:
            version = server_major(self.bindir)
        return ClusterStatus(
            data_dir=self.pgdata,
            initialised=self.initialised,
            running=running,
            port=self.port if self.initialised else None,
            server_version=version,
        )

    def destroy(self) -> None:
        """Stop and delete a cluster (used for the tests' throwaway clusters only)."""
        with contextlib.suppress(ClusterError):
            self.stop(mode="immediate")
        shutil.rmtree(self.base_dir, ignore_errors=True)
