"""Shard names and the identifiers made from them (validated, then quoted), the tables the
coordinator federates, and the error shard handling raises."""

from __future__ import annotations

import re
from typing import Final

from geo.errors import TimporaError, ValidationError

SERVER_PREFIX: Final = "timpora_shard_"
SCHEMA_PREFIX: Final = "shard_"
NATIONAL_SCHEMA: Final = "national"
LOCAL_OFFICE: Final = "local"  # the ``office`` of the coordinator's own rows
NATIONAL_OFFICE: Final = "national"  # the ``office`` of alerts raised by the national pass

# Registry tables federated by the national views (the coordinator's own rows + every shard's).
FEDERATED_TABLES: Final = ("workplace", "foreigner", "incident", "incident_foreigner", "sighting")
# Imported from each shard besides those: its alerts, its schema revision, its reference data.
IMPORTED_TABLES: Final = (*FEDERATED_TABLES, "alert", "alembic_version", "admin_area", "zone")
# Rules whose subjects may lie in two offices; the national pass evaluates them across shards.
CROSS_OFFICE_RULES: Final = ("incident_near_workplace", "incident_cluster")

NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ShardError(TimporaError):
    """A shard cannot be attached or reached (the message never holds its password)."""


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier (names here are validated, this is the second guard)."""
    return '"' + name.replace('"', '""') + '"'


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValidationError(
            "shard name must be 1-40 lower-case letters, digits or _ and start with a letter; "
            f"got {name!r}",
            field="name",
            value=name,
        )
    if name in (LOCAL_OFFICE, NATIONAL_OFFICE):
        raise ValidationError(
            f"shard name {name!r} is reserved for the coordinator", field="name", value=name
        )
    return name


def server_name(name: str) -> str:
    return SERVER_PREFIX + check_name(name)


def schema_name(name: str) -> str:
    return SCHEMA_PREFIX + check_name(name)
