"""Backups with PostgreSQL's own tools: ``pg_dump`` custom format and ``pg_restore``.

The password goes to the tools through ``PGPASSWORD`` in their environment, never on a
command line (where ``ps`` would show it) and never in an error message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL

from geo.cluster import find_bindir
from geo.errors import ClusterError, ValidationError


def _tool(name: str) -> str:
    try:
        candidate = find_bindir() / name
        if candidate.exists():
            return str(candidate)
    except ClusterError:
        pass
    found = shutil.which(name)
    if not found:
        raise ClusterError(f"{name} not found; install postgresql-client-15")
    return found


def _conn_args(url: URL) -> tuple[list[str], dict[str, str]]:
    args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or ""]
    env = {**os.environ, "PGPASSWORD": url.password or "", "PGCONNECT_TIMEOUT": "10"}
    return args, env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise ClusterError(f"{what} failed: {lines[-1] if lines else proc.returncode}")


def backup(*, url: URL, out: Path) -> int:
    """Write a custom-format dump of the database to ``out``; returns its size in bytes."""
    out = Path(out)
    if out.is_dir():
        raise ValidationError(
            f"--out {out} is a folder; give a file name", field="out", value=str(out)
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    args, env = _conn_args(url)
    tmp = out.with_suffix(out.suffix + ".part")
    _run(
        [_tool("pg_dump"), *args, "-Fc", "--no-owner", "-f", str(tmp), url.database or ""],
        env,
        "pg_dump",
    )
    tmp.replace(out)
    out.chmod(0o600)  # it holds personal data
    return out.stat().st_size


def restore(*, url: URL, file: Path) -> None:
    """Replace the database's contents with those of a custom-format dump, in one transaction.

    ``pg_restore --clean`` cannot drop the inherited keys of partitions, so the public schema
    is dropped and re-created instead, and the dump's SQL runs after it in the same
    transaction: a failed restore leaves the database as it was.
    """
    file = Path(file)
    if not file.is_file():
        raise ValidationError(f"backup file {file} not found", field="file", value=str(file))
    with file.open("rb") as fh:
        if fh.read(5) != b"PGDMP":
            raise ValidationError(
                f"{file} is not a pg_dump custom-format file (made by timpora backup)",
                field="file",
                value=str(file),
            )
    args, env = _conn_args(url)
    script = subprocess.run(
        [_tool("pg_restore"), "--no-owner", "-f", "-", str(file)],
        capture_output=True,
        check=False,
    )
    if script.returncode != 0:
        lines = script.stderr.decode(errors="replace").strip().splitlines()
        raise ClusterError(f"pg_restore failed: {lines[-1] if lines else script.returncode}")
    proc = subprocess.run(
        [
            _tool("psql"),
            *args,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "--single-transaction",
            "-d",
            url.database or "",
            "-c",
            "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;",
            "-f",
            "-",
        ],
        input=script.stdout,
        capture_output=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.decode(errors="replace").splitlines() if ln.strip()]
        raise ClusterError(f"restore failed, nothing changed: {lines[-1] if lines else ''}")
