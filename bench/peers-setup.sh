#!/usr/bin/env bash
# The peers of bench/peers.py, in an environment of their own: tipg and pygeoapi (with uvicorn
# to serve them) in .bench-venv at the repository's root, never in the project's environment.
# Optional: only bench/peers.py needs it. Versions are pinned so figures stay comparable;
# override with TIPG_VERSION / PYGEOAPI_VERSION.
#
#     bench/peers-setup.sh                 # creates or updates .bench-venv (~1 min)
#     BENCH_PYTHON=python3.12 bench/peers-setup.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.bench-venv"
# pygeoapi 0.24 needs Python >= 3.12 (tipg 1.6: >= 3.11): the first interpreter that is.
python="${BENCH_PYTHON:-}"
if [ -z "$python" ]; then
    for candidate in python3.12 python3.13 python3 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[23]*/bin/python3; do
        if "$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
            python="$candidate"
            break
        fi
    done
fi
[ -n "$python" ] || { echo "no Python >= 3.12 found; set BENCH_PYTHON" >&2; exit 1; }
tipg="${TIPG_VERSION:-1.6.1}"
pygeoapi="${PYGEOAPI_VERSION:-0.24.0}"

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# pygeoapi's PostgreSQL provider needs SQLAlchemy, GeoAlchemy2 and psycopg2; its Starlette
# app runs under uvicorn like tipg.
"$venv/bin/python" -m pip install -q \
    "tipg==$tipg" "pygeoapi==$pygeoapi" "uvicorn[standard]" \
    psycopg2-binary geoalchemy2 sqlalchemy starlette
"$venv/bin/python" - <<'PY'
from importlib.metadata import version

for name in ("tipg", "pygeoapi", "uvicorn", "sqlalchemy", "asyncpg", "psycopg2-binary"):
    print(f"{name} {version(name)}")
PY
echo "peers installed in $venv"
