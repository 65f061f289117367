"""Alembic environment: runs on the connection handed over by ``geo.migrate``."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

from geo.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # pragma: no cover - always called through geo.migrate
        raise RuntimeError("run migrations through geo.migrate (timpora db upgrade)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
