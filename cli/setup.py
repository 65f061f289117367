"""``timpora setup``: everything the README's run command does before serving. Idempotent."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from cli.boundaries import setup_step as boundaries_step
from cli.common import console, handle_errors, load_settings, open_database
from cli.io import setup_step as demo_step
from geo.db import Database
from geo.field.tracks import ensure_track_partitions
from geo.models import AppUser
from geo.partitions import ensure_partitions
from geo.settings import Settings
from geo.users import create_user


def _admin_token(settings: Settings, db: Database) -> str | None:
    """Create the first admin once; its token is kept in DATA_DIR/admin-token (mode 0600)."""
    token_file = Path(settings.database.data_dir).resolve() / "admin-token"
    with db.session() as session:
        exists = session.scalar(select(AppUser).where(AppUser.name == "admin")) is not None
        if not exists:
            _, token = create_user(session=session, name="admin", role="admin")
            token_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(token + "\n")
            return token
    if token_file.exists():
        return token_file.read_text().strip()
    return None


@handle_errors
def setup() -> None:
    """Start the database, migrate, load reference and demo data (first run), make an admin."""
    settings = load_settings()
    db = open_database(settings)
    console.print("database ready and migrated")
    for step in SETUP_STEPS:
        step(settings, db)
    with db.session() as session:
        made = ensure_partitions(session=session)  # months the data reached, and a year ahead
        made += ensure_track_partitions(session=session)
    if made:
        console.print(f"sighting and track partitions made: {made}")
    token = _admin_token(settings, db)
    if token:
        console.print("admin token (Authorization: Bearer …):", highlight=False)
        print(token)
    else:
        console.print("user 'admin' exists; get a new token with: timpora users rotate admin")
    db.dispose()


# Each later piece (reference geography, demo data) appends its idempotent step here.
SETUP_STEPS: list[Callable[[Settings, Database], None]] = [boundaries_step, demo_step]
